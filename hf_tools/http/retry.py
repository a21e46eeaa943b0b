"""What an attempt's outcome means and whether to try again: the pure :func:`retry_flow`."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx2

from hf_tools.config import RetryPolicy
from hf_tools.errors import (
    APIError,
    HFConnectionError,
    HFTimeoutError,
    ModelLoadingError,
    RateLimitError,
    error_from_response,
    redact,
)
from hf_tools.http.deadlines import time_left
from hf_tools.http.request import HFRequest, RawResponse, secrets_of

log = logging.getLogger("hf_tools.http")  # one logger for the package, as before the split

_RETRY_STATUSES = frozenset({429, 502, 503, 504})


def _backoff(policy: RetryPolicy, attempt: int, rand: Callable[[], float]) -> float:
    # Full jitter: spreads retries of many clients hitting the same cold model.
    return rand() * min(policy.backoff_cap, policy.backoff_base * 2.0**attempt)


def _timeout(request: HFRequest, what: str, cause: str = "") -> HFTimeoutError:
    detail = f" ({cause})" if cause else ""
    msg = f"{what} did not come within the {request.timeout:g} s timeout{detail}"
    return HFTimeoutError(msg, **_labels(request))


def _labels(request: HFRequest) -> dict[str, Any]:
    return {"task": request.task, "model": request.model}


def transport_error(exc: httpx2.TransportError, request: HFRequest) -> tuple[APIError, bool]:
    """Map an httpx2 transport failure to our error, and whether retrying may help."""
    name = type(exc).__name__
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.PoolTimeout):
        return _timeout(request, "the connection", name), True
    if isinstance(exc, httpx2.TimeoutException):
        # A slow model stays slow: retrying a read timeout only doubles the wait.
        return _timeout(request, "the answer", name), False
    host = urlsplit(request.url).netloc.rpartition("@")[2]  # never userinfo
    cause = redact(f"{name}: {exc}" if str(exc) else name, secrets_of(request))
    error = HFConnectionError(
        f"connection to {host} failed ({cause})", host=host, cause=cause, **_labels(request)
    )
    return error, True


def retry_flow(
    request: HFRequest,
    policy: RetryPolicy,
    rand: Callable[[], float] = random.random,
) -> Generator[HFRequest | float, RawResponse | httpx2.TransportError | None, RawResponse]:
    """Decide, attempt by attempt, what to do; yields requests to send and delays to wait.

    Retries 503 loading (waits ``estimated_time``, then asks the server to hold the request),
    429 (``Retry-After`` or backoff), 502/504 and connection failures (backoff). Everything
    else is final. Returns the first 2xx response or raises the last typed error, also when
    the next wait would pass the call's deadline (:func:`time_left`).
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
                secrets=secrets_of(request),
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
            headers = httpx2.Headers(request.headers)
            headers["x-wait-for-model"] = "true"
            request = replace(request, headers=headers)
        elif isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > policy.max_retry_after:
                retryable = False
            delay = max(0.0, error.retry_after)
        left = time_left()
        if (
            not retryable
            or attempt >= policy.max_retries
            or waited + delay > policy.max_total_wait
            or (left is not None and delay >= left)
        ):
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
