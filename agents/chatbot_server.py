"""HTTP chatbot backend: the agent over the Hugging Face toolkit, one conversation per session.

Routes (all answers JSON, errors as ``{"error": "...", "code": "..."}``):

* ``POST /sessions/{id}/messages`` with ``{"message": "...", "stream": false}``: runs the agent
  with the session's history; answers ``{"answer", "steps", "stopped_reason", "tools",
  "artifacts"}``. With ``"stream": true`` the answer is Server-Sent Events instead.
* ``GET /sessions/{id}/messages?message=...``: the same as SSE, for ``EventSource`` clients.
  SSE events are named after the agent's events: ``token``, ``tool_start``, ``tool_end``,
  ``final`` (last), or ``error``; each ``data`` is one JSON object.
* ``POST /sessions``: a new empty session with a server-issued id (201 ``{"id": ...}``).
* ``GET /sessions/{id}``: the history (role and text, never the system prompt);
  ``DELETE /sessions/{id}``: forget it.
* ``GET /health``.

Access: with API keys (``api_keys``), every route but ``GET /health`` needs
``Authorization: Bearer <key>`` (401 otherwise), and a session belongs to the key that made
it (another key gets 404, and its own ``alice`` is a different session). Without keys the
server is open, which ``main`` allows on a loopback address only. Every request's Host must be
the bound address (or a loopback name) on its port, or listed; a request with an Origin
other than its own or a listed one, or that a browser marks cross-site, gets 403; every POST
must be ``application/json`` (415), so no page can send one as a "simple" CORS request.

Limits: a message may have at most ``max_message_chars`` characters (413 beyond; bodies over
``4 * max_message_chars`` bytes are refused before parsing). Each key keeps at most
``max_sessions_per_key`` conversations (``max_sessions`` in all): a new one evicts that key's
least recently used idle session, never another key's; when it has none idle it gets 429.
Each key runs at most ``max_streams_per_key`` turns at once (``max_streams`` in all; 429
beyond). Each history keeps its last ``max_history`` messages (cut at a user turn), which
bounds both memory and the prompt. Artifacts (images, masks, audio) are never kept in memory
or sent to the model; responses say which tools produced what. The access log has the method,
the route's path template, the status, the duration and a hash of the key: never the path or
the query, where the message and session ids are.

Storage: conversations live in an ``agents.store`` backend (``--store sqlite:///chatbot.db``
by default, so a restart loses nothing; ``postgresql://...`` for several replicas;
``create_app`` defaults to memory). Each turn holds the store's turn lock of its session
(every process and replica), reads the history from the store under it and is stored
atomically; a second turn waits up to ``turn_wait`` seconds, then gets 409 ``session_busy``.
``"stream"`` must be a JSON boolean (400 ``invalid_stream`` otherwise: ``"false"`` would be
truthy).

Local files: any HTTP client chooses the tool arguments (through the model), so by default the
server reads no local file at all: media arguments must be http(s) URLs or base64 data.
``--allow-files DIR`` (repeatable) lets tools read media from those folders only.

Run it: ``HF_TOKEN=hf_... python -m agents.chatbot_server --port 8000 [--store URL]
[--allow-files DIR] [--api-keys-file FILE]`` (needs the ``server`` extra: starlette and
uvicorn; ``--help`` lists the rest). The token is needed only when ``--chat-base-url`` or
``--base-url`` is a Hugging Face host (both default to one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import sqlite3
import sys
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents.assistant import build_agent
from agents.store import (
    DEFAULT_STORE,
    ConversationStore,
    MemoryStore,
    SessionBusy,
    StoreUnavailable,
    open_store,
)
from hf_tools.cli import task_ids
from hf_tools.config import is_hf_host, stored_token
from hf_tools.langchain.agent import Agent, AgentEvent, AgentResult, FinalAnswer
from hf_tools.langchain.toolkit import HuggingFaceToolkit

__all__ = [
    "ApiKeys",
    "ChatError",
    "SessionStore",
    "build_server_agent",
    "create_app",
    "load_api_keys",
    "main",
    "system_prompt",
]

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CALLER = "hf_tools.caller"  # the ASGI scope key the guard stores the caller under
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "busy",
    502: "agent_failed",
}
access_log = logging.getLogger("agents.chatbot_server.access")


class ChatError(Exception):
    """A request the server refuses, with its HTTP status and a stable ``code`` for clients."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")


@dataclass
class _Session:
    owner: str = ""
    session_id: str = ""
    # The history of the last turn this process ran; each turn reads the store again (another
    # replica may have added turns since), so this is never sent to the model as it stands.
    messages: list[BaseMessage] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Requests that opened the session and have not ended: while any is in flight the session
    # is busy and never evicted (a streamed turn takes the lock only once its response starts).
    pending: int = 0

    @property
    def busy(self) -> bool:
        """A turn runs or a request for it is accepted."""
        return self.pending > 0 or self.lock.locked()

    @contextlib.asynccontextmanager
    async def turn(self, wait: float | None = None) -> AsyncIterator[None]:
        """This process's turn of the session: one at a time (409 after ``wait`` seconds)."""
        try:
            async with asyncio.timeout(wait):
                await self.lock.acquire()
        except TimeoutError:
            raise _busy(wait or 0) from None
        try:
            yield
        finally:
            self.lock.release()


class SessionStore:
    """Sessions in use, by owner (an API key's id) and session id, over a durable ``backend``.

    Each owner sees only its own sessions. A new session over ``max_per_owner`` (or over
    ``max_sessions`` in all) evicts that owner's least recently used idle session, never
    another owner's (from the backend too, once ``flush`` runs); when the owner has none idle
    it gets 429. The backend holds every conversation (``agents.store``); this class holds the
    per-session locks and the trimmed history sent to the model. Backend calls run in worker
    threads (``asyncio.to_thread``): the event loop never waits on a disk.

    Replicas: any replica serves any session. A turn holds this process's lock of the session,
    then the backend's turn lock (every process and replica); it reads the history from the
    backend under it and records the turn atomically before letting go. A second turn waits
    up to ``turn_wait`` seconds for the first to end (it then sees the first one's messages),
    and gets 409 ``session_busy`` after that. Deleting a session waits the same way.
    """

    def __init__(
        self,
        max_history: int,
        *,
        max_sessions: int = 1000,
        max_per_owner: int = 100,
        backend: ConversationStore | None = None,
        turn_wait: float = 30.0,
    ):
        self.max_history = max_history
        self.turn_wait = turn_wait
        self.max_sessions = max_sessions
        self.max_per_owner = max_per_owner
        self.backend: ConversationStore = backend if backend is not None else MemoryStore()
        self._owners: dict[str, OrderedDict[str, _Session]] = {}
        self._count = 0
        self._evicted: list[tuple[str, str]] = []  # still to delete from the backend

    def __len__(self) -> int:
        return self._count

    def get(self, owner: str, session_id: str) -> _Session | None:
        """The owner's session, if it exists (does not count as use)."""
        sessions = self._owners.get(owner)
        return None if sessions is None else sessions.get(session_id)

    def open(self, owner: str, session_id: str) -> _Session:
        """The owner's session for one request (created if needed), most recently used, busy.

        The caller must ``release`` it when the request ends (the server's guard does).
        """
        sessions: OrderedDict[str, _Session] = self._owners.get(owner, OrderedDict())
        session = sessions.get(session_id)
        if session is not None:
            sessions.move_to_end(session_id)
        else:
            if len(sessions) >= self.max_per_owner or self._count >= self.max_sessions:
                self._evict_idle(sessions)
            session = sessions[session_id] = _Session(owner, session_id)
            self._owners[owner] = sessions
            self._count += 1
        session.pending += 1
        return session

    def _evict_idle(self, sessions: OrderedDict[str, _Session]) -> None:
        idle = next((k for k, s in sessions.items() if not s.busy), None)
        if idle is not None:
            self._evicted.append((sessions.pop(idle).owner, idle))
            self._count -= 1
        elif len(sessions) >= self.max_per_owner:
            msg = f"this key's {self.max_per_owner} sessions are all busy; retry shortly"
            raise ChatError(429, msg, "too_many_sessions")
        else:
            msg = f"the server holds its {self.max_sessions} sessions; delete one or retry later"
            raise ChatError(429, msg, "server_full")

    @staticmethod
    def release(session: _Session) -> None:
        """End one request's claim on a session."""
        session.pending = max(0, session.pending - 1)

    def delete(self, owner: str, session_id: str) -> bool:
        """Forget the owner's session; False if there was none."""
        sessions = self._owners.get(owner)
        if sessions is None or sessions.pop(session_id, None) is None:
            return False
        self._count -= 1
        if not sessions:
            del self._owners[owner]
        return True

    async def flush(self) -> None:
        """Delete evicted sessions from the backend, unless a turn runs on one (elsewhere)."""
        while self._evicted:
            owner, session_id = self._evicted.pop()
            await asyncio.to_thread(self._delete_idle, owner, session_id)

    def _delete_idle(self, owner: str, session_id: str) -> None:
        # Idle here is not idle everywhere: another replica may run a turn on it right now.
        with contextlib.suppress(SessionBusy), self.backend.turn(owner, session_id, wait=0):
            self.backend.delete(owner, session_id)

    @contextlib.asynccontextmanager
    async def turn(self, session: _Session) -> AsyncIterator[None]:
        """One turn of the session, alone across every replica (409 after ``turn_wait``)."""
        deadline = time.monotonic() + self.turn_wait
        async with (
            session.turn(self.turn_wait),
            self._backend_turn(session.owner, session.session_id, deadline),
        ):
            yield

    @contextlib.asynccontextmanager
    async def _backend_turn(
        self, owner: str, session_id: str, deadline: float
    ) -> AsyncIterator[None]:
        """The backend's turn lock, tried without blocking until ``deadline``.

        Each try is a quick call in a worker thread and the waiting is an ``asyncio.sleep``:
        a turn that waits for another never holds one of the few worker threads.
        """
        pause = 0.01
        while True:
            lock = self.backend.turn(owner, session_id, wait=0)
            try:
                await _shielded(
                    lock.__enter__, undo=functools.partial(lock.__exit__, None, None, None)
                )
                break
            except SessionBusy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _busy(self.turn_wait) from None
                pause = min(pause * 2, 0.2, left)
                await asyncio.sleep(pause)
        try:
            yield
        finally:
            await _shielded(functools.partial(lock.__exit__, None, None, None))

    async def load(self, session: _Session) -> None:
        """Read the session's conversation from the backend (call under its turn lock).

        Every turn reads it again: another replica may have added a turn since this one ran.
        """
        stored = await asyncio.to_thread(self.backend.load, session.owner, session.session_id)
        session.messages = _trim(stored or [], self.max_history)

    async def history(self, owner: str, session_id: str) -> list[BaseMessage] | None:
        """The owner's conversation (trimmed); None if neither memory nor the backend has it.

        Always from the backend, which has the turns every replica recorded.
        """
        stored = await asyncio.to_thread(self.backend.load, owner, session_id)
        if stored is None:
            return None if self.get(owner, session_id) is None else []
        return _trim(stored, self.max_history)

    async def record(self, session: _Session, before: int, messages: list[BaseMessage]) -> None:
        """Store a finished run's new messages as one turn, then keep them in memory.

        ``before`` is how many history messages the run started from: the rest is the turn
        (the user's message and all the agent added). The backend writes all of it or none,
        and memory changes only once it has: a failed write leaves no half turn anywhere.
        """
        body = [m for m in messages if not isinstance(m, SystemMessage)]
        turn = body[before:]
        await asyncio.to_thread(self.backend.append_turn, session.owner, session.session_id, turn)
        self.remember(session, body)

    async def remove(self, owner: str, session_id: str) -> bool:
        """Forget the owner's session in memory and in the backend; False if neither had it.

        Waits for a running turn to end (409 after ``turn_wait``), which would else record
        its turn into a session just deleted.
        """
        async with self._backend_turn(owner, session_id, time.monotonic() + self.turn_wait):
            cached = self.delete(owner, session_id)
            return await asyncio.to_thread(self.backend.delete, owner, session_id) or cached

    def remember(self, session: _Session, messages: list[BaseMessage]) -> None:
        """Keep a finished run's conversation, trimmed, without the system prompt.

        The agent prepends its prompt to every run, so storing it would only cost memory
        and hand it to whoever reads the history.
        """
        body = [m for m in messages if not isinstance(m, SystemMessage)]
        session.messages = _trim(body, self.max_history)


class _Streams:
    """Turns in flight (streamed or not), per key and in all; each one is a held connection."""

    def __init__(self, per_key: int, total: int) -> None:
        self.per_key = per_key
        self.total = total
        self._by_key: dict[str, int] = {}
        self._running = 0

    def acquire(self, key_id: str) -> Callable[[], None]:
        """Count one turn for ``key_id`` (429 over a limit); returns its idempotent release."""
        if self._by_key.get(key_id, 0) >= self.per_key:
            msg = f"this key already runs {self.per_key} turns at once; wait for one to end"
            raise ChatError(429, msg, "too_many_streams")
        if self._running >= self.total:
            msg = f"the server already runs {self.total} turns; retry shortly"
            raise ChatError(429, msg, "server_busy")
        self._by_key[key_id] = self._by_key.get(key_id, 0) + 1
        self._running += 1
        done = False

        def release() -> None:
            nonlocal done
            if done:
                return
            done = True
            self._running -= 1
            left = self._by_key[key_id] - 1
            if left:
                self._by_key[key_id] = left
            else:
                del self._by_key[key_id]  # keys seen once do not stay in memory

        return release


def _busy(wait: float) -> ChatError:
    msg = f"another turn of this session is running (waited {wait:g} s); retry when it ends"
    return ChatError(409, msg, "session_busy")


async def _shielded(call: Callable[[], object], undo: Callable[[], object] | None = None) -> None:
    """``call()`` in a worker thread, carried through even if the caller is cancelled.

    A lock taken or released in a thread must not be lost: if the awaiting task is cancelled
    (a client that leaves), the thread still finishes, and ``undo`` then gives back what
    ``call`` took.
    """
    future = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        await asyncio.shield(future)
    except asyncio.CancelledError:
        if undo is not None:

            def _undo(done: asyncio.Future[object]) -> None:
                if not done.cancelled() and done.exception() is None:
                    asyncio.get_running_loop().run_in_executor(None, undo)

            future.add_done_callback(_undo)
        raise


def _trim(messages: list[BaseMessage], limit: int) -> list[BaseMessage]:
    """The last ``limit`` messages, starting at a user turn so no tool reply is orphaned."""
    head = messages[:1] if messages and isinstance(messages[0], SystemMessage) else []
    body = messages[len(head) :]
    if len(body) <= limit:
        return messages
    tail = body[-limit:]
    starts = [i for i, m in enumerate(tail) if isinstance(m, HumanMessage)]
    return head + (tail[starts[0] :] if starts else [])


def load_api_keys(path: Path | None = None, env: str | None = None) -> list[str]:
    """API keys from a file and/or a comma-separated string (``HF_TOOLS_API_KEYS``).

    The file holds one key a line; blank lines and ``#`` comments are skipped.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file holds no key (a server that is meant to be locked would run open).
    """
    keys: list[str] = []
    if path is not None:
        lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        keys = [line for line in lines if line and not line.startswith("#")]
        if not keys:
            msg = f"{path} holds no API key"
            raise ValueError(msg)
    return keys + [k.strip() for k in (env or "").split(",") if k.strip()]


class ApiKeys:
    """The configured keys, checked in constant time; a key is known by the hash of it."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = {hashlib.sha256(k.encode()).digest() for k in keys}

    def __bool__(self) -> bool:
        return bool(self._digests)

    def identify(self, authorization: str | None) -> str:
        """The key id (a short hash) of an ``Authorization: Bearer <key>`` header; 401 if none.

        Every configured key is compared (no early exit), each with ``hmac.compare_digest``
        over fixed-length digests, so timing tells nothing about which bytes matched.
        """
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            msg = "send an API key: Authorization: Bearer <key>"
            raise ChatError(401, msg, "missing_api_key")
        digest = hashlib.sha256(given.strip().encode()).digest()
        known = False
        for candidate in self._digests:
            known |= hmac.compare_digest(candidate, digest)
        if not known:
            raise ChatError(401, "unknown API key", "invalid_api_key")
        return digest.hex()[:16]


@dataclass
class _Caller:
    """Who sent a request, and what to release when it ends (set by the guard)."""

    key_id: str
    releases: list[Callable[[], None]] = field(default_factory=list)


def _split_host(value: str, default_port: int | None) -> tuple[str, int | None] | None:
    """``host[:port]`` (brackets for IPv6) as a lower-case name and a port; None if malformed."""
    try:
        parts = urlsplit(f"//{value}")
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name or parts.path or parts.query or parts.fragment or parts.username is not None:
        return None
    return name, port if port is not None else default_port


def _normal_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-cased; ValueError for anything else."""
    parts = urlsplit(origin.strip().rstrip("/").lower())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        msg = f"an origin is scheme://host[:port], got {origin!r}"
        raise ValueError(msg)
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Guard:
    """Host, Origin, API key and Content-Type checks, the access log, and request cleanup.

    Runs before routing, so every route (unknown ones too) but ``GET /health`` needs a key.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: ApiKeys,
        allowed_hosts: Sequence[str],
        allowed_origins: Sequence[str],
        routes: Sequence[BaseRoute],
    ) -> None:
        self.app = app
        self.keys = keys
        self.hosts = [h for h in (_split_host(h, None) for h in allowed_hosts) if h]
        self.origins = {_normal_origin(o) for o in allowed_origins}
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        caller = _Caller("-")
        status = 500  # what the client gets if the app fails before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            try:
                caller.key_id = self._check(scope, Headers(scope=scope))
            except ChatError as exc:
                await _error(exc.status, exc.message, exc.code)(scope, receive, send_status)
                return
            scope[_CALLER] = caller
            await self.app(scope, receive, send_status)
        finally:
            for release in caller.releases:  # also when the client left or the task was cancelled
                release()
            elapsed = (time.monotonic() - started) * 1000
            # The path template, never the path or query: they may hold the user's message.
            access_log.info(
                "%s %s %d %.1fms key=%s",
                scope["method"],
                self._template(scope),
                status,
                elapsed,
                caller.key_id,
            )

    def _check(self, scope: Scope, headers: Headers) -> str:
        """The caller's key id ("-" when the server runs open), or the refusal."""
        host = headers.get("host", "")
        if not self._host_allowed(scope, host):
            raise ChatError(403, "this Host is not served here", "host_not_allowed")
        self._check_origin(headers, host)
        key_id = "-"
        if self.keys and not (scope["path"] == "/health" and scope["method"] == "GET"):
            key_id = self.keys.identify(headers.get("authorization"))
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if scope["method"] == "POST" and content_type != "application/json":
            # A page on another site can send text/plain or form POSTs without a preflight.
            msg = "send the body as Content-Type: application/json"
            raise ChatError(415, msg, "unsupported_media_type")
        return key_id

    def _host_allowed(self, scope: Scope, host: str) -> bool:
        """Same host only (the bound address or a loopback name on its port), or listed."""
        default_port = 443 if scope.get("scheme") == "https" else 80
        split = _split_host(host, default_port)
        if split is None:
            return False
        name, port = split
        server = scope.get("server")
        if server is None:
            same = name in _LOOPBACK_NAMES
        else:
            bound = server[1] if server[1] is not None else default_port
            same = port == bound and name in {str(server[0]).lower(), *_LOOPBACK_NAMES}
        listed = any(n == name and p in (None, port) for n, p in self.hosts)
        return same or listed

    def _check_origin(self, headers: Headers, host: str) -> None:
        origin = headers.get("origin")
        if origin is not None:
            try:
                normal = _normal_origin(origin)
            except ValueError:  # "null" (sandboxed frames, file://) and junk
                normal = ""
            same_origin = urlsplit(normal).netloc == host.lower() and bool(host)
            if not (same_origin or normal in self.origins):
                raise ChatError(403, "this Origin is not allowed", "origin_not_allowed")
        elif headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            # <img>, <script> or link GETs from another site carry no Origin; browsers say so.
            raise ChatError(403, "cross-site requests are not allowed", "cross_site")

    def _template(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE and isinstance(route, Route):
                return route.path
        return "(no route)"


def _caller(request: Request) -> _Caller:
    caller = request.scope[_CALLER]
    assert isinstance(caller, _Caller)
    return caller


def _error(status: int, message: str, code: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": message, "code": code or _CODES.get(status, "error")}
    return JSONResponse(body, status_code=status, headers=headers)


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
    api_keys: Iterable[str] = (),
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    max_message_chars: int = 4000,
    max_sessions: int = 1000,
    max_sessions_per_key: int = 100,
    max_streams: int = 64,
    max_streams_per_key: int = 4,
    max_history: int = 40,
    store: ConversationStore | None = None,
    turn_wait: float = 30.0,
) -> Starlette:
    """The ASGI app; ``agent`` is shared by every session (it keeps no per-run state).

    Args:
        agent: the agent that answers (its model and tools).
        api_keys: keys accepted as ``Authorization: Bearer <key>``; none: the server is open.
        allowed_hosts: Host values served besides the bound address and loopback names
            (``name`` for any port, ``name:port``).
        allowed_origins: browser origins (``https://app.example``) allowed besides the
            server's own; they also get CORS headers.
        max_message_chars: longest accepted user message (413 beyond).
        max_sessions: conversations kept in all.
        max_sessions_per_key: conversations kept per key (its least recently used idle one
            is evicted for a new one).
        max_streams: turns (streamed or not) running at once in all (429 beyond).
        max_streams_per_key: turns running at once per key (429 beyond).
        max_history: messages of each conversation sent back to the model.
        store: where conversations are kept (default: in memory; ``main`` uses SQLite); the
            app closes it when it shuts down.
        turn_wait: seconds a turn (or a delete) waits for a running turn of its session,
            on any replica, before a 409 ``session_busy``.
    """
    sessions = SessionStore(
        max_history,
        max_sessions=max_sessions,
        max_per_owner=max_sessions_per_key,
        backend=store,
        turn_wait=turn_wait,
    )
    streams = _Streams(max_streams_per_key, max_streams)
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

    async def _claim(request: Request, session_id: str) -> _Session:
        """The caller's session for one turn, counted against the key's limits.

        The guard releases both when the request ends, whatever happens to the response.
        """
        caller = _caller(request)
        caller.releases.append(streams.acquire(caller.key_id))
        session = sessions.open(caller.key_id, session_id)
        caller.releases.append(lambda: sessions.release(session))
        await sessions.flush()
        return session

    async def _events(session: _Session, text: str) -> AsyncIterator[AgentEvent]:
        async with sessions.turn(session):  # 409 session_busy if another turn runs too long
            await sessions.load(session)
            before = len(session.messages)
            history = [*session.messages, HumanMessage(text)]
            async for event in agent.astream_events(history):
                if isinstance(event, FinalAnswer):
                    await sessions.record(session, before, event.result.messages)
                yield event

    async def _stream(session: _Session, text: str) -> AsyncIterator[str]:
        try:
            async for event in _events(session, text):
                yield _sse(event.kind, event.to_dict())
        except ChatError as exc:
            yield _sse("error", {"error": exc.message, "code": exc.code})
        except Exception as exc:  # the status line is gone; say it in the stream
            yield _sse("error", {"error": f"{type(exc).__name__}: {exc}"})

    def _streaming(session: _Session, text: str) -> StreamingResponse:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            _stream(session, text), media_type="text/event-stream", headers=headers
        )

    async def create_session(request: Request) -> Response:
        owner = _caller(request).key_id
        session_id = secrets.token_urlsafe(12)  # 96 random bits: ids nobody can guess
        sessions.release(sessions.open(owner, session_id))
        await sessions.flush()
        await asyncio.to_thread(sessions.backend.create, owner, session_id)
        return JSONResponse({"id": session_id}, status_code=201)

    async def post_message(request: Request) -> Response:
        session_id = _session_id(request)
        data = await _body(request)
        text = _message(data.get("message"))
        stream = data.get("stream", False)
        if not isinstance(stream, bool):  # "false" is truthy: guessing would surprise someone
            msg = '"stream" must be true or false (a JSON boolean)'
            raise ChatError(400, msg, "invalid_stream")
        session = await _claim(request, session_id)
        if stream:
            return _streaming(session, text)
        result: AgentResult | None = None
        try:
            async for event in _events(session, text):
                if isinstance(event, FinalAnswer):
                    result = event.result
        except ChatError:
            raise  # session_busy: a 409 of its own
        except Exception as exc:
            return _error(502, f"the agent failed: {type(exc).__name__}: {exc}")
        assert result is not None
        return JSONResponse(_summary(result))

    async def stream_message(request: Request) -> Response:
        session_id = _session_id(request)
        text = _message(request.query_params.get("message"))
        return _streaming(await _claim(request, session_id), text)

    async def get_session(request: Request) -> Response:
        messages = await sessions.history(_caller(request).key_id, _session_id(request))
        if messages is None:  # another key's session too: 404 tells nothing about its ids
            return _error(404, "no such session")
        history = [
            {"role": m.type, "content": m.text, **({"name": m.name} if m.name else {})}
            for m in messages
            if not (isinstance(m, AIMessage) and m.tool_calls and not m.text)
        ]
        return JSONResponse({"messages": history})

    async def delete_session(request: Request) -> Response:
        if not await sessions.remove(_caller(request).key_id, _session_id(request)):
            return _error(404, "no such session")
        return Response(status_code=204)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "sessions": len(sessions)})

    async def on_chat_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ChatError)
        return _error(exc.status, exc.message, exc.code)

    async def on_http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, exc.detail)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/sessions", create_session, methods=["POST"]),
        Route("/sessions/{session_id}", get_session, methods=["GET"]),
        Route("/sessions/{session_id}", delete_session, methods=["DELETE"]),
        Route("/sessions/{session_id}/messages", post_message, methods=["POST"]),
        Route("/sessions/{session_id}/messages", stream_message, methods=["GET"]),
    ]
    middleware = [
        Middleware(
            _Guard,
            keys=ApiKeys(api_keys),
            allowed_hosts=allowed_hosts,
            allowed_origins=allowed_origins,
            routes=routes,
        )
    ]
    if allowed_origins:  # outermost: browsers' preflights carry no key
        cors = Middleware(
            CORSMiddleware,
            allow_origins=[_normal_origin(o) for o in allowed_origins],
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
        middleware.insert(0, cors)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(sessions.backend.close)

    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={ChatError: on_chat_error, HTTPException: on_http_error},
    )
    app.state.sessions = sessions
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
    chat_base_url: str | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    tasks: list[str] | None = None,
    allow_files: Sequence[Path] = (),
) -> Agent:
    """The agent the server runs: every tool, and no local file unless ``allow_files`` says.

    Args:
        model: the chat model (default: ``HFChatModel(model_id)``).
        model_id: chat model id when ``model`` is not given.
        chat_base_url: the chat model's OpenAI-compatible ``/v1`` base (default: HF router).
        base_url: the tools' inference server (default: Hugging Face).
        provider: the tools' inference provider (default: hf-inference).
        tasks: task ids to offer (default: all).
        allow_files: folders tools may read local media from (default: none).
    """
    toolkit = HuggingFaceToolkit(
        tasks=tasks,
        allowed_roots=list(allow_files),  # empty: no local files at all
        base_url=base_url,
        provider=provider,
    )
    return build_agent(
        model,
        toolkit,
        model_id=model_id,
        chat_base_url=chat_base_url,
        system_prompt=system_prompt(local_files=bool(allow_files)),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.chatbot_server",
        description=(
            "Serve a chatbot over HTTP: an agent with Hugging Face tools, one conversation per"
            " session, kept in a SQLite file so a restart loses nothing. Clients POST"
            " /sessions, then POST /sessions/{id}/messages (JSON or SSE); API keys from"
            " HF_TOOLS_API_KEYS or --api-keys-file. HF_TOKEN is needed only when the chat"
            " model or the tools run on Hugging Face."
        ),
        epilog="Each --flag can also come from the environment variable named in its help.",
    )
    add = parser.add_argument
    env = os.environ.get
    add("--host", default="127.0.0.1", help="address to bind (not loopback: needs API keys)")
    add("--port", type=int, default=8000, help="port to listen on (8000)")
    add(
        "--store",
        default=env("HF_TOOLS_STORE", DEFAULT_STORE),
        metavar="URL",
        help=f"sqlite:///path.db, postgresql://... (replicas) or memory (env HF_TOOLS_STORE;"
        f" default {DEFAULT_STORE})",
    )
    add(
        "--model",
        default=env("HF_TOOLS_MODEL"),
        help="chat model id (org/name[:provider]; env HF_TOOLS_MODEL)",
    )
    add(
        "--chat-base-url",
        default=env("HF_TOOLS_CHAT_BASE_URL"),
        metavar="URL",
        help="OpenAI-compatible /v1 base of the chat model (env HF_TOOLS_CHAT_BASE_URL;"
        " default: the Hugging Face router)",
    )
    add(
        "--base-url",
        default=env("HF_TOOLS_BASE_URL"),
        metavar="URL",
        help="inference server of the tools (env HF_TOOLS_BASE_URL; default: Hugging Face)",
    )
    add(
        "--provider",
        default=env("HF_TOOLS_PROVIDER"),
        help='inference provider of the tools ("auto", "fal-ai", ...; env HF_TOOLS_PROVIDER)',
    )
    add("--tasks", help="comma-separated task ids (default: all)")
    add(
        "--allow-files",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="let tools read local media from DIR (repeatable; default: URLs and data only)",
    )
    add("--api-keys-file", type=Path, metavar="FILE", help="API keys, one a line")
    add(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="another Host header to accept (repeatable; default: the bound address)",
    )
    add(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="SCHEME://HOST[:PORT]",
        help="a web origin allowed to call the API, with CORS (repeatable; default: none)",
    )
    add(
        "--turn-wait",
        type=float,
        default=float(env("HF_TOOLS_TURN_WAIT", "30")),
        metavar="SECONDS",
        help="how long a turn waits for a running turn of its session, on any replica, before"
        " a 409 session_busy (env HF_TOOLS_TURN_WAIT; default 30)",
    )
    for name, default in [
        ("max-sessions", 1000),
        ("max-sessions-per-key", 100),
        ("max-streams", 64),
        ("max-streams-per-key", 4),
        ("max-history", 40),
    ]:
        add(f"--{name}", type=int, default=default, metavar="N", help=f"default {default}")
    return parser


def _api_keys(ns: argparse.Namespace) -> list[str]:
    """The configured keys; ChatError (status 2's message) when the setup is unsafe or broken."""
    try:
        keys = load_api_keys(ns.api_keys_file, os.environ.get("HF_TOOLS_API_KEYS"))
    except (OSError, ValueError) as exc:
        raise ChatError(2, f"--api-keys-file: {exc}") from exc
    if not keys and not is_loopback(ns.host):
        msg = (
            f"refusing to serve {ns.host} without API keys: pass --api-keys-file FILE or set"
            " HF_TOOLS_API_KEYS (or bind 127.0.0.1)"
        )
        raise ChatError(2, msg)
    return keys


def _needs_hf_token(ns: argparse.Namespace) -> bool:
    """Whether the chat model or the tools go to a Hugging Face host (their default)."""
    return any(url is None or is_hf_host(url) for url in (ns.chat_base_url, ns.base_url))


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the chatbot with uvicorn (live: needs HF_TOKEN)."""
    ns = _parser().parse_args(argv)
    missing = [str(d) for d in ns.allow_files if not d.is_dir()]
    if missing:
        print(f"--allow-files takes folders; not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        keys = _api_keys(ns)
        for origin in ns.allowed_origin:
            _normal_origin(origin)
    except (ChatError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if _needs_hf_token(ns) and not stored_token():
        print(
            "the chat model or the tools run on Hugging Face and need a token:"
            " export HF_TOKEN=hf_... (or --chat-base-url and --base-url for other servers)",
            file=sys.stderr,
        )
        return 2
    try:
        store = open_store(ns.store)
    except (ValueError, OSError, sqlite3.Error, StoreUnavailable) as exc:
        print(f"--store: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    if not keys:
        print(
            f"warning: no API keys configured; the server is OPEN to anyone on this machine"
            f" ({ns.host}:{ns.port}). Set HF_TOOLS_API_KEYS or --api-keys-file to require keys.",
            file=sys.stderr,
        )
    agent = build_server_agent(
        model_id=ns.model,
        chat_base_url=ns.chat_base_url,
        base_url=ns.base_url,
        provider=ns.provider,
        tasks=task_ids(ns.tasks),
        allow_files=ns.allow_files,
    )
    app = create_app(
        agent,
        api_keys=keys,
        allowed_hosts=ns.allowed_host,
        allowed_origins=ns.allowed_origin,
        max_sessions=ns.max_sessions,
        max_sessions_per_key=ns.max_sessions_per_key,
        max_streams=ns.max_streams,
        max_streams_per_key=ns.max_streams_per_key,
        max_history=ns.max_history,
        store=store,
        turn_wait=ns.turn_wait,
    )
    # uvicorn's access log prints the query string, where GET streams carry the message:
    # it is off, and this module's own line (no path, no query) goes where uvicorn logs.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"][access_log.name] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    uvicorn.run(app, host=ns.host, port=ns.port, access_log=False, log_config=log_config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
