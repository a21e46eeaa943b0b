"""HTTP chatbot backend: the agent over the Hugging Face toolkit, one conversation per session.

Routes (answers JSON unless said; ``GET /openapi.json`` is the OpenAPI 3.1 document of all
of them, ``GET /docs`` the same as a page):

* ``POST /sessions``: a new empty session with a server-issued id (201 ``{"id": ...}``).
* ``POST /sessions/{id}/messages`` with ``{"message": "...", "stream": false}``: runs a turn
  with the session's history; answers ``{"answer", "steps", "stopped_reason", "tools",
  "artifacts"}`` (this turn's tool calls and artifacts only). With ``"stream": true`` the
  answer is Server-Sent Events: ``token``, ``tool_start``, ``tool_end``, then ``final`` (the
  same object) or ``error``, each with an ``id:`` (increasing per session, from the store, so
  the same on every replica) and one JSON object as ``data``; a ``: ping`` comment comes
  after each ``heartbeat`` seconds of silence. The turn runs apart from its request: a client
  that leaves does not stop it.
* ``GET /sessions/{id}/events?after=N`` (or ``Last-Event-ID: N``): resumes a stream (it counts
  against the stream limits as a turn does). Replays
  the stored events after N, then, while the session's turn runs on any replica
  (``turn_running``), follows its new events from the store until the last one. A turn that
  died (no last event, no lock held) ends with an ``error`` of code ``turn_interrupted``:
  send the message again. It never starts a turn. (There is no GET that runs a turn: an
  ``EventSource`` that reconnected to one ran the message again.)
* ``GET /sessions/{id}/artifacts/{artifact_id}``: the bytes of an image, mask or audio a tool
  produced, with its content type (``X-Content-Type-Options: nosniff``, ``inline`` only for
  images, audio and video; anything else is an ``application/octet-stream`` attachment).
  Responses reference them as ``{"id", "tool", "type", "content_type", "url"}``.
* ``GET /sessions/{id}``: the history (role and text, never the system prompt; tool messages
  with their ``artifacts``); ``DELETE /sessions/{id}``: forget it, its events and artifacts.
* ``GET /``: the web chat page (``agents.web``; its files under ``/web/``).
* ``GET /health``, ``GET /openapi.json``, ``GET /docs``: with the page, the routes that need
  no key.

Errors are ``{"error": "<for people>", "code": "<stable, for programs>"}``; 5xx bodies and
SSE ``error`` events of failed turns add ``request_id`` (every answer has it as
``X-Request-ID``), and never say the exception's type or the upstream's text: the server logs
those under the request id. The codes (``agents.chatbot_api.ERRORS``):

=====  ==============================================================================
400    ``invalid_json``, ``invalid_body``, ``invalid_message``, ``invalid_stream``,
       ``invalid_session_id``, ``invalid_artifact_id``, ``invalid_after``
401    ``missing_api_key``, ``invalid_api_key``
403    ``host_not_allowed``, ``origin_not_allowed``, ``cross_site``
404    ``not_found`` (no route), ``session_not_found``, ``artifact_not_found``
405    ``method_not_allowed``
409    ``session_busy`` (another turn of the session ran past ``turn_wait``)
413    ``message_too_long``, ``body_too_large``
415    ``unsupported_media_type``
429    ``too_many_sessions``, ``server_full``, ``too_many_streams``, ``server_busy``
500    ``internal_error``
502    ``agent_failed`` (the model, a tool or the store failed; nothing was recorded)
503    ``too_many_connections`` (``agents.connections``: every connection is in a request)
SSE    ``agent_failed``, ``session_busy``, ``turn_interrupted``, ``internal_error``
=====  ==============================================================================

Access: with API keys (``api_keys``), every route but those needs
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
beyond) and ``max_tool_calls_per_key`` tool calls over all of them (the rest wait). Store calls
run in the store's own threads, so no tool that blocks threads delays them. ``main`` serves
behind ``agents.connections``: ``--header-timeout`` and ``--max-connections``. Each history
keeps its last ``max_history`` messages (cut at a user turn), which bounds both memory and
the prompt. Artifacts (images, masks, audio) are kept in the store, never in memory or sent
to the model. The access log has the method, the route's path
template, the status, the duration, a hash of the key and the request id: never the path or
the query, where session ids are.

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
uvicorn; ``--help`` lists the rest, each flag also read from ``HF_TOOLS_<FLAG>``). The token
is needed only when ``--chat-base-url`` or ``--base-url`` is a Hugging Face host (both
default to one).
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
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents.assistant import build_agent
from agents.chatbot_api import ERRORS, OPERATIONS, docs_page, openapi
from agents.chatbot_artifacts import (
    OCTET_STREAM,
    BinaryPart,
    binary_parts,
    extension,
    served_type,
)
from agents.connections import Connections, guarded
from agents.store import (
    DEFAULT_STORE,
    ConversationStore,
    MemoryStore,
    SessionBusy,
    StoredEvent,
    StoreUnavailable,
    open_store,
)
from agents.web import is_public, web_routes
from hf_tools.chat_wire import well_formed
from hf_tools.cli.flags import (
    CHAT_FLAGS,
    TASKS,
    Repeat,
    add_flags,
    add_settings_flags,
    env_name,
    settings_from,
    task_ids,
)
from hf_tools.config import is_hf_host, stored_token
from hf_tools.langchain.agent import Agent, AgentEvent, AgentResult, FinalAnswer, ToolEnd
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
# The code of an error Starlette raises itself (routing); every other error names its own.
_CODES = {404: "not_found", 405: "method_not_allowed", 500: "internal_error"}
_REQUEST_ID = "hf_tools.request_id"  # the ASGI scope key of the request's id
# The store's worker threads: SQLite runs one transaction at a time anyway, and turn locks
# are tried without blocking, so a few threads serve many turns.
_STORE_THREADS = 8
# Routes served without an API key: health checks and the API's own description.
_PUBLIC = frozenset((op.method, op.path) for op in OPERATIONS if op.public)
log = logging.getLogger("agents.chatbot_server")
_T = TypeVar("_T")
access_log = logging.getLogger("agents.chatbot_server.access")


class ChatError(Exception):
    """A request the server refuses, with its HTTP status and a stable ``code`` for clients.

    Raises:
        ValueError: a code missing from ``agents.chatbot_api.ERRORS``, or with another status
            there (a bug: clients rely on the table).
    """

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "")
        if status != 2 and (self.code not in ERRORS or ERRORS[self.code].status != status):
            msg = f"error code {self.code!r} with status {status} is not in the table"
            raise ValueError(msg)


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

    Each owner sees only its own sessions. The backend holds every conversation
    (``agents.store``) and the quotas count what it holds (:meth:`admit`): an owner keeps at
    most ``max_per_owner`` conversations and the server ``max_sessions``; a new one beyond is
    refused (429), never made by deleting an old one, which the owner may come back to. This
    class holds the per-session locks and the trimmed history sent to the model, for at most
    ``max_sessions`` sessions: over that it forgets the owner's least recently used idle one
    from memory only (the backend still has it; the next turn reads it back), and answers 429
    when the owner has none idle. Backend calls run in the store's own worker threads
    (``threads``), never the event loop's default ones: the loop never waits on a disk, and
    a store call never queues behind tools that block threads (a slow name lookup).

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
        store_threads: int = _STORE_THREADS,
    ):
        self.max_history = max_history
        self.threads = _StoreThreads(store_threads)
        self.turn_wait = turn_wait
        self.max_sessions = max_sessions
        self.max_per_owner = max_per_owner
        self.backend: ConversationStore = backend if backend is not None else MemoryStore()
        self._owners: dict[str, OrderedDict[str, _Session]] = {}
        self._count = 0

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
                self._forget_idle(sessions)
            session = sessions[session_id] = _Session(owner, session_id)
            self._owners[owner] = sessions
            self._count += 1
        session.pending += 1
        return session

    def _forget_idle(self, sessions: OrderedDict[str, _Session]) -> None:
        """Drop the owner's least recently used idle session from memory (not the backend)."""
        idle = next((k for k, s in sessions.items() if not s.busy), None)
        if idle is not None:
            del sessions[idle]
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

    async def admit(self, owner: str, session_id: str) -> None:
        """Refuse (429) a conversation the backend lacks when the quotas are used up.

        Counted in the backend, so the quotas hold across restarts and replicas (two replicas
        admitting at the same instant may pass one over). A known session is always admitted.
        """
        if self.get(owner, session_id) is not None:
            return
        await self.threads.run(self._admit, owner, session_id)

    def _admit(self, owner: str, session_id: str) -> None:
        held = self.backend.list(owner)
        if session_id in held:
            return
        if len(held) >= self.max_per_owner:
            msg = (
                f"this key keeps {len(held)} conversations, its limit; delete one"
                " (DELETE /sessions/{id}) to start another"
            )
            raise ChatError(429, msg, "too_many_sessions")
        if self.backend.count() >= self.max_sessions:
            msg = f"the server keeps its {self.max_sessions} conversations; retry later"
            raise ChatError(429, msg, "server_full")

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
                await self.threads.shielded(
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
            await self.threads.shielded(functools.partial(lock.__exit__, None, None, None))

    async def load(self, session: _Session) -> None:
        """Read the session's conversation from the backend (call under its turn lock).

        Every turn reads it again: another replica may have added a turn since this one ran.
        """
        stored = await self.threads.run(self.backend.load, session.owner, session.session_id)
        session.messages = _trim(stored or [], self.max_history)

    async def history(self, owner: str, session_id: str) -> list[BaseMessage] | None:
        """The owner's conversation (trimmed); None if neither memory nor the backend has it.

        Always from the backend, which has the turns every replica recorded.
        """
        stored = await self.threads.run(self.backend.load, owner, session_id)
        if stored is None:
            return None if self.get(owner, session_id) is None else []
        return _trim(stored, self.max_history)

    async def record(self, session: _Session, before: int, messages: list[BaseMessage]) -> None:
        """Store a finished run's new messages as one turn, then keep them in memory.

        ``before`` is how many history messages the run started from: the rest is the turn
        (the user's message and all the agent added). The backend writes all of it or none,
        and memory changes only once it has: a failed write leaves no half turn anywhere.
        """
        body = [_encodable(m) for m in messages if not isinstance(m, SystemMessage)]
        turn = body[before:]
        await self.threads.run(self.backend.append_turn, session.owner, session.session_id, turn)
        self.remember(session, body)

    async def remove(self, owner: str, session_id: str) -> bool:
        """Forget the owner's session in memory and in the backend; False if neither had it.

        Waits for a running turn to end (409 after ``turn_wait``), which would else record
        its turn into a session just deleted.
        """
        async with self._backend_turn(owner, session_id, time.monotonic() + self.turn_wait):
            cached = self.delete(owner, session_id)
            return await self.threads.run(self.backend.delete, owner, session_id) or cached

    def remember(self, session: _Session, messages: list[BaseMessage]) -> None:
        """Keep a finished run's conversation, trimmed, without the system prompt.

        The agent prepends its prompt to every run, so storing it would only cost memory
        and hand it to whoever reads the history.
        """
        body = [m for m in messages if not isinstance(m, SystemMessage)]
        session.messages = _trim(body, self.max_history)


class _Streams:
    """Turns in flight (streamed or not), per key and in all; each one is a held connection.

    A key with turns in flight also has its tool slots (:meth:`tool_slots`), shared by all
    its turns: what one key's tool calls can hold at once (threads, connections) is bounded.
    """

    def __init__(self, per_key: int, total: int, tools_per_key: int = 4) -> None:
        self.per_key = per_key
        self.total = total
        self.tools_per_key = tools_per_key
        self._by_key: dict[str, int] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._running = 0

    def tool_slots(self, key_id: str) -> asyncio.Semaphore:
        """The tool calls ``key_id`` may run at once (call it while one of its turns runs)."""
        return self._slots.setdefault(key_id, asyncio.Semaphore(self.tools_per_key))

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
                self._slots.pop(key_id, None)

        return release


def _busy(wait: float) -> ChatError:
    msg = f"another turn of this session is running (waited {wait:g} s); retry when it ends"
    return ChatError(409, msg, "session_busy")


class _StoreThreads:
    """The store's own worker threads, apart from the event loop's default executor.

    Tools run blocking work (name lookups, local files) in the default executor; one key's
    slow lookups could fill it, and every other key's store calls would queue behind them.
    """

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="chatbot-store")

    async def run(self, call: Callable[..., _T], *args: Any) -> _T:
        """``call(*args)`` in one of the store's threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(call, *args))

    async def shielded(
        self, call: Callable[[], object], undo: Callable[[], object] | None = None
    ) -> None:
        """``call()`` in a store thread, carried through even if the caller is cancelled.

        A lock taken or released in a thread must not be lost: if the awaiting task is
        cancelled (a client that leaves), the thread still finishes, and ``undo`` then gives
        back what ``call`` took.
        """
        future = asyncio.get_running_loop().run_in_executor(self._pool, call)
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            if undo is not None:

                def _undo(done: asyncio.Future[object]) -> None:
                    if not done.cancelled() and done.exception() is None:
                        asyncio.get_running_loop().run_in_executor(self._pool, undo)

                future.add_done_callback(_undo)
            raise

    def shutdown(self) -> None:
        """Let the threads end once their calls have (new calls are refused)."""
        self._pool.shutdown(wait=False)


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

    Runs before routing, so every route (unknown ones too) but the public ones (``GET
    /health``, ``/openapi.json``, ``/docs`` and the web page) needs a key. Every answer gets an
    ``X-Request-ID``, which the access log line and any 5xx body carry too.
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
        # Ours, never the client's: it names this request in the logs and in 5xx bodies.
        request_id = scope[_REQUEST_ID] = secrets.token_hex(8)

        started_response = False

        async def send_status(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
            await send(message)

        try:
            try:
                caller.key_id = self._check(scope, Headers(scope=scope))
            except ChatError as exc:
                await _error(exc.status, exc.message, exc.code)(scope, receive, send_status)
                return
            scope[_CALLER] = caller
            await self.app(scope, receive, send_status)
        except Exception:
            log.exception("request %s failed", request_id)
            if started_response:
                raise  # too late for a status: the server drops the connection
            failure = _failure(request_id, "internal_error")
            await JSONResponse(failure, status_code=500)(scope, receive, send_status)
        finally:
            for release in caller.releases:  # also when the client left or the task was cancelled
                release()
            elapsed = (time.monotonic() - started) * 1000
            # The path template, never the path or query: they may hold the user's message.
            access_log.info(
                "%s %s %d %.1fms key=%s rid=%s",
                scope["method"],
                self._template(scope),
                status,
                elapsed,
                caller.key_id,
                request_id,
            )

    def _check(self, scope: Scope, headers: Headers) -> str:
        """The caller's key id ("-" when the server runs open), or the refusal."""
        host = headers.get("host", "")
        if not self._host_allowed(scope, host):
            raise ChatError(403, "this Host is not served here", "host_not_allowed")
        self._check_origin(scope, headers, host)
        key_id = "-"
        public = (scope["method"], scope["path"]) in _PUBLIC or is_public(scope)
        if self.keys and not public:  # the page asks its user for the key
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

    def _check_origin(self, scope: Scope, headers: Headers, host: str) -> None:
        origin = headers.get("origin")
        if origin is not None:
            try:
                normal = _normal_origin(origin)
            except ValueError:  # "null" (sandboxed frames, file://) and junk
                normal = ""
            # The scheme too: an https page is another origin than this http server.
            own = f"{scope.get('scheme', 'http')}://{host.lower()}"
            same_origin = normal == own and bool(host)
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
    body = {"error": message, "code": code or _CODES.get(status, "internal_error")}
    return JSONResponse(body, status_code=status, headers=headers)


_FAILURES = {
    "agent_failed": "the turn failed and was not recorded; retry it, or give the operator",
    "internal_error": "internal error; give the operator",
}


def _failure(request_id: str, code: str = "agent_failed") -> dict[str, str]:
    """What a client learns of a failure: never the exception's type or upstream text."""
    return {
        "error": f"{_FAILURES[code]} request id {request_id}",
        "code": code,
        "request_id": request_id,
    }


_INTERRUPTED = {
    "error": "the turn stopped before its end (its server went away): look at the"
    " conversation, then send the message again",
    "code": "turn_interrupted",
}
_TERMINAL = frozenset({"final", "error"})  # the events that end a turn's stream
_PING = ": ping\n\n"  # an SSE comment: keeps proxies from closing a quiet stream
_EVENT_PAGE = 500  # stored events read at once when resuming


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = "" if event_id is None else f"id: {event_id}\n"
    # Well formed even if stored before its text was: a stream that cannot encode is cut.
    text = well_formed(json.dumps(data, ensure_ascii=False))
    return f"{head}event: {event}\ndata: {text}\n\n"


def _this_turn(messages: Sequence[BaseMessage]) -> Sequence[BaseMessage]:
    """The messages from the user's (the last human message: the agent adds none) on."""
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    return messages[starts[-1] :] if starts else messages


def _result(result: AgentResult, artifacts: list[dict[str, str]]) -> dict[str, Any]:
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
class _Failed:
    """The turn failed (the model, a tool or the store): the last thing a turn yields."""

    exc: Exception


class _TurnArtifacts:
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


class _EventWriter:
    """A turn's events, stored in order and then queued for its live client.

    One write at a time: the events that come while one runs go together in the next, so a
    fast token stream costs a few transactions, not one each, and never waits on the disk.
    """

    def __init__(
        self, sessions: SessionStore, session: _Session, out: asyncio.Queue[StoredEvent | None]
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
        self.pending.append((name, _encodable(data)))
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


def _encodable(value: _T) -> _T:
    """``value`` with every string in it well formed (lone surrogates replaced).

    A model's text may hold half an emoji; stored, it would break every later read of the
    session (its history, its events) as well as this turn's answer.
    """
    out: Any = value
    if isinstance(value, str):
        out = well_formed(value)
    elif isinstance(value, dict):
        out = {_encodable(k): _encodable(v) for k, v in value.items()}
    elif isinstance(value, list):
        out = [_encodable(v) for v in value]
    elif isinstance(value, BaseMessage):  # its artifact is stored apart, as bytes
        fields = [f for f in type(value).model_fields if f != "artifact"]
        out = value.model_copy(update={f: _encodable(getattr(value, f)) for f in fields})
    return cast(_T, out)


def _history(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Role and text of each message (tool calls without text left out), with artifacts."""
    out = []
    for m in messages:
        if isinstance(m, AIMessage) and m.tool_calls and not m.text:
            continue
        item: dict[str, Any] = {"role": m.type, "content": m.text}
        if m.name:
            item["name"] = m.name
        if isinstance(m, ToolMessage) and m.response_metadata.get("artifacts"):
            item["artifacts"] = m.response_metadata["artifacts"]
        out.append(item)
    return out


def _artifact_headers(artifact_id: str, content_type: str) -> tuple[str, dict[str, str]]:
    """The content type to answer and headers that keep a browser from running anything."""
    shown = content_type if extension(content_type) != "bin" else OCTET_STREAM
    disposition = "inline" if shown != OCTET_STREAM else "attachment"
    return shown, {
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'{disposition}; filename="{artifact_id}.{extension(shown)}"',
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
    }


def _event_stream(body: AsyncIterator[str]) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)


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
    max_tool_calls_per_key: int = 4,
    max_history: int = 40,
    store: ConversationStore | None = None,
    heartbeat: float = 15.0,
    poll_interval: float = 0.2,
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
        max_tool_calls_per_key: tool calls running at once per key, over all its turns (the
            rest wait for one to end).
        max_history: messages of each conversation sent back to the model.
        store: where conversations are kept (default: in memory; ``main`` uses SQLite); the
            app closes it when it shuts down.
        heartbeat: seconds of silence after which an SSE stream gets a ``: ping`` comment.
        poll_interval: seconds between two reads of the store while resuming a running turn.
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
    backend = sessions.backend
    streams = _Streams(max_streams_per_key, max_streams, max_tool_calls_per_key)
    max_body = 4 * max_message_chars + 1024
    running: set[asyncio.Task[None]] = set()  # turns in flight, so shutdown can stop them
    document = openapi(max_message_chars)

    def _path_id(request: Request, name: str, code: str) -> str:
        value = str(request.path_params[name])
        if not _SESSION_ID.fullmatch(value):
            msg = f"{name.replace('_', ' ')} must be 1-64 letters, digits, '-' or '_'"
            raise ChatError(400, msg, code)
        return value

    def _session_id(request: Request) -> str:
        return _path_id(request, "session_id", "invalid_session_id")

    def _message(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            msg = 'send {"message": "<non-empty text>"}'
            raise ChatError(400, msg, "invalid_message")
        if well_formed(value) != value:  # "\ud83d" alone: no answer or store could encode it
            msg = "the message holds a lone surrogate (\\ud800-\\udfff), which is not text"
            raise ChatError(400, msg, "invalid_message")
        if len(value) > max_message_chars:
            msg = f"message is {len(value)} characters; the limit is {max_message_chars}"
            raise ChatError(413, msg, "message_too_long")
        return value

    async def _body(request: Request) -> dict[str, Any]:
        too_large = ChatError(413, f"body over {max_body} bytes", "body_too_large")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body:
            raise too_large
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > max_body:
                raise too_large
        try:
            data = json.loads(raw)
        except ValueError as exc:
            msg = f"body is not valid JSON: {exc}"
            raise ChatError(400, msg, "invalid_json") from exc
        except RecursionError as exc:  # [[[[...: deeper than the parser's stack
            msg = "body is not valid JSON: nested too deeply"
            raise ChatError(400, msg, "invalid_json") from exc
        if not isinstance(data, dict):
            msg = 'body must be a JSON object: {"message": "..."}'
            raise ChatError(400, msg, "invalid_body")
        return data

    async def _claim(
        request: Request, session_id: str
    ) -> tuple[_Session, list[Callable[[], None]]]:
        """The caller's session for one turn, counted against the key's limits.

        Returns the releases too: the turn runs them when it ends, whenever its request ends.
        """
        caller = _caller(request)
        releases = [streams.acquire(caller.key_id)]
        try:
            await sessions.admit(caller.key_id, session_id)
            session = sessions.open(caller.key_id, session_id)
            releases.append(lambda: sessions.release(session))
        except BaseException:
            for release in releases:
                release()
            raise
        return session, releases

    async def _events(
        session: _Session,
        text: str,
        artifacts: _TurnArtifacts,
        before_record: Callable[[], Awaitable[None]],
    ) -> AsyncGenerator[AgentEvent | _Failed, None]:
        async with sessions.turn(session):  # 409 session_busy if another turn runs too long
            await sessions.load(session)
            before = len(session.messages)
            history = [*session.messages, HumanMessage(text)]
            try:
                slots = streams.tool_slots(session.owner)
                async for event in agent.astream_events(history, tool_slots=slots):
                    artifacts.saw(event)
                    if isinstance(event, FinalAnswer):
                        await before_record()  # its events so far are stored, or it fails
                        await artifacts.store(event.result)  # before the messages that cite them
                        await sessions.record(session, before, event.result.messages)
                    yield event
            except Exception as exc:  # yielded under the lock: its error event comes first
                yield _Failed(exc)

    async def _run_turn(
        session: _Session, text: str, request_id: str, out: asyncio.Queue[StoredEvent | None]
    ) -> None:
        """Run one turn, storing each event (so any replica can replay it) and queueing it.

        Events are stored while the turn holds its lock, the error of a failed turn too, so no
        other turn's events come between. A refusal before the turn began (409 session_busy)
        and a store that fails are told to this client only (an event without an id).
        """
        artifacts = _TurnArtifacts(sessions, session.owner, session.session_id)
        writer = _EventWriter(sessions, session, out)
        try:
            turn = _events(session, text, artifacts, writer.flush)
            async with contextlib.aclosing(turn) as events:
                async for event in events:
                    if isinstance(event, _Failed):
                        log.error("turn failed (request %s)", request_id, exc_info=event.exc)
                        name, data = "error", _failure(request_id)
                    elif isinstance(event, FinalAnswer):
                        name, data = "final", _result(event.result, artifacts.refs)
                        data = {"type": "final", **data}
                    else:
                        name, data = event.kind, event.to_dict()
                    writer.add(name, data)
                    if name in _TERMINAL:
                        await writer.flush()  # still under the turn's lock
        except ChatError as exc:
            out.put_nowait(StoredEvent(0, "error", {"error": exc.message, "code": exc.code}))
        except Exception:
            log.exception("turn failed (request %s)", request_id)
            out.put_nowait(StoredEvent(0, "error", _failure(request_id)))
        finally:
            writer.cancel()
            out.put_nowait(None)

    def _start_turn(
        session: _Session, text: str, request: Request, releases: list[Callable[[], None]]
    ) -> asyncio.Queue[StoredEvent | None]:
        """Start a turn apart from its request: a client that leaves can resume it."""
        out: asyncio.Queue[StoredEvent | None] = asyncio.Queue()
        task = asyncio.ensure_future(_run_turn(session, text, request.scope[_REQUEST_ID], out))
        running.add(task)

        def done(_: asyncio.Task[None]) -> None:
            running.discard(task)
            for release in releases:
                release()

        task.add_done_callback(done)
        return out

    async def _live(out: asyncio.Queue[StoredEvent | None]) -> AsyncIterator[str]:
        while True:
            try:
                event = await asyncio.wait_for(out.get(), heartbeat)
            except TimeoutError:
                yield _PING
                continue
            if event is None:
                return
            yield _sse(event.event, event.data, event.id or None)

    async def _read(owner: str, session_id: str, after: int, limit: int) -> list[StoredEvent]:
        return await sessions.threads.run(backend.events_after, owner, session_id, after, limit)

    async def _resume(owner: str, session_id: str, after: int) -> AsyncIterator[str]:
        """The stored events after ``after``, then the running turn's until its last one."""
        before = await _read(owner, session_id, after - 1, 1) if after else []
        last = before[0].event if before and before[0].id == after else None
        sent = False
        quiet = 0.0
        while True:
            batch = await _read(owner, session_id, after, _EVENT_PAGE)
            for stored in batch:
                yield _sse(stored.event, stored.data, stored.id)
                after, last, sent, quiet = stored.id, stored.event, True, 0.0
            if len(batch) == _EVENT_PAGE:
                continue
            if sent and last in _TERMINAL:
                return  # the turn followed is over
            if batch:
                continue
            if not await sessions.threads.run(backend.turn_running, owner, session_id):
                if await _read(owner, session_id, after, 1):
                    continue  # it ended between the two reads
                if last is not None and last not in _TERMINAL:
                    yield _sse("error", _INTERRUPTED)
                return
            await asyncio.sleep(poll_interval)
            quiet += poll_interval
            if quiet >= heartbeat:
                yield _PING
                quiet = 0.0

    async def _told(body: AsyncIterator[str], request_id: str) -> AsyncIterator[str]:
        """``body``, or its failure as a last ``error`` event (the status line is gone)."""
        try:
            async for chunk in body:
                yield chunk
        except Exception:
            log.exception("stream failed (request %s)", request_id)
            yield _sse("error", _failure(request_id, "internal_error"))

    async def create_session(request: Request) -> Response:
        owner = _caller(request).key_id
        session_id = secrets.token_urlsafe(12)  # 96 random bits: ids nobody can guess
        await sessions.admit(owner, session_id)
        sessions.release(sessions.open(owner, session_id))
        await sessions.threads.run(backend.create, owner, session_id)
        return JSONResponse({"id": session_id}, status_code=201)

    async def post_message(request: Request) -> Response:
        session_id = _session_id(request)
        data = await _body(request)
        text = _message(data.get("message"))
        stream = data.get("stream", False)
        if not isinstance(stream, bool):  # "false" is truthy: guessing would surprise someone
            msg = '"stream" must be true or false (a JSON boolean)'
            raise ChatError(400, msg, "invalid_stream")
        session, releases = await _claim(request, session_id)
        out = _start_turn(session, text, request, releases)
        if stream:
            return _event_stream(_live(out))
        last: StoredEvent | None = None
        while (event := await out.get()) is not None:
            last = event
        assert last is not None
        if last.event == "final":
            return JSONResponse({k: v for k, v in last.data.items() if k != "type"})
        # The error event's data is the error body: 502 agent_failed, 409 session_busy.
        return JSONResponse(last.data, status_code=ERRORS[last.data["code"]].status or 502)

    async def get_events(request: Request) -> Response:
        owner, session_id = _caller(request).key_id, _session_id(request)
        raw = request.query_params.get("after", request.headers.get("last-event-id", "0"))
        if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
            msg = "after (or Last-Event-ID) must be an event id: a whole number >= 0"
            raise ChatError(400, msg, "invalid_after")
        if await sessions.history(owner, session_id) is None:
            raise ChatError(404, "no such session", "session_not_found")
        # A resumed stream holds a connection and polls the store: it counts as a turn does.
        _caller(request).releases.append(streams.acquire(owner))
        resumed = _resume(owner, session_id, int(raw))
        return _event_stream(_told(resumed, request.scope[_REQUEST_ID]))

    async def get_artifact(request: Request) -> Response:
        session_id = _session_id(request)
        artifact_id = _path_id(request, "artifact_id", "invalid_artifact_id")
        found = await sessions.threads.run(
            backend.get_artifact, _caller(request).key_id, session_id, artifact_id
        )
        if found is None:  # another key's too: 404 tells nothing about its ids
            raise ChatError(404, "no such artifact", "artifact_not_found")
        content_type, headers = _artifact_headers(artifact_id, found[0])
        return Response(found[1], media_type=content_type, headers=headers)

    async def get_session(request: Request) -> Response:
        messages = await sessions.history(_caller(request).key_id, _session_id(request))
        if messages is None:  # another key's session too: 404 tells nothing about its ids
            raise ChatError(404, "no such session", "session_not_found")
        return JSONResponse({"messages": _encodable(_history(messages))})

    async def delete_session(request: Request) -> Response:
        if not await sessions.remove(_caller(request).key_id, _session_id(request)):
            raise ChatError(404, "no such session", "session_not_found")
        return Response(status_code=204)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "sessions": len(sessions)})

    async def openapi_json(_: Request) -> Response:
        return JSONResponse(document)

    async def docs(_: Request) -> Response:
        csp = "default-src 'none'; style-src 'unsafe-inline'"
        return HTMLResponse(docs_page(document), headers={"Content-Security-Policy": csp})

    async def on_chat_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ChatError)
        return _error(exc.status, exc.message, exc.code)

    async def on_http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, exc.detail)

    handlers: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = {
        ("GET", "/health"): health,
        ("GET", "/openapi.json"): openapi_json,
        ("GET", "/docs"): docs,
        ("POST", "/sessions"): create_session,
        ("GET", "/sessions/{session_id}"): get_session,
        ("DELETE", "/sessions/{session_id}"): delete_session,
        ("POST", "/sessions/{session_id}/messages"): post_message,
        ("GET", "/sessions/{session_id}/events"): get_events,
        ("GET", "/sessions/{session_id}/artifacts/{artifact_id}"): get_artifact,
    }
    routes = [
        Route(path, handler, methods=[method]) for (method, path), handler in handlers.items()
    ]
    routes += web_routes()  # the page at /; agents.web says which of them OpenAPI lists
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
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
            expose_headers=["X-Request-ID"],
        )
        middleware.insert(0, cors)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        for task in list(running):  # what a killed replica leaves: resumers hear it
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await sessions.threads.run(backend.close)
        sessions.threads.shutdown()

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
    output_dir: Path | None = None,
    settings: Mapping[str, Any] | None = None,
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
        output_dir: folder the tools also write their files to (default: none).
        settings: the tools' other settings (``Settings.create`` arguments, from the flags).
    """
    toolkit = HuggingFaceToolkit(
        tasks=tasks,
        allowed_roots=list(allow_files),  # empty: no local files at all
        base_url=base_url,
        provider=provider,
        output_dir=output_dir,
        **(settings or {}),
    )
    return build_agent(
        model,
        toolkit,
        model_id=model_id,
        chat_base_url=chat_base_url,
        system_prompt=system_prompt(local_files=bool(allow_files)),
    )


# What two shared flags mean here: the LLM picks paths for many clients, so no folder (not
# even the working directory) is open unless named; artifacts live in the store.
_SERVER_HELPS = {
    "--allow-files": "let tools read local media from DIR (repeatable; default: URLs and data"
    " only, not even the working directory)",
    "--output-dir": "folder where the tools also write the files they produce (default: none;"
    " clients fetch artifacts from the store)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.chatbot_server",
        description=(
            "Serve a chatbot over HTTP: an agent with Hugging Face tools, one conversation per"
            " session, kept in a SQLite file so a restart loses nothing. Clients POST"
            " /sessions, then POST /sessions/{id}/messages (JSON or SSE); GET /docs describes"
            " the API. API keys from HF_TOOLS_API_KEYS or --api-keys-file. HF_TOKEN is needed"
            " only when the chat model or the tools run on Hugging Face."
        ),
        epilog="Each --flag can also come from the environment variable named in its help"
        " (repeatable ones: comma-separated); a flag given wins over its variable.",
    )

    def add(flag: str, help: str, default: Any = None, **kw: Any) -> None:
        name = env_name(flag)
        raw = os.environ.get(name)
        shown = "" if default in (None, []) else f"; default {default}"
        if kw.get("action") is Repeat:
            convert = kw.get("type", str)
            default = [convert(v.strip()) for v in (raw or "").split(",") if v.strip()]
        elif raw is not None:
            default = raw  # argparse converts a string default with the flag's type
        parser.add_argument(flag, default=default, help=f"{help} (env {name}{shown})", **kw)

    add("--host", "address to bind (not loopback: needs API keys)", "127.0.0.1")
    add("--port", "port to listen on", 8000, type=int)
    add("--store", "sqlite:///path.db or memory", DEFAULT_STORE, metavar="URL")
    add("--model", "chat model id (org/name[:provider])")
    # The chat model's and the tools' flags: the table every command shares.
    add_flags(parser, [CHAT_FLAGS[0], TASKS])
    add_settings_flags(parser, helps=_SERVER_HELPS)
    add("--api-keys-file", "API keys, one a line", type=Path, metavar="FILE")
    add(
        "--allowed-host",
        "another Host header to accept (repeatable; default: the bound address)",
        action=Repeat,
        metavar="NAME[:PORT]",
    )
    add(
        "--allowed-origin",
        "a web origin allowed to call the API, with CORS (repeatable; default: none)",
        action=Repeat,
        metavar="SCHEME://HOST[:PORT]",
    )
    add(
        "--turn-wait",
        "seconds a turn waits for a running turn of its session, on any replica, before a"
        " 409 session_busy",
        30.0,
        type=float,
        metavar="SECONDS",
    )
    for name, default, what in [
        ("max-sessions", 1000, "conversations held in all"),
        ("max-sessions-per-key", 100, "conversations held per API key"),
        ("max-streams", 64, "turns running at once in all"),
        ("max-streams-per-key", 4, "turns running at once per API key"),
        ("max-tool-calls-per-key", 4, "tool calls running at once per API key (more wait)"),
        ("max-history", 40, "messages of a conversation sent to the model"),
        ("max-message-chars", 4000, "longest user message (413 beyond)"),
    ]:
        add(f"--{name}", what, default, type=int, metavar="N")
    add(
        "--header-timeout",
        "seconds a connection may take to send a whole request head (slow ones are closed)",
        10.0,
        type=float,
        metavar="SECONDS",
    )
    add(
        "--max-connections",
        "open connections; past it a new one evicts the one that waited longest for its"
        " request head",
        500,
        type=int,
        metavar="N",
    )
    add(
        "--heartbeat",
        "seconds of silence after which an SSE stream gets a ': ping' comment",
        15.0,
        type=float,
        metavar="SECONDS",
    )
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
    settings = settings_from(ns)  # before the token check: --token-file stands for HF_TOKEN
    missing = [str(d) for d in ns.allow_files if not d.is_dir()]
    if missing:
        print(f"--allow-files takes folders; not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        keys = _api_keys(ns)
        for origin in ns.allowed_origin:
            _normal_origin(origin)
        limits = Connections(ns.header_timeout, ns.max_connections)
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
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    if not keys:
        print(
            f"warning: no API keys configured; the server is OPEN to anyone on this machine"
            f" ({ns.host}:{ns.port}). Set HF_TOOLS_API_KEYS or --api-keys-file to require keys.",
            file=sys.stderr,
        )
    agent = build_server_agent(
        model_id=ns.model,
        chat_base_url=ns.chat_base_url,
        base_url=settings.pop("base_url", None),
        provider=settings.pop("provider", None),
        tasks=task_ids(ns.tasks),
        allow_files=ns.allow_files,
        output_dir=settings.pop("output_dir", None),
        settings=settings,
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
        max_tool_calls_per_key=ns.max_tool_calls_per_key,
        max_history=ns.max_history,
        max_message_chars=ns.max_message_chars,
        store=store,
        heartbeat=ns.heartbeat,
        turn_wait=ns.turn_wait,
    )
    # uvicorn's access log prints the path and query string (session ids, event ids): it is
    # off, and this module's own line (the route template) goes where uvicorn logs.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"][access_log.name] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    # Slow or idle connections are held below the app, before any key is read: bounded here.
    http = guarded(AutoHTTPProtocol, limits)
    uvicorn.run(app, host=ns.host, port=ns.port, access_log=False, log_config=log_config, http=http)
    return 0


if __name__ == "__main__":
    sys.exit(main())
