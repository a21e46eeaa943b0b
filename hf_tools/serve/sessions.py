"""Sessions in use: their locks, the histories sent to the model, quotas and turn limits."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from hf_tools.serve.errors import ChatError
from hf_tools.serve.store import ConversationStore, MemoryStore, SessionBusy
from hf_tools.sse import well_formed

# The store's worker threads: SQLite runs one transaction at a time anyway, and turn locks
# are tried without blocking, so a few threads serve many turns.
_STORE_THREADS = 8
_T = TypeVar("_T")


@dataclass
class Session:
    """One session in this process: its lock, its last history, the requests that hold it."""

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
    (``hf_tools.serve.store``) and the quotas count what it holds (:meth:`admit`): an owner keeps at
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
        self._owners: dict[str, OrderedDict[str, Session]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def get(self, owner: str, session_id: str) -> Session | None:
        """The owner's session, if it exists (does not count as use)."""
        sessions = self._owners.get(owner)
        return None if sessions is None else sessions.get(session_id)

    def open(self, owner: str, session_id: str) -> Session:
        """The owner's session for one request (created if needed), most recently used, busy.

        The caller must ``release`` it when the request ends (the server's guard does).
        """
        sessions: OrderedDict[str, Session] = self._owners.get(owner, OrderedDict())
        session = sessions.get(session_id)
        if session is not None:
            sessions.move_to_end(session_id)
        else:
            if len(sessions) >= self.max_per_owner or self._count >= self.max_sessions:
                self._forget_idle(sessions)
            session = sessions[session_id] = Session(owner, session_id)
            self._owners[owner] = sessions
            self._count += 1
        session.pending += 1
        return session

    def _forget_idle(self, sessions: OrderedDict[str, Session]) -> None:
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
    def release(session: Session) -> None:
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

    async def require(self, owner: str, session_id: str) -> None:
        """404 ``session_not_found`` unless the backend holds the owner's session.

        Only ``POST /sessions`` makes one: a message to an id never issued (a typo, another
        key's id) is refused rather than starting a conversation nobody asked for.
        """
        if session_id not in await self.threads.run(self.backend.list, owner):
            raise no_session()

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
    async def turn(self, session: Session) -> AsyncIterator[None]:
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

    async def load(self, session: Session) -> None:
        """Read the session's conversation from the backend (call under its turn lock).

        Every turn reads it again: another replica may have added a turn since this one ran.
        """
        stored = await self.threads.run(self.backend.load, session.owner, session.session_id)
        if stored is None:  # deleted since the request was accepted: no turn revives it
            raise no_session()
        session.messages = trim(stored, self.max_history)

    async def history(self, owner: str, session_id: str) -> list[BaseMessage] | None:
        """The owner's conversation (trimmed); None if the backend has no such session.

        Always from the backend, which has the turns every replica recorded.
        """
        stored = await self.threads.run(self.backend.load, owner, session_id)
        return None if stored is None else trim(stored, self.max_history)

    async def record(self, session: Session, before: int, messages: list[BaseMessage]) -> None:
        """Store a finished run's new messages as one turn, then keep them in memory.

        ``before`` is how many history messages the run started from: the rest is the turn
        (the user's message and all the agent added). The backend writes all of it or none,
        and memory changes only once it has: a failed write leaves no half turn anywhere.
        """
        body = [encodable(m) for m in messages if not isinstance(m, SystemMessage)]
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

    def remember(self, session: Session, messages: list[BaseMessage]) -> None:
        """Keep a finished run's conversation, trimmed, without the system prompt.

        The agent prepends its prompt to every run, so storing it would only cost memory
        and hand it to whoever reads the history.
        """
        body = [m for m in messages if not isinstance(m, SystemMessage)]
        session.messages = trim(body, self.max_history)


class Streams:
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


def no_session() -> ChatError:
    """The refusal of a session id the caller does not have (another key's looks the same)."""
    return ChatError(404, "no such session (POST /sessions makes one)", "session_not_found")


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


def trim(messages: list[BaseMessage], limit: int) -> list[BaseMessage]:
    """The last ``limit`` messages, starting at a user turn so no tool reply is orphaned."""
    head = messages[:1] if messages and isinstance(messages[0], SystemMessage) else []
    body = messages[len(head) :]
    if len(body) <= limit:
        return messages
    tail = body[-limit:]
    starts = [i for i, m in enumerate(tail) if isinstance(m, HumanMessage)]
    return head + (tail[starts[0] :] if starts else [])


def encodable(value: _T) -> _T:
    """``value`` with every string in it well formed (lone surrogates replaced).

    A model's text may hold half an emoji; stored, it would break every later read of the
    session (its history, its events) as well as this turn's answer.
    """
    out: Any = value
    if isinstance(value, str):
        out = well_formed(value)
    elif isinstance(value, dict):
        out = {encodable(k): encodable(v) for k, v in value.items()}
    elif isinstance(value, list):
        out = [encodable(v) for v in value]
    elif isinstance(value, BaseMessage):  # its artifact is stored apart, as bytes
        fields = [f for f in type(value).model_fields if f != "artifact"]
        out = value.model_copy(update={f: encodable(getattr(value, f)) for f in fields})
    return cast(_T, out)
