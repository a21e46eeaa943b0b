"""TaskSpec + clients -> a LangChain StructuredTool (sync and async, content_and_artifact).

Content is short text the LLM reads (bounded by ``max_content_chars``); the artifact is the full
typed output. Errors the LLM can fix: invoked with a ToolCall (agents), they come back as a
ToolMessage with ``status="error"`` and a message saying what to change; invoked with plain
arguments (chains, batches, Python), they raise :class:`HFToolError` carrying the same message,
so a chain stops and ``batch(..., return_exceptions=True)`` returns it. Configuration errors
raise to the developer either way.

No ``from __future__ import annotations`` here, on purpose: LangChain resolves the type hints
of ``HFTool._run`` on every call, and string annotations cost ~20 µs a call to evaluate.
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.globals import get_debug
from langchain_core.prompt_values import StringPromptValue
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import (
    FILTERED_ARGS,
    ArgsSchema,
    InjectedToolArg,
    StructuredTool,
    ToolException,
)
from langchain_core.tools import base as langchain_tools_base
from langchain_core.utils.env import env_var_is_set
from pydantic import BaseModel, PrivateAttr, ValidationError
from pydantic.v1 import ValidationError as ValidationErrorV1

from hf_tools.client import AnySpec, AsyncHFClient, HFClient
from hf_tools.errors import HFToolsError
from hf_tools.tasks._base import ToolInput
from hf_tools.toolset import DEVELOPER, Tool, ToolFailure, bound_text

__all__ = ["HFTool", "HFToolError", "as_langchain_tool", "bound_text", "make_tool"]

# The private langchain-core helpers HFTool's short path calls (see HFTool.invoke), with the
# parameters it passes. Present and alike from 1.4.2 to 1.8.3 (make test-lowest/test-latest);
# a langchain-core without them, or with other parameters, gets the full run on every call.
_HELPERS = {
    "_prep_run_args": ("value", "config", "kwargs"),
    "_format_output": ("content", "artifact", "tool_call_id", "name", "status"),
    "_handle_tool_error": ("e", "flag"),
    "_handle_validation_error": ("e", "flag"),
}


def _helpers_match(module: Any) -> bool:
    """Whether ``module`` has every helper in :data:`_HELPERS`, with those parameters."""
    for name, parameters in _HELPERS.items():
        helper = getattr(module, name, None)
        if helper is None or tuple(inspect.signature(helper).parameters) != parameters:
            return False
    return True


SHORT_PATH = _helpers_match(langchain_tools_base)
"""Whether invoke/ainvoke may skip LangChain's run machinery when nobody listens."""
if SHORT_PATH:
    from langchain_core.tools.base import (
        _format_output,
        _handle_tool_error,
        _handle_validation_error,
        _prep_run_args,
    )

F = TypeVar("F", bound=Callable[..., Any])


def _signature_once(func: F) -> F:
    """Compute ``func``'s signature once; ``inspect.signature`` then returns it (~7 µs saved).

    LangChain inspects ``_run``/``_arun`` on every call to see whether they take a run manager.
    """
    func.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    return func


@functools.cache
def _plain_args(schema: type[BaseModel]) -> bool:
    """Whether ``schema`` is one of our argument models with no injected or aliased field."""
    if not issubclass(schema, ToolInput):
        return False
    for info in schema.model_fields.values():
        if info.alias is not None or any(
            isinstance(m, InjectedToolArg)
            or (isinstance(m, type) and issubclass(m, InjectedToolArg))
            for m in info.metadata
        ):
            return False
    return True


@functools.cache
def _first_argument(schema: type[BaseModel]) -> str:
    """The argument a bare string fills: the first one the LLM's schema shows.

    Not the model's first field: inherited Python-only spec parameters (hidden from the
    schema) come first there.
    """
    shown = schema.model_json_schema().get("properties", {})
    return next(iter(shown), None) or next(iter(schema.model_fields))


class _PrintableArgs(dict[str, Any]):
    """Tool arguments whose ``str()`` never raises.

    LangChain prints the arguments for its callbacks before they are validated, and printing
    a value nested 2,000 deep (RecursionError) or an integer of 5,000 digits (ValueError)
    would escape ``invoke`` instead of becoming the "fix the arguments" message.
    """

    def __repr__(self) -> str:
        try:
            return super().__repr__()
        except (RecursionError, ValueError):
            return "{...arguments too deeply nested or too large to print...}"

    __str__ = __repr__


def _handlers(callbacks: Any) -> bool:
    """Whether ``callbacks`` (a list, a manager or None) holds a handler."""
    if isinstance(callbacks, BaseCallbackManager):
        return bool(callbacks.handlers)
    return bool(callbacks)


class HFToolError(ToolException):
    """A tool call failed in a way the caller can fix; the message says what to change.

    Raised when a tool is invoked with plain arguments; with a ToolCall the same message is
    the error ToolMessage's content instead. ``error`` is the underlying
    :class:`~hf_tools.errors.HFToolsError`, or None for arguments that did not validate.
    """

    def __init__(self, message: str, error: HFToolsError | None = None) -> None:
        super().__init__(message)
        self.error = error


class HFTool(StructuredTool):
    """A StructuredTool whose schema for the LLM is its compact ``args_schema`` as written.

    LangChain rebuilds ``tool_call_schema`` as a copy of the fields without the model config,
    which loses our schema trimming; our inputs have no injected arguments to hide, so the
    argument model itself is the right schema.
    """

    # The same tool with LangChain's error handling off, for calls with plain arguments.
    _raising: "HFTool | None" = PrivateAttr(default=None)
    _on_invalid: Callable[[ValidationError], str] | None = PrivateAttr(default=None)

    def _for(self, kwargs: dict[str, Any]) -> "HFTool":
        if kwargs.get("tool_call_id") is not None:  # a ToolCall: errors become ToolMessages
            return self
        twin = self._raising
        if twin is None:
            twin = self.model_copy(
                update={"handle_tool_error": False, "handle_validation_error": False}
            )
            handler = self.handle_validation_error
            twin._on_invalid = handler if callable(handler) else None
            self._raising = twin
        return twin

    def run(self, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        """Run the tool: a ToolCall gets a ToolMessage, plain arguments raise on failure."""
        return super(HFTool, self._for(kwargs)).run(tool_input, *args, **kwargs)

    async def arun(self, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        """Async :meth:`run`."""
        return await super(HFTool, self._for(kwargs)).arun(tool_input, *args, **kwargs)

    # LangChain's run machinery (callback manager, run ids, start/end events, a config context
    # and, async, a task per call) costs more than our whole call when nobody listens: with
    # 64 calls in flight, a third of ainvoke's CPU. When LangChain would give the run no
    # callback handler at all, invoke/ainvoke run the same steps without it; LangChain's own
    # helpers shape the input and the output, so results are the same either way.

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Run the tool: a ToolCall gets a ToolMessage, plain arguments raise on failure."""
        if not SHORT_PATH:
            return super().invoke(input, config, **kwargs)
        tool_input, run = _prep_run_args(input, config, **kwargs)
        if kwargs or not isinstance(tool_input, str | dict) or self._observed(run["callbacks"]):
            return self.run(tool_input, **run)
        tool, call_id = self._for(run), run["tool_call_id"]
        try:
            args, kw = tool._to_args_and_kwargs(tool_input, call_id)
            response = tool._run(*args, **kw)
        except BaseException as exc:
            return tool._failed(exc, call_id)
        return tool._output(response, call_id)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Async :meth:`invoke`."""
        if not SHORT_PATH:
            return await super().ainvoke(input, config, **kwargs)
        tool_input, run = _prep_run_args(input, config, **kwargs)
        if kwargs or not isinstance(tool_input, str | dict) or self._observed(run["callbacks"]):
            return await self.arun(tool_input, **run)
        tool, call_id = self._for(run), run["tool_call_id"]
        try:
            args, kw = tool._to_args_and_kwargs(tool_input, call_id)
            response = await tool._arun(*args, **kw)
        except BaseException as exc:
            return tool._failed(exc, call_id)
        return tool._output(response, call_id)

    def _observed(self, callbacks: Any) -> bool:
        """Whether LangChain would give this run a callback handler (or raise setting one up).

        The conditions of ``langchain_core.callbacks.manager._configure``, read without
        building the manager (~20 µs); a test holds them equal to it.
        """
        # Deferred: it imports langsmith (~130 ms), as LangChain defers it too.
        try:
            from langchain_core.tracers.context import _configure_hooks, _tracing_v2_is_enabled
        except ImportError:  # private: a langchain-core without them gets the full run
            return True
        if _handlers(callbacks) or _handlers(self.callbacks) or self.verbose or get_debug():
            return True
        if env_var_is_set("LANGCHAIN_TRACING") or env_var_is_set("LANGCHAIN_HANDLER"):
            return True  # LangChain raises for the retired tracer: let it
        if _tracing_v2_is_enabled():
            return True
        try:
            return any(
                var.get() is not None or (cls is not None and env and env_var_is_set(env))
                for var, _, cls, env in _configure_hooks
            )
        except (TypeError, ValueError, AttributeError):  # hooks of another shape: full run
            return True

    def _output(self, response: Any, call_id: str | None) -> Any:
        """What ``run`` returns for the function's ``response``."""
        content, artifact = response, None
        if self.response_format == "content_and_artifact":
            if not isinstance(response, tuple) or len(response) != 2:
                msg = (
                    "Since response_format='content_and_artifact' a two-tuple of the message"
                    " content and raw tool output is expected. Instead, generated response is"
                    f" of type: {type(response)}."
                )
                raise ValueError(msg)
            content, artifact = response
        return _format_output(content, artifact, call_id, self.name, "success")

    def _failed(self, exc: BaseException, call_id: str | None) -> Any:
        """What ``run`` returns for ``exc`` (an error ToolMessage or text), or raises."""
        content: Any
        if isinstance(exc, ValidationError | ValidationErrorV1) and self.handle_validation_error:
            content = _handle_validation_error(exc, flag=self.handle_validation_error)
        elif isinstance(exc, ToolException) and self.handle_tool_error:
            content = _handle_tool_error(exc, flag=self.handle_tool_error)
        else:
            raise exc
        return _format_output(content, None, call_id, self.name, "error")

    @property
    def tool_call_schema(self) -> ArgsSchema:
        """The argument model itself (no injected arguments to remove)."""
        return self.args_schema if self.args_schema is not None else super().tool_call_schema

    # LangChain re-derives injected arguments and the function's config parameter from type
    # hints on every call (~0.5 ms with postponed annotations). Our inputs have neither, so
    # these shortcuts keep a tool call's overhead close to a bare StructuredTool's.

    def _filter_injected_args(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        # What callbacks see (LangChain prints it before validating anything).
        return _PrintableArgs({k: v for k, v in tool_input.items() if k not in FILTERED_ARGS})

    def _parse_input(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> str | dict[str, Any]:
        schema = self.args_schema
        if not (isinstance(schema, type) and issubclass(schema, BaseModel) and _plain_args(schema)):
            return super()._parse_input(tool_input, tool_call_id)
        if isinstance(tool_input, StringPromptValue):  # `PromptTemplate | tool`
            tool_input = tool_input.to_string()
        if isinstance(tool_input, str):
            # A bare string is the first argument, as LangChain reads it; our functions take
            # keywords only, so it becomes one (missing others then fail validation cleanly).
            tool_input = {_first_argument(schema): tool_input}
        # The same validation LangChain does, without its per-call scan of the model's
        # annotations for an injected tool call id (~15 µs): a ToolInput has none. Every
        # field is either given or has a default, so LangChain would pass them all too.
        try:
            inputs = schema.model_validate(tool_input)
        except ValidationError as exc:
            if self._on_invalid is None:
                raise
            raise HFToolError(self._on_invalid(exc)) from exc
        return {name: getattr(inputs, name) for name in type(inputs).model_fields}

    # Neither takes a run manager nor a config, so LangChain passes neither: our functions use
    # neither (nested runs still find the tool's config in the context LangChain sets).

    @_signature_once
    def _run(self, *args: Any, **kwargs: Any) -> Any:
        assert self.func is not None
        return self.func(*args, **kwargs)

    @_signature_once
    async def _arun(self, *args: Any, **kwargs: Any) -> Any:
        assert self.coroutine is not None
        return await self.coroutine(*args, **kwargs)


def _inputs(core: Tool, kwargs: dict[str, Any]) -> BaseModel:
    # LangChain has validated these against args_schema already.
    inputs: BaseModel = core.input_model.model_construct(**kwargs)
    return inputs


def _raise_for_langchain(failure: ToolFailure) -> NoReturn:
    """Raise the toolset's classified failure as LangChain expects it; no policy of its own.

    The LLM's failures become :class:`HFToolError` (an error ToolMessage with a ToolCall,
    raised with plain arguments); the developer's error is raised as it is.
    """
    error = failure.error
    if failure.kind == DEVELOPER and error is not None:
        raise error from error.__cause__
    raise HFToolError(failure.text, error if isinstance(error, HFToolsError) else None) from error


def make_tool(
    spec: AnySpec,
    client: HFClient,
    aclient: AsyncHFClient,
    *,
    model: str | None = None,
    description: str | None = None,
) -> HFTool:
    """Build the LangChain tool for one task, bound to a pair of clients.

    Args:
        spec: the task.
        client: blocking client used by ``invoke``.
        aclient: async client used by ``ainvoke``.
        model: model id or endpoint URL (default: the client's setting, then the task's).
        description: replaces the task's description (e.g. for a custom endpoint).
    """
    return as_langchain_tool(Tool(spec, client, aclient, model=model, description=description))


def as_langchain_tool(core: Tool) -> HFTool:
    """Wrap a core :class:`~hf_tools.toolset.Tool` as a LangChain tool (no policy here)."""

    def _run(**kwargs: Any) -> tuple[str, Any]:
        try:
            result = core.run(_inputs(core, kwargs))
        except ToolFailure as failure:
            _raise_for_langchain(failure)
        return result.text, result.output

    async def _arun(**kwargs: Any) -> tuple[str, Any]:
        try:
            result = await core.arun(_inputs(core, kwargs))
        except ToolFailure as failure:
            _raise_for_langchain(failure)
        return result.text, result.output

    tool = HFTool.from_function(
        func=_run,
        coroutine=_arun,
        name=core.name,
        description=core.description,
        args_schema=core.input_model,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=core.invalid_message,
        metadata={"hf_task": core.spec.task, "hf_model": core.model},
    )
    assert isinstance(tool, HFTool)
    return tool
