"""Request building and the one send path shared by the sync and async clients.

Everything here but the two ``send_*`` drivers is pure. The retry logic is written once, as a
generator (:func:`retry_flow`) that yields either a request to send or a delay to wait and
receives the outcome; :func:`send_sync` and :func:`send_async` only perform that I/O. This is
httpx's sans-I/O auth-flow idea applied to retries.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2

from hf_tools.config import RetryPolicy, Settings, is_hf_host, is_url
from hf_tools.errors import (
    APIError,
    ConfigurationError,
    HFConnectionError,
    HFTimeoutError,
    InputError,
    ModelLoadingError,
    RateLimitError,
    ResponseFormatError,
    error_from_response,
)

__all__ = [
    "USER_AGENT",
    "HFRequest",
    "RawResponse",
    "build_headers",
    "build_request",
    "build_url",
    "client_options",
    "decode_body",
    "json_body",
    "retry_flow",
    "send_async",
    "send_sync",
    "ssl_context",
    "transport_error",
]

log = logging.getLogger("hf_tools.http")

USER_AGENT = "hf-tools/0.1.0"
_RETRY_STATUSES = frozenset({429, 502, 503, 504})

# Indirections so tests can observe waits without sleeping.
_sleep: Callable[[float], None] = time.sleep
_asleep: Callable[[float], Any] = asyncio.sleep


@dataclass(frozen=True, slots=True)
class HFRequest:
    """One POST, fully built: what goes on the wire plus the labels used in errors."""

    url: str
    headers: Mapping[str, str]
    content: bytes
    task: str | None = None
    model: str | None = None
    stream: bool = False

    def __repr__(self) -> str:  # headers hold the token: never show them
        return f"HFRequest(url={self.url!r}, task={self.task!r}, bytes={len(self.content)})"


@dataclass(slots=True)
class RawResponse:
    """A response as the flow sees it; ``stream`` is the still-open response when streaming."""

    status_code: int
    headers: httpx2.Headers
    content: bytes = b""
    stream: httpx2.Response | None = field(default=None, repr=False)


def json_body(payload: Any) -> bytes:
    """Serialize a JSON body the way every request here does (compact, UTF-8).

    Raises:
        ValueError: NaN or an infinity, which JSON cannot carry (Python would write them).
    """
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def build_url(settings: Settings, model: str, pipeline: str | None = None) -> str:
    """Where a task call goes.

    An endpoint URL (as ``model`` or a custom ``base_url``) is used as-is; a model id goes to
    ``{base_url}/models/{id}``, plus ``/pipeline/{task}`` for the task-forcing routes.
    """
    if is_url(model):
        return model
    if settings.is_custom_endpoint:
        return settings.base_url
    url = f"{settings.base_url}/models/{model}"
    return f"{url}/pipeline/{pipeline}" if pipeline else url


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
    elif settings.api_key is None and is_hf_host(url):
        msg = (
            "No Hugging Face api key: pass api_key=..., set the HF_TOKEN environment variable "
            "or run `hf auth login`"
        )
        raise ConfigurationError(msg)
    if content_type:
        headers["content-type"] = content_type
    if accept:
        headers["accept"] = accept
    if settings.use_cache is not None:
        headers["x-use-cache"] = "true" if settings.use_cache else "false"
    if settings.wait_for_model is not None:
        headers["x-wait-for-model"] = "true" if settings.wait_for_model else "false"
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
) -> HFRequest:
    """Build a POST with a JSON body, or raw bytes with their content type."""
    if data is None:
        try:
            content, content_type = json_body(json), "application/json"
        except ValueError:
            msg = "numbers must be finite: JSON has no NaN or Infinity"
            raise InputError(msg, task=task, model=model) from None
    else:
        content = data
    headers = build_headers(settings, url, content_type=content_type, accept=accept)
    return HFRequest(url, headers, content, task=task, model=model, stream=stream)


def decode_body(raw: RawResponse, request: HFRequest, *, want: str = "json") -> Any:
    """Decode a 2xx body: JSON, or bytes for images/audio.

    Raises:
        ResponseFormatError: the body is not what the task expects.
    """
    ctype = raw.headers.get("content-type", "").split(";")[0].strip().lower()
    if want == "bytes" or ctype.startswith(("image/", "audio/", "video/")):
        if ctype.startswith("application/json") and want == "bytes":
            # Some servers wrap binary answers in JSON (e.g. base64 images); let the task parse.
            return _loads(raw, request)
        return raw.content
    return _loads(raw, request)


def _loads(raw: RawResponse, request: HFRequest) -> Any:
    try:
        return json.loads(raw.content)
    except ValueError:
        snippet = raw.content[:80].decode("utf-8", errors="replace")
        msg = f"the server answered {raw.status_code} with a body that is not JSON: {snippet!r}"
        raise ResponseFormatError(
            msg, status_code=raw.status_code, task=request.task, model=request.model
        ) from None


def _backoff(policy: RetryPolicy, attempt: int, rand: Callable[[], float]) -> float:
    # Full jitter: spreads retries of many clients hitting the same cold model.
    return rand() * min(policy.backoff_cap, policy.backoff_base * 2.0**attempt)


def transport_error(exc: httpx2.TransportError, request: HFRequest) -> tuple[APIError, bool]:
    """Map an httpx2 transport failure to our error, and whether retrying may help."""
    labels: dict[str, Any] = {"task": request.task, "model": request.model}
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.PoolTimeout):
        return HFTimeoutError(f"could not connect in time ({type(exc).__name__})", **labels), True
    if isinstance(exc, httpx2.TimeoutException):
        # A slow model stays slow: retrying a read timeout only doubles the wait.
        return HFTimeoutError(f"no answer in time ({type(exc).__name__})", **labels), False
    return HFConnectionError(f"connection failed ({type(exc).__name__})", **labels), True


def retry_flow(
    request: HFRequest,
    policy: RetryPolicy,
    rand: Callable[[], float] = random.random,
) -> Generator[HFRequest | float, RawResponse | httpx2.TransportError | None, RawResponse]:
    """Decide, attempt by attempt, what to do; yields requests to send and delays to wait.

    Retries 503 loading (waits ``estimated_time``, then asks the server to hold the request),
    429 (``Retry-After`` or backoff), 502/504 and connection failures (backoff). Everything
    else is final. Returns the first 2xx response or raises the last typed error.
    """
    waited = 0.0
    attempt = 0
    while True:
        outcome = yield request
        if isinstance(outcome, RawResponse):
            if outcome.status_code < 400:
                return outcome
            error: APIError = error_from_response(
                outcome.status_code,
                outcome.headers,
                outcome.content,
                task=request.task,
                model=request.model,
            )
            retryable = outcome.status_code in _RETRY_STATUSES
        else:
            assert outcome is not None
            error, retryable = transport_error(outcome, request)
        delay = _backoff(policy, attempt, rand)
        if isinstance(error, ModelLoadingError):
            # Server numbers are clamped: a negative one must not refund the wait budget.
            delay = max(0.0, min(error.estimated_time or delay, policy.max_loading_wait))
            # The server holds a request carrying this header until the model is up.
            request = replace(request, headers={**request.headers, "x-wait-for-model": "true"})
        elif isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > policy.max_retry_after:
                retryable = False
            delay = max(0.0, error.retry_after)
        if not retryable or attempt >= policy.max_retries or waited + delay > policy.max_total_wait:
            log.debug("giving up after %d attempt(s): %s", attempt + 1, type(error).__name__)
            raise error
        attempt += 1
        waited += delay
        log.debug(
            "retry %d/%d in %.2fs after %s",
            attempt,
            policy.max_retries,
            delay,
            type(error).__name__,
        )
        if delay > 0:
            yield delay


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The one TLS context every client of ours shares (the OS trust store, or SSL_CERT_FILE).

    Building one reads the CA store, 15-30 ms: once per process, not per client or download.
    """
    return httpx2.create_ssl_context()


def client_options(timeout: float, transport: Any = None) -> dict[str, Any]:
    """Options of every httpx2 client here: the shared TLS context, redirects never followed."""
    return {
        "timeout": timeout,
        "transport": transport,
        "verify": ssl_context(),
        "follow_redirects": False,
    }


# A tool sends to the same few URLs all the time; parsing one is ~10 µs, so parse each once.
# httpx2.URL is immutable, so requests may share it.
_parsed_url = functools.lru_cache(maxsize=256)(httpx2.URL)


def _exchange_sync(client: httpx2.Client, request: HFRequest) -> RawResponse:
    req = client.build_request(
        "POST", _parsed_url(request.url), headers=request.headers, content=request.content
    )
    started = time.perf_counter()
    resp = client.send(req, stream=request.stream)
    log.debug(
        "POST %s -> %d in %.3fs", request.url, resp.status_code, time.perf_counter() - started
    )
    if request.stream and resp.status_code < 400:
        return RawResponse(resp.status_code, resp.headers, stream=resp)
    if request.stream:
        try:
            resp.read()
        finally:
            resp.close()
    return RawResponse(resp.status_code, resp.headers, resp.content)


async def _exchange_async(client: httpx2.AsyncClient, request: HFRequest) -> RawResponse:
    req = client.build_request(
        "POST", _parsed_url(request.url), headers=request.headers, content=request.content
    )
    started = time.perf_counter()
    resp = await client.send(req, stream=request.stream)
    log.debug(
        "POST %s -> %d in %.3fs", request.url, resp.status_code, time.perf_counter() - started
    )
    if request.stream and resp.status_code < 400:
        return RawResponse(resp.status_code, resp.headers, stream=resp)
    if request.stream:
        try:
            await resp.aread()
        finally:
            await resp.aclose()
    return RawResponse(resp.status_code, resp.headers, resp.content)


def send_sync(client: httpx2.Client, request: HFRequest, policy: RetryPolicy) -> RawResponse:
    """Drive :func:`retry_flow` with blocking I/O."""
    flow = retry_flow(request, policy)
    step = next(flow)
    while True:
        outcome: RawResponse | httpx2.TransportError | None = None
        if isinstance(step, HFRequest):
            try:
                outcome = _exchange_sync(client, step)
            except httpx2.TransportError as exc:
                outcome = exc
        else:
            _sleep(step)
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            result: RawResponse = stop.value
            return result


async def send_async(
    client: httpx2.AsyncClient, request: HFRequest, policy: RetryPolicy
) -> RawResponse:
    """Drive :func:`retry_flow` with asyncio I/O."""
    flow = retry_flow(request, policy)
    step = next(flow)
    while True:
        outcome: RawResponse | httpx2.TransportError | None = None
        if isinstance(step, HFRequest):
            try:
                outcome = await _exchange_async(client, step)
            except httpx2.TransportError as exc:
                outcome = exc
        else:
            await _asleep(step)
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            result: RawResponse = stop.value
            return result
