"""Every error hf_tools raises, split by who must act.

```
HFToolsError                      base: .task, .model (never the token)
├── ConfigurationError            the developer: no api key, bad base URL, unknown task
│   └── NoProviderError           no provider serves (task, model, choice); .fitting
│                                 (with provider="auto", or .hub_fault: the tool is
│                                 unavailable today)
├── InputError                    the caller (an LLM): the arguments cannot be used as given
│   └── MediaError                an image/audio input was refused before anything was sent
└── APIError                      the service answered with an error, or did not answer
    ├── AuthenticationError       401/403: bad or missing token            (developer)
    ├── PaymentRequiredError      402: credits exhausted                   (developer)
    ├── ModelNotFoundError        404/405/410: no such model or route      (404/410: the tool
    │                                                                       is unavailable;
    │                                                                       405: developer)
    ├── InvalidInputError         400/413/422: the server refused the input (LLM;
    │                             also an InputError)
    ├── RateLimitError            429 after the retries ran out             (LLM: wait)
    ├── ModelLoadingError         503 "currently loading" after the retries (LLM: wait)
    ├── ServerError               other 5xx                                 (LLM: retry later)
    ├── HFTimeoutError            no answer within the timeout              (LLM: retry later)
    ├── HFConnectionError         could not connect; .host, .cause          (LLM: retry later)
    ├── JobFailedError            a provider's job failed; .job_id          (LLM: change/retry)
    │   ├── JobCancelledError     ... or was cancelled                      (LLM: call again)
    │   └── ResultDownloadError   its result file could not be fetched      (LLM: call again)
    └── ResponseFormatError       a 2xx body we could not parse, or of     (LLM: try again)
        │                         another task's shape
        └── ResponseTooLargeError a body past its size cap; .limit (max_json_bytes,
                                  max_binary_bytes)
```
Any other 4xx (408, 409, 415, ...) is a plain ``APIError``: the request was wrong in a way
new arguments cannot fix, so the developer must look.

Messages never carry the api key: :func:`redact` removes it (verbatim in any case, URL- or
base64-encoded, split by whitespace; and anything shaped like a Hugging Face token) from every
message built from a server's words, before any cut (:func:`excerpt`; :func:`snippet` for a
server value of any shape). Server text is capped (500 characters of a server's words, 1,000
for a whole :class:`APIError` message), and :func:`bound_message` bounds what an LLM finally
reads.

`llm_fixable` tells the tool layer (:mod:`hf_tools.toolset`, the one place that classifies
failures) what to do: True -> a failure whose message the model reads and acts on; False ->
the error propagates to the developer, except the "unavailable" cases marked above.
:func:`error_from_response` is the one place that maps an HTTP status to a class.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC
from typing import Any, ClassVar
from urllib.parse import quote

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "HFConnectionError",
    "HFTimeoutError",
    "HFToolsError",
    "InputError",
    "InvalidInputError",
    "JobCancelledError",
    "JobFailedError",
    "MediaError",
    "ModelLoadingError",
    "ModelNotFoundError",
    "NoProviderError",
    "PaymentRequiredError",
    "RateLimitError",
    "ResponseFormatError",
    "ResponseTooLargeError",
    "ResultDownloadError",
    "ServerError",
    "bound_message",
    "error_from_response",
    "excerpt",
    "redact",
    "redact_head",
    "secrets_scope",
    "server_message",
    "snippet",
]

_MAX_MESSAGE = 500
# Every APIError message is cut here (server words, already capped at _MAX_MESSAGE, plus our
# own framing): a job failure once quoted a 9 MB body.
_MAX_API_MESSAGE = 1000
_SENTENCE_ENDS = (".", "!", "?", "…")
# Hugging Face user and organization tokens; caught even when we do not know the key.
_HF_TOKEN = re.compile(r"\b[hH][fF]_[A-Za-z0-9]{20,}")
_REDACTED = "[redacted]"
# A key shorter than this is matched verbatim only: its spread-out or encoded forms would be
# too short to tell from ordinary text.
_MIN_FUZZY_KEY = 8
# Characters searched past a cut point, so a key straddling the cut is still found whole.
_REDACT_MARGIN = 4096

# The secrets of the request being handled (set by hf_tools.http.redacting): what parsers quote
# of its answer is redacted before it is cut, so no key prefix survives an ellipsis.
_SCOPED: ContextVar[tuple[str, ...]] = ContextVar("hf_tools_secrets", default=())


class secrets_scope:
    """Within the block, every :func:`redact` (and so every cut) also removes ``secrets``.

    Entered once per call (the settings' key) and once per request (the key it carries).
    """

    __slots__ = ("_secrets", "_token")

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets = secrets

    def __enter__(self) -> None:
        outer = _SCOPED.get()  # a nested scope adds to the outer one, never hides it
        self._token = _SCOPED.set(outer + tuple(s for s in self._secrets if s not in outer))

    def __exit__(self, *exc: object) -> None:
        _SCOPED.reset(self._token)


def _spelled(text: str) -> str:
    """A pattern for ``text`` with each character also URL-encoded, whitespace allowed between."""
    return r"\s*".join(
        f"(?:{re.escape(c)}|{re.escape(quote(c, safe=''))})"
        if quote(c, safe="") != c
        else re.escape(c)
        for c in text
    )


def _base64_forms(key: bytes) -> set[str]:
    """The part of base64(prefix + key) fixed by the key alone, at each of the 3 alignments."""
    forms = set()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + key).decode().rstrip("=")
            start = -(-8 * offset // 6)  # the first character made of key bits only
            stop = (8 * (offset + len(key))) // 6  # past the last such character
            forms.add(encoded[start:stop])
    return {f for f in forms if len(f) >= _MIN_FUZZY_KEY}


@functools.lru_cache(maxsize=16)
def _secret_pattern(value: str) -> re.Pattern[str]:
    """The key as it may be echoed, as one pattern.

    Verbatim in any case, URL-encoded, base64 or base64url encoded (inside a longer encoded
    text too), or split by whitespace and newlines.
    """
    if len(value) < _MIN_FUZZY_KEY:
        return re.compile(re.escape(value))
    forms = {value, *_base64_forms(value.encode("utf-8"))}
    longest_first = sorted(forms, key=len, reverse=True)
    return re.compile("|".join(_spelled(f) for f in longest_first), re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secrets (nor the current request's), in any echoed form.

    Anything shaped like a Hugging Face token goes too, even when the key is not known.
    """
    for value in dict.fromkeys((*secrets, *_SCOPED.get())):
        if value:
            text = _secret_pattern(value).sub(_REDACTED, text)
    return _HF_TOKEN.sub(_REDACTED, text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt(text: str, limit: int, secrets: Iterable[str] = ()) -> str:
    """At most ``limit`` characters of a server's ``text``, redacted BEFORE it is cut.

    Cutting first could leave most of a key on one side of the ellipsis.
    """
    return _cut(redact(text[: limit + _REDACT_MARGIN], secrets), limit)


def redact_head(text: str, limit: int, secrets: Iterable[str] = ()) -> str:
    """``text`` redacted in its first ``limit`` characters (and a margin), the rest as it is.

    For text about to be cut at ``limit``: the tail is never shown, and redacting a long
    answer whole would cost more than the call (~70 ms a MB).
    """
    window = limit + _REDACT_MARGIN
    if len(text) <= window:
        return redact(text, secrets)
    head = redact(text[:window], secrets)
    # A head full of keys shrinks ("[redacted]" is shorter): then the tail would show.
    return head + text[window:] if len(head) > limit else redact(text, secrets)


def bound_message(text: str, limit: int, secrets: Iterable[str] = ()) -> str:
    """An error message as an LLM may read it: redacted, then at most ``limit`` characters."""
    text = redact_head(text, limit, secrets)
    if len(text) <= limit:
        return text
    note = " … [message cut]"
    return text[: limit - len(note)] + note


_SNIPPET_WINDOW = 4096


class _Redacted(reprlib.Repr):
    """reprlib, with each string redacted before it is shortened around its ellipsis."""

    def repr_str(self, x: str, level: int) -> str:
        if len(x) > 2 * _SNIPPET_WINDOW:  # only the ends are shown: redact those
            x = x[:_SNIPPET_WINDOW] + x[-_SNIPPET_WINDOW:]
        return super().repr_str(redact(x), level)


_SNIPPET = _Redacted()
_SNIPPET.maxlevel, _SNIPPET.maxstring, _SNIPPET.maxother = 3, 40, 40
_SNIPPET.maxlist = _SNIPPET.maxdict = 4


def snippet(data: Any) -> str:
    """A short, bounded view of a server value for an error message (any size or depth)."""
    if isinstance(data, bytes | bytearray):
        return f"{len(data)} bytes"
    text = _SNIPPET.repr(data)
    return text if len(text) <= 80 else text[:79] + "…"


class HFToolsError(Exception):
    """Base class of every hf_tools error."""

    llm_fixable: ClassVar[bool] = False
    hint: ClassVar[str] = ""

    def __init__(self, message: str, *, task: str | None = None, model: str | None = None):
        super().__init__(message)
        self.message = message
        self.task = task
        self.model = model

    def __str__(self) -> str:
        where = ", ".join(p for p in (self.task, self.model) if p)
        return f"{self.message} [{where}]" if where else self.message

    def redact(self, secrets: Iterable[str]) -> None:
        """Remove ``secrets`` from the message (and ``args``), in place."""
        self.message = redact(self.message, secrets)
        self.args = tuple(redact(a, secrets) if isinstance(a, str) else a for a in self.args)

    def for_llm(self) -> str:
        """The message a model reads: what went wrong, then what to do next."""
        text = str(self)
        if not self.hint:
            return text
        # Two sentences, not one run-on: the model must see where the problem ends.
        stop = "" if text.endswith(_SENTENCE_ENDS) else "."
        return f"{text}{stop} {self.hint}"


class ConfigurationError(HFToolsError):
    """The toolkit is set up wrong; the developer must fix it.

    Not a ValueError on purpose: pydantic would turn it into a ValidationError when raised
    while a toolkit is being built.
    """


class NoProviderError(ConfigurationError):
    """No provider fits (task, model, provider choice); ``fitting`` lists those that would.

    With ``provider="auto"`` the tool layer reads it as the tool being unavailable today (the
    Hub's mapping decides); with a provider the developer named, it is theirs to fix, unless
    ``hub_fault``: the Hub's own answer was unusable (a provider id that is no plain path),
    which nothing the developer or the LLM sets can change, so the tool is unavailable.
    """

    def __init__(
        self, message: str, *, fitting: Sequence[str] = (), hub_fault: bool = False, **kw: Any
    ):
        super().__init__(message, **kw)
        self.fitting = tuple(fitting)
        self.hub_fault = hub_fault


class InputError(HFToolsError, ValueError):
    """The arguments cannot be used as given; the caller can fix them."""

    llm_fixable = True
    hint = "Fix the arguments and call the tool again."


class MediaError(InputError):
    """An image or audio input was refused before any request was sent."""

    hint = (
        "Pass a different input: a public URL, base64, or a local path inside the allowed"
        " folders (if any)."
    )


class APIError(HFToolsError):
    """The inference service answered with an error, or not at all."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        task: str | None = None,
        model: str | None = None,
        request_id: str | None = None,
    ):
        # The server's words may be any size: cut (after redaction) wherever it was built.
        if len(message) > _MAX_API_MESSAGE:
            message = excerpt(message, _MAX_API_MESSAGE)
        super().__init__(message, task=task, model=model)
        self.status_code = status_code
        self.request_id = request_id

    def __str__(self) -> str:
        where = ", ".join(p for p in (self.task, self.model) if p)
        status = f"HTTP {self.status_code}: " if self.status_code else ""
        return f"{status}{self.message}" + (f" [{where}]" if where else "")


class AuthenticationError(APIError):
    """401/403: the api key is missing, wrong, or lacks access to this model."""


class PaymentRequiredError(APIError):
    """402: the account has no inference credits left."""


class ModelNotFoundError(APIError):
    """404/405/410: the model or route does not exist on this service.

    405 is here because the service has no POST route at that URL: a wrong base URL or
    endpoint path, which the developer fixes, never the model's arguments.
    """


class InvalidInputError(APIError, InputError):
    """400/413/422: the server refused the input as given."""

    llm_fixable = True
    hint = "Change the arguments (shorter text, valid values) and call the tool again."


class RateLimitError(APIError):
    """429: too many requests, still refused after the retries."""

    llm_fixable = True
    hint = "The service is rate limited; wait before calling again or use another tool."

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ModelLoadingError(APIError):
    """503: the model is still loading after the retries."""

    llm_fixable = True
    hint = "The model is starting up; try again in a minute."

    def __init__(self, message: str, *, estimated_time: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.estimated_time = estimated_time


class ServerError(APIError):
    """5xx: the service failed."""

    llm_fixable = True
    hint = "The service failed; try again later or use another tool."


class HFTimeoutError(APIError, TimeoutError):
    """No answer within the configured timeout."""

    llm_fixable = True
    hint = "The service did not answer in time; try a smaller input or again later."


class HFConnectionError(APIError, ConnectionError):
    """The service could not be reached; ``host`` and ``cause`` say where and why.

    The message names both for the developer; the LLM reads only that the service could not
    be reached (:meth:`for_llm`): addresses and resolver errors are no use to it.
    """

    llm_fixable = True
    hint = "The service could not be reached; try again later."

    def __init__(
        self, message: str, *, host: str | None = None, cause: str | None = None, **kw: Any
    ):
        super().__init__(message, **kw)
        self.host = host
        self.cause = cause

    def for_llm(self) -> str:
        """Short: the tool's service could not be reached, and what to do."""
        where = ", ".join(p for p in (self.task, self.model) if p)
        return f"connection failed [{where}]. {self.hint}" if where else self.hint


class ResponseFormatError(APIError):
    """The service answered 2xx with a body we could not read."""

    llm_fixable = True
    hint = "The answer could not be read; try again or use another tool."


class ResponseTooLargeError(ResponseFormatError):
    """The answer body passed its size cap (counted after decompression); it was not read."""

    hint = "Ask for a smaller answer (shorter output, smaller image) or use another tool."

    def __init__(self, message: str, *, limit: int, **kw: Any):
        super().__init__(message, **kw)
        self.limit = limit


class JobFailedError(APIError):
    """A provider's asynchronous job ended in failure; ``message`` is the provider's own."""

    llm_fixable = True
    hint = "The provider could not finish the job; change the arguments or retry."

    def __init__(self, message: str, *, job_id: str | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.job_id = job_id


class JobCancelledError(JobFailedError):
    """The provider reports the job as cancelled (by its side, or by a cancel request)."""

    hint = "The job was cancelled before it finished; call the tool again."


class ResultDownloadError(JobFailedError):
    """The provider's result file could not be fetched (gone, or its host refused).

    The provider's result failed, not the caller's input: nothing in the arguments changes it.
    """

    hint = "The provider's result could not be downloaded; call the tool again later."


_STATUS_MAP: dict[int, type[APIError]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: AuthenticationError,
    404: ModelNotFoundError,
    405: ModelNotFoundError,
    410: ModelNotFoundError,
    413: InvalidInputError,
    422: InvalidInputError,
    429: RateLimitError,
}


def server_message(body: bytes, content_type: str = "", secrets: Iterable[str] = ()) -> str:
    """Extract the server's own words from an error body, whatever its shape, without secrets.

    Shapes seen in real recordings: ``{"error": str}``, ``{"error": [str, ...]}``,
    ``{"error": str, "error_type": str}``, ``{"error": str, "estimated_time": n}``,
    ``{"message": str}`` (OpenAI style routers) and plain text.
    """
    text = body.decode("utf-8", errors="replace").strip()
    data = _json_or_none(text) if text[:1] in "{[" else None
    try:
        message = _message_from_json(data) if data is not None else text
    except RecursionError:  # parsed, but too deep to walk or re-encode
        message = text
    message = excerpt(
        " ".join(message[: _MAX_MESSAGE + _REDACT_MARGIN].split()), _MAX_MESSAGE, secrets
    )
    return message or "(empty body)"


def _message_from_json(data: Any) -> str:
    if isinstance(data, Mapping):
        error = data.get("error", data.get("message", data.get("detail")))
        if isinstance(error, Mapping):
            return _message_from_json(error)
        if isinstance(error, list):
            return "; ".join(str(e) for e in error)
        if error is not None:
            kind = data.get("error_type")
            return f"{error} ({kind})" if kind else str(error)
    return json.dumps(data)[:_MAX_MESSAGE]


def _json_or_none(text: str | bytes) -> Any:
    # 100,000 nested brackets raise RecursionError, not ValueError.
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _wait_hint(value: object) -> float | None:
    """A server's wait in seconds, or None when it is no usable hint (<= 0, NaN, a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _estimated_time(body: bytes) -> float | None:
    data = _json_or_none(body)
    return _wait_hint(data.get("estimated_time")) if isinstance(data, Mapping) else None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or None.

    A negative, NaN or past value is no hint (None): the caller backs off as usual instead of
    retrying at once.
    """
    if not value:
        return None
    try:
        return _wait_hint(float(value))
    except ValueError:
        pass
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return _wait_hint((when - datetime.now(UTC)).total_seconds())


def is_loading(status_code: int, body: bytes) -> bool:
    """Whether a response is the "model is currently loading" 503."""
    return status_code == 503 and (b"estimated_time" in body or b"loading" in body.lower())


def error_from_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    task: str | None = None,
    model: str | None = None,
    secrets: Iterable[str] = (),
) -> APIError:
    """Build the typed error for a non-2xx response: the one status -> class map.

    Only 400/413/422 blame the input (``InvalidInputError``, LLM-fixable). Any other
    unmapped 4xx is a plain ``APIError`` (not LLM-fixable): telling the model to change its
    arguments would send it round in circles on a status they cannot change. ``secrets``
    (the api key) are cut from the message: servers echo tokens in their errors.
    """
    message = server_message(body, headers.get("content-type", ""), secrets)
    request_id = headers.get("x-request-id")
    common: dict[str, Any] = {
        "status_code": status_code,
        "task": task,
        "model": model,
        "request_id": request_id,
    }
    if status_code == 429:
        return RateLimitError(
            message, retry_after=parse_retry_after(headers.get("retry-after")), **common
        )
    if is_loading(status_code, body):
        return ModelLoadingError(message, estimated_time=_estimated_time(body), **common)
    cls = _STATUS_MAP.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else APIError
    return cls(message, **common)
