"""One provider call: resolve the route, run the adapter's steps. Pure parts + two drivers.

The steps themselves are data (:mod:`hf_tools.providers`): ``Send(request, then, delay)``
until ``Done(output)``. This module turns a step's :class:`~hf_tools.providers.Request` into
an :class:`~hf_tools.http.HFRequest` (:func:`http_request`) and sends it through the one send
path of :mod:`hf_tools.http`, so every request of a flow has the same body caps, retries,
error mapping and the one deadline of its call. The drivers differ only in the I/O calls:

* the token goes only with ``request.auth`` (router URLs), ``X-HF-Bill-To`` with it;
* a result file (``purpose == "download"``) is untrusted: its host must be a public address
  (the media inputs' check), its body is capped by ``max_binary_bytes``, and an HTTP error on
  it is a :class:`~hf_tools.providers.JobFailedError` (the job's result is gone), never the
  "model not found" of a 404 on the inference route;
* a wait (``step.delay``, a poll interval) that would pass the deadline is not taken: the
  call fails with :class:`~hf_tools.errors.HFTimeoutError` naming the job's status URL; an
  async cancel stops the chain where it is (``asyncio.CancelledError`` propagates).

Routing (:func:`route_sync` / :func:`route_async`): ``"auto"`` or a named provider resolve
(task, model) from the Hub's ``inferenceProviderMapping``, fetched through the same send path
and cached per process by :data:`hf_tools.routing.MAPPINGS` (one lookup per model).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2
from pydantic import BaseModel

from hf_tools import http
from hf_tools.config import Settings
from hf_tools.errors import APIError, HFTimeoutError, ResponseFormatError
from hf_tools.http import (
    HFRequest,
    RawResponse,
    build_headers,
    decode_body,
    json_body,
    redacting,
    send_async,
    send_sync,
    time_left,
)
from hf_tools.providers import Call, JobFailedError, Reply, Request, Send, Step, get_adapter
from hf_tools.providers import speaks as _speaks
from hf_tools.routing import Route, alookup, lookup, resolve
from hf_tools.tasks._base import Media

__all__ = [
    "call_for",
    "http_request",
    "hub_request",
    "route_async",
    "route_sync",
    "run_async",
    "run_sync",
]


# ------------------------------------------------------------------------------ routing


def hub_request(settings: Settings, url: str) -> HFRequest:
    """The GET of a model's info on the Hub (JSON, capped like every JSON answer)."""
    headers = {"user-agent": http.USER_AGENT, "accept": "application/json"}
    key = settings.key_for(url)
    if key:  # gated and private models need it; public ones answer without
        headers["authorization"] = f"Bearer {key}"
    return HFRequest(
        url,
        httpx2.Headers(headers),
        b"",
        task="model-info",
        timeout=settings.timeout,
        max_body=settings.max_json_bytes,
        method="GET",
    )


def _hub_body(raw: RawResponse, request: HFRequest) -> Any:
    with redacting(request):
        return decode_body(raw, request)


def _resolve(settings: Settings, mappings: Any, task: str, model: str, provider: str) -> Route:
    return resolve(
        mappings,
        task=task,
        model=model,
        provider=provider,
        provider_order=settings.provider_order,
        speaks=_speaks,
    )


def route_sync(client: httpx2.Client, settings: Settings, task: str, model: str) -> Route | None:
    """The route of (task, model), or None for the hf-inference path without a Hub lookup.

    Raises:
        NoProviderError: the Hub maps the model to no provider that fits (before any call).
    """
    provider = settings.provider_for(task)
    if provider is None:
        return None

    def fetch(url: str) -> Any:
        request = hub_request(settings, url)
        return _hub_body(send_sync(client, request, settings.retry), request)

    mappings = lookup(model, fetch, hub_url=settings.hub_url)
    return _resolve(settings, mappings, task, model, provider)


async def route_async(
    client: httpx2.AsyncClient, settings: Settings, task: str, model: str
) -> Route | None:
    """:func:`route_sync` for async callers (concurrent first calls share one lookup)."""
    provider = settings.provider_for(task)
    if provider is None:
        return None

    async def fetch(url: str) -> Any:
        request = hub_request(settings, url)
        return _hub_body(await send_async(client, request, settings.retry), request)

    mappings = await alookup(model, fetch, hub_url=settings.hub_url)
    return _resolve(settings, mappings, task, model, provider)


# ------------------------------------------------------------------------- pure steps


def call_for(
    settings: Settings, task: str, inputs: BaseModel, media: Mapping[str, Media], route: Route
) -> Call[Any]:
    """The adapter's view of one call: provider, provider-side model id, inputs, media."""
    return Call(
        task=task,
        provider=route.provider,
        model=route.provider_model,
        args=inputs,
        media=dict(media),
        router_url=settings.router_url,
    )


def http_request(settings: Settings, request: Request, call: Call[Any]) -> HFRequest:
    """A step's request as the send path takes it: body, headers, token, cap, labels.

    Raises:
        ConfigurationError: a router request and no api key.
        InputError: a JSON body with NaN or infinity.
    """
    content, ctype = b"", None
    if request.payload is not None:
        if request.payload.data is not None:
            content, ctype = request.payload.data, request.payload.content_type
        else:
            content, ctype = json_body(request.payload.json), "application/json"
    if request.auth:
        headers = build_headers(settings, request.url, content_type=ctype)
    else:  # result files and foreign polling hosts never see the token, nor our options
        headers = {"user-agent": http.USER_AGENT}
    headers.update(request.headers)
    binary = request.expect == "bytes"
    return HFRequest(
        request.url,
        httpx2.Headers(headers),
        content,
        task=call.task,
        model=call.model,
        timeout=settings.timeout,
        max_body=settings.max_binary_bytes if binary else settings.max_json_bytes,
        method=request.method,
    )


def _check_wait(step: Send, call: Call[Any], settings: Settings) -> None:
    """Refuse a wait that would pass the call's deadline, naming the job."""
    left = time_left()
    if step.delay > 0 and left is not None and step.delay >= left:
        job = step.request.url.split("?")[0]
        msg = (
            f"the {call.provider} job was still running when the {settings.timeout:g} s"
            f" timeout ran out (status URL {job})"
        )
        raise HFTimeoutError(msg, task=call.task, model=call.model)


def _download_failed(exc: APIError, step: Send, call: Call[Any]) -> Exception:
    """An HTTP error on a result file: the job's result is gone, not a missing model."""
    if isinstance(exc, ResponseFormatError) or exc.status_code is None:
        return exc  # too large, or no answer at all: keep the precise error
    url = step.request.url.split("?")[0]
    msg = f"{call.provider}: the result file {url} could not be fetched (HTTP {exc.status_code})"
    return JobFailedError(msg, task=call.task, model=call.model)


def _check_download(step: Send, settings: Settings) -> None:
    # The one address check media inputs use (private, loopback, link-local are refused).
    from hf_tools.media import check_url

    check_url(step.request.url, settings)


async def _acheck_download(step: Send, settings: Settings) -> None:
    from hf_tools.media import acheck_url

    await acheck_url(step.request.url, settings)


# ------------------------------------------------------------------------------ drivers


def _next(step: Send, raw: RawResponse, sent: HFRequest) -> Step:
    """Decode a 2xx reply and hand it to the step (parsers quote bodies: redact them)."""
    with redacting(sent):
        body = decode_body(raw, sent, want=step.request.expect)
        return step.then(Reply(body, raw.headers.get("content-type"), raw.status_code))


def run_sync(client: httpx2.Client, settings: Settings, call: Call[Any]) -> BaseModel:
    """Run ``call`` with blocking I/O, within the deadline already set by the caller."""
    step: Step = get_adapter(call.provider, call.task).start(call)
    while isinstance(step, Send):
        _check_wait(step, call, settings)
        if step.delay > 0:
            http._sleep(step.delay)
        download = step.request.purpose == "download"
        if download:
            _check_download(step, settings)
        sent = http_request(settings, step.request, call)
        try:
            raw = send_sync(client, sent, settings.retry)
        except APIError as exc:
            raise (_download_failed(exc, step, call) if download else exc) from None
        step = _next(step, raw, sent)
    output: BaseModel = step.output
    return output


async def run_async(client: httpx2.AsyncClient, settings: Settings, call: Call[Any]) -> BaseModel:
    """:func:`run_sync` with asyncio I/O; a cancel stops it where it is (no further request)."""
    step: Step = get_adapter(call.provider, call.task).start(call)
    while isinstance(step, Send):
        _check_wait(step, call, settings)
        if step.delay > 0:
            await http._asleep(step.delay)
        download = step.request.purpose == "download"
        if download:
            await _acheck_download(step, settings)
        sent = http_request(settings, step.request, call)
        try:
            raw = await send_async(client, sent, settings.retry)
        except APIError as exc:
            raise (_download_failed(exc, step, call) if download else exc) from None
        step = _next(step, raw, sent)
    output: BaseModel = step.output
    return output
