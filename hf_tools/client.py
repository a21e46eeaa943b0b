"""HFClient and AsyncHFClient: ``run(task, **args)`` -> the task's typed output.

Both share :class:`_BaseClient` (settings, validation, request building, parsing); they differ
only in the I/O call, as in httpx2. Connection pools are created once and reused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

from hf_tools.config import HF_INFERENCE, Settings, check_model, is_url, secret
from hf_tools.errors import ConfigurationError, InputError, ResponseFormatError
from hf_tools.http import (
    HFRequest,
    RawResponse,
    async_pool,
    build_request,
    deadline,
    decode_body,
    redacting,
    sync_pool,
)
from hf_tools.http import send_async as _send_async
from hf_tools.http import send_sync as _send_sync
from hf_tools.media import aresolve_media, resolve_media
from hf_tools.routing import hf_inference_url
from hf_tools.tasks import get_spec
from hf_tools.tasks._base import HFInferenceWire, Media, TaskSpec

if TYPE_CHECKING:
    from hf_tools.providers import Call
    from hf_tools.routing import Route

__all__ = ["AsyncHFClient", "Closeable", "HFClient", "LoopPools"]

AnySpec = TaskSpec[Any, Any]


def hf_wire(spec: AnySpec) -> HFInferenceWire[Any, Any]:
    """The task's hf-inference wire, or a ConfigurationError when hf-inference cannot carry it."""
    if spec.hf_inference is None:
        msg = f"hf-inference does not serve {spec.task}: choose a provider that does"
        raise ConfigurationError(msg, task=spec.task)
    return spec.hf_inference


def validation_message(spec: AnySpec, exc: ValidationError) -> str:
    """A short, fixable description of invalid arguments (what an LLM reads)."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return f"Invalid arguments for {spec.tool_name}: " + "; ".join(parts)


T = TypeVar("T", httpx2.BaseTransport, httpx2.AsyncBaseTransport)


def checked_transport(transport: T | None, kind: type[T]) -> T | None:
    """``transport`` if it is an httpx2 transport of ``kind``; a clear error otherwise.

    An ``httpx`` transport looks the same but fails deep inside httpx2 with a bare assertion.
    """
    if transport is None or isinstance(transport, kind):
        return transport
    got = f"{type(transport).__module__.split('.')[0]}.{type(transport).__name__}"
    msg = f"transport must be an httpx2.{kind.__name__} (hf-tools sends with httpx2), not {got}"
    raise ConfigurationError(msg)


C = TypeVar("C", bound="Closeable")


class Closeable:
    """``close()``, ``aclose()`` and both context managers, over the subclass's two methods."""

    def close(self) -> None:
        """Free the connection pools."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Free the connection pools, from async code."""
        self.close()

    def __enter__(self: C) -> C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self: C) -> C:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@dataclass(slots=True)
class _LoopPool:
    client: httpx2.AsyncClient
    closer: AsyncGenerator[None, None]


class LoopPools:
    """One pooled ``httpx2.AsyncClient`` per event loop, closed with its loop.

    A pool's connections belong to the loop that opened them, and tools and chat models are
    often called from several loops (``asyncio.run`` each time). Each pool is closed inside its
    loop when the loop shuts down (``asyncio.run`` and pytest-asyncio do so), or by
    :meth:`close` / :meth:`aclose`; the pool of a loop closed without that shutdown is dropped
    at the next use. Shared by AsyncHFClient and HFChatModel.
    """

    def __init__(self, timeout: float, transport: httpx2.AsyncBaseTransport | None = None):
        self._timeout = timeout
        self._transport = checked_transport(transport, httpx2.AsyncBaseTransport)
        # A plain dict: a pool's sockets hold its loop, so weak keys would never be freed.
        self._pools: dict[asyncio.AbstractEventLoop, _LoopPool] = {}
        self._closing: set[asyncio.Future[None]] = set()

    def __len__(self) -> int:
        """How many loops have a pool."""
        return len(self._pools)

    def get(self) -> httpx2.AsyncClient:
        """The running loop's pool (a new one if it has none or it was closed)."""
        loop = asyncio.get_running_loop()
        for old in [lp for lp in self._pools if lp.is_closed()]:
            del self._pools[old]  # closed without shutdown_asyncgens: nothing left to await
        entry = self._pools.get(loop)
        if entry is None or entry.client.is_closed:
            client = async_pool(self._timeout, self._transport)
            entry = self._pools[loop] = _LoopPool(client, self._closer(loop, client))
        return entry.client

    def _closer(
        self, loop: asyncio.AbstractEventLoop, client: httpx2.AsyncClient
    ) -> AsyncGenerator[None, None]:
        async def close_with_loop() -> AsyncGenerator[None, None]:
            try:
                yield
            finally:
                entry = self._pools.get(loop)
                if entry is not None and entry.client is client:
                    del self._pools[loop]
                await client.aclose()

        closer = close_with_loop()
        # Run it to its yield now: a loop closes the async generators started in it in
        # shutdown_asyncgens(), which asyncio.run() calls before it closes the loop; asyncio
        # has no other hook at loop shutdown.
        with suppress(StopIteration):
            closer.asend(None).send(None)
        return closer

    async def aclose(self) -> None:
        """Close every pool: the running loop's here, the others in their loops."""
        entry = self._pools.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry.closer.aclose()
        self.close()

    def close(self) -> None:
        """Close every pool this thread can reach (a running loop's is closed as a task)."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, entry in list(self._pools.items()):
            del self._pools[loop]
            if loop.is_closed():
                continue
            if loop is running:
                task = loop.create_task(entry.closer.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(entry.closer.aclose(), loop)
            elif running is None:  # a loop cannot be run from inside another one
                loop.run_until_complete(entry.closer.aclose())


def _flow() -> ModuleType:
    """The provider call flow, loaded on first use: the hf-inference path never needs it."""
    from hf_tools import flow

    return flow


class _BaseClient(Closeable):
    """Settings and every pure step of a call; subclasses add only the I/O."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        is_custom_endpoint: bool = False,
        models: Mapping[str, str] | None = None,
        use_cache: bool | None = None,
        wait_for_model: bool | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        *,
        provider: str | None = None,
        providers: Mapping[str, str] | None = None,
        router_url: str | None = None,
        hub_url: str | None = None,
        bill_to: str | None = None,
        provider_order: Sequence[str] | None = None,
        settings: Settings | None = None,
        **extra: Any,
    ) -> None:
        api_key = secret(api_key)  # no plain-string local in tracebacks from here on
        self.settings = settings or Settings.create(
            api_key=api_key,
            base_url=base_url,
            is_custom_endpoint=is_custom_endpoint,
            models=models,
            use_cache=use_cache,
            wait_for_model=wait_for_model,
            timeout=timeout,
            max_retries=max_retries,
            provider=provider,
            providers=providers,
            router_url=router_url,
            hub_url=hub_url,
            bill_to=bill_to,
            provider_order=provider_order,
            **extra,
        )

    def __repr__(self) -> str:
        s = self.settings
        return f"{type(self).__name__}(base_url={s.base_url!r}, custom={s.is_custom_endpoint})"

    def model_for(self, spec: AnySpec, model: str | None = None) -> str:
        """The model id or endpoint URL a task call goes to.

        Raises:
            ConfigurationError: an endpoint-only task (``custom``) with no endpoint configured.
        """
        if model is not None:
            return check_model("model", model)
        if not spec.needs_endpoint:
            return self.settings.models.get(spec.task) or spec.default_model
        endpoint = self.settings.endpoint_for(spec.task)
        if endpoint is None:
            msg = (
                f"task {spec.task!r} needs its endpoint URL in models[{spec.task!r}]"
                " (or base_url with is_custom_endpoint=True)"
            )
            raise ConfigurationError(msg)
        return endpoint

    def routed(self, spec: AnySpec, target: str) -> bool:
        """Whether a call may need a provider route (an endpoint URL is used as-is).

        Raises:
            ConfigurationError: the chosen provider has no adapter for the task.
        """
        if spec.needs_endpoint or is_url(target):
            return False
        return self.settings.provider_for(spec.task) is not None

    def via_provider(
        self, spec: AnySpec, inputs: BaseModel, media: Mapping[str, Media], route: Route
    ) -> Call[Any] | None:
        """The provider call of ``route``, or None when hf-inference serves it as before."""
        if route.provider == HF_INFERENCE:
            return None
        call: Call[Any] = _flow().call_for(self.settings, spec.task, inputs, media, route)
        return call

    def validate(self, spec: AnySpec, args: Mapping[str, Any]) -> BaseModel:
        """Arguments -> ``<Task>Input``, or an :class:`InputError` the LLM can act on."""
        try:
            inputs: BaseModel = spec.input_model.model_validate(args)
        except ValidationError as exc:
            raise InputError(validation_message(spec, exc), task=spec.task) from None
        return inputs

    def prepare(
        self, spec: AnySpec, inputs: BaseModel, media: Mapping[str, Media], model: str
    ) -> HFRequest:
        """Build the request for one call (pure)."""
        wire = hf_wire(spec)
        url = hf_inference_url(self.settings, model, pipeline=wire.pipeline, chat=wire.chat)
        payload = wire.build(inputs, media)
        if wire.chat:
            # First key: the router reads the model from a prefix of the body.
            named = "tgi" if is_url(model) else model
            payload = replace(payload, json={"model": named, **payload.json})
        return build_request(
            self.settings,
            url,
            json=payload.json,
            data=payload.data,
            content_type=payload.content_type,
            accept=wire.accept,
            task=spec.task,
            model=model,
            binary=wire.response == "bytes",
        )

    def finish(self, spec: AnySpec, inputs: BaseModel, request: HFRequest, raw: RawResponse) -> Any:
        """Decode and normalize a 2xx response into ``<Task>Output`` (pure)."""
        with redacting(request):  # parsers quote bodies, which may echo the token
            wire = hf_wire(spec)
            body = decode_body(raw, request, want=wire.response)
            try:
                return wire.parse(body, inputs)
            except ResponseFormatError as exc:
                exc.model = exc.model or request.model  # a parser knows its task, not the model
                raise

    def _media_values(self, spec: AnySpec, inputs: BaseModel) -> dict[str, Any]:
        return {
            f: value for f in spec.media_fields if (value := getattr(inputs, f, None)) is not None
        }


class HFClient(_BaseClient):
    """Blocking client: ``HFClient().run("text-classification", text="I like you")``."""

    def __init__(self, *args: Any, transport: httpx2.BaseTransport | None = None, **kw: Any):
        super().__init__(*args, **kw)
        checked = checked_transport(transport, httpx2.BaseTransport)
        self._http = sync_pool(self.settings.timeout, checked)

    def run(self, task: str, /, *, model: str | None = None, **args: Any) -> Any:
        """Run one task and return its typed output (see the task's ``<Task>Output``).

        Raises:
            ConfigurationError: unknown task, missing api key.
            InputError: invalid arguments.
            APIError: the service refused or failed (a subclass per cause).
        """
        spec = get_spec(task)
        return self.run_spec(spec, self.validate(spec, args), model=model)

    def run_spec(self, spec: AnySpec, inputs: BaseModel, *, model: str | None = None) -> Any:
        """Run a task with already validated inputs (the tools' entry point)."""
        target = self.model_for(spec, model)
        routed = self.routed(spec, target)  # a misfit fails here, before any request
        with deadline(time.monotonic() + self.settings.timeout):  # media and lookup included
            route = (
                _flow().route_sync(self._http, self.settings, spec.task, target) if routed else None
            )
            media = {
                f: resolve_media(v, self.settings)
                for f, v in self._media_values(spec, inputs).items()
            }
            if route is not None:
                call = self.via_provider(spec, inputs, media, route)
                if call is not None:
                    return _flow().run_sync(self._http, self.settings, call)
                target = route.provider_model
            request = self.prepare(spec, inputs, media, target)
            return self.finish(spec, inputs, request, self.send(request))

    def send(self, request: HFRequest) -> RawResponse:
        """Send with retries over the shared connection pool."""
        return _send_sync(self._http, request, self.settings.retry)

    @property
    def http(self) -> httpx2.Client:
        """The underlying pooled httpx2 client."""
        return self._http

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


class AsyncHFClient(_BaseClient):
    """Asyncio client: ``await AsyncHFClient().run("summarization", text=...)``.

    One pooled ``httpx2.AsyncClient`` per event loop: a pool's connections belong to the loop
    that opened them, and tools are often called from several loops (``asyncio.run`` twice).
    """

    def __init__(self, *args: Any, transport: httpx2.AsyncBaseTransport | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self._pools = LoopPools(self.settings.timeout, transport)

    @property
    def http(self) -> httpx2.AsyncClient:
        """The pooled httpx2 client of the running event loop."""
        return self._pools.get()

    async def run(self, task: str, /, *, model: str | None = None, **args: Any) -> Any:
        """Run one task and return its typed output; raises as :meth:`HFClient.run`."""
        spec = get_spec(task)
        return await self.run_spec(spec, self.validate(spec, args), model=model)

    async def run_spec(self, spec: AnySpec, inputs: BaseModel, *, model: str | None = None) -> Any:
        """Run a task with already validated inputs (the tools' entry point)."""
        target = self.model_for(spec, model)
        routed = self.routed(spec, target)  # a misfit fails here, before any request
        with deadline(time.monotonic() + self.settings.timeout):  # media and lookup included
            route = None
            if routed:
                route = await _flow().route_async(self.http, self.settings, spec.task, target)
            media = {
                f: await aresolve_media(v, self.settings)
                for f, v in self._media_values(spec, inputs).items()
            }
            if route is not None:
                call = self.via_provider(spec, inputs, media, route)
                if call is not None:
                    return await _flow().run_async(self.http, self.settings, call)
                target = route.provider_model
            request = self.prepare(spec, inputs, media, target)
            raw = await self.send(request)
            if hf_wire(
                spec
            ).parse_in_thread:  # CPU work that grows with the answer: off the event loop
                return await asyncio.to_thread(self.finish, spec, inputs, request, raw)
            return self.finish(spec, inputs, request, raw)

    async def send(self, request: HFRequest) -> RawResponse:
        """Send with retries over this loop's connection pool."""
        return await _send_async(self.http, request, self.settings.retry)

    def close(self) -> None:
        """Close the pools of every event loop (see :meth:`LoopPools.close`)."""
        self._pools.close()

    async def aclose(self) -> None:
        """Close the pools of every event loop, this one's awaited."""
        await self._pools.aclose()
