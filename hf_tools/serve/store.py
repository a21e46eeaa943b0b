"""Where the chatbot keeps conversations: one small interface, in memory, SQLite or Postgres.

A conversation belongs to an owner (an API key's hash) and has an id; its messages are stored
with LangChain's own serialization (``messages_to_dict``), so any message type round-trips.
A turn (the user's message and everything the agent added) is appended atomically: all of it
or none of it. The methods are blocking; the server calls them through ``asyncio.to_thread``
so the event loop never waits on a disk or a database.

Beside the messages, each session has:

* a turn lock (``turn``): one turn at a time per session, across threads, processes and
  replicas; a process that dies releases it (SQLite: an ``fcntl`` lock the kernel drops;
  Postgres: a session-level advisory lock the server drops with the connection);
* the SSE events of its recent turns (``append_events`` / ``events_after``), so a client can
  resume a stream on any replica;
* artifacts (``put_artifact`` / ``get_artifact``): generated images, masks and audio as blobs,
  referenced from the conversation by id, never sent to the model, deleted with the session.

``open_store(url)`` picks the implementation: ``memory``, ``sqlite:///path.db`` (as in
SQLAlchemy: three slashes and a relative path, four for an absolute one) or
``postgresql://user@host/db`` (any libpq URL).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.messages import BaseMessage, messages_from_dict, messages_to_dict

from hf_tools.serve.flags import DEFAULT_STORE

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = [
    "DEFAULT_STORE",
    "MAX_EVENTS",
    "SCHEMA_VERSION",
    "ConversationStore",
    "MemoryStore",
    "PostgresStore",
    "SessionBusy",
    "SqliteStore",
    "StoreUnavailable",
    "StoredEvent",
    "open_store",
]

log = logging.getLogger(__name__)
SCHEMA_VERSION = 2  # 1: sessions and messages; 2: events, artifacts
MAX_EVENTS = 2000  # SSE events kept per session: the last few turns, even with many tokens
_POLL = 0.02  # seconds between two tries of a lock another process holds


class SessionBusy(Exception):
    """Another turn of the session still runs after the caller's ``wait``."""

    def __init__(self, owner: str, session_id: str, wait: float) -> None:
        super().__init__(f"session {session_id!r} runs another turn (waited {wait:g} s)")
        self.owner = owner
        self.session_id = session_id
        self.wait = wait


class StoreUnavailable(RuntimeError):
    """The database cannot be reached (or has a schema this code does not know)."""


@dataclass(frozen=True)
class StoredEvent:
    """One SSE event of a turn; ``id`` increases within its session."""

    id: int
    event: str
    data: dict[str, Any]


# Aliases: inside the store classes ``list`` is a method.
Events = list[StoredEvent]
EventIds = list[int]


class ConversationStore(Protocol):
    """Conversations by owner and session id; every method is blocking and thread-safe."""

    def create(self, owner: str, session_id: str) -> None:
        """An empty conversation (nothing changes if it exists)."""

    def load(self, owner: str, session_id: str) -> list[BaseMessage] | None:
        """The conversation's messages in order; None if the owner has no such session."""

    def append_turn(self, owner: str, session_id: str, messages: Sequence[BaseMessage]) -> None:
        """Add one turn's messages, all or none (the session is created if needed)."""

    def delete(self, owner: str, session_id: str) -> bool:
        """Forget the conversation, its events and artifacts; False if there was none."""

    def list(self, owner: str) -> list[str]:
        """The owner's session ids, oldest first."""

    def count(self, owner: str | None = None) -> int:
        """How many sessions the owner (or everyone) has."""

    def turn(self, owner: str, session_id: str, *, wait: float) -> AbstractContextManager[None]:
        """Hold the session's turn lock for one turn (every thread, process and replica).

        Waits up to ``wait`` seconds for a running turn to end. Entering and leaving may
        happen on different threads (the server enters and leaves through worker threads).

        Raises:
            SessionBusy: the lock is still held after ``wait`` seconds.
        """

    def turn_running(self, owner: str, session_id: str) -> bool:
        """Whether some thread, process or replica holds the session's turn lock now."""

    def append_events(
        self, owner: str, session_id: str, events: Sequence[tuple[str, dict[str, Any]]]
    ) -> EventIds:
        """Store SSE events (name, data) in order; returns their ids.

        Only the session's last ``MAX_EVENTS`` events are kept.
        """

    def events_after(self, owner: str, session_id: str, after: int, limit: int = 500) -> Events:
        """The kept events with an id above ``after``, oldest first, at most ``limit``."""

    def put_artifact(
        self, owner: str, session_id: str, artifact_id: str, content_type: str, data: bytes
    ) -> None:
        """Store (or replace) one artifact of the session."""

    def get_artifact(
        self, owner: str, session_id: str, artifact_id: str
    ) -> tuple[str, bytes] | None:
        """The artifact's content type and bytes; None if the owner's session has no such."""

    def close(self) -> None:
        """Release the store's resources."""


class _TurnLocks:
    """Turn locks by key: this process's threads first, then ``claim`` for other processes.

    The in-process set comes first because the cross-process locks (POSIX record locks,
    Postgres session locks) are held by a process or a connection, which two threads share.
    """

    def __init__(
        self,
        claim: Callable[[str], bool] = lambda _: True,
        drop: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._claim = claim
        self._drop = drop
        self._held: set[str] = set()
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, owner: str, session_id: str, wait: float) -> Iterator[None]:
        """The lock of (owner, session_id) for the ``with`` block, or SessionBusy."""
        key = _lock_key(owner, session_id)
        deadline = time.monotonic() + max(0.0, wait)
        with self._changed:
            if not self._changed.wait_for(
                lambda: key not in self._held, timeout=max(0.0, deadline - time.monotonic())
            ):
                raise SessionBusy(owner, session_id, wait)
            self._held.add(key)
        try:
            while not self._claim(key):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SessionBusy(owner, session_id, wait)
                time.sleep(min(_POLL, left))
        except BaseException:
            self._forget(key)
            raise
        try:
            yield
        finally:
            try:
                self._drop(key)
            finally:
                self._forget(key)

    def running(self, owner: str, session_id: str) -> bool:
        """Whether a thread here, or another process, holds the lock now."""
        key = _lock_key(owner, session_id)
        with self._changed:
            if key in self._held:
                return True
            self._held.add(key)  # no turn of this process starts while the probe holds it
        try:
            if not self._claim(key):
                return True
            self._drop(key)
            return False
        finally:
            self._forget(key)

    def _forget(self, key: str) -> None:
        with self._changed:
            self._held.discard(key)
            self._changed.notify_all()


def _lock_key(owner: str, session_id: str) -> str:
    return f"{owner}\0{session_id}"


def _lock_number(key: str, bits: int) -> int:
    """A stable number for a lock key (a hash: a collision only serializes two sessions)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - bits)


class _Turns:
    """``turn`` and ``turn_running`` over a store's ``_TurnLocks``."""

    _turns: _TurnLocks

    def turn(self, owner: str, session_id: str, *, wait: float) -> AbstractContextManager[None]:
        """The session's turn lock, or SessionBusy after ``wait`` seconds (see the protocol)."""
        return self._turns.hold(owner, session_id, wait)

    def turn_running(self, owner: str, session_id: str) -> bool:
        """Whether some thread, process or replica holds the session's turn lock now."""
        return self._turns.running(owner, session_id)


@dataclass
class _Memory:
    messages: list[BaseMessage]
    events: list[StoredEvent]
    artifacts: dict[str, tuple[str, bytes]]
    last_event: int = 0


class MemoryStore(_Turns):
    """Conversations in this process's memory (lost on restart): for tests and experiments."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self.max_events = max_events
        self._sessions: dict[tuple[str, str], _Memory] = {}
        self._lock = threading.Lock()
        self._turns = _TurnLocks()

    def _get(self, owner: str, session_id: str) -> _Memory:
        """The session (created if needed); call under the lock."""
        return self._sessions.setdefault((owner, session_id), _Memory([], [], {}))

    def create(self, owner: str, session_id: str) -> None:
        """An empty conversation (nothing changes if it exists)."""
        with self._lock:
            self._get(owner, session_id)

    def load(self, owner: str, session_id: str) -> list[BaseMessage] | None:
        """A copy of the conversation's messages; None if there is no such session."""
        with self._lock:
            session = self._sessions.get((owner, session_id))
            return None if session is None else list(session.messages)

    def append_turn(self, owner: str, session_id: str, messages: Sequence[BaseMessage]) -> None:
        """Add one turn's messages, all or none: the new list replaces the old one at the end."""
        # Round-trip through the serialization SQLite uses, so both stores accept (and refuse)
        # the same messages and hand back copies nobody else can mutate.
        turn = messages_from_dict(list(_serialized(messages)))
        with self._lock:
            session = self._get(owner, session_id)
            session.messages = [*session.messages, *turn]

    def delete(self, owner: str, session_id: str) -> bool:
        """Forget the conversation; False if there was none."""
        with self._lock:
            return self._sessions.pop((owner, session_id), None) is not None

    def list(self, owner: str) -> list[str]:
        """The owner's session ids, oldest first (dicts keep insertion order)."""
        with self._lock:
            return [sid for own, sid in self._sessions if own == owner]

    def count(self, owner: str | None = None) -> int:
        """How many sessions the owner (or everyone) has."""
        with self._lock:
            return sum(1 for own, _ in self._sessions if owner in (None, own))

    def append_events(
        self, owner: str, session_id: str, events: Sequence[tuple[str, dict[str, Any]]]
    ) -> EventIds:
        """Store SSE events in order (data copied through JSON, as the databases do)."""
        copies = [(str(name), json.loads(json.dumps(data))) for name, data in events]
        with self._lock:
            session = self._get(owner, session_id)
            first = session.last_event + 1
            session.events += [StoredEvent(first + i, n, d) for i, (n, d) in enumerate(copies)]
            session.last_event += len(copies)
            del session.events[: -self.max_events]
            return list(range(first, first + len(copies)))

    def events_after(self, owner: str, session_id: str, after: int, limit: int = 500) -> Events:
        """The kept events with an id above ``after``, oldest first, at most ``limit``."""
        with self._lock:
            session = self._sessions.get((owner, session_id))
            events = [] if session is None else session.events
            return [e for e in events if e.id > after][: max(0, limit)]

    def put_artifact(
        self, owner: str, session_id: str, artifact_id: str, content_type: str, data: bytes
    ) -> None:
        """Store (or replace) one artifact of the session."""
        with self._lock:
            self._get(owner, session_id).artifacts[artifact_id] = (content_type, bytes(data))

    def get_artifact(
        self, owner: str, session_id: str, artifact_id: str
    ) -> tuple[str, bytes] | None:
        """The artifact's content type and bytes; None if there is no such."""
        with self._lock:
            session = self._sessions.get((owner, session_id))
            return None if session is None else session.artifacts.get(artifact_id)

    def close(self) -> None:
        """Nothing to release."""


class _Db:
    """One transaction's connection, with SQL written once for SQLite and Postgres.

    Statements use ``?`` placeholders; for Postgres they become ``%s``.
    """

    def __init__(self, connection: Any, *, postgres: bool) -> None:
        self._connection = connection
        self._postgres = postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._postgres else sql

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; returns how many rows it changed."""
        return int(self._connection.execute(self._sql(sql), params).rowcount)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of a query (None if it has none)."""
        return self._connection.execute(self._sql(sql), params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of a query."""
        return list(self._connection.execute(self._sql(sql), params).fetchall())

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute one statement per row."""
        if self._postgres:
            with self._connection.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)
        else:
            self._connection.executemany(sql, rows)


# {blob} and {real} differ: SQLite says BLOB and REAL, Postgres BYTEA and DOUBLE PRECISION.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    owner TEXT NOT NULL,
    id TEXT NOT NULL,
    created {real} NOT NULL,
    updated {real} NOT NULL,
    PRIMARY KEY (owner, id)
);
CREATE TABLE IF NOT EXISTS messages (
    owner TEXT NOT NULL,
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (owner, session_id, seq)
);
CREATE TABLE IF NOT EXISTS events (
    owner TEXT NOT NULL,
    session_id TEXT NOT NULL,
    id BIGINT NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (owner, session_id, id)
);
CREATE TABLE IF NOT EXISTS artifacts (
    owner TEXT NOT NULL,
    session_id TEXT NOT NULL,
    id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data {blob} NOT NULL,
    PRIMARY KEY (owner, session_id, id)
)
"""
_KEY = "owner=? AND session_id=?"


class _SqlStore(_Turns):
    """The SQL both databases share: subclasses give transactions and turn locks."""

    max_events: int
    _where: str  # for error messages: the file or the database

    def _transaction(
        self, *, write: bool = True, durable: bool = True
    ) -> AbstractContextManager[_Db]:
        """A transaction (COMMIT at the end of the block, ROLLBACK on an exception).

        ``durable=False`` may lose its commit to a power cut (never to a crash of the server):
        for replay data like SSE events, where waiting for the disk on every token would cost
        more than the event is worth. Messages are always durable.
        """
        raise NotImplementedError

    def _migrate(self, db: _Db, *, blob: str, real: str) -> None:
        """Create the tables and check or raise the schema version (call in a transaction)."""
        for statement in _SCHEMA.format(blob=blob, real=real).split(";"):
            db.run(statement)
        row = db.one("SELECT max(version) FROM schema_version")
        if row[0] is None:
            db.run("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            msg = f"{self._where} has schema {row[0]}; this server knows {SCHEMA_VERSION}"
            raise StoreUnavailable(msg)
        elif row[0] < SCHEMA_VERSION:
            # Version 2 only added tables, which CREATE TABLE IF NOT EXISTS just made.
            db.run("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    def create(self, owner: str, session_id: str) -> None:
        """An empty conversation (nothing changes if it exists)."""
        with self._transaction() as db:
            _ensure(db, owner, session_id)

    def load(self, owner: str, session_id: str) -> list[BaseMessage] | None:
        """The conversation's messages in order; None if there is no such session."""
        with self._transaction(write=False) as db:
            # One query (a round trip less to Postgres): no row, no session; one NULL, empty.
            rows = db.all(
                "SELECT m.body FROM sessions s LEFT JOIN messages m"
                " ON m.owner = s.owner AND m.session_id = s.id"
                " WHERE s.owner=? AND s.id=? ORDER BY m.seq",
                (owner, session_id),
            )
        if not rows:
            return None
        return messages_from_dict([json.loads(body) for (body,) in rows if body is not None])

    def append_turn(self, owner: str, session_id: str, messages: Sequence[BaseMessage]) -> None:
        """Add one turn's messages in one transaction: a failure on any rolls all back."""
        with self._transaction() as db:
            _ensure(db, owner, session_id)  # locks the session's row until COMMIT
            key = (owner, session_id)
            (last,) = db.one(f"SELECT coalesce(max(seq), -1) FROM messages WHERE {_KEY}", key)
            rows = [
                (owner, session_id, last + 1 + i, json.dumps(body))
                for i, body in enumerate(_serialized(messages))
            ]
            db.many("INSERT INTO messages VALUES (?, ?, ?, ?)", rows)

    def delete(self, owner: str, session_id: str) -> bool:
        """Forget the conversation, its events and artifacts; False if there was none."""
        with self._transaction() as db:
            key = (owner, session_id)
            for table in ("messages", "events", "artifacts"):
                db.run(f"DELETE FROM {table} WHERE {_KEY}", key)
            return db.run("DELETE FROM sessions WHERE owner=? AND id=?", key) > 0

    def list(self, owner: str) -> list[str]:
        """The owner's session ids, oldest first."""
        with self._transaction(write=False) as db:
            rows = db.all("SELECT id FROM sessions WHERE owner=? ORDER BY created, id", (owner,))
        return [sid for (sid,) in rows]

    def count(self, owner: str | None = None) -> int:
        """How many sessions the owner (or everyone) has."""
        with self._transaction(write=False) as db:
            if owner is None:
                row = db.one("SELECT count(*) FROM sessions")
            else:
                row = db.one("SELECT count(*) FROM sessions WHERE owner=?", (owner,))
        return int(row[0])

    def append_events(
        self, owner: str, session_id: str, events: Sequence[tuple[str, dict[str, Any]]]
    ) -> EventIds:
        """Store SSE events in one transaction; older ones beyond ``max_events`` go."""
        bodies = [(str(name), json.dumps(data)) for name, data in events]
        with self._transaction(durable=False) as db:
            _ensure(db, owner, session_id)  # the row lock orders concurrent appends
            key = (owner, session_id)
            (last,) = db.one(f"SELECT coalesce(max(id), 0) FROM events WHERE {_KEY}", key)
            ids = [last + 1 + i for i in range(len(bodies))]
            rows = [(owner, session_id, i, n, d) for i, (n, d) in zip(ids, bodies, strict=True)]
            db.many("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
            if ids and ids[-1] > self.max_events:  # only the last max_events stay
                db.run(
                    f"DELETE FROM events WHERE {_KEY} AND id <= ?",
                    (*key, ids[-1] - self.max_events),
                )
        return ids

    def events_after(self, owner: str, session_id: str, after: int, limit: int = 500) -> Events:
        """The kept events with an id above ``after``, oldest first, at most ``limit``."""
        with self._transaction(write=False) as db:
            rows = db.all(
                f"SELECT id, event, data FROM events WHERE {_KEY} AND id > ? ORDER BY id LIMIT ?",
                (owner, session_id, after, max(0, limit)),
            )
        return [StoredEvent(int(i), str(n), json.loads(d)) for i, n, d in rows]

    def put_artifact(
        self, owner: str, session_id: str, artifact_id: str, content_type: str, data: bytes
    ) -> None:
        """Store (or replace) one artifact of the session."""
        with self._transaction() as db:
            _ensure(db, owner, session_id)
            db.run(
                "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner, session_id, id)"
                " DO UPDATE SET content_type = excluded.content_type, data = excluded.data",
                (owner, session_id, artifact_id, content_type, bytes(data)),
            )

    def get_artifact(
        self, owner: str, session_id: str, artifact_id: str
    ) -> tuple[str, bytes] | None:
        """The artifact's content type and bytes; None if there is no such."""
        with self._transaction(write=False) as db:
            row = db.one(
                f"SELECT content_type, data FROM artifacts WHERE {_KEY} AND id=?",
                (owner, session_id, artifact_id),
            )
        return None if row is None else (str(row[0]), bytes(row[1]))


class _LockFile:
    """POSIX record locks on one lock file, one byte per session, shared in this process.

    The kernel drops a process's record locks when it dies, so a killed server never leaves
    a session locked. Record locks belong to the process, and closing any descriptor of the
    file drops them all: so every store of this process on one file shares one descriptor
    and one ``_TurnLocks`` (which keeps this process's threads apart).
    """

    _open: dict[str, tuple[_LockFile, int]] = {}  # path -> (lock file, stores using it)
    _guard = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.turns = _TurnLocks(self._claim, self._drop)

    @classmethod
    def acquire(cls, path: Path) -> _LockFile:
        """The process's lock file at ``path`` (opened on first use)."""
        key = os.path.realpath(path)
        with cls._guard:
            lock_file, users = cls._open.get(key) or (cls(key), 0)
            cls._open[key] = (lock_file, users + 1)
            return lock_file

    def release(self) -> None:
        """One store less; the last one closes the descriptor."""
        with self._guard:
            lock_file, users = self._open[self.path]
            if users > 1:
                self._open[self.path] = (lock_file, users - 1)
                return
            del self._open[self.path]
            os.close(self._fd)

    def _claim(self, key: str) -> bool:
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _lock_number(key, 62))
        except OSError:  # EAGAIN or EACCES: another process holds it
            return False
        return True

    def _drop(self, key: str) -> None:
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, _lock_number(key, 62))


class SqliteStore(_SqlStore):
    """Conversations in one SQLite file (WAL mode), which survives restarts.

    One connection, used by one thread at a time (a lock): SQLite writes one transaction at a
    time anyway, and the server reaches it from worker threads, never from the event loop.
    Turn locks are POSIX record locks on ``<file>-turns`` beside the database, so several
    processes on one file exclude each other and a killed one holds nothing.
    """

    def __init__(self, path: str | Path, *, max_events: int = MAX_EVENTS) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self._where = str(self.path)
        self._lock = threading.Lock()
        self._closed = False
        # The file holds every conversation: the owner's alone, and SQLite gives its -wal and
        # -shm files the database's mode. Made here before SQLite would make it 0644.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        # Autocommit mode: every transaction here is an explicit BEGIN ... COMMIT.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")  # another process may hold the write lock
        with self._transaction() as db:
            self._migrate(db, blob="BLOB", real="REAL")
        self._lock_file = _LockFile.acquire(self.path.with_name(self.path.name + "-turns"))
        self._turns = self._lock_file.turns

    def _transaction(
        self, *, write: bool = True, durable: bool = True
    ) -> AbstractContextManager[_Db]:
        return _Transaction(self._db, self._lock, write=write, durable=durable)

    def close(self) -> None:
        """Close the connection (and the lock file, once no store of this process uses it)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.close()
        self._lock_file.release()


class _Transaction:
    """``with``: the lock, BEGIN, then COMMIT, or ROLLBACK on any exception."""

    def __init__(
        self, db: sqlite3.Connection, lock: threading.Lock, *, write: bool, durable: bool = True
    ) -> None:
        self._db = db
        self._lock = lock
        self._write = write
        self._durable = durable

    def __enter__(self) -> _Db:
        self._lock.acquire()
        try:
            if self._write:
                # FULL: the commit waits for the WAL on disk. NORMAL (WAL mode): it is safe from
                # a crash of this process, and the next FULL commit makes it durable too.
                self._db.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
            # A writer takes the write lock first (IMMEDIATE), so two processes never both read
            # a max(seq); a reader's snapshot (WAL) blocks nobody.
            self._db.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        except BaseException:
            self._lock.release()
            raise
        return _Db(self._db, postgres=False)

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self._lock.release()


class PostgresStore(_SqlStore):
    """Conversations in Postgres, shared by every replica (psycopg 3 with a pool).

    Turn locks are session-level advisory locks held on one dedicated connection of this
    store (many locks on one connection: a replica never needs a connection per turn); if
    the replica dies its connection closes and the server releases them.
    """

    def __init__(
        self, url: str, *, max_events: int = MAX_EVENTS, pool_size: int = 10, connect: float = 10
    ) -> None:
        from psycopg_pool import ConnectionPool, PoolTimeout

        self.url = url
        self.max_events = max_events
        self._where = "the database"
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            url, min_size=1, max_size=pool_size, open=True, timeout=30
        )
        self._lock_guard = threading.Lock()
        self._locker: psycopg.Connection[tuple[Any, ...]] | None = None
        self._turns = _TurnLocks(self._claim, self._drop)
        try:
            try:
                self._pool.wait(timeout=connect)  # a wrong URL fails now, not at the first turn
            except PoolTimeout as exc:
                msg = f"cannot reach the database in {connect:g} s: {exc}"
                raise StoreUnavailable(msg) from exc
            with self._transaction() as db:
                # Two replicas starting at once would race on CREATE TABLE IF NOT EXISTS.
                db.run("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
                self._migrate(db, blob="BYTEA", real="DOUBLE PRECISION")
        except BaseException:
            self._pool.close()
            raise

    @contextlib.contextmanager
    def _transaction(self, *, write: bool = True, durable: bool = True) -> Iterator[_Db]:
        del write  # READ COMMITTED; writers order themselves on the session's row lock
        with self._pool.connection() as connection:  # COMMIT, or ROLLBACK on an exception
            db = _Db(connection, postgres=True)
            if not durable:  # the commit does not wait for the WAL flush (never corrupts)
                db.run("SET LOCAL synchronous_commit = off")
            yield db

    def _lock_connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The connection holding this store's advisory locks (reopened if it broke)."""
        import psycopg

        if self._locker is None or self._locker.closed or self._locker.broken:
            # Keepalives: a connection that silently died must not look alive for hours.
            self._locker = psycopg.connect(
                self.url, autocommit=True, keepalives=1, keepalives_idle=30, keepalives_count=3
            )
        return self._locker

    def _claim(self, key: str) -> bool:
        import psycopg

        number = _signed(_lock_number(key, 64))
        with self._lock_guard:
            try:
                row = self._lock_connection().execute(_TRY_LOCK, (number,)).fetchone()
            except psycopg.OperationalError:
                # The connection died (a restarted database, a killed backend), and the locks
                # it held with it: log it, and take this one on a new connection.
                log.warning("the turn-lock connection was lost; reconnecting", exc_info=True)
                if self._locker is not None:
                    self._locker.close()
                row = self._lock_connection().execute(_TRY_LOCK, (number,)).fetchone()
        return bool(row and row[0])

    def _drop(self, key: str) -> None:
        import psycopg

        # A broken connection took the lock with it: nothing is left to release.
        with self._lock_guard, contextlib.suppress(psycopg.OperationalError):
            self._lock_connection().execute(
                "SELECT pg_advisory_unlock(%s)", (_signed(_lock_number(key, 64)),)
            )

    def close(self) -> None:
        """Close the pool and the lock connection (which releases its advisory locks)."""
        self._pool.close()
        with self._lock_guard:
            if self._locker is not None:
                self._locker.close()


_TRY_LOCK = "SELECT pg_try_advisory_lock(%s)"
_SCHEMA_LOCK = 0x6866_746F_6F6C_7300 >> 1  # "hftools" in an advisory lock id of its own


def _signed(number: int) -> int:
    """A 64-bit unsigned number as Postgres' signed BIGINT."""
    return number - (1 << 64) if number >= 1 << 63 else number


def _ensure(db: _Db, owner: str, session_id: str) -> None:
    now = time.time()
    db.run(
        "INSERT INTO sessions VALUES (?, ?, ?, ?)"
        " ON CONFLICT (owner, id) DO UPDATE SET updated = excluded.updated",
        (owner, session_id, now, now),
    )


def _serialized(messages: Sequence[BaseMessage]) -> Iterator[dict[str, object]]:
    """Each message as LangChain's dict, one at a time (a bad one fails where it stands)."""
    for message in messages:
        if not isinstance(message, BaseMessage):
            msg = f"a turn holds messages, not {type(message).__name__}"
            raise TypeError(msg)
        yield from messages_to_dict([message])


def open_store(url: str) -> ConversationStore:
    """The store a ``--store`` URL names: ``memory``, ``sqlite:///path.db`` or Postgres.

    Raises:
        ValueError: any other URL.
        StoreUnavailable: the database is unreachable or newer than this code.
        OSError: the SQLite file cannot be opened.
    """
    if url in ("memory", "memory://"):
        return MemoryStore()
    prefix = "sqlite:///"
    if url.startswith(prefix) and len(url) > len(prefix):
        return SqliteStore(url[len(prefix) :])
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    msg = f"--store takes memory, sqlite:///path.db or postgresql://..., got {url!r}"
    raise ValueError(msg)
