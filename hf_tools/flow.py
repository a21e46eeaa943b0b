"""One call as an I/O-free step generator, and the two small drivers that do its I/O.

:func:`call_flow` is every call of every task, whichever provider serves it (hf-inference, a
named provider, "auto", an explicit ``base_url`` or endpoint URL): route
(:func:`hf_tools.routing.route_for`) -> the Hub's mapping if routing needs it -> resolve media
-> the adapter's steps (:mod:`hf_tools.providers`: ``Send(request, then, delay)`` until
``Done(output)``) -> the task's Output. It yields what it needs done and gets the outcome back:

* :class:`~hf_tools.routing.Lookup` -> the model's provider mappings (cached per process by
  :data:`hf_tools.routing.MAPPINGS`: one lookup per model, concurrent first calls share it);
* :class:`ResolveMedia` -> the resolved image/audio inputs;
* an :class:`~hf_tools.http.HFRequest` -> its 2xx :class:`~hf_tools.http.RawResponse`, sent
  through the one send path of :mod:`hf_tools.http` (body caps, retries, error mapping, the
  call's deadline); an error is thrown back into the flow;
* a float -> that many seconds waited (a poll interval);
* :class:`Fetch` -> the answer of a URL a provider handed back (a result file, a foreign
  polling host), fetched by the one pinned downloader (:func:`hf_tools.media.fetch`);
* :class:`Offload` -> the step its function returns (an async driver runs it in a thread).

:func:`run_sync` and :func:`run_async` perform those effects and differ only in the I/O calls,
as :func:`hf_tools.http.retry_flow`'s two drivers do. Rules the flow enforces:

* the token goes only with ``request.auth`` (router URLs, configured servers), ``X-HF-Bill-To``
  with it;
* a URL a provider hands back and the token does not go to (``request.auth`` False: result
  files, foreign polling hosts) is untrusted: it is fetched by the pinned downloader (resolved
  once within the deadline, every address public, the connection to the checked address,
  result redirects re-checked), its body capped (``max_binary_bytes`` for files), and any
  failure on it, a refused address included, is a
  :class:`~hf_tools.errors.JobFailedError` (the job's result failed; a
  :class:`~hf_tools.errors.ResultDownloadError` for a result file), never the "model not
  found" of a 404 on the inference route nor an authentication error;
* a 3xx answer on any step (a poll, a result) is an error: redirects are followed only by
  the downloader, for result files, each hop checked;
* a wait that would pass the deadline is not taken: the call fails with
  :class:`~hf_tools.errors.HFTimeoutError` naming the job's status URL; an async cancel stops
  the chain where it is (``asyncio.CancelledError`` propagates).

A host that shows progress (the MCP server) sets :data:`ON_POLL` around an async call: the
async driver awaits it before each poll of a provider job with the poll's number and the
seconds since the call began.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import time
from collections.abc import Callable, Generator, Mapping, MutableMapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar

import httpx2
from pydantic import BaseModel

from hf_tools import http
from hf_tools.client_base import ON_POLL, PollHook
from hf_tools.config import AUTO, RetryPolicy, Settings, require_token
from hf_tools.errors import (
    APIError,
    ConfigurationError,
    HFConnectionError,
    HFTimeoutError,
    HFToolsError,
    InvalidInputError,
    MediaError,
    ResponseFormatError,
    ResultDownloadError,
    excerpt,
    secrets_scope,
)
from hf_tools.http import (
    HFRequest,
    RawResponse,
    build_request,
    deadline,
    decode_body,
    json_body,
    redacting,
    send_async,
    send_sync,
    time_left,
)
from hf_tools.providers import (
    Adapter,
    Call,
    Reply,
    Request,
    Send,
    Step,
    get_adapter,
)
from hf_tools.routing import (
    MAPPINGS,
    Lookup,
    ProviderMapping,
    Route,
    alookup,
    call_url,
    hf_inference_route,
    lookup,
    mapping_url,
    route_for,
    settle,
)
from hf_tools.tasks._base import Media, TaskSpec

__all__ = [
    "ON_POLL",
    "CancelWith",
    "Effect",
    "Fetch",
    "Flow",
    "Offload",
    "PollHook",
    "ResolveMedia",
    "Routes",
    "call_flow",
    "call_url",
    "first_request",
    "http_request",
    "hub_request",
    "run_async",
    "run_sync",
    "stream_flow",
    "unused_model_kwargs",
]


@dataclass(frozen=True, slots=True)
class ResolveMedia:
    """Resolve these image/audio references (by input field) into :class:`Media`."""

    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Fetch:
    """Send ``request`` through the pinned downloader; ``follow``: re-checked redirects."""

    request: HFRequest
    follow: bool


@dataclass(frozen=True, slots=True)
class Offload:
    """Run ``run`` (CPU work that grows with the answer) and send back the step it returns."""

    run: Callable[[], Step]


@dataclass(frozen=True, slots=True)
class CancelWith:
    """From now on, a cancelled call sends ``request`` (None: nothing) to cancel the job."""

    request: HFRequest | None


log = logging.getLogger(__name__)

Effect = HFRequest | Lookup | ResolveMedia | Fetch | Offload | CancelWith | float
Flow = Generator[Effect, Any, BaseModel]
R = TypeVar("R")

STREAMING_TASKS = frozenset({"text-generation"})
"""Tasks whose answer can be streamed (:func:`stream_flow`)."""

# ------------------------------------------------------------------------- pure parts


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


def _call(
    settings: Settings, spec: TaskSpec[Any, Any], inputs: BaseModel, media: Any, route: Route
) -> Call[Any]:
    return Call(
        task=spec.task,
        provider=route.provider,
        model=route.provider_model,
        args=inputs,
        media=media,
        router_url=settings.router_url,
        url=route.url,
        lora=route.lora,
    )


def http_request(
    settings: Settings, request: Request, call: Call[Any], *, stream: bool = False
) -> HFRequest:
    """A step's request as the send path takes it: body, headers, token, cap, labels.

    ``stream``: an event stream is asked for, and its response is handed back still open.

    Raises:
        ConfigurationError: a router request and no api key.
        InputError: a JSON body with NaN or infinity.
    """
    payload = request.payload
    if payload is None:
        data: bytes | None = b""
        json, ctype = None, None
    else:
        data, json, ctype = payload.data, payload.json, payload.content_type
    return build_request(
        settings,
        request.url,
        json=json,
        data=data,
        content_type=ctype,
        task=call.task,
        model=call.model,
        binary=request.expect == "bytes",
        method=request.method,
        headers=request.headers,
        auth=request.auth,  # result files and foreign polling hosts never see the token
        stream=stream,
        accept="text/event-stream" if stream else None,
    )


def first_request(
    settings: Settings,
    spec: TaskSpec[Any, Any],
    inputs: BaseModel,
    media: Mapping[str, Media],
    model: str | None = None,
) -> HFRequest:
    """The request a call starts with, where routing needs no Hub request (no I/O).

    A route that depends on the Hub (``"auto"`` or a named provider) is settled from the
    model's mapping when this process already holds it (:data:`~hf_tools.routing.MAPPINGS`).

    Raises:
        ConfigurationError: the route needs a Hub lookup this process has not made yet.
    """
    route = route_for(settings, spec, model)
    if isinstance(route, Lookup):
        mappings = MAPPINGS.peek(mapping_url(settings.hub_url, route.model))
        if mappings is None:
            msg = f"the route of {spec.task} depends on the Hub's mapping of {route.model}"
            raise ConfigurationError(msg, task=spec.task)
        route = settle(settings, spec, route, mappings)
    call = _call(settings, spec, inputs, dict(media), route)
    return http_request(settings, get_adapter(route.provider, spec.task).start(call).request, call)


def _check_wait(step: Send, call: Call[Any], settings: Settings) -> None:
    """Refuse a wait that would pass the call's deadline, naming the job."""
    left = time_left()
    if left is not None and step.delay >= left:
        job = step.request.url.split("?")[0]
        msg = (
            f"the {call.provider} job was still running when the {settings.timeout:g} s"
            f" timeout ran out (status URL {job})"
        )
        raise HFTimeoutError(msg, task=call.task, model=call.model)


def _check_sendable(request: HFRequest, call: Call[Any]) -> None:
    """Refuse a URL httpx cannot send (control characters, over 64 KB, a bad port).

    Poll and result URLs come from a provider's answer, route paths from the Hub's
    ``providerId``: an unusable one is an answer we could not use, not a crash.
    """
    try:
        http.send._parsed_url(request.url)  # cached: the send path reuses the parse
    except httpx2.InvalidURL as exc:
        msg = f"cannot send to {excerpt(request.url, 80)!r} ({exc})"
        raise call.format_error(msg) from None


def _what(step: Send) -> str:
    """The URL of ``step`` as errors name it (no query: it may carry a signature)."""
    what = "result file" if step.request.purpose == "download" else "job URL"
    return f"{what} {step.request.url.split('?')[0]}"


def _handed_failed(exc: APIError | MediaError, step: Send, call: Call[Any]) -> Exception:
    """A failure on a URL the provider handed back: the job's result failed.

    Not a missing model (a 404), not an authentication error (a 403 from whatever the URL
    names), not the LLM's input (a refused address): the provider's answer was unusable.
    """
    if isinstance(exc, MediaError):
        msg = f"{call.provider}: the {_what(step)} was refused: {exc.message}"
    elif isinstance(exc, ResponseFormatError) or exc.status_code is None:
        return exc  # too large, or no answer at all: keep the precise error
    else:
        msg = f"{call.provider}: the {_what(step)} could not be fetched (HTTP {exc.status_code})"
    if step.request.purpose == "download":
        return ResultDownloadError(msg, task=call.task, model=call.model)
    return call.job_failed(msg)


def _refuse_redirect(raw: RawResponse, step: Send, call: Call[Any]) -> None:
    """A 3xx that reached the flow: the downloader followed what it may, the rest is wrong."""
    if 300 <= raw.status_code < 400:
        what = _what(step) if step.request.purpose != "call" else "inference URL"
        msg = f"{call.provider}: the {what} answered HTTP {raw.status_code} (a redirect)"
        raise call.job_failed(msg)


def _next(step: Send, raw: RawResponse, sent: HFRequest) -> Step:
    """Decode a 2xx reply and hand it to the step (parsers quote bodies: redact them)."""
    ctype = raw.headers.get("content-type")
    with redacting(sent):
        body = decode_body(raw, sent, want=step.request.expect, content_type=ctype or "")
        try:
            return step.then(Reply(body, ctype, raw.status_code))
        except ResponseFormatError as exc:
            exc.model = exc.model or sent.model  # a task's parser knows its task, not the model
            raise
        except HFToolsError:
            raise
        except Exception as exc:
            # A parser that missed a shape must not end the agent's turn with a raw exception.
            # The kind only: an unforeseen message could quote anything.
            msg = f"the answer could not be read ({type(exc).__name__})"
            raise ResponseFormatError(msg, task=sent.task, model=sent.model) from exc


Routes = MutableMapping[tuple[str, str | None], tuple[Route | Lookup, Adapter[Any] | None]]
"""A client's cache of :func:`route_for` answers (pure, for one frozen Settings) by
(task, model), with the adapter of a settled route."""

_MAX_ROUTES = 256


def _routed(
    settings: Settings, spec: TaskSpec[Any, Any], model: str | None, routes: Routes | None
) -> tuple[Route | Lookup, Adapter[Any] | None]:
    """:func:`route_for` (and the route's adapter), remembered in ``routes`` when given."""
    key = (spec.task, model)
    known = routes.get(key) if routes is not None else None
    if known is None:
        route = route_for(settings, spec, model)
        adapter = None if isinstance(route, Lookup) else get_adapter(route.provider, spec.task)
        known = (route, adapter)
        if routes is not None and len(routes) < _MAX_ROUTES:
            routes[key] = known
    return known


def _started(
    settings: Settings,
    spec: TaskSpec[Any, Any],
    inputs: BaseModel,
    model: str | None,
    routes: Routes | None,
) -> Generator[Effect, Any, tuple[Call[Any], Step]]:
    """Route (with the Hub's mapping if needed), resolve media: the call and its first step."""
    route, adapter = _routed(settings, spec, model, routes)
    # No token for a Hugging Face host fails here, before the Hub lookup or any request, not
    # as a connection error of a request that could never have been used.
    require_token(settings, [call_url(settings, route)])
    if isinstance(route, Lookup):
        try:
            mappings: tuple[ProviderMapping, ...] = yield route
        except (HFConnectionError, HFTimeoutError) as exc:
            route = _hub_unreachable(settings, spec, route, exc)
        else:
            route = settle(settings, spec, route, mappings)
        adapter = get_adapter(route.provider, spec.task)
    assert adapter is not None
    values = {f: v for f in spec.media_fields if (v := getattr(inputs, f, None)) is not None}
    media: Mapping[str, Media] = (yield ResolveMedia(values)) if values else {}
    call = _call(settings, spec, inputs, media, route)
    return call, adapter.start(call)


def _hub_unreachable(
    settings: Settings, spec: TaskSpec[Any, Any], lookup: Lookup, exc: APIError
) -> Route:
    """Where "auto" goes when its Hub lookup could not reach the Hub.

    hf-inference, when the catalog says it serves the model (logged); otherwise ``exc`` again.
    """
    from hf_tools.catalog import serves_on_hf_inference  # the catalog reads every task

    if lookup.provider != AUTO or not serves_on_hf_inference(spec.task, lookup.model):
        raise exc
    log.warning(
        "the Hub could not be reached to route %s (%s): calling hf-inference, which serves it",
        lookup.model,
        type(exc).__name__,
    )
    return hf_inference_route(settings, spec, lookup.model)


_UNUSED = re.compile(r"The following `model_kwargs` are not used by the model: \[([^\]]*)\]")


def unused_model_kwargs(message: str) -> list[str]:
    """The names a transformers server says the model does not use, from its 400 message."""
    found = _UNUSED.search(message)
    return re.findall(r"'([^']*)'", found.group(1)) if found else []


def _without_parameters(sent: HFRequest, names: list[str]) -> tuple[HFRequest, list[str]]:
    """``sent`` with these ``parameters`` removed from its JSON body, and the ones removed."""
    try:
        body = json.loads(sent.content) if sent.content else None
    except (ValueError, RecursionError):
        return sent, []
    params = body.get("parameters") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(params, dict):
        return sent, []
    kept = {k: v for k, v in params.items() if k not in names}
    removed = [n for n in names if n in params]
    return replace(sent, content=json_body({**body, "parameters": kept})), removed


def _exchange(sent: HFRequest, dropped: list[str]) -> Generator[Effect, Any, RawResponse]:
    """Send ``sent``; once more without the parameters a 400 says the model does not use.

    A transformers model served by hf-inference (not TGI) refuses generation parameters it
    does not take; they are added to ``dropped``. Any other error is thrown back as it came.
    """
    try:
        raw: RawResponse = yield sent
    except InvalidInputError as exc:
        retry, removed = _without_parameters(sent, unused_model_kwargs(exc.message))
        if not removed or dropped:  # nothing of ours named, or already retried once
            raise
        log.info("%s: dropped parameters the model does not use: %s", sent.model, removed)
        dropped += removed
        raw = yield retry
    return raw


def _with_dropped(output: BaseModel, dropped: list[str]) -> BaseModel:
    if dropped and "dropped_parameters" in type(output).model_fields:
        return output.model_copy(update={"dropped_parameters": list(dropped)})
    return output


def call_flow(
    settings: Settings,
    spec: TaskSpec[Any, Any],
    inputs: BaseModel,
    model: str | None = None,
    routes: Routes | None = None,
) -> Flow:
    """One call of ``spec`` with validated ``inputs``, as effects for a driver to perform.

    A misfit (no endpoint, no adapter, no provider for the model) raises before the first
    request; see the module docstring for the effects. ``routes``: the calling client's
    route cache (the hot path then skips routing).
    """
    call, step = yield from _started(settings, spec, inputs, model, routes)
    dropped: list[str] = []
    armed: str | None = None  # the URL of the request that cancels the running job
    while isinstance(step, Send):
        if (step.cancel.url if step.cancel else None) != armed:
            armed = step.cancel.url if step.cancel else None
            yield CancelWith(http_request(settings, step.cancel, call) if step.cancel else None)
        if step.delay > 0:
            _check_wait(step, call, settings)
            yield step.delay
        # Without the token: a host the provider named, fetched only by the pinned downloader.
        handed = not step.request.auth
        sent = http_request(settings, step.request, call)
        download = step.request.purpose == "download"
        if not handed:
            _check_sendable(sent, call)
        try:
            if handed:
                raw: RawResponse = yield Fetch(sent, follow=download)
            else:
                raw = yield from _exchange(sent, dropped)
        except (APIError, MediaError) as exc:
            if not (handed or download):
                raise
            raise _handed_failed(exc, step, call) from None
        _refuse_redirect(raw, step, call)
        if step.offload:
            step = yield Offload(partial(_next, step, raw, sent))
        else:
            step = _next(step, raw, sent)
    return _with_dropped(step.output, dropped)


def stream_flow(
    settings: Settings,
    spec: TaskSpec[Any, Any],
    inputs: BaseModel,
    model: str | None = None,
    routes: Routes | None = None,
) -> Generator[Effect, Any, tuple[RawResponse, HFRequest]]:
    """:func:`call_flow` for a streamed answer: the open 2xx response and the request sent.

    The adapter's first request is sent with ``"stream": true`` added to its JSON body (TGI's
    ``{"inputs", "parameters"}`` and OpenAI's ``/completions`` body alike), through the same
    send path (retries, error mapping, the call's deadline); read it with
    :func:`hf_tools.streaming.iter_events`.

    Raises:
        ConfigurationError: a task or provider that does not stream.
    """
    if spec.task not in STREAMING_TASKS:
        msg = f"{spec.task} does not stream; streaming tasks: {', '.join(sorted(STREAMING_TASKS))}"
        raise ConfigurationError(msg, task=spec.task)
    call, step = yield from _started(settings, spec, inputs, model, routes)
    payload = step.request.payload if isinstance(step, Send) else None
    if payload is None or not isinstance(payload.json, dict):
        msg = f"{call.provider} does not stream {spec.task}"
        raise ConfigurationError(msg, task=spec.task, model=call.model)
    assert isinstance(step, Send)
    request = replace(step.request, payload=replace(payload, json={**payload.json, "stream": True}))
    sent = http_request(settings, request, call, stream=True)
    _check_sendable(sent, call)
    raw = yield from _exchange(sent, [])
    return raw, sent


# ------------------------------------------------------------------------------ drivers


def _hub_body(raw: RawResponse, request: HFRequest) -> Any:
    with redacting(request):
        return decode_body(raw, request)


def _perform_sync(client: httpx2.Client, settings: Settings, effect: Effect) -> Any:
    if isinstance(effect, HFRequest):
        return send_sync(client, effect, settings.retry)
    if isinstance(effect, Lookup):

        def fetch(url: str) -> Any:
            request = hub_request(settings, url)
            return _hub_body(send_sync(client, request, settings.retry), request)

        return lookup(effect.model, fetch, hub_url=settings.hub_url)
    if isinstance(effect, ResolveMedia):
        from hf_tools.media import resolve_media

        return {f: resolve_media(v, settings) for f, v in effect.values.items()}
    if isinstance(effect, Fetch):
        from hf_tools import media

        given = http.given_transport(client)
        return media.fetch(effect.request, settings, follow=effect.follow, transport=given)
    if isinstance(effect, Offload):
        return effect.run()
    if isinstance(effect, CancelWith):
        return None  # a blocking call is not cancelled
    return http.send._sleep(effect)


async def _perform_async(client: httpx2.AsyncClient, settings: Settings, effect: Effect) -> Any:
    if isinstance(effect, HFRequest):
        return await send_async(client, effect, settings.retry)
    if isinstance(effect, Lookup):

        async def fetch(url: str) -> Any:
            request = hub_request(settings, url)
            return _hub_body(await send_async(client, request, settings.retry), request)

        return await alookup(effect.model, fetch, hub_url=settings.hub_url)
    if isinstance(effect, ResolveMedia):
        from hf_tools.media import aresolve_media

        return {f: await aresolve_media(v, settings) for f, v in effect.values.items()}
    if isinstance(effect, Fetch):
        from hf_tools import media

        given = http.given_transport(client)
        return await media.afetch(effect.request, settings, follow=effect.follow, transport=given)
    if isinstance(effect, Offload):
        return await asyncio.to_thread(effect.run)
    if isinstance(effect, CancelWith):
        return None  # run_async keeps it
    return await http.send._asleep(effect)


def run_sync(client: httpx2.Client, settings: Settings, flow: Generator[Effect, Any, R]) -> R:
    """Drive ``flow`` with blocking I/O, all within one ``settings.timeout`` deadline."""
    # The key in scope: whatever a step quotes (a result URL's ?sig=) is redacted before a cut.
    with deadline(time.monotonic() + settings.timeout), secrets_scope(settings.secrets()):
        try:
            effect = next(flow)
            while True:
                try:
                    outcome = _perform_sync(client, settings, effect)
                except Exception as exc:  # the flow decides (a failed download is the job's)
                    effect = flow.throw(exc)
                else:
                    effect = flow.send(outcome)
        except StopIteration as stop:
            output: R = stop.value
            return output


async def _report_poll(polls: int, started: float) -> None:
    hook = ON_POLL.get()
    if hook is None:
        return
    try:
        await hook(polls, time.monotonic() - started)
    except Exception:  # a watcher that went away never fails the call it watched
        log.debug("progress hook failed", exc_info=True)


_CANCEL_TIMEOUT = 10.0
_CANCELLING: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak refs)


async def _cancel_job(client: httpx2.AsyncClient, request: HFRequest) -> None:
    """Send a job's cancel request once, bounded; a failure is only logged."""
    try:
        async with asyncio.timeout(_CANCEL_TIMEOUT):
            await send_async(client, request, RetryPolicy(max_retries=0))
    except Exception as exc:  # best effort: the caller has gone already
        log.info("cancelling the provider's job failed: %s", type(exc).__name__)


def _send_cancel(client: httpx2.AsyncClient, request: HFRequest) -> None:
    # Its own task, in a fresh context: the cancelled call's deadline must not bound it.
    task = asyncio.get_running_loop().create_task(
        _cancel_job(client, request), context=contextvars.Context()
    )
    _CANCELLING.add(task)
    task.add_done_callback(_CANCELLING.discard)


async def run_async(
    client: httpx2.AsyncClient, settings: Settings, flow: Generator[Effect, Any, R]
) -> R:
    """:func:`run_sync` with asyncio I/O; a cancel stops it where it is (no further request).

    Each job poll is first reported to :data:`ON_POLL`'s hook, when one is set. A call
    cancelled while a provider's job runs sends the job's cancel request (where the provider
    has one) in the background, once, within 10 s.
    """
    started = time.monotonic()
    polls = 0
    cancel: HFRequest | None = None
    # The key in scope: whatever a step quotes (a result URL's ?sig=) is redacted before a cut.
    with deadline(started + settings.timeout), secrets_scope(settings.secrets()):
        try:
            effect = next(flow)
            while True:
                if isinstance(effect, CancelWith):
                    cancel = effect.request
                    effect = flow.send(None)
                    continue
                if isinstance(effect, float | int) and not isinstance(effect, bool):
                    polls += 1
                    await _report_poll(polls, started)
                try:
                    outcome = await _perform_async(client, settings, effect)
                except Exception as exc:
                    effect = flow.throw(exc)
                else:
                    effect = flow.send(outcome)
        except StopIteration as stop:
            output: R = stop.value
            return output
        except asyncio.CancelledError:
            if cancel is not None:
                _send_cancel(client, cancel)
            raise
