"""The one send path: one attempt on the wire, and the sync and async drivers of retry_flow.

:func:`~hf_tools.http.retry.retry_flow` decides; :func:`send_sync` and :func:`send_async` only
perform what it asks (send a request, wait a delay) within the call's deadline.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2

from hf_tools.config import RetryPolicy
from hf_tools.http.body import _read_async, _read_sync
from hf_tools.http.deadlines import _deadline, deadline
from hf_tools.http.request import HFRequest, RawResponse, redacting
from hf_tools.http.retry import retry_flow

log = logging.getLogger("hf_tools.http")  # one logger for the package, as before the split

# Indirections so tests can observe waits without sleeping.
_sleep: Callable[[float], None] = time.sleep
_asleep: Callable[[float], Any] = asyncio.sleep

# A tool sends to the same few URLs all the time; parsing one is ~10 µs, so parse each once.
# httpx2.URL is immutable, so requests may share it.
_parsed_url = functools.lru_cache(maxsize=256)(httpx2.URL)


def _log_exchange(request: HFRequest, status: int, started: float) -> None:
    log.debug(
        "%s %s -> %d in %.3fs", request.method, request.url, status, time.perf_counter() - started
    )


def _exchange_sync(client: httpx2.Client, request: HFRequest) -> RawResponse:
    req = client.build_request(
        request.method, _parsed_url(request.url), headers=request.headers, content=request.content
    )
    started = time.perf_counter()
    resp = client.send(req, stream=True)  # bodies are read here, capped
    _log_exchange(request, resp.status_code, started)
    if request.stream and resp.status_code < 400:
        return RawResponse(resp.status_code, resp.headers, stream=resp, deadline=_deadline.get())
    try:
        content = _read_sync(resp, request)
    finally:
        resp.close()  # unread bytes are not drained: the connection is dropped
    return RawResponse(resp.status_code, resp.headers, content)


async def _exchange_async(client: httpx2.AsyncClient, request: HFRequest) -> RawResponse:
    req = client.build_request(
        request.method, _parsed_url(request.url), headers=request.headers, content=request.content
    )
    started = time.perf_counter()
    resp = await client.send(req, stream=True)
    _log_exchange(request, resp.status_code, started)
    if request.stream and resp.status_code < 400:
        return RawResponse(resp.status_code, resp.headers, stream=resp, deadline=_deadline.get())
    try:
        content = await _read_async(resp, request)
    finally:
        await resp.aclose()
    return RawResponse(resp.status_code, resp.headers, content)


Exchange = Callable[[httpx2.Client, HFRequest], RawResponse]
AsyncExchange = Callable[[httpx2.AsyncClient, HFRequest], Awaitable[RawResponse]]


def send_sync(
    client: httpx2.Client,
    request: HFRequest,
    policy: RetryPolicy,
    exchange: Exchange | None = None,
) -> RawResponse:
    """Drive :func:`retry_flow` with blocking I/O, all within ``request.timeout``.

    ``exchange``: how one attempt is sent and read (default: as it is, through ``client``;
    the pinned downloader of :mod:`hf_tools.media` passes its own).
    """
    with deadline(time.monotonic() + request.timeout), redacting(request):
        return _drive_sync(client, request, policy, exchange)


def _drive_sync(
    client: httpx2.Client, request: HFRequest, policy: RetryPolicy, exchange: Exchange | None
) -> RawResponse:
    flow = retry_flow(request, policy)
    step = next(flow)
    while True:
        outcome: RawResponse | httpx2.TransportError | None = None
        if isinstance(step, HFRequest):
            try:
                outcome = (exchange or _exchange_sync)(client, step)
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
    client: httpx2.AsyncClient,
    request: HFRequest,
    policy: RetryPolicy,
    exchange: AsyncExchange | None = None,
) -> RawResponse:
    """Drive :func:`retry_flow` with asyncio I/O, all within ``request.timeout``."""
    with deadline(time.monotonic() + request.timeout), redacting(request):
        return await _drive_async(client, request, policy, exchange)


async def _drive_async(
    client: httpx2.AsyncClient,
    request: HFRequest,
    policy: RetryPolicy,
    exchange: AsyncExchange | None,
) -> RawResponse:
    flow = retry_flow(request, policy)
    step = next(flow)
    while True:
        outcome: RawResponse | httpx2.TransportError | None = None
        if isinstance(step, HFRequest):
            try:
                outcome = await (exchange or _exchange_async)(client, step)
            except httpx2.TransportError as exc:
                outcome = exc
        else:
            await _asleep(step)
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            result: RawResponse = stop.value
            return result
