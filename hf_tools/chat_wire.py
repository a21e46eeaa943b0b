"""The OpenAI chat-completions wire, LangChain-free: what a completion or stream chunk is.

Pydantic models of the body (unknown fields kept: providers add their own), its validation
(:func:`wire_completion`, :func:`read_completion`), the error object some servers send with a
2xx status, and the text and token counts of an answer. The conversational task reads its
answers with it; :mod:`hf_tools.langchain.chat` builds LangChain messages on top of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, NonNegativeInt

from hf_tools.errors import (
    APIError,
    InvalidInputError,
    ResponseFormatError,
    ServerError,
    server_message,
    snippet,
)
from hf_tools.sse import well_formed

__all__ = [
    "CHAT_TASK",
    "WireChoice",
    "WireCompletion",
    "WireFunction",
    "WireMessage",
    "WireToolCall",
    "WireUsage",
    "completion_text",
    "raise_body_error",
    "read_completion",
    "usage_counts",
    "well_formed",
    "wire_completion",
]

CHAT_TASK = "chat-completion"
"""The task label of chat-completion errors (a calling task relabels them as its own)."""


class _Wire(BaseModel):
    # Unknown fields are kept: providers add their own (logprobs, prompt_tokens_details...).
    model_config = ConfigDict(extra="allow")


class WireFunction(_Wire):
    """A tool call's function: its name and arguments."""

    name: str | None = None
    arguments: Any = None  # a JSON string (OpenAI) or already an object (TGI)


class WireToolCall(_Wire):
    """One tool call (whole, or a stream fragment)."""

    id: str | int | None = None  # TGI sends integer ids (even 0), "" or none at all
    index: int | None = None
    function: WireFunction | None = None


class WireMessage(_Wire):
    """A whole ``message`` or a stream ``delta``."""

    content: str | list[str | dict[str, Any]] | None = None  # null when only calling tools
    # TGI 2.x streamed one tool call as an object where OpenAI sends a list.
    tool_calls: list[WireToolCall] | WireToolCall | None = None

    def calls(self) -> list[WireToolCall]:
        """The tool calls as a list, whichever form they came in."""
        calls = self.tool_calls
        return [calls] if isinstance(calls, WireToolCall) else list(calls or [])


class WireChoice(_Wire):
    """One choice: a whole ``message`` or a stream ``delta``, and why it stopped."""

    message: WireMessage | None = None
    delta: WireMessage | None = None
    finish_reason: str | None = None


class WireUsage(_Wire):
    """Token counts."""

    prompt_tokens: NonNegativeInt | None = None
    completion_tokens: NonNegativeInt | None = None
    total_tokens: NonNegativeInt | None = None


class WireCompletion(_Wire):
    """A chat completion, or one chunk of a stream."""

    id: str | None = None
    model: str | None = None
    system_fingerprint: str | None = None
    choices: list[WireChoice] | None = None
    usage: WireUsage | None = None


def wire_completion(data: Any, model: str | None, status: int | None) -> WireCompletion:
    """Validate one completion (or stream chunk) object.

    Raises:
        ResponseFormatError: not an object.
        pydantic.ValidationError: an object of another shape (see
            :func:`hf_tools.tasks._base.response_shape`).
        APIError: an ``{"error": ...}`` object (``status``: the response's, None in a stream).
    """
    if not isinstance(data, Mapping):
        msg = f"expected a chat completion object, got {snippet(data)}"
        raise ResponseFormatError(msg, task=CHAT_TASK, model=model)
    if data.get("error") and not data.get("choices"):  # some servers send "error": null
        raise_body_error(data, status, model)
    return WireCompletion.model_validate(data)


def raise_body_error(
    data: Mapping[str, Any], status: int | None, model: str | None, task: str = CHAT_TASK
) -> None:
    """Raise the typed error for an ``{"error": ...}`` object sent with a 2xx status."""
    message = server_message(json.dumps(dict(data)).encode())
    cls: type[APIError] = (
        InvalidInputError if data.get("error_type") == "validation" else ServerError
    )
    raise cls(message, status_code=status, task=task, model=model)


def read_completion(data: Any, model: str | None = None) -> tuple[WireCompletion, WireChoice]:
    """A whole chat completion and its first choice.

    Raises:
        ResponseFormatError: not a completion object, or one without choices.
        pydantic.ValidationError: an object of another shape (see ``response_shape``).
        APIError: an ``{"error": ...}`` object.
    """
    wire = wire_completion(data, model, 200)
    if not wire.choices:
        msg = f"expected a chat completion with choices, got {snippet(data)}"
        raise ResponseFormatError(msg, task=CHAT_TASK, model=model)
    return wire, wire.choices[0]


def completion_text(content: str | list[str | dict[str, Any]] | None) -> str:
    """An answer's text: a string, the text parts of a list, or "" (null: tool calls only)."""
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(
        part if isinstance(part, str) else str(part.get("text", ""))
        for part in content
        if isinstance(part, str) or part.get("type") == "text"
    )


def usage_counts(wire: WireCompletion) -> dict[str, int] | None:
    """Token usage as ``{input_tokens, output_tokens, total_tokens}``, when the server says."""
    usage = wire.usage
    if usage is None:
        return None
    prompt = usage.prompt_tokens or 0
    completion = usage.completion_tokens or 0
    total = usage.total_tokens or prompt + completion
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": total}
