"""Which provider, and which provider-side model id, serve (task, model). No I/O here.

The Hub says who serves a model: ``GET {hub_url}/api/models/{id}?expand[]=inferenceProviderMapping``
answers ``{"inferenceProviderMapping": ...}`` in one of two shapes seen in the wild:

* an object ``{provider: {"providerId", "status", "task"}}`` (2025 recordings);
* a list ``[{"provider", "providerId", "status", "task"}]``.

:func:`parse_mapping` reads both (Hub order kept); :func:`resolve` picks the route: a named
provider must serve the task (staging allowed: the user asked for it); ``"auto"`` takes the
first *live* provider that serves the task, in ``provider_order`` (which then also limits the
choice, so nobody is billed by a provider the user did not list) or the Hub's order. A misfit
raises :class:`NoProviderError` naming what would fit, before any inference call.

:class:`MappingCache` keeps the parsed mappings per process: bounded (LRU), with a TTL, and
single-flight: concurrent first calls for one model share one lookup, sync (threads) or async
(tasks). The fetch is injected, so this module never touches the network.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from hf_tools.config import (
    AUTO,
    DEFAULT_HUB_URL,
    DEFAULT_ROUTER_URL,
    HF_INFERENCE,
    check_model,
    is_url,
)
from hf_tools.errors import (
    ConfigurationError,
    HFTimeoutError,
    NoProviderError,
    ResponseFormatError,
)
from hf_tools.providers._base import Lora, is_plain_path

if TYPE_CHECKING:
    from hf_tools.config import Settings
    from hf_tools.tasks._base import TaskSpec

__all__ = [
    "AUTO",
    "DEFAULT_CHAT_BASE_URL",
    "DEFAULT_HUB_URL",
    "MAPPINGS",
    "ROUTER_CHOOSES",
    "Lookup",
    "Lora",
    "MappingCache",
    "NoProviderError",
    "ProviderMapping",
    "Route",
    "alookup",
    "call_url",
    "chat_url",
    "hf_inference_route",
    "hf_inference_url",
    "hub_task",
    "lookup",
    "mapping_url",
    "model_for",
    "parse_mapping",
    "resolve",
    "route_for",
    "router_picks",
    "settle",
]

DEFAULT_CHAT_BASE_URL = f"{DEFAULT_ROUTER_URL}/v1"
"""The router's OpenAI-compatible base: ``POST {DEFAULT_CHAT_BASE_URL}/chat/completions``."""

# Our task id -> the Hub's, where they differ (the Hub maps embedding models as
# feature-extraction).
# The Hub maps vision-language models under ``conversational``: they are chat models.
_HUB_TASKS = {
    "sentence-embeddings": "feature-extraction",
    "image-text-to-text": "conversational",
}


ROUTER_CHOOSES = frozenset({"conversational", "image-text-to-text"})
"""Tasks the router's own OpenAI route serves without a provider chosen: it picks one itself
(``"auto"`` sends them there, with no Hub lookup, unless ``provider_order`` limits the choice)."""


@dataclass(frozen=True, slots=True)
class ProviderMapping:
    """One provider's entry in a model's ``inferenceProviderMapping``.

    ``adapter`` (``"lora"``) and ``adapter_weights_path`` are set for an adapter model.
    """

    provider: str
    provider_id: str
    status: str
    task: str
    adapter: str | None = None
    adapter_weights_path: str | None = None

    @property
    def live(self) -> bool:
        """``status == "live"``; staging models answer only their provider's organization."""
        return self.status == "live"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a call goes: the provider, the model id that provider knows, and the URL.

    ``url`` is the first request's absolute URL when routing fixes it (the hf-inference
    format: ``base_url``, an endpoint URL, the router's chat route); None: the provider
    adapter's route under ``{router_url}/{provider}``.
    """

    provider: str
    provider_model: str
    url: str | None = None
    lora: Lora | None = None


@dataclass(frozen=True, slots=True)
class Lookup:
    """The route depends on the Hub's mapping of ``model``; ``provider``: "auto" or a name."""

    model: str
    provider: str


def chat_url(base_url: str, endpoint_url: str | None = None) -> str:
    """Where a chat completion is POSTed.

    ``{base_url}/chat/completions`` for the router; for a dedicated (TGI) endpoint
    ``{endpoint_url}/v1/chat/completions`` (``/chat/completions`` if it already ends in ``/v1``,
    unchanged if it already names the route; a query string is kept).
    """
    if endpoint_url is None:
        return base_url.rstrip("/") + "/chat/completions"
    parts = urlsplit(endpoint_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path += "/chat/completions" if path.endswith("/v1") else "/v1/chat/completions"
    return urlunsplit(parts._replace(path=path))


def hf_inference_url(
    settings: Settings, model: str, *, pipeline: str | None = None, chat: bool = False
) -> str:
    """Where a call in the hf-inference format goes.

    An endpoint URL (as ``model`` or a custom ``base_url``) is used as-is (a chat task adds the
    chat-completions route to it); a model id goes to ``{base_url}/models/{id}``, plus
    ``/pipeline/{pipeline}`` for the task-forcing routes. A chat task on the default
    hf-inference base goes to the router's own chat route, ``{router_url}/v1/chat/completions``
    (hf-inference itself no longer serves chat; the router picks a provider); on another base
    to ``{base_url}/v1/chat/completions``.
    """
    endpoint = (
        model if is_url(model) else settings.base_url if settings.is_custom_endpoint else None
    )
    if chat:
        if endpoint is not None:
            return chat_url("", endpoint)
        if settings.base_url == f"{settings.router_url}/{HF_INFERENCE}":
            return chat_url(f"{settings.router_url}/v1")
        return chat_url("", settings.base_url)
    if endpoint is not None:
        return endpoint
    url = f"{settings.base_url}/models/{model}"
    return f"{url}/pipeline/{pipeline}" if pipeline else url


def model_for(settings: Settings, spec: TaskSpec[Any, Any], model: str | None = None) -> str:
    """The model id or endpoint URL a call of ``spec`` goes to.

    The given one, else ``models[task]``, else the task's default; an endpoint-only task
    (``custom``) takes its configured endpoint.

    Raises:
        ConfigurationError: an endpoint-only task with no endpoint configured.
    """
    if model is not None:
        return check_model("model", model)
    if not spec.needs_endpoint:
        return settings.models.get(spec.task) or spec.default_model
    endpoint = settings.endpoint_for(spec.task)
    if endpoint is None:
        msg = (
            f"task {spec.task!r} needs its endpoint URL in models[{spec.task!r}]"
            " (or base_url with is_custom_endpoint=True)"
        )
        raise ConfigurationError(msg)
    return endpoint


def route_for(
    settings: Settings, spec: TaskSpec[Any, Any], model: str | None = None
) -> Route | Lookup:
    """Where one call of ``spec`` goes: the one place that decides it (pure).

    An endpoint URL (as the model, a custom ``base_url``, or the endpoint of ``custom``) and
    every task without a chosen provider (or with an explicit ``base_url``) go to the
    hf-inference format, with no Hub lookup; ``"auto"`` or a named provider need the Hub's
    mapping of the model first (:class:`Lookup`, then :func:`settle`).

    Raises:
        ConfigurationError: a misfit (no endpoint for ``custom``; a named provider with no
            adapter for the task; a task hf-inference does not speak and no provider).
    """
    target = model_for(settings, spec, model)
    if not (spec.needs_endpoint or is_url(target) or settings.is_custom_endpoint):
        provider = settings.provider_for(spec.task)
        if provider is not None and not router_picks(settings, spec.task, provider):
            return Lookup(target, provider)
    return hf_inference_route(settings, spec, target)


def router_picks(settings: Settings, task: str, provider: str | None) -> bool:
    """Whether calls of ``task`` go to the router's own chat route, which picks the provider.

    So for :data:`ROUTER_CHOOSES` with hf-inference (``None``) and, as InferenceClient's
    "auto" chat, with ``"auto"`` unless ``provider_order`` limits the choice: no Hub lookup.
    """
    return task in ROUTER_CHOOSES and (
        provider in (None, HF_INFERENCE) or (provider == AUTO and settings.provider_order is None)
    )


def call_url(settings: Settings, route: Route | Lookup) -> str:
    """Where a call on ``route`` sends its request: its fixed URL, else the router (providers)."""
    return route.url if isinstance(route, Route) and route.url else settings.router_url


def settle(
    settings: Settings,
    spec: TaskSpec[Any, Any],
    lookup: Lookup,
    mappings: Sequence[ProviderMapping],
) -> Route:
    """The route :func:`route_for` left to the Hub, from the model's mappings.

    Raises:
        NoProviderError: nothing fits; the message names the providers that would.
    """
    from hf_tools.providers import speaks  # lazily: the registry imports every provider

    route = resolve(
        mappings,
        task=spec.task,
        model=lookup.model,
        provider=lookup.provider,
        provider_order=settings.provider_order,
        speaks=speaks,
    )
    if route.provider == HF_INFERENCE:
        return hf_inference_route(settings, spec, route.provider_model)
    if route.lora is not None:  # the weights are on the Hub the mapping came from
        return replace(route, lora=replace(route.lora, hub_url=settings.hub_url))
    return route


def hf_inference_route(settings: Settings, spec: TaskSpec[Any, Any], model: str) -> Route:
    """The route of ``model`` on hf-inference (or the ``base_url`` server), no lookup.

    Raises:
        ConfigurationError: hf-inference does not speak ``spec``'s task.
    """
    wire = spec.hf_inference
    if wire is None:
        msg = f"hf-inference does not serve {spec.task}: choose a provider that does"
        raise ConfigurationError(msg, task=spec.task)
    url = hf_inference_url(settings, model, pipeline=wire.pipeline, chat=wire.chat)
    return Route(HF_INFERENCE, model, url)


def hub_task(task: str) -> str:
    """The Hub's name for our task id."""
    return _HUB_TASKS.get(task, task)


def mapping_url(hub_url: str, model: str) -> str:
    """``{hub_url}/api/models/{model}?expand[]=inferenceProviderMapping``."""
    path = quote(model, safe="/")
    return f"{hub_url.rstrip('/')}/api/models/{path}?expand[]=inferenceProviderMapping"


# What one parsed mapping keeps: the Hub maps a model to a few dozen providers at most, and a
# cached mapping must stay small (512 of them are kept).
MAX_MAPPING_ENTRIES = 64
_MAX_FIELD = 256


def _field(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= _MAX_FIELD else None


def _entry(provider: Any, item: Any) -> ProviderMapping | None:
    """One mapping entry, or None when it lacks what a route needs (or is oversized)."""
    if not isinstance(item, Mapping):
        return None
    provider, provider_id = _field(provider), _field(item.get("providerId"))
    raw_id = item.get("providerId")
    if provider_id is None and isinstance(raw_id, str):
        # Kept as a mark no URL path matches, so the route is refused as the Hub's fault
        # (the tool unavailable) rather than read as "this provider does not serve it".
        provider_id = f"<oversized: {len(raw_id)} characters>"
    task, status = _field(item.get("task")), _field(str(item.get("status") or "live"))
    if provider is None or provider_id is None or task is None or status is None:
        return None
    adapter, weights = _field(item.get("adapter")), _field(item.get("adapterWeightsPath"))
    return ProviderMapping(
        provider,
        provider_id,
        status,
        task,
        adapter,
        # A weights path that is no plain path would make the provider fetch another Hub URL.
        weights if weights and is_plain_path(weights) else None,
    )


def parse_mapping(body: Any) -> tuple[ProviderMapping, ...]:
    """A model-info body -> its provider entries in the Hub's order (object or list form).

    A model the Hub maps to no provider has no ``inferenceProviderMapping`` key: empty.
    Incomplete or oversized entries are skipped and at most ``MAX_MAPPING_ENTRIES`` kept
    (a cached mapping stays small whatever the Hub sends); a body that is not a model info
    raises.
    """
    if not isinstance(body, Mapping):
        msg = f"expected a model info object from the Hub, got {type(body).__name__}"
        raise ResponseFormatError(msg)
    raw = body.get("inferenceProviderMapping") or {}
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        pairs = raw.items()
    elif isinstance(raw, list):  # read lazily: only the first entries are kept
        pairs = ((i.get("provider") if isinstance(i, Mapping) else None, i) for i in raw)
    else:
        msg = f"unexpected inferenceProviderMapping shape: {type(raw).__name__}"
        raise ResponseFormatError(msg, model=body.get("id"))
    found = (e for provider, item in pairs if (e := _entry(provider, item)) is not None)
    return tuple(itertools.islice(found, MAX_MAPPING_ENTRIES))


def _names(entries: Sequence[ProviderMapping]) -> str:
    return ", ".join(e.provider for e in entries) or "none"


def resolve(
    mappings: Sequence[ProviderMapping],
    *,
    task: str,
    model: str,
    provider: str = AUTO,
    provider_order: Sequence[str] | None = None,
    speaks: Callable[[str, str], bool] | None = None,
) -> Route:
    """Pick the route of (task, model) from the model's mappings.

    Args:
        mappings: :func:`parse_mapping` of the model's info.
        task: our task id.
        model: the Hub model id (for messages).
        provider: ``"auto"`` or a provider name.
        provider_order: for ``"auto"``: the providers to consider, best first.
        speaks: ``(provider, task) -> bool``: whether hf-tools has an adapter; a provider
            without one is never picked by ``"auto"`` and refused when named.

    Raises:
        NoProviderError: nothing fits; the message names the providers that would.
    """
    wanted = hub_task(task)
    serving = [
        m for m in mappings if m.task == wanted and (speaks is None or speaks(m.provider, task))
    ]
    unsafe = [m for m in serving if not is_plain_path(m.provider_id)]
    # An id that is not a plain path would send the call (and the token) elsewhere: refused.
    serving = [m for m in serving if m not in unsafe]
    if provider != AUTO:
        match = next((m for m in serving if m.provider == provider), None)
        if match is not None:
            return _route(match, model)
        bad = next((m for m in unsafe if m.provider == provider), None)
        if bad is not None:
            raise _unsafe_id(bad, serving, task, model)
        mapped = any(m.provider == provider and m.task == wanted for m in mappings)
        msg = (
            f"hf-tools cannot send {task} to {provider} yet (no adapter)"
            if mapped
            else f"{model} is not served for {task} by {provider}"
        )
        msg += f"; providers that serve it: {_names(serving)}"
        raise NoProviderError(msg, fitting=[m.provider for m in serving], task=task, model=model)
    live = [m for m in serving if m.live]
    if provider_order is not None:
        rank = {name: i for i, name in enumerate(provider_order)}
        live = sorted((m for m in live if m.provider in rank), key=lambda m: rank[m.provider])
    if live:
        return _route(live[0], model)
    if unsafe:
        raise _unsafe_id(unsafe[0], serving, task, model)
    raise _no_live_provider(mappings, serving, task, model, provider_order)


def _unsafe_id(
    bad: ProviderMapping, serving: Sequence[ProviderMapping], task: str, model: str
) -> NoProviderError:
    shown = ascii(bad.provider_id[:80])
    msg = (
        f"the Hub maps {model} on {bad.provider} to the provider model id {shown}, which is not"
        f" a plain URL path: refused; other providers that serve it: {_names(serving)}"
    )
    fitting = [m.provider for m in serving]
    return NoProviderError(msg, fitting=fitting, hub_fault=True, task=task, model=model)


def _route(mapping: ProviderMapping, model: str) -> Route:
    """The route of one mapping entry; an adapter's weights go along (see :class:`Lora`)."""
    path = mapping.adapter_weights_path
    lora = Lora(model, path, DEFAULT_HUB_URL) if path is not None else None
    return Route(mapping.provider, mapping.provider_id, lora=lora)


def _no_live_provider(
    mappings: Sequence[ProviderMapping],
    serving: Sequence[ProviderMapping],
    task: str,
    model: str,
    provider_order: Sequence[str] | None,
) -> NoProviderError:
    """The error for "auto" finding nothing: say what is live, staging, or mapped for what."""
    live = [m for m in serving if m.live]
    staging = [m for m in serving if not m.live]
    if live:  # there are live ones, just not in the user's order
        order = ", ".join(provider_order or [])
        msg = f"none of {order} serves {model} for {task}; live providers: {_names(live)}"
    elif staging:
        msg = f"{model} is only in staging for {task} (at {_names(staging)})"
        msg += "; name the provider to use it"
    else:
        tasks = sorted({m.task for m in mappings})
        also = f"; it is mapped for {', '.join(tasks)}" if tasks else "; it has no provider at all"
        msg = f"no provider serves {model} for {task}{also}"
    return NoProviderError(
        msg, fitting=[m.provider for m in live or staging], task=task, model=model
    )


def _time_left() -> float | None:
    """The current call's time left (:func:`hf_tools.http.time_left`).

    Imported when a lookup waits, not with this module: :mod:`hf_tools.http` loads the HTTP
    stack, which listing the tools (routing them, no request) does not need.
    """
    from hf_tools.http import time_left

    return time_left()


@dataclass(slots=True)
class _Entry:
    value: tuple[ProviderMapping, ...]
    expires: float


class _Flight:
    """A lookup in progress in one thread; the others wait for its outcome."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: tuple[ProviderMapping, ...] = ()
        self.error: BaseException | None = None


class MappingCache:
    """Per-process cache of parsed mappings by lookup URL: LRU-bounded, TTL, single-flight.

    Bounded twice: ``maxsize`` mappings, and ``max_entries`` provider entries over all of them
    (each mapping keeps at most ``MAX_MAPPING_ENTRIES``, each field at most 256 characters:
    the whole cache stays under ~25 MB). A failed lookup is not cached (the next call tries
    again); every caller waiting on it gets the same error, and a waiting caller waits no
    longer than its own call's deadline.
    """

    def __init__(
        self,
        *,
        maxsize: int = 512,
        max_entries: int = 16_384,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maxsize = maxsize
        self.max_entries = max_entries
        self._size = 0  # provider entries held, over every mapping
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._tasks: dict[tuple[int, str], asyncio.Task[tuple[ProviderMapping, ...]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry (tests; a user who changed provider settings on the Hub)."""
        with self._lock:
            self._entries.clear()
            self._size = 0

    def _cached(self, url: str) -> tuple[ProviderMapping, ...] | None:
        entry = self._entries.get(url)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self._drop(url)
            return None
        self._entries.move_to_end(url)
        return entry.value

    def _drop(self, url: str) -> None:
        old = self._entries.pop(url, None)
        self._size -= len(old.value) if old is not None else 0

    def _store(self, url: str, value: tuple[ProviderMapping, ...]) -> None:
        self._drop(url)
        self._entries[url] = _Entry(value, self._clock() + self.ttl)
        self._size += len(value)
        while len(self._entries) > self.maxsize or (
            self._size > self.max_entries and len(self._entries) > 1
        ):
            self._size -= len(self._entries.popitem(last=False)[1].value)

    def peek(self, url: str) -> tuple[ProviderMapping, ...] | None:
        """The cached mappings behind ``url``, or None; never fetches."""
        with self._lock:
            return self._cached(url)

    def seed(self, url: str, body: Any) -> tuple[ProviderMapping, ...]:
        """Cache the mappings a Hub answer ``body`` gives, as a lookup would (tests, replays)."""
        value = parse_mapping(body)
        with self._lock:
            self._store(url, value)
        return value

    def forget(self, url: str) -> None:
        """Drop the mappings cached for ``url``, if any: the next call looks it up again."""
        with self._lock:
            self._drop(url)

    @staticmethod
    def _waited_too_long(url: str) -> HFTimeoutError:
        msg = f"the Hub lookup {url.split('?')[0]} did not finish within the call's timeout"
        return HFTimeoutError(msg, task="model-info")

    def get(self, url: str, fetch: Callable[[str], Any]) -> tuple[ProviderMapping, ...]:
        """The mappings behind ``url``; ``fetch(url)`` (-> decoded body) runs once at a time."""
        with self._lock:
            cached = self._cached(url)
            if cached is not None:
                return cached
            flight = self._flights.get(url)
            leader = flight is None
            if flight is None:
                flight = self._flights[url] = _Flight()
        if not leader:
            # Another call's lookup, bounded by that call's deadline: wait within our own.
            left = _time_left()
            if not flight.done.wait(None if left is None else max(0.0, left)):
                raise self._waited_too_long(url)
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            flight.value = parse_mapping(fetch(url))
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            with self._lock:
                self._store(url, flight.value)
            return flight.value
        finally:
            with self._lock:
                del self._flights[url]
            flight.done.set()

    async def aget(
        self, url: str, fetch: Callable[[str], Awaitable[Any]]
    ) -> tuple[ProviderMapping, ...]:
        """:meth:`get` for async callers: concurrent first calls await one shared lookup.

        The lookup runs as its own task, shielded: cancelling one caller does not cancel the
        lookup the others wait on.
        """
        with self._lock:
            cached = self._cached(url)
        if cached is not None:
            return cached
        key = (id(asyncio.get_running_loop()), url)
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(self._alookup(key, url, fetch))
            # Read the outcome even when every caller was cancelled: no "never retrieved".
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._tasks[key] = task
        left = _time_left()
        try:
            return await asyncio.wait_for(asyncio.shield(task), left and max(0.0, left))
        except TimeoutError:
            if task.done():  # the lookup's own timeout, not our wait
                raise
            raise self._waited_too_long(url) from None

    async def _alookup(
        self, key: tuple[int, str], url: str, fetch: Callable[[str], Awaitable[Any]]
    ) -> tuple[ProviderMapping, ...]:
        try:
            value = parse_mapping(await fetch(url))
            with self._lock:
                self._store(url, value)
            return value
        finally:
            self._tasks.pop(key, None)


MAPPINGS = MappingCache()
"""The process-wide cache :func:`lookup` and :func:`alookup` use by default."""


def lookup(
    model: str,
    fetch: Callable[[str], Any],
    *,
    hub_url: str = DEFAULT_HUB_URL,
    cache: MappingCache = MAPPINGS,
) -> tuple[ProviderMapping, ...]:
    """The provider mappings of ``model``: one ``fetch`` of its Hub URL per TTL, shared."""
    return cache.get(mapping_url(hub_url, model), fetch)


async def alookup(
    model: str,
    fetch: Callable[[str], Awaitable[Any]],
    *,
    hub_url: str = DEFAULT_HUB_URL,
    cache: MappingCache = MAPPINGS,
) -> tuple[ProviderMapping, ...]:
    """:func:`lookup` for async callers."""
    return await cache.aget(mapping_url(hub_url, model), fetch)
