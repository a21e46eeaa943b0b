"""The refusals the server answers: one exception with a stable code, and their JSON bodies."""

from __future__ import annotations

from starlette.responses import JSONResponse

from hf_tools.serve.api import ERRORS

__all__ = ["CODES", "ChatError", "error_response", "failure"]

# The code of an error Starlette raises itself (routing); every other error names its own.
CODES = {404: "not_found", 405: "method_not_allowed", 500: "internal_error"}


class ChatError(Exception):
    """A request the server refuses, with its HTTP status and a stable ``code`` for clients.

    Raises:
        ValueError: a code missing from ``hf_tools.serve.api.ERRORS``, or with another status
            there (a bug: clients rely on the table).
    """

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "")
        if status != 2 and (self.code not in ERRORS or ERRORS[self.code].status != status):
            msg = f"error code {self.code!r} with status {status} is not in the table"
            raise ValueError(msg)


def error_response(status: int, message: str, code: str | None = None) -> JSONResponse:
    """The JSON answer of a refusal: ``{"error", "code"}`` (401 adds ``WWW-Authenticate``)."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": message, "code": code or CODES.get(status, "internal_error")}
    return JSONResponse(body, status_code=status, headers=headers)


_FAILURES = {
    "agent_failed": "the turn failed and was not recorded; retry it, or give the operator",
    "internal_error": "internal error; give the operator",
}


def failure(request_id: str, code: str = "agent_failed") -> dict[str, str]:
    """What a client learns of a failure: never the exception's type or upstream text."""
    return {
        "error": f"{_FAILURES[code]} request id {request_id}",
        "code": code,
        "request_id": request_id,
    }
