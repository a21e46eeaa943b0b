"""HTTP chatbot backend: the agent over the Hugging Face toolkit, one conversation per session.

Routes (all answers JSON, errors as ``{"error": "..."}``):

* ``POST /sessions/{id}/messages`` with ``{"message": "...", "stream": false}``: runs the agent
  with the session's history; answers ``{"answer", "steps", "stopped_reason", "tools",
  "artifacts"}``. With ``"stream": true`` the answer is Server-Sent Events instead.
* ``GET /sessions/{id}/messages?message=...``: the same as SSE, for ``EventSource`` clients.
  SSE events are named after the agent's events: ``token``, ``tool_start``, ``tool_end``,
  ``final`` (last), or ``error``; each ``data`` is one JSON object.
* ``GET /sessions/{id}``: the history (role and text); ``DELETE /sessions/{id}``: forget it.
* ``GET /health``.

Limits: a message may have at most ``max_message_chars`` characters (413 beyond; bodies over
``4 * max_message_chars`` bytes are refused before parsing). At most ``max_sessions``
conversations are kept: a new session evicts the least recently used idle one, so abandoned
sessions never lock new users out; only when every session is busy answering does a new one
get 429. Each history keeps its last ``max_history`` messages (cut at a user turn), which
bounds both memory and the prompt. Artifacts (images, masks, audio) are never kept in memory
or sent to the model; responses say which tools produced what.

Local files: any HTTP client chooses the tool arguments (through the model), so by default the
server reads no local file at all: media arguments must be http(s) URLs or base64 data.
``--allow-files DIR`` (repeatable) lets tools read media from those folders only.

Run it: ``HF_TOKEN=hf_... python -m agents.chatbot_server --port 8000 [--allow-files DIR]``
(needs the ``server`` extra: starlette and uvicorn).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agents.assistant import build_agent
from hf_tools.agent import Agent, AgentEvent, AgentResult, FinalAnswer
from hf_tools.cli import task_ids

__all__ = ["ChatError", "SessionStore", "build_server_agent", "create_app", "main", "system_prompt"]

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ChatError(Exception):
    """A request the server refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Session:
    messages: list[BaseMessage] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Requests accepted but not finished. A streamed turn takes the lock only once its response
    # starts; until then this keeps the session from being evicted (and its turn lost).
    pending: int = 0
    opened_at: float = 0.0

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Run one turn: one at a time per session; ends the request's claim on the session."""
        try:
            async with self.lock:
                yield
        finally:
            self.pending = max(0, self.pending - 1)


class SessionStore:
    """Conversations by id, least recently used first; idle ones are evicted when full.

    A session is busy while a turn runs or while a request for it is accepted but not yet
    started; a claim that never starts (a client gone before its stream began) lapses after
    ``claim_seconds``.
    """

    def __init__(self, max_sessions: int, max_history: int, claim_seconds: float = 30.0) -> None:
        self.max_sessions = max_sessions
        self.max_history = max_history
        self.claim_seconds = claim_seconds
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    def _busy(self, session: _Session, now: float) -> bool:
        claimed = session.pending > 0 and now - session.opened_at < self.claim_seconds
        return session.lock.locked() or claimed

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> _Session | None:
        """The session, if it exists (does not count as use)."""
        return self._sessions.get(session_id)

    def open(self, session_id: str) -> _Session:
        """The session for one request (created if needed), most recently used and claimed.

        The request must then run its turn with ``session.turn()``, which ends the claim.
        """
        now = time.monotonic()
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions.move_to_end(session_id)
        else:
            if len(self._sessions) >= self.max_sessions:
                idle = next((k for k, s in self._sessions.items() if not self._busy(s, now)), None)
                if idle is None:
                    msg = f"all {self.max_sessions} sessions are busy; retry shortly"
                    raise ChatError(429, msg)
                del self._sessions[idle]
            session = self._sessions[session_id] = _Session()
        session.pending += 1
        session.opened_at = now
        return session

    def delete(self, session_id: str) -> bool:
        """Forget a session; False if there was none."""
        return self._sessions.pop(session_id, None) is not None

    def remember(self, session: _Session, messages: list[BaseMessage]) -> None:
        """Keep a finished run's conversation, trimmed to ``max_history`` messages."""
        session.messages = _trim(messages, self.max_history)


def _trim(messages: list[BaseMessage], limit: int) -> list[BaseMessage]:
    """The last ``limit`` messages, starting at a user turn so no tool reply is orphaned."""
    head = messages[:1] if messages and isinstance(messages[0], SystemMessage) else []
    body = messages[len(head) :]
    if len(body) <= limit:
        return messages
    tail = body[-limit:]
    starts = [i for i, m in enumerate(tail) if isinstance(m, HumanMessage)]
    return head + (tail[starts[0] :] if starts else [])


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _summary(result: AgentResult) -> dict[str, Any]:
    tools = [
        {"name": c["name"], "args": c["args"]}
        for m in result.messages
        if isinstance(m, AIMessage)
        for c in m.tool_calls
    ]
    return {
        "answer": result.answer,
        "steps": result.steps,
        "stopped_reason": result.stopped_reason,
        "tools": tools,
        "artifacts": FinalAnswer(result).to_dict()["artifacts"],
    }


def create_app(
    agent: Agent,
    *,
    max_message_chars: int = 4000,
    max_sessions: int = 100,
    max_history: int = 40,
) -> Starlette:
    """The ASGI app; ``agent`` is shared by every session (it keeps no per-run state).

    Args:
        agent: the agent that answers (its model and tools).
        max_message_chars: longest accepted user message (413 beyond).
        max_sessions: conversations kept at once (least recently used idle one evicted).
        max_history: messages of each conversation sent back to the model.
    """
    store = SessionStore(max_sessions, max_history)
    max_body = 4 * max_message_chars + 1024

    def _session_id(request: Request) -> str:
        session_id = str(request.path_params["session_id"])
        if not _SESSION_ID.fullmatch(session_id):
            msg = "session id must be 1-64 letters, digits, '-' or '_'"
            raise ChatError(400, msg)
        return session_id

    def _message(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            msg = 'send {"message": "<non-empty text>"}'
            raise ChatError(400, msg)
        if len(value) > max_message_chars:
            msg = f"message is {len(value)} characters; the limit is {max_message_chars}"
            raise ChatError(413, msg)
        return value

    async def _body(request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body:
            msg = f"body over {max_body} bytes"
            raise ChatError(413, msg)
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > max_body:
                msg = f"body over {max_body} bytes"
                raise ChatError(413, msg)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            msg = f"body is not valid JSON: {exc}"
            raise ChatError(400, msg) from exc
        if not isinstance(data, dict):
            msg = 'body must be a JSON object: {"message": "..."}'
            raise ChatError(400, msg)
        return data

    async def _events(session: _Session, text: str) -> AsyncIterator[AgentEvent]:
        async with session.turn():
            history = [*session.messages, HumanMessage(text)]
            async for event in agent.astream_events(history):
                if isinstance(event, FinalAnswer):
                    store.remember(session, event.result.messages)
                yield event

    async def _stream(session: _Session, text: str) -> AsyncIterator[str]:
        try:
            async for event in _events(session, text):
                yield _sse(event.kind, event.to_dict())
        except Exception as exc:  # the status line is gone; say it in the stream
            yield _sse("error", {"error": f"{type(exc).__name__}: {exc}"})

    def _streaming(session: _Session, text: str) -> StreamingResponse:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            _stream(session, text), media_type="text/event-stream", headers=headers
        )

    async def post_message(request: Request) -> Response:
        session_id = _session_id(request)
        data = await _body(request)
        text = _message(data.get("message"))
        session = store.open(session_id)
        if data.get("stream") is True:
            return _streaming(session, text)
        result: AgentResult | None = None
        try:
            async for event in _events(session, text):
                if isinstance(event, FinalAnswer):
                    result = event.result
        except Exception as exc:
            return _error(502, f"the agent failed: {type(exc).__name__}: {exc}")
        assert result is not None
        return JSONResponse(_summary(result))

    async def stream_message(request: Request) -> Response:
        session_id = _session_id(request)
        text = _message(request.query_params.get("message"))
        return _streaming(store.open(session_id), text)

    async def get_session(request: Request) -> Response:
        session = store.get(_session_id(request))
        if session is None:
            return _error(404, "no such session")
        history = [
            {"role": m.type, "content": m.text, **({"name": m.name} if m.name else {})}
            for m in session.messages
            if not (isinstance(m, AIMessage) and m.tool_calls and not m.text)
        ]
        return JSONResponse({"messages": history})

    async def delete_session(request: Request) -> Response:
        if not store.delete(_session_id(request)):
            return _error(404, "no such session")
        return Response(status_code=204)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "sessions": len(store)})

    async def on_chat_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ChatError)
        return _error(exc.status, exc.message)

    async def on_http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, exc.detail)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/sessions/{session_id}", get_session, methods=["GET"]),
        Route("/sessions/{session_id}", delete_session, methods=["DELETE"]),
        Route("/sessions/{session_id}/messages", post_message, methods=["POST"]),
        Route("/sessions/{session_id}/messages", stream_message, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={ChatError: on_chat_error, HTTPException: on_http_error},
    )
    app.state.sessions = store
    app.state.agent = agent
    return app


def system_prompt(local_files: bool = False) -> str:
    """The server's system prompt; it mentions local paths only when tools may read them."""
    media = "media arguments (images, audio) take an http(s) URL or base64 data"
    if local_files:
        media += ", or a local file path inside the folders this server allows"
    else:
        media += "; local file paths are refused"
    return (
        "You are a helpful assistant with Hugging Face tools for text, images and audio. "
        f"Use a tool when it helps; {media}. Answer briefly."
    )


def build_server_agent(
    model: BaseChatModel | None = None,
    *,
    model_id: str | None = None,
    tasks: list[str] | None = None,
    allow_files: Sequence[Path] = (),
) -> Agent:
    """The agent the server runs: every tool, and no local file unless ``allow_files`` says.

    Args:
        model: the chat model (default: ``HFChatModel(model_id)``).
        model_id: chat model id when ``model`` is not given.
        tasks: task ids to offer (default: all).
        allow_files: folders tools may read local media from (default: none).
    """
    return build_agent(
        model,
        model_id=model_id,
        tasks=tasks,
        allowed_roots=list(allow_files),  # empty: no local files at all
        system_prompt=system_prompt(local_files=bool(allow_files)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the chatbot with uvicorn (live: needs HF_TOKEN)."""
    parser = argparse.ArgumentParser(prog="python -m agents.chatbot_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default=None, help="chat model id (org/name[:provider])")
    parser.add_argument("--tasks", help="comma-separated task ids (default: all)")
    parser.add_argument(
        "--allow-files",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="let tools read local media from DIR (repeatable; default: URLs and data only)",
    )
    ns = parser.parse_args(argv)
    missing = [str(d) for d in ns.allow_files if not d.is_dir()]
    if missing:
        print(f"--allow-files takes folders; not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not os.environ.get("HF_TOKEN"):
        print("the chatbot server needs a token: export HF_TOKEN=hf_...", file=sys.stderr)
        return 2
    import uvicorn

    agent = build_server_agent(
        model_id=ns.model, tasks=task_ids(ns.tasks), allow_files=ns.allow_files
    )
    uvicorn.run(create_app(agent), host=ns.host, port=ns.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
