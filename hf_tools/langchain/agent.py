"""The tool-calling agent loop on langchain-core: any chat model with ``bind_tools``.

One step = one model call plus the tool calls it asked for. Tool results go back to the model
as ``ToolMessage`` content only; artifacts (images, masks, audio bytes, typed outputs) are kept
out of the conversation and returned with the answer. Errors the model can fix (a
``ToolException``, invalid arguments, an unknown tool name) come back to it as
``status="error"`` messages; anything else raises to the developer.

Example:
    ```python
    agent = Agent(HFChatModel(model="Qwen/Qwen2.5-72B-Instruct"), toolkit.get_tools())
    result = agent.invoke("Transcribe recording.flac and translate it to German")
    result.answer, result.artifacts
    ```
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    message_chunk_to_message,
)
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from pydantic import ValidationError

# A router model with dependable tool calling; every entry point lets you pick another.
from hf_tools.config import DEFAULT_AGENT_MODEL

__all__ = [
    "DEFAULT_AGENT_MODEL",
    "Agent",
    "AgentEvent",
    "AgentResult",
    "FinalAnswer",
    "ModelToken",
    "ToolEnd",
    "ToolStart",
]


StoppedReason = Literal["answer", "max_steps"]
AgentInput = str | Sequence[BaseMessage]

# Events carry a preview of a tool's content, enough for a UI line; the model gets all of it.
_PREVIEW_CHARS = 200


@dataclass(frozen=True)
class AgentResult:
    """What a run produced.

    Attributes:
        answer: the model's final text (or a note saying why the run stopped).
        messages: the whole conversation, ready to pass back for the next turn; tool
            messages carry content only (their artifacts are in ``artifacts``).
        artifacts: ``(tool_name, artifact)`` for every tool result that had one, in call order.
        steps: model calls made.
        stopped_reason: ``"answer"`` or ``"max_steps"``.
    """

    answer: str
    messages: list[BaseMessage]
    artifacts: list[tuple[str, Any]] = field(default_factory=list)
    steps: int = 0
    stopped_reason: StoppedReason = "answer"


class _Event:
    """JSON form shared by the events: their fields, with ``kind`` as ``type``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for SSE)."""
        data = asdict(self)  # type: ignore[call-overload]  # subclasses are dataclasses
        return {"type": data.pop("kind"), **data}


@dataclass(frozen=True)
class ModelToken(_Event):
    """A piece of the model's text, as it streams."""

    text: str
    step: int
    kind: Literal["token"] = "token"


@dataclass(frozen=True)
class ToolStart(_Event):
    """The model chose a tool; it is about to run."""

    name: str
    args: dict[str, Any]
    call_id: str
    step: int
    kind: Literal["tool_start"] = "tool_start"


@dataclass(frozen=True)
class ToolEnd(_Event):
    """A tool finished; ``content`` is a short preview of what the model reads (no artifact)."""

    name: str
    call_id: str
    content: str
    status: Literal["success", "error"]
    step: int
    has_artifact: bool
    kind: Literal["tool_end"] = "tool_end"


@dataclass(frozen=True)
class FinalAnswer:
    """The run is over; always the last event."""

    result: AgentResult
    kind: Literal["final"] = "final"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for SSE): the answer and what the artifacts are, not their bytes."""
        return {
            "type": self.kind,
            "answer": self.result.answer,
            "steps": self.result.steps,
            "stopped_reason": self.result.stopped_reason,
            "artifacts": [
                {"tool": name, "type": type(artifact).__name__}
                for name, artifact in self.result.artifacts
            ],
        }


AgentEvent = ModelToken | ToolStart | ToolEnd | FinalAnswer


def _preview(text: str) -> str:
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + "…"


def _text(message: BaseMessage) -> str:
    return message.text if isinstance(message.content, list) else str(message.content)


class Agent:
    """A tool-calling loop: model -> tool calls -> tool results -> model ... -> answer.

    Args:
        model: any chat model that implements ``bind_tools`` (HFChatModel, ChatOpenAI, ...).
        tools: the tools it may call (e.g. ``HuggingFaceToolkit().get_tools()``).
        max_steps: most model calls per run; the run stops with ``stopped_reason="max_steps"``
            when the model still wants tools after that many.
        system_prompt: prepended when the conversation has no system message yet.
    """

    def __init__(
        self,
        model: BaseChatModel,
        tools: Sequence[BaseTool],
        *,
        max_steps: int = 8,
        system_prompt: str | None = None,
    ) -> None:
        if max_steps < 1:
            msg = "max_steps must be at least 1"
            raise ValueError(msg)
        self.model = model
        self.tools = {tool.name: tool for tool in tools}
        self.max_steps = max_steps
        self.system_prompt = system_prompt
        self._model: Runnable[Any, BaseMessage] = model.bind_tools(list(tools))

    # -- public API --------------------------------------------------------------------------

    def invoke(self, request: AgentInput, config: RunnableConfig | None = None) -> AgentResult:
        """Run to an answer (or the step limit); tool calls of a turn run one after another."""
        return _final(self._run(request, config, stream=False))

    async def ainvoke(
        self, request: AgentInput, config: RunnableConfig | None = None
    ) -> AgentResult:
        """Run to an answer; the tool calls of one turn run concurrently."""
        result: AgentResult | None = None
        async for event in self._arun(request, config, stream=False):
            if isinstance(event, FinalAnswer):
                result = event.result
        assert result is not None
        return result

    def stream_events(
        self, request: AgentInput, config: RunnableConfig | None = None, *, tokens: bool = True
    ) -> Iterator[AgentEvent]:
        """Yield tokens, tool starts/ends and, last, the final answer.

        Args:
            request: a user request, or the conversation so far.
            config: LangChain run config (callbacks, tags), passed to the model and tools.
            tokens: stream the model's text; False calls the model whole (no ``ModelToken``
                events), e.g. for providers that cannot stream tool calls.
        """
        return self._run(request, config, stream=tokens)

    def astream_events(
        self,
        request: AgentInput,
        config: RunnableConfig | None = None,
        *,
        tokens: bool = True,
        tool_slots: asyncio.Semaphore | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """Async twin of ``stream_events``; tool ends arrive in completion order.

        A consumer that stops before ``FinalAnswer`` should close the generator, e.g.
        ``async with contextlib.aclosing(agent.astream_events(...)) as events:``; closing
        cancels the tool calls still running (a bare ``break`` leaves them to finish).

        Args:
            request: a user request, or the conversation so far.
            config: LangChain run config (callbacks, tags), passed to the model and tools.
            tokens: stream the model's text (see ``stream_events``).
            tool_slots: each tool call holds one while it runs (the rest wait): a server
                shares one per user across that user's runs, so one user's many calls cannot
                hold all the threads and connections the others need.
        """
        return self._arun(request, config, stream=tokens, slots=tool_slots)

    # -- the loop ----------------------------------------------------------------------------

    def _start(self, request: AgentInput) -> list[BaseMessage]:
        messages: list[BaseMessage] = (
            [HumanMessage(request)] if isinstance(request, str) else list(request)
        )
        if not messages:
            msg = "the agent needs a request or at least one message"
            raise ValueError(msg)
        if self.system_prompt and not isinstance(messages[0], SystemMessage):
            messages.insert(0, SystemMessage(self.system_prompt))
        return messages

    def _run(
        self, request: AgentInput, config: RunnableConfig | None, *, stream: bool
    ) -> Iterator[AgentEvent]:
        messages = self._start(request)
        artifacts: list[tuple[str, Any]] = []
        for step in range(1, self.max_steps + 1):
            if stream:
                pieces: list[BaseMessage] = []
                for chunk in self._model.stream(messages, config):
                    if text := _text(chunk):
                        yield ModelToken(text, step)
                    pieces.append(chunk)
                reply = _joined(pieces)
            else:
                reply = _as_ai(self._model.invoke(messages, config))
            reply, broken = _answerable(reply, len(messages))
            messages.append(reply)
            if not reply.tool_calls:
                yield FinalAnswer(AgentResult(_text(reply), messages, artifacts, step))
                return
            for i, call in enumerate(reply.tool_calls):
                yield _tool_start(call, step)
                tool_message, artifact = self._call_tool(call, config, broken.get(i))
                messages.append(tool_message)
                if artifact is not None:
                    artifacts.append((call["name"], artifact))
                yield _tool_end(tool_message, step, artifact)
        yield FinalAnswer(self._stopped(messages, artifacts))

    async def _arun(
        self,
        request: AgentInput,
        config: RunnableConfig | None,
        *,
        stream: bool,
        slots: asyncio.Semaphore | None = None,
    ) -> AsyncIterator[AgentEvent]:
        messages = self._start(request)
        artifacts: list[tuple[str, Any]] = []
        for step in range(1, self.max_steps + 1):
            if stream:
                pieces = []
                async for chunk in self._model.astream(messages, config):
                    if text := _text(chunk):
                        yield ModelToken(text, step)
                    pieces.append(chunk)
                reply = _joined(pieces)
            else:
                reply = _as_ai(await self._model.ainvoke(messages, config))
            reply, broken = _answerable(reply, len(messages))
            messages.append(reply)
            if not reply.tool_calls:
                yield FinalAnswer(AgentResult(_text(reply), messages, artifacts, step))
                return
            calls = reply.tool_calls
            for call in calls:
                yield _tool_start(call, step)
            results: dict[int, tuple[ToolMessage, Any]] = {}
            pending = [
                asyncio.ensure_future(self._indexed(i, c, config, broken.get(i), slots))
                for i, c in enumerate(calls)
            ]
            try:
                for done in asyncio.as_completed(pending):
                    i, tool_message, artifact = await done
                    results[i] = (tool_message, artifact)
                    yield _tool_end(tool_message, step, artifact)
            finally:
                # A consumer that stops listening must not leave tool calls running.
                for task in pending:
                    task.cancel()
            # The conversation keeps call order, whatever order the tools finished in.
            for i, call in enumerate(calls):
                tool_message, artifact = results[i]
                messages.append(tool_message)
                if artifact is not None:
                    artifacts.append((call["name"], artifact))
        yield FinalAnswer(self._stopped(messages, artifacts))

    async def _indexed(
        self,
        index: int,
        call: ToolCall,
        config: RunnableConfig | None,
        problem: str | None,
        slots: asyncio.Semaphore | None,
    ) -> tuple[int, ToolMessage, Any]:
        async with slots if slots is not None else contextlib.nullcontext():
            tool_message, artifact = await self._acall_tool(call, config, problem)
        return index, tool_message, artifact

    def _stopped(
        self, messages: list[BaseMessage], artifacts: list[tuple[str, Any]]
    ) -> AgentResult:
        answer = (
            f"Stopped at the step limit (max_steps={self.max_steps}) without a final answer. "
            "The tool results so far are in the conversation; ask again with a narrower "
            "request or raise max_steps."
        )
        return AgentResult(answer, messages, artifacts, self.max_steps, "max_steps")

    # -- one tool call -----------------------------------------------------------------------

    def _prepare(self, call: ToolCall, problem: str | None) -> BaseTool | ToolMessage:
        if problem is not None:  # a call whose arguments did not parse: never run it
            return _error(call, problem)
        tool = self.tools.get(call["name"])
        if tool is not None:
            return tool
        available = ", ".join(self.tools) or "none"
        text = f"Unknown tool {call['name']!r}. Available tools: {available}."
        return _error(call, text)

    def _call_tool(
        self, call: ToolCall, config: RunnableConfig | None, problem: str | None
    ) -> tuple[ToolMessage, Any]:
        tool = self._prepare(call, problem)
        if isinstance(tool, ToolMessage):
            return tool, None
        try:
            return _split(call, tool.invoke(call, config))
        except (ToolException, ValidationError) as exc:
            return _error(call, _fix_message(call, exc)), None

    async def _acall_tool(
        self, call: ToolCall, config: RunnableConfig | None, problem: str | None
    ) -> tuple[ToolMessage, Any]:
        tool = self._prepare(call, problem)
        if isinstance(tool, ToolMessage):
            return tool, None
        try:
            return _split(call, await tool.ainvoke(call, config))
        except (ToolException, ValidationError) as exc:
            return _error(call, _fix_message(call, exc)), None


def _final(events: Iterator[AgentEvent]) -> AgentResult:
    for event in events:
        if isinstance(event, FinalAnswer):
            return event.result
    msg = "the agent loop ended without an answer"
    raise RuntimeError(msg)


def _as_ai(message: BaseMessage) -> AIMessage:
    if not isinstance(message, AIMessage):
        msg = f"the chat model returned {type(message).__name__}, not an AIMessage"
        raise TypeError(msg)
    return message


def _joined(pieces: list[BaseMessage]) -> AIMessage:
    """One reply from streamed chunks (a model that cannot stream yields one whole message)."""
    if len(pieces) == 1 and not isinstance(pieces[0], AIMessageChunk):
        return _as_ai(pieces[0])
    chunks = [p for p in pieces if isinstance(p, AIMessageChunk)]
    if len(chunks) != len(pieces):
        msg = "the chat model streamed something other than AIMessageChunk"
        raise TypeError(msg)
    if not chunks:
        return AIMessage("")
    joined = chunks[0] + chunks[1:] if len(chunks) > 1 else chunks[0]
    return _as_ai(message_chunk_to_message(joined))


def _answerable(reply: AIMessage, position: int) -> tuple[AIMessage, dict[int, str]]:
    """Make every call of ``reply`` one that a tool message can answer.

    Chat APIs pair each tool message with a call of the assistant message by id, so calls
    without an id get one (``call_{position}_{i}``: deterministic, unique in the
    conversation), and calls whose arguments did not parse become calls answered with an
    error the model can act on. Returns the reply and ``{call position: error text}``:
    positions, not ids, since a broken call may share its id with a valid one.
    """
    calls = [
        c
        if c.get("id")
        else ToolCall(name=c["name"], args=c["args"], id=f"call_{position}_{i}", type="tool_call")
        for i, c in enumerate(reply.tool_calls)
    ]
    cut = _cut_by_token_limit(reply)
    if not reply.invalid_tool_calls and calls == reply.tool_calls and not (cut and calls):
        return reply, {}
    broken: dict[int, str] = {}
    if cut and calls and not reply.invalid_tool_calls:
        # Streamed arguments are parsed leniently: a call cut short can look valid, with
        # truncated values. The last one is the one the limit cut; never run it.
        broken[len(calls) - 1] = _cut_message(calls[-1]["name"])
    for i, bad in enumerate(reply.invalid_tool_calls):
        taken = {c["id"] for c in calls}
        call_id = bad.get("id") or ""
        if not call_id or call_id in taken:
            call_id = f"call_{position}_invalid_{i}"
        name = bad.get("name") or "unknown"
        broken[len(calls)] = (
            _cut_message(name)
            if cut
            else f"The arguments of your {name} call are not a valid JSON object "
            f"({bad.get('error') or 'could not parse'}): {str(bad.get('args'))[:200]}. "
            "Call it again with JSON arguments."
        )
        calls.append(ToolCall(name=name, args={}, id=call_id, type="tool_call"))
    return reply.model_copy(update={"tool_calls": calls, "invalid_tool_calls": []}), broken


def _cut_message(name: str) -> str:
    return (
        f"Your {name} call was cut off by the token limit before its arguments were complete. "
        "Make a shorter call (less text in the arguments), or ask for a higher max_tokens."
    )


def _cut_by_token_limit(reply: AIMessage) -> bool:
    # finish_reason is OpenAI's (and ours); stop_reason is Anthropic's.
    meta = reply.response_metadata
    return meta.get("finish_reason") == "length" or meta.get("stop_reason") == "max_tokens"


def _tool_start(call: ToolCall, step: int) -> ToolStart:
    return ToolStart(call["name"], dict(call["args"]), call.get("id") or "", step)


def _tool_end(message: ToolMessage, step: int, artifact: Any) -> ToolEnd:
    return ToolEnd(
        message.name or "",
        message.tool_call_id,
        _preview(_text(message)),
        message.status,
        step,
        artifact is not None,
    )


def _error(call: ToolCall, text: str) -> ToolMessage:
    return ToolMessage(text, tool_call_id=call.get("id") or "", name=call["name"], status="error")


def _fix_message(call: ToolCall, exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        return f"Invalid arguments for {call['name']}: {problems}. Fix them and call it again."
    return str(exc) or f"{call['name']} failed ({type(exc).__name__})"


def _split(call: ToolCall, output: Any) -> tuple[ToolMessage, Any]:
    """The message for the model (content only) and the artifact, kept apart."""
    if not isinstance(output, ToolMessage):
        # Tools that do not build a ToolMessage themselves return their raw output.
        content = output if isinstance(output, str) else str(output)
        return ToolMessage(content, tool_call_id=call.get("id") or "", name=call["name"]), None
    artifact = output.artifact
    clean = output.model_copy(update={"artifact": None, "name": output.name or call["name"]})
    return clean, artifact
