"""The request and response values, and the pure functions that build and decode them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx2

from hf_tools.config import DEFAULT_MAX_JSON_BYTES, DEFAULT_TIMEOUT, Settings, require_token
from hf_tools.errors import (
    HFToolsError,
    InputError,
    ResponseFormatError,
    excerpt,
    secrets_scope,
)

USER_AGENT = "hf-tools/0.1.0"


@dataclass(frozen=True, slots=True)
class HFRequest:
    """One request, fully built: what goes on the wire plus the labels used in errors.

    ``method`` is POST for inference calls; GET for Hub lookups, job polls and result files.
    """

    url: str
    headers: Mapping[str, str]
    content: bytes
    task: str | None = None
    model: str | None = None
    stream: bool = False
    timeout: float = DEFAULT_TIMEOUT
    max_body: int = DEFAULT_MAX_JSON_BYTES
    method: str = "POST"

    def __repr__(self) -> str:  # headers hold the token: never show them
        return f"HFRequest(url={self.url!r}, task={self.task!r}, bytes={len(self.content)})"


@dataclass(slots=True)
class RawResponse:
    """A response as the flow sees it.

    ``stream`` is the still-open response of a 2xx stream, to be read with :func:`iter_body`
    before ``deadline`` (the call's, as :func:`time.monotonic` counts).
    """

    status_code: int
    headers: httpx2.Headers
    content: bytes = b""
    stream: httpx2.Response | None = field(default=None, repr=False)
    deadline: float | None = None

    def __repr__(self) -> str:  # a body may echo the token: show its size only
        return f"RawResponse(status_code={self.status_code}, bytes={len(self.content)})"


# ------------------------------------------------------------------------------- secrets


def secrets_of(request: HFRequest) -> tuple[str, ...]:
    """The token a request carries (what must never appear in an error message)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token,) if scheme.lower() == "bearer" and token else ()


class redacting:
    """Cut ``request``'s token out of any hf_tools error raised in the block.

    Parsers quote bodies in their messages, and servers echo tokens. A class, not a
    ``@contextmanager``: it is entered a few times per call, on the hot path.
    """

    __slots__ = ("_request", "_scope")

    def __init__(self, request: HFRequest) -> None:
        self._request = request
        # What a parser quotes inside the block is redacted before it is cut (errors.excerpt).
        self._scope = secrets_scope(secrets_of(request))

    def __enter__(self) -> None:
        self._scope.__enter__()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._scope.__exit__()
        if isinstance(exc, HFToolsError):
            exc.redact(secrets_of(self._request))


def json_body(payload: Any) -> bytes:
    """Serialize a JSON body the way every request here does (compact, UTF-8).

    Raises:
        ValueError: NaN or an infinity, which JSON cannot carry (Python would write them).
    """
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def build_headers(
    settings: Settings,
    url: str,
    *,
    content_type: str | None,
    accept: str | None = None,
) -> dict[str, str]:
    """Headers for one request; options only when set, the token only where it may go.

    Raises:
        ConfigurationError: a Hugging Face host and no api key.
    """
    headers = {"user-agent": USER_AGENT}
    key = settings.key_for(url)
    if key:
        headers["authorization"] = f"Bearer {key}"
    else:
        require_token(settings, (url,))
    if content_type:
        headers["content-type"] = content_type
    if accept:
        headers["accept"] = accept
    if settings.use_cache is not None:
        headers["x-use-cache"] = "true" if settings.use_cache else "false"
    if settings.wait_for_model is not None:
        headers["x-wait-for-model"] = "true" if settings.wait_for_model else "false"
    if settings.bill_to and url.startswith(settings.router_url + "/"):
        headers["x-hf-bill-to"] = settings.bill_to  # an organization pays for router calls
    return headers


def build_request(
    settings: Settings,
    url: str,
    *,
    json: Any = None,
    data: bytes | None = None,
    content_type: str | None = None,
    accept: str | None = None,
    task: str | None = None,
    model: str | None = None,
    stream: bool = False,
    binary: bool = False,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    auth: bool = True,
) -> HFRequest:
    """Build a request with a JSON body, or raw bytes with their content type.

    ``binary``: the answer is bytes (an image...), read up to ``settings.max_binary_bytes``
    instead of ``settings.max_json_bytes``. ``headers`` are added last. ``auth=False``: a host
    that never sees the token nor our options (provider CDNs, foreign polling hosts).

    Raises:
        ConfigurationError: ``auth`` to a Hugging Face host and no api key.
        InputError: a JSON body with NaN or infinity.
    """
    if data is None:
        try:
            content, content_type = json_body(json), "application/json"
        except ValueError:
            msg = "numbers must be finite: JSON has no NaN or Infinity"
            raise InputError(msg, task=task, model=model) from None
    else:
        content = data
    if auth:
        sent = build_headers(settings, url, content_type=content_type, accept=accept)
    else:
        sent = {"user-agent": USER_AGENT}
    if headers:
        sent.update(headers)
    limit = settings.max_binary_bytes if binary else settings.max_json_bytes
    return HFRequest(
        url,
        httpx2.Headers(sent),  # its repr masks the token (tracebacks that print locals)
        content,
        task=task,
        model=model,
        stream=stream,
        timeout=settings.timeout,
        max_body=limit,
        method=method,
    )


def decode_body(
    raw: RawResponse, request: HFRequest, *, want: str = "json", content_type: str | None = None
) -> Any:
    """Decode a 2xx body: JSON, or bytes for images/audio.

    ``content_type``: the response's, when the caller has read it already.

    Raises:
        ResponseFormatError: the body is not what the task expects.
    """
    if content_type is None:
        content_type = raw.headers.get("content-type", "")
    ctype = content_type.split(";")[0].strip().lower()
    if want == "bytes" or ctype.startswith(("image/", "audio/", "video/")):
        if ctype.startswith("application/json") and want == "bytes":
            # Some servers wrap binary answers in JSON (e.g. base64 images); let the task parse.
            return _loads(raw, request)
        return raw.content
    return _loads(raw, request)


def _loads(raw: RawResponse, request: HFRequest) -> Any:
    try:
        return json.loads(raw.content)
    except RecursionError:
        msg = f"the server answered {raw.status_code} with JSON nested too deeply to read"
        raise ResponseFormatError(
            msg, status_code=raw.status_code, task=request.task, model=request.model
        ) from None
    except ValueError:
        # Redacted before the cut; no unredacted local (a traceback may print its locals).
        snippet = excerpt(
            raw.content[:4096].decode("utf-8", errors="replace"), 80, secrets_of(request)
        )
        msg = f"the server answered {raw.status_code} with a body that is not JSON: {snippet!r}"
        raise ResponseFormatError(
            msg, status_code=raw.status_code, task=request.task, model=request.model
        ) from None
