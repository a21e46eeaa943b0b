"""A scripted chat model: agents tested (or demonstrated) offline, without a chat server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCall
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

__all__ = ["ScriptedChatModel", "tool_call"]


def tool_call(name: str, call_id: str | None = None, /, **args: Any) -> ToolCall:
    """A tool call for a scripted ``AIMessage``: ``AIMessage("", tool_calls=[tool_call(...)])``.

    The default id is ``call_{name}``; ScriptedChatModel makes repeats of it in one reply
    unique (``call_{name}_2``, ...), so two calls to one tool get their own results.
    """
    return ToolCall(name=name, args=args, id=call_id or f"call_{name}", type="tool_call")


def _unique_default_ids(reply: AIMessage) -> AIMessage:
    """Suffix repeated default ids (``call_{name}``) of one reply; the first keeps its id.

    Recorded conversations already carry the first one, so it must not change.
    """
    seen: dict[str, int] = {}
    calls: list[ToolCall] = []
    for call in reply.tool_calls:
        call_id = call.get("id") or ""
        seen[call_id] = seen.get(call_id, 0) + 1
        if call_id == f"call_{call['name']}" and seen[call_id] > 1:
            call = ToolCall(
                name=call["name"],
                args=call["args"],
                id=f"{call_id}_{seen[call_id]}",
                type="tool_call",
            )
        calls.append(call)
    if calls == reply.tool_calls:
        return reply
    return reply.model_copy(update={"tool_calls": calls})


Reply = AIMessage | str | Callable[[list[BaseMessage]], AIMessage | str]


class ScriptedChatModel(BaseChatModel):
    """A chat model that answers from a script: for tests and offline examples of agents.

    Each call takes the next reply: an ``AIMessage`` (with ``tool_calls`` to make the agent
    call tools), a string (a final answer), or a function of the messages it was sent.
    ``seen`` records every list of messages the model received, ``tools`` the tool schemas
    bound to it. Streaming yields the text word by word, then one last chunk with the tool
    calls (valid and invalid), the usage and the response metadata, so streamed and whole
    replies add up to the same message (bar an invalid call's ``error``, which LangChain's
    chunks cannot carry, and cut JSON, which LangChain's chunks parse leniently).
    """

    # Any, not Reply: pydantic would try to coerce strings into AIMessage.
    replies: list[Any] = Field(default_factory=list)
    seen: list[list[BaseMessage]] = Field(default_factory=list)
    tools: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Record the tool schemas (OpenAI format) the model would be sent."""
        self.tools[:] = [convert_to_openai_tool(t) for t in tools]
        return self.bind(**kwargs) if kwargs else self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        self.seen.append(list(messages))
        if not self.replies:
            msg = f"ScriptedChatModel ran out of replies after {len(self.seen) - 1} calls"
            raise AssertionError(msg)
        reply: Reply = self.replies.pop(0)
        if callable(reply):
            reply = reply(list(messages))
        return _unique_default_ids(AIMessage(reply) if isinstance(reply, str) else reply)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._next(messages)
        words = reply.text.split(" ")  # the text of list content too, not its repr
        for i, word in enumerate(words):
            text = word if i == len(words) - 1 else word + " "
            if text:
                yield ChatGenerationChunk(message=AIMessageChunk(content=text, id=reply.id))
        valid = [
            tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
            for i, c in enumerate(reply.tool_calls)
        ]
        invalid = [
            tool_call_chunk(name=c["name"], args=c["args"], id=c["id"], index=len(valid) + i)
            for i, c in enumerate(reply.invalid_tool_calls)
        ]
        # Always one last chunk: LangChain refuses a stream of none (an empty reply).
        last = AIMessageChunk(
            content="",
            id=reply.id,
            tool_call_chunks=valid + invalid,
            usage_metadata=reply.usage_metadata,
            response_metadata=dict(reply.response_metadata),
        )
        yield ChatGenerationChunk(message=last)
