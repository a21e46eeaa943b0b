"""A turn's events: SSE framing, stored events, the turn's artifacts and its answer."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from starlette.responses import StreamingResponse

from hf_tools.langchain.agent import AgentEvent, AgentResult, ToolEnd
from hf_tools.serve.artifacts import BinaryPart, binary_parts, served_type
from hf_tools.serve.sessions import Session, SessionStore, encodable
from hf_tools.serve.store import StoredEvent
from hf_tools.sse import well_formed

INTERRUPTED = {
    "error": "the turn stopped before its end (its server went away): look at the"
    " conversation, then send the message again",
    "code": "turn_interrupted",
}
TERMINAL = frozenset({"final", "error"})  # the events that end a turn's stream
PING = ": ping\n\n"  # an SSE comment: keeps proxies from closing a quiet stream
EVENT_PAGE = 500  # stored events read at once when resuming


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One SSE event: its ``id:`` (when stored), its name and its data as one JSON line."""
    head = "" if event_id is None else f"id: {event_id}\n"
    # Well formed even if stored before its text was: a stream that cannot encode is cut.
    text = well_formed(json.dumps(data, ensure_ascii=False))
    return f"{head}event: {event}\ndata: {text}\n\n"


def _this_turn(messages: Sequence[BaseMessage]) -> Sequence[BaseMessage]:
    """The messages from the user's (the last human message: the agent adds none) on."""
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    return messages[starts[-1] :] if starts else messages


def turn_result(result: AgentResult, artifacts: list[dict[str, str]]) -> dict[str, Any]:
    """A turn's answer, with the tools it called and the artifacts they produced (not earlier)."""
    tools = [
        {"name": c["name"], "args": c["args"]}
        for m in _this_turn(result.messages)
        if isinstance(m, AIMessage)
        for c in m.tool_calls
    ]
    return {
        "answer": result.answer,
        "steps": result.steps,
        "stopped_reason": result.stopped_reason,
        "tools": tools,
        "artifacts": artifacts,
    }


@dataclass(frozen=True)
class Failed:
    """The turn failed (the model, a tool or the store): the last thing a turn yields."""

    exc: Exception


class TurnArtifacts:
    """One turn's artifacts: stored before the turn's messages, referenced from them.

    Each binary part of a tool's output gets a server-issued id; the tool message that carries
    the output keeps the references in ``response_metadata["artifacts"]`` (stored with it,
    never sent to a model), so the history can point at them.
    """

    def __init__(self, sessions: SessionStore, owner: str, session_id: str) -> None:
        self.backend = sessions.backend
        self.threads = sessions.threads
        self.owner = owner
        self.session_id = session_id
        self.calls: set[str] = set()  # call ids whose tool returned an artifact
        self.refs: list[dict[str, str]] = []

    def saw(self, event: AgentEvent) -> None:
        """Note which tool calls returned an artifact (the result lists them without ids)."""
        if isinstance(event, ToolEnd) and event.has_artifact:
            self.calls.add(event.call_id)

    async def store(self, result: AgentResult) -> None:
        """Store the artifacts of ``result``'s turn; each tool message gets its references."""
        carriers = [
            m
            for m in _this_turn(result.messages)
            if isinstance(m, ToolMessage) and m.tool_call_id in self.calls
        ]
        # Both lists are in call order: the agent keeps it, whatever order tools end in.
        for message, (tool, output) in zip(carriers, result.artifacts, strict=False):
            refs = [await self._put(tool, part) for part in binary_parts(output)]
            if refs:
                message.response_metadata["artifacts"] = refs
                self.refs += refs

    async def _put(self, tool: str, part: BinaryPart) -> dict[str, str]:
        artifact_id = secrets.token_urlsafe(12)
        content_type = served_type(part)
        await self.threads.run(
            self.backend.put_artifact,
            self.owner,
            self.session_id,
            artifact_id,
            content_type,
            part.data,
        )
        return {
            "id": artifact_id,
            "tool": tool,
            "type": part.kind,
            "content_type": content_type,
            "url": f"/sessions/{self.session_id}/artifacts/{artifact_id}",
        }


class EventWriter:
    """A turn's events, stored in order and then queued for its live client.

    One write at a time: the events that come while one runs go together in the next, so a
    fast token stream costs a few transactions, not one each, and never waits on the disk.
    """

    def __init__(
        self, sessions: SessionStore, session: Session, out: asyncio.Queue[StoredEvent | None]
    ) -> None:
        self.backend = sessions.backend
        self.threads = sessions.threads
        self.session = session
        self.out = out
        self.pending: list[tuple[str, dict[str, Any]]] = []
        self.task: asyncio.Task[None] | None = None

    def add(self, name: str, data: dict[str, Any]) -> None:
        """Store the event soon; raises what a write before it raised."""
        if self.task is not None and self.task.done():
            self.task.result()
        self.pending.append((name, encodable(data)))
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._drain())

    async def flush(self) -> None:
        """Wait until every event added is stored (raises what a write raised)."""
        if self.task is not None:
            await self.task

    def cancel(self) -> None:
        """Stop writing (the turn is over or gone)."""
        if self.task is not None:
            self.task.cancel()

    async def _drain(self) -> None:
        owner, session_id = self.session.owner, self.session.session_id
        while self.pending:
            batch, self.pending = self.pending, []
            ids = await self.threads.run(self.backend.append_events, owner, session_id, batch)
            for event_id, (name, data) in zip(ids, batch, strict=True):
                self.out.put_nowait(StoredEvent(event_id, name, data))


def public_history(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Role and text of each message (tool calls without text left out).

    A tool message also has its outcome (``status``), its call's arguments (``args``) and its
    artifacts: a page that reloads the conversation shows it as it showed it live.
    """
    calls: dict[str | None, dict[str, Any]] = {}
    out = []
    for m in messages:
        if isinstance(m, AIMessage):
            calls.update((c["id"], c["args"]) for c in m.tool_calls)
            if m.tool_calls and not m.text:
                continue
        item: dict[str, Any] = {"role": m.type, "content": m.text}
        if m.name:
            item["name"] = m.name
        if isinstance(m, ToolMessage):
            item["status"] = m.status
            item["args"] = calls.get(m.tool_call_id, {})
            if m.response_metadata.get("artifacts"):
                item["artifacts"] = m.response_metadata["artifacts"]
        out.append(item)
    return out


def event_stream(body: AsyncIterator[str]) -> StreamingResponse:
    """An SSE response that no cache or proxy buffers."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)
