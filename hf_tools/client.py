"""HFClient and AsyncHFClient: ``run(task, **args)`` -> the task's typed output.

Both share :class:`_BaseClient` (settings, validation); every call is one
:func:`hf_tools.flow.call_flow` (route -> adapter steps -> the one send path), driven by
:func:`~hf_tools.flow.run_sync` or :func:`~hf_tools.flow.run_async`: the clients differ only in
the I/O, as in httpx2. Connection pools are created once and reused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

# Moved to client_base (no httpx2 there), still importable from here.
from hf_tools.client_base import AnySpec as AnySpec
from hf_tools.client_base import Closeable, validation_message
from hf_tools.config import Settings, secret
from hf_tools.errors import ConfigurationError, InputError
from hf_tools.flow import Routes, call_flow, first_request, run_async, run_sync, stream_flow
from hf_tools.http import HFRequest, RawResponse, async_pool, send_async, send_sync, sync_pool
from hf_tools.routing import model_for
from hf_tools.tasks import get_spec
from hf_tools.tasks._base import Media
from hf_tools.tasks.text_generation import TextGenerationStreamOutput

__all__ = ["AsyncHFClient", "Closeable", "HFClient", "LoopPools"]

T = TypeVar("T", httpx2.BaseTransport, httpx2.AsyncBaseTransport)


def split_transport(
    transport: object,
) -> tuple[httpx2.BaseTransport | None, httpx2.AsyncBaseTransport | None]:
    """One ``transport=`` for an adapter with a blocking and an asyncio side.

    ``httpx2.MockTransport`` is both; a transport of one kind serves its side only, the other
    keeps the real network.

    Raises:
        ConfigurationError: ``transport`` is neither kind (an ``httpx`` one, say).
    """
    if transport is None:
        return None, None
    sync = transport if isinstance(transport, httpx2.BaseTransport) else None
    async_ = transport if isinstance(transport, httpx2.AsyncBaseTransport) else None
    if sync is None and async_ is None:
        checked_transport(cast(Any, transport), httpx2.BaseTransport)  # raises, naming it
    return sync, async_


def checked_transport(transport: T | None, kind: type[T]) -> T | None:
    """``transport`` if it is an httpx2 transport of ``kind``; a clear error otherwise.

    An ``httpx`` transport looks the same but fails deep inside httpx2 with a bare assertion.
    """
    if transport is None or isinstance(transport, kind):
        return transport
    got = f"{type(transport).__module__.split('.')[0]}.{type(transport).__name__}"
    msg = f"transport must be an httpx2.{kind.__name__} (hf-tools sends with httpx2), not {got}"
    raise ConfigurationError(msg)


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


class _BaseClient(Closeable):
    """Settings and every pure step of a call; subclasses add only the I/O."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *args: Any,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        """Take a ready ``settings``, or the arguments of :meth:`Settings.create` (all of them).

        Raises:
            TypeError: both, or an argument that is no setting.
        """
        api_key = secret(api_key)  # no plain-string local in tracebacks from here on
        if settings is None:
            settings = Settings.create(api_key, *args, **kwargs)
        elif api_key is not None or args or kwargs:
            msg = "pass settings= or the settings' arguments, not both"
            raise TypeError(msg)
        self.settings = settings
        self._routes: Routes = {}  # route_for is pure for these frozen settings

    def __repr__(self) -> str:
        s = self.settings
        return f"{type(self).__name__}(base_url={s.base_url!r}, custom={s.is_custom_endpoint})"

    def model_for(self, spec: AnySpec, model: str | None = None) -> str:
        """The model id or endpoint URL a task call goes to (:func:`hf_tools.routing.model_for`).

        Raises:
            ConfigurationError: an endpoint-only task (``custom``) with no endpoint configured.
        """
        return model_for(self.settings, spec, model)

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
        """The first request of one call, where no Hub lookup is needed (pure)."""
        return first_request(self.settings, spec, inputs, media, model)


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
        flow = call_flow(self.settings, spec, inputs, model, self._routes)
        return run_sync(self._http, self.settings, flow)

    def stream(
        self, task: str, /, *, model: str | None = None, **args: Any
    ) -> Iterator[TextGenerationStreamOutput]:
        """Stream a text-generation answer, chunk by chunk (TGI's stream, or a provider's).

        Arguments are validated here; the request is sent when iteration starts. The whole
        stream is read within the call's ``timeout`` and ``max_json_bytes``.

        Raises:
            ConfigurationError: a task other than text-generation, missing api key.
            InputError: invalid arguments.
            APIError: the service refused or failed, before or during the stream.
        """
        spec = get_spec(task)
        return self._stream(spec, self.validate(spec, args), model)

    def _stream(
        self, spec: AnySpec, inputs: BaseModel, model: str | None
    ) -> Iterator[TextGenerationStreamOutput]:
        from hf_tools.streaming import TextGenerationReader, iter_events

        flow = stream_flow(self.settings, spec, inputs, model, self._routes)
        raw, sent = run_sync(self._http, self.settings, flow)
        yield from iter_events(raw, sent, TextGenerationReader(sent.model))

    def send(self, request: HFRequest) -> RawResponse:
        """Send with retries over the shared connection pool."""
        return send_sync(self._http, request, self.settings.retry)

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
        flow = call_flow(self.settings, spec, inputs, model, self._routes)
        return await run_async(self.http, self.settings, flow)

    def astream(
        self, task: str, /, *, model: str | None = None, **args: Any
    ) -> AsyncIterator[TextGenerationStreamOutput]:
        """Stream a text-generation answer: ``async for chunk in client.astream(...)``.

        As :meth:`HFClient.stream`; arguments are validated at the call.
        """
        spec = get_spec(task)
        return self._astream(spec, self.validate(spec, args), model)

    async def _astream(
        self, spec: AnySpec, inputs: BaseModel, model: str | None
    ) -> AsyncIterator[TextGenerationStreamOutput]:
        from hf_tools.streaming import TextGenerationReader, aiter_events

        flow = stream_flow(self.settings, spec, inputs, model, self._routes)
        raw, sent = await run_async(self.http, self.settings, flow)
        async for chunk in aiter_events(raw, sent, TextGenerationReader(sent.model)):
            yield chunk

    async def send(self, request: HFRequest) -> RawResponse:
        """Send with retries over this loop's connection pool."""
        return await send_async(self.http, request, self.settings.retry)

    def close(self) -> None:
        """Close the pools of every event loop (see :meth:`LoopPools.close`)."""
        self._pools.close()

    async def aclose(self) -> None:
        """Close the pools of every event loop, this one's awaited."""
        await self._pools.aclose()
