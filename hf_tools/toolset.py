"""The tool layer every host shares: which tools settings offer, and how one call goes.

A host (the LangChain tools, the CLI, the chatbot, an MCP server, a batch runner) asks a
:class:`Toolset` for its :class:`Tool` s, shows each one's name, description and JSON schema,
and runs them by name with a dict of arguments::

    toolset = Toolset(settings, families=["text"])
    for tool in toolset.tools:
        tool.name, tool.description, tool.json_schema()
    result = toolset.run("summarization", {"text": "..."})   # or await toolset.arun(...)
    result.text          # bounded text for an LLM (max_content_chars)
    result.output        # the typed <Task>Output; result.data() is its JSON form
    result.parts()       # its binary parts (images, masks, audio) as BinaryPart

A failed call raises one :class:`ToolFailure` whose ``kind`` is decided here, once:

* ``"fix_arguments"`` — the LLM can act: change the arguments, wait or retry (what ``text``
  says); the turn goes on.
* ``"unavailable"`` — the model is not served (HTTP 404/410 from the service, or "auto" found
  no provider): the LLM should use another tool; the turn goes on (also logged).
* ``"developer"`` — authentication, credits, configuration: ``error`` propagates to the
  developer (``text`` is a bounded description for hosts that must answer anyway).

Only tools whose calls can be routed are offered: a task is offered when a model or endpoint
serves it (:func:`hf_tools.catalog.served_model`) AND an adapter speaks it where its calls go
(an endpoint URL reaches only tasks with an hf-inference wire format). Imports no LangChain.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from hf_tools.artifacts import BinaryPart, binary_parts, save_output
from hf_tools.catalog import defaults_of, served_model
from hf_tools.client_base import ON_POLL, AnySpec, Closeable, PollHook, validation_message
from hf_tools.config import AUTO, HF_INFERENCE, Settings, is_url, require_token
from hf_tools.errors import (
    ConfigurationError,
    HFToolsError,
    ModelNotFoundError,
    NoProviderError,
    bound_message,
    redact_head,
)
from hf_tools.routing import Lookup, call_url, model_for, route_for
from hf_tools.tasks import FAMILIES, REGISTRY, get_spec

if TYPE_CHECKING:
    from hf_tools.client import AsyncHFClient, HFClient

__all__ = [
    "DEVELOPER",
    "FAMILIES",
    "FIX_ARGUMENTS",
    "UNAVAILABLE",
    "FailureKind",
    "PollHook",
    "Tool",
    "ToolFailure",
    "ToolResult",
    "Toolset",
    "bound_text",
    "default_providers",
    "family_of",
    "offered_tasks",
]

log = logging.getLogger(__name__)

FailureKind = Literal["fix_arguments", "unavailable", "developer"]
FIX_ARGUMENTS: FailureKind = "fix_arguments"
UNAVAILABLE: FailureKind = "unavailable"
DEVELOPER: FailureKind = "developer"

# A 404/410 means this model is not served there (any more, or not for this task): the tool is
# unavailable, not misconfigured. 405 (no such route: a wrong base URL) stays the developer's.
_UNAVAILABLE_STATUS = frozenset({404, 410})

# What a model-chosen value can still raise while its request is built, if no check named
# it first: never a reason to abort the agent; the model reads it and tries again.
_ARGUMENT_FAILURES = (ValueError, TypeError, LookupError, RecursionError, OverflowError)

_RESULT_NOTE = "… [truncated {} chars; full result in the artifact]"


def family_of(task: str) -> str:
    """The family of a task id (its spec's); ``"custom"`` for a task the registry lacks."""
    spec = REGISTRY.get(task)
    return "custom" if spec is None else spec.family


def bound_text(text: str, limit: int, note: str = _RESULT_NOTE) -> str:
    """Cut ``text`` to ``limit`` characters, ending with ``note`` (formatted with the cut)."""
    if len(text) <= limit:
        return text
    # Room for the note with the widest count it can carry, so the result stays within limit.
    keep = max(0, limit - len(note.format(len(text))))
    return (text[:keep] + note.format(len(text) - keep))[:limit]


# ---------------------------------------------------------------------------- selection


def _routable(settings: Settings, spec: AnySpec, model: str) -> None:
    """Raise ConfigurationError unless a call of ``spec`` with ``model`` can be routed."""
    from hf_tools.providers import get_adapter, providers_for, speaks

    route = route_for(settings, spec, model)  # raises: e.g. an endpoint URL, no wire format
    if not isinstance(route, Lookup):
        get_adapter(route.provider, spec.task)
    elif route.provider != AUTO and not speaks(route.provider, spec.task):
        get_adapter(route.provider, spec.task)  # raises, naming who would fit
    elif route.provider == AUTO and not (
        speaks(HF_INFERENCE, spec.task) or providers_for(spec.task)
    ):
        msg = f"no provider adapter speaks {spec.task}"
        raise ConfigurationError(msg, task=spec.task)


def _served(settings: Settings, spec: AnySpec) -> str:
    """The model ``spec``'s tool uses with ``settings``, checked routable (no I/O).

    Raises:
        ConfigurationError: nothing serves or routes it; the message names what would.
    """
    model = served_model(settings, spec)
    _routable(settings, spec, model)
    return model


def default_providers(task: str) -> list[str]:
    """The providers with a built-in default model for ``task``, in catalog order."""
    return list(dict.fromkeys(provider for provider, _ in defaults_of(task)))


def offered_tasks(
    settings: Settings,
    tasks: Iterable[str] | None = None,
    families: Iterable[str] | None = None,
) -> dict[str, str]:
    """``{task id: model or endpoint}`` of the tools ``settings`` offer, in registry order.

    With neither ``tasks`` nor ``families``: every task these settings can serve and route.
    ``families``: those families' servable tasks. ``tasks``: each must be servable (asked for
    by name, one that is not fails now, naming what would serve it); both: the union.

    Raises:
        ConfigurationError: an unknown family or task, or a task named that cannot be served.
    """
    named = [get_spec(t).task for t in dict.fromkeys(tasks or ())]
    wanted_families = list(dict.fromkeys(families or ()))
    unknown = [f for f in wanted_families if f not in FAMILIES]
    if unknown:
        msg = f"unknown tool families {unknown}; known: {', '.join(FAMILIES)}"
        raise ConfigurationError(msg)
    offered = {task: _served(settings, get_spec(task)) for task in named}
    if tasks is not None and families is None:
        return offered
    for spec in REGISTRY.values():
        other_family = families is not None and family_of(spec.task) not in wanted_families
        if spec.task in offered or other_family:
            continue
        try:
            offered[spec.task] = _served(settings, spec)
        except ConfigurationError:
            continue
    order = {task: i for i, task in enumerate(named)}
    return dict(sorted(offered.items(), key=lambda kv: order.get(kv[0], len(order))))


def _with_provider_defaults(settings: Settings, served: Mapping[str, str]) -> Settings:
    """``settings`` with the chosen providers' own default models where they differ.

    A named provider may serve a task with another model than the task's default (fal-ai's
    ASR is Whisper): the tool must send that one. Models the user named stay as given.
    """
    extra = {
        task: model
        for task, model in served.items()
        if task not in settings.models
        and not get_spec(task).needs_endpoint
        and model != get_spec(task).default_model
    }
    if not extra:
        return settings
    return replace(settings, models={**settings.models, **extra})


# ------------------------------------------------------------------------ one tool call


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A successful call: the typed output, the bounded text an LLM reads, files written."""

    output: BaseModel
    text: str
    files: tuple[Path, ...] = ()

    def data(self) -> dict[str, Any]:
        """The output's JSON form (bytes as base64, :mod:`hf_tools.artifacts`)."""
        return self.output.model_dump(mode="json")

    def parts(self) -> list[BinaryPart]:
        """The output's binary parts (images, masks, audio, video)."""
        return binary_parts(self.output)


class ToolFailure(Exception):
    """A failed call, classified once: ``kind``, the bounded ``text``, the ``error`` behind it.

    ``error`` is None when the arguments did not validate.
    """

    def __init__(self, kind: FailureKind, text: str, error: Exception | None = None) -> None:
        super().__init__(text)
        self.kind: FailureKind = kind
        self.text = text
        self.error = error


class _Clients:
    """The blocking and async clients of one set of tools, both made at the first use of either.

    Listing tools (names, descriptions, schemas) needs no client, and the clients import the
    HTTP stack: made here on demand, once, whichever thread asks first. :meth:`close` closes
    what was made; a pair first made after it is closed at once, as it would have been.
    """

    def __init__(self, settings: Settings, transport: Any = None) -> None:
        self.settings = settings
        self._transports: tuple[Any, Any] = (None, None)
        if transport is not None:  # checked now: a wrong transport fails at build time
            from hf_tools.client import split_transport

            self._transports = split_transport(transport)
        self._lock = threading.Lock()
        self._made: tuple[HFClient, AsyncHFClient] | None = None
        self._closed = False

    @classmethod
    def of(cls, client: HFClient, aclient: AsyncHFClient) -> _Clients:
        """A ready pair (sharing one :class:`Settings`)."""
        clients = cls(client.settings)
        clients._made = (client, aclient)
        return clients

    def get(self) -> tuple[HFClient, AsyncHFClient]:
        """The pair, made on the first call."""
        made = self._made
        if made is None:
            with self._lock:
                made = self._made
                if made is None:
                    made = self._made = self._make()
        return made

    def _make(self) -> tuple[HFClient, AsyncHFClient]:
        from hf_tools.client import AsyncHFClient, HFClient

        sync, async_ = self._transports
        made = (
            HFClient(settings=self.settings, transport=sync),
            AsyncHFClient(settings=self.settings, transport=async_),
        )
        if self._closed:
            for client in made:
                client.close()
        return made

    def _closing(self) -> tuple[HFClient, AsyncHFClient] | None:
        with self._lock:
            self._closed = True
            return self._made

    def close(self) -> None:
        """Close the pools of both clients, if made (the async one's in every event loop)."""
        made = self._closing()
        if made is not None:
            made[0].close()
            made[1].close()

    async def aclose(self) -> None:
        """Close the pools of both clients, if made, the running loop's awaited."""
        made = self._closing()
        if made is not None:
            made[0].close()
            await made[1].aclose()


class Tool:
    """One task as a tool: name, description, schema, and its sync and async run."""

    def __init__(
        self,
        spec: AnySpec,
        client: HFClient,
        aclient: AsyncHFClient,
        *,
        model: str | None = None,
        description: str | None = None,
    ) -> None:
        """Bind ``spec`` to a pair of clients (sharing one :class:`Settings`).

        Args:
            spec: the task.
            client: blocking client used by :meth:`run`.
            aclient: async client used by :meth:`arun`.
            model: model id or endpoint URL (default: the settings', then the task's).
            description: replaces the task's description (e.g. for a custom endpoint).
        """
        self._bind(spec, _Clients.of(client, aclient), model, description)

    @classmethod
    def _over(cls, spec: AnySpec, clients: _Clients, description: str | None) -> Tool:
        """A tool over clients made at its first call (a :class:`Toolset`'s)."""
        tool = cls.__new__(cls)
        tool._bind(spec, clients, None, description)
        return tool

    def _bind(
        self, spec: AnySpec, clients: _Clients, model: str | None, description: str | None
    ) -> None:
        self.spec = spec
        self._clients = clients
        self.settings = clients.settings
        self.model = model_for(self.settings, spec, model)
        self.description = description or spec.description

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, model={self.model!r})"

    @property
    def client(self) -> HFClient:
        """The blocking client :meth:`run` uses."""
        return self._clients.get()[0]

    @property
    def aclient(self) -> AsyncHFClient:
        """The async client :meth:`arun` uses."""
        return self._clients.get()[1]

    @property
    def name(self) -> str:
        """The tool name: the task id in snake_case."""
        return self.spec.tool_name

    @property
    def family(self) -> str:
        """The tool's family (:data:`FAMILIES`)."""
        return family_of(self.spec.task)

    @property
    def url(self) -> str:
        """Where its calls go: its endpoint or hf-inference URL, else the router (providers)."""
        return call_url(self.settings, route_for(self.settings, self.spec, self.model))

    @property
    def input_model(self) -> type[BaseModel]:
        """The argument model (``<Task>Input``)."""
        return self.spec.input_model

    def json_schema(self) -> dict[str, Any]:
        """The arguments' JSON schema, compact and portable, as an LLM reads it."""
        schema: dict[str, Any] = self.input_model.model_json_schema()
        return schema

    def definition(self) -> dict[str, Any]:
        """``{"name", "description", "parameters"}``: the function an LLM is offered.

        ``{"type": "function", "function": definition}`` is the OpenAI tool format, the same
        as LangChain's ``convert_to_openai_tool`` gives for the LangChain tool.
        """
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.json_schema(),
        }

    def validate(self, args: Mapping[str, Any] | BaseModel) -> BaseModel:
        """Arguments -> ``<Task>Input``; a ``"fix_arguments"`` failure when they do not fit."""
        if isinstance(args, BaseModel) and isinstance(args, self.input_model):
            return args
        try:
            inputs: BaseModel = self.spec.input_model.model_validate(args)
        except ValidationError as exc:
            raise ToolFailure(FIX_ARGUMENTS, self.invalid_message(exc)) from None
        return inputs

    def invalid_message(self, exc: ValidationError) -> str:
        """What the LLM reads about arguments that did not validate (bounded)."""
        text = validation_message(self.spec, exc) + ". Fix the arguments and call the tool again."
        return self._bound_error(text)

    def run(self, args: Mapping[str, Any] | BaseModel) -> ToolResult:
        """Run the tool.

        Raises:
            ToolFailure: classified (see the module docstring).
        """
        inputs = self.validate(args)
        try:
            output = self.client.run_spec(self.spec, inputs, model=self.model)
        except Exception as exc:  # classified below; never a raw exception into a turn
            raise self.failure(exc) from exc
        return self.result(output)

    async def arun(
        self, args: Mapping[str, Any] | BaseModel, *, on_poll: PollHook | None = None
    ) -> ToolResult:
        """Async :meth:`run`; ``on_poll`` is awaited before each poll of a provider job.

        ``on_poll(poll number, seconds since the call began)``: how a host shows progress
        of a long job (a video, a queued image); a hook that raises is ignored.
        """
        inputs = self.validate(args)
        reset = ON_POLL.set(on_poll)
        try:
            output = await self.aclient.run_spec(self.spec, inputs, model=self.model)
        except Exception as exc:  # classified below; never a raw exception into a turn
            raise self.failure(exc) from exc
        finally:
            ON_POLL.reset(reset)
        return self.result(output)

    def result(self, output: BaseModel) -> ToolResult:
        """Save the output's binary parts (when an output directory is set) and render it."""
        files: tuple[Path, ...] = ()
        if self.settings.output_dir is not None:
            files = tuple(save_output(output, self.settings.output_dir))
        limit = self.settings.max_content_chars
        text = redact_head(self.spec.render(output), limit, self.settings.secrets())
        return ToolResult(output, bound_text(text, limit), files)

    def failure(self, exc: Exception) -> ToolFailure:
        """Classify ``exc`` raised by a call: the one rule every host follows."""
        if isinstance(exc, _ARGUMENT_FAILURES) and not isinstance(exc, HFToolsError):
            # The kind only: an unforeseen message could quote anything, a header with the key.
            text = f"{self.name} could not use these arguments ({type(exc).__name__})."
            return ToolFailure(FIX_ARGUMENTS, f"{text} Fix the arguments and call the tool again.")
        if not isinstance(exc, HFToolsError):
            # A failure no class foresaw (a bug, a broken environment): the developer gets the
            # traceback in the log, the LLM one line, and the agent's turn goes on.
            log.error("%s failed unexpectedly", self.name, exc_info=exc)
            text = (
                f"The {self.name} tool failed unexpectedly ({type(exc).__name__}). Do not retry"
                " it; use another tool, or answer without it."
            )
            return ToolFailure(UNAVAILABLE, text, exc)
        if exc.llm_fixable:
            return ToolFailure(FIX_ARGUMENTS, self._bound_error(exc.for_llm()), exc)
        if self._is_unavailable(exc):
            text = self._bound_error(self._unavailable_message(exc))
            log.warning("%s", text)  # the developer sees it too, the agent's turn goes on
            return ToolFailure(UNAVAILABLE, text, exc)
        return ToolFailure(DEVELOPER, self._bound_error(str(exc)), exc)

    def _bound_error(self, text: str) -> str:
        return bound_message(text, self.settings.max_content_chars, self.settings.secrets())

    def _is_unavailable(self, exc: HFToolsError) -> bool:
        """Whether ``exc`` says the model is not served (404/410, or "auto" found no provider).

        With "auto" the Hub's mapping of the day decides, so no provider is the tool's state,
        not a mistake; a provider the developer named that does not serve the model is theirs.
        """
        if isinstance(exc, NoProviderError):
            return exc.hub_fault or self.settings.provider_for(self.spec.task) == AUTO
        return isinstance(exc, ModelNotFoundError) and exc.status_code in _UNAVAILABLE_STATUS

    def _unavailable_message(self, exc: HFToolsError) -> str:
        """What the LLM reads: this tool cannot be used now, by which model and provider."""
        if isinstance(exc, NoProviderError):
            why = exc.message
        elif exc.task == "model-info":  # the Hub lookup itself: no such model on the Hub
            why = f"the Hub has no model {self.model} ({exc.message})"
        else:
            status = getattr(exc, "status_code", None)
            why = f"{self.model} is not served by {self._served_by()}"
            why += f" (HTTP {status}: {exc.message})"
        return (
            f"The {self.name} tool is unavailable right now: {why}. Do not retry it; use"
            " another tool, or answer without it."
        )

    def _served_by(self) -> str:
        """The provider (or server) a call went to, for the LLM's message."""
        if is_url(self.model):
            return f"the endpoint {self.model}"
        settings = self.settings
        provider = settings.provider_for(self.spec.task)
        if provider is None:
            given = settings.base_url_given
            return f"the server {settings.base_url}" if given else HF_INFERENCE
        if provider != AUTO:
            return provider
        return f"the provider auto-selected for it ({self._auto_provider()})"

    def _auto_provider(self) -> str:
        """The provider "auto" picked, from the mapping cache (no request); "unknown" if gone."""
        from hf_tools.providers import speaks
        from hf_tools.routing import MAPPINGS, mapping_url, resolve

        mappings = MAPPINGS.peek(mapping_url(self.settings.hub_url, self.model))
        if mappings is None:
            return "unknown"
        try:
            route = resolve(
                mappings,
                task=self.spec.task,
                model=self.model,
                provider_order=self.settings.provider_order,
                speaks=speaks,
            )
        except HFToolsError:
            return "unknown"
        return route.provider


# ----------------------------------------------------------------------------- toolset


class Toolset(Closeable):
    """The tools a set of settings offers, sharing one pair of clients (connection pools).

    The clients are made at the first call (or the first read of :attr:`client` /
    :attr:`async_client`): listing the tools loads no HTTP stack. ``close()`` / ``aclose()``
    (or ``with`` / ``async with``) free the pools.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        tasks: Sequence[str] | None = None,
        families: Sequence[str] | None = None,
        custom_description: str | None = None,
        transport: Any = None,
        **settings_arguments: Any,
    ) -> None:
        """Select the tools (:func:`offered_tasks`) and build them once; no request is made.

        Args:
            settings: ready settings; or the arguments of :meth:`Settings.create`.
            tasks: task ids or tool names to offer (each must be servable).
            families: tool families to offer (:data:`FAMILIES`).
            custom_description: the description of the ``custom`` endpoint tool.
            transport: an httpx2 transport for every request (tests: ``httpx2.MockTransport``,
                which serves both the blocking and the asyncio client).
            **settings_arguments: the arguments of :meth:`Settings.create`, without ``settings``.

        Raises:
            ConfigurationError: see :func:`offered_tasks`; both settings and its arguments.
        """
        if settings is None:
            settings = Settings.create(**settings_arguments)
        elif settings_arguments:
            msg = "pass settings= or the settings' arguments, not both"
            raise ConfigurationError(msg)
        served = offered_tasks(settings, tasks, families)
        self.settings = _with_provider_defaults(settings, served)
        self._clients = _Clients(self.settings, transport)
        self.tools: tuple[Tool, ...] = tuple(
            Tool._over(spec, self._clients, custom_description if spec.needs_endpoint else None)
            for spec in (get_spec(task) for task in served)
        )
        self._by_name = {tool.name: tool for tool in self.tools}

    @property
    def client(self) -> HFClient:
        """The blocking client every tool shares (made at its first use, with the async one)."""
        return self._clients.get()[0]

    @property
    def async_client(self) -> AsyncHFClient:
        """The async client every tool shares (made at its first use, with the blocking one)."""
        return self._clients.get()[1]

    def require_token(self, *urls: str) -> None:
        """Refuse to start when a tool's calls (or ``urls``: a chat model's) need a token.

        Raises:
            ConfigurationError: the one no-token message (:func:`~hf_tools.config.require_token`).
        """
        require_token(self.settings, [*urls, *(tool.url for tool in self.tools)])

    def schema_bytes(self) -> int:
        """Bytes of every tool's schema as an LLM receives them (OpenAI format, compact JSON).

        Paid on every LLM call: the budget a host keeps small by offering families.
        """
        return sum(
            len(json.dumps({"type": "function", "function": t.definition()}, separators=(",", ":")))
            for t in self.tools
        )

    @property
    def names(self) -> list[str]:
        """The offered tool names, in order."""
        return list(self._by_name)

    def get(self, name: str) -> Tool:
        """One tool by name (``text_classification``) or task id (``text-classification``).

        Raises:
            KeyError: no such tool here; the message lists the offered ones.
        """
        tool = self._by_name.get(name.replace("-", "_"))
        if tool is None:
            msg = f"no tool {name!r} in this toolkit; available: {', '.join(self.names)}"
            raise KeyError(msg)
        return tool

    def run(self, name: str, args: Mapping[str, Any]) -> ToolResult:
        """Run the tool ``name`` with ``args`` (:meth:`Tool.run`)."""
        return self.get(name).run(args)

    async def arun(
        self, name: str, args: Mapping[str, Any], *, on_poll: PollHook | None = None
    ) -> ToolResult:
        """Async :meth:`run` (:meth:`Tool.arun`)."""
        return await self.get(name).arun(args, on_poll=on_poll)

    def close(self) -> None:
        """Close the pools of both clients (the async one's in every event loop)."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close the pools of both clients, the running loop's awaited."""
        await self._clients.aclose()
