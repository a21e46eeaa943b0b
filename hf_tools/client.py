"""HFClient and AsyncHFClient: ``run(task, **args)`` -> the task's typed output.

Both share :class:`_BaseClient` (settings, validation, request building, parsing); they differ
only in the I/O call, as in httpx2. Connection pools are created once and reused.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeVar

import httpx2
from pydantic import BaseModel, ValidationError

from hf_tools.config import Settings, check_model, is_url
from hf_tools.errors import ConfigurationError, InputError, ResponseFormatError
from hf_tools.http import (
    HFRequest,
    RawResponse,
    build_request,
    build_url,
    client_options,
    decode_body,
)
from hf_tools.http import send_async as _send_async
from hf_tools.http import send_sync as _send_sync
from hf_tools.media import aresolve_media, resolve_media
from hf_tools.tasks import get_spec
from hf_tools.tasks._base import Media, TaskSpec

__all__ = ["AsyncHFClient", "HFClient", "LoopPools"]

AnySpec = TaskSpec[Any, Any]


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


class LoopPools:
    """One pooled ``httpx2.AsyncClient`` per event loop, made on first use in that loop.

    A pool's connections belong to the loop that opened them, and tools and chat models are
    often called from several loops (``asyncio.run`` twice). Shared by AsyncHFClient and
    HFChatModel.
    """

    def __init__(self, timeout: float, transport: httpx2.AsyncBaseTransport | None = None):
        self._timeout = timeout
        self._transport = checked_transport(transport, httpx2.AsyncBaseTransport)
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx2.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> httpx2.AsyncClient:
        """The running loop's pool (a new one if it has none or it was closed)."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None or pool.is_closed:
            pool = httpx2.AsyncClient(**client_options(self._timeout, self._transport))
            self._pools[loop] = pool
        return pool

    async def aclose(self) -> None:
        """Close the running loop's pool (others close with their loop)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.aclose()


class _BaseClient:
    """Settings and every pure step of a call; subclasses add only the I/O."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        is_custom_endpoint: bool = False,
        models: Mapping[str, str] | None = None,
        use_cache: bool | None = None,
        wait_for_model: bool | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        *,
        settings: Settings | None = None,
        **extra: Any,
    ) -> None:
        self.settings = settings or Settings.create(
            api_key=api_key,
            base_url=base_url,
            is_custom_endpoint=is_custom_endpoint,
            models=models,
            use_cache=use_cache,
            wait_for_model=wait_for_model,
            timeout=timeout,
            max_retries=max_retries,
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
        url = spec.url(self.settings, model) if spec.url else None
        url = url or build_url(self.settings, model, spec.pipeline)
        payload = spec.build(inputs, media)
        if spec.model_in_body:
            # First key: the router reads the model from a prefix of the body.
            named = "tgi" if is_url(model) else model
            payload = replace(payload, json={"model": named, **payload.json})
        return build_request(
            self.settings,
            url,
            json=payload.json,
            data=payload.data,
            content_type=payload.content_type,
            accept=spec.accept,
            task=spec.task,
            model=model,
        )

    def finish(self, spec: AnySpec, inputs: BaseModel, request: HFRequest, raw: RawResponse) -> Any:
        """Decode and normalize a 2xx response into ``<Task>Output`` (pure)."""
        body = decode_body(raw, request, want=spec.response)
        try:
            return spec.parse(body, inputs)
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
        self._http = httpx2.Client(**client_options(self.settings.timeout, checked))

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
        media = {
            f: resolve_media(v, self.settings) for f, v in self._media_values(spec, inputs).items()
        }
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

    def __enter__(self) -> HFClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
        media = {
            f: await aresolve_media(v, self.settings)
            for f, v in self._media_values(spec, inputs).items()
        }
        request = self.prepare(spec, inputs, media, target)
        raw = await self.send(request)
        if spec.parse_in_thread:  # CPU work that grows with the answer: off the event loop
            return await asyncio.to_thread(self.finish, spec, inputs, request, raw)
        return self.finish(spec, inputs, request, raw)

    async def send(self, request: HFRequest) -> RawResponse:
        """Send with retries over this loop's connection pool."""
        return await _send_async(self.http, request, self.settings.retry)

    async def aclose(self) -> None:
        """Close the pool of the running loop (others close with their loop)."""
        await self._pools.aclose()

    async def __aenter__(self) -> AsyncHFClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
