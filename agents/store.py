"""Where the chatbot keeps conversations: one small interface, in memory or in SQLite.

A conversation belongs to an owner (an API key's hash) and has an id; its messages are stored
with LangChain's own serialization (``messages_to_dict``), so any message type round-trips.
A turn (the user's message and everything the agent added) is appended atomically: all of it
or none of it. The methods are blocking; the server calls them through ``asyncio.to_thread``
so the event loop never waits on a disk.

``open_store(url)`` picks the implementation: ``memory`` or ``sqlite:///path.db`` (as in
SQLAlchemy: three slashes and a relative path, four for an absolute one).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from langchain_core.messages import BaseMessage, messages_from_dict, messages_to_dict

__all__ = [
    "DEFAULT_STORE",
    "SCHEMA_VERSION",
    "ConversationStore",
    "MemoryStore",
    "SqliteStore",
    "open_store",
]

DEFAULT_STORE = "sqlite:///chatbot.db"  # a file next to where the server runs
SCHEMA_VERSION = 1


class ConversationStore(Protocol):
    """Conversations by owner and session id; every method is blocking and thread-safe."""

    def create(self, owner: str, session_id: str) -> None:
        """An empty conversation (nothing changes if it exists)."""

    def load(self, owner: str, session_id: str) -> list[BaseMessage] | None:
        """The conversation's messages in order; None if the owner has no such session."""

    def append_turn(self, owner: str, session_id: str, messages: Sequence[BaseMessage]) -> None:
        """Add one turn's messages, all or none (the session is created if needed)."""

    def delete(self, owner: str, session_id: str) -> bool:
        """Forget the conversation; False if there was none."""

    def list(self, owner: str) -> list[str]:
        """The owner's session ids, oldest first."""

    def count(self, owner: str | None = None) -> int:
        """How many sessions the owner (or everyone) has."""

    def close(self) -> None:
        """Release the store's resources."""


class MemoryStore:
    """Conversations in this process's memory (lost on restart): for tests and experiments."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], list[BaseMessage]] = {}
        self._lock = threading.Lock()

    def create(self, owner: str, session_id: str) -> None:
        """An empty conversation (nothing changes if it exists)."""
        with self._lock:
            self._sessions.setdefault((owner, session_id), [])

    def load(self, owner: str, session_id: str) -> list[BaseMessage] | None:
        """A copy of the conversation's messages; None if there is no such session."""
        with self._lock:
            messages = self._sessions.get((owner, session_id))
            return None if messages is None else list(messages)

    def append_turn(self, owner: str, session_id: str, messages: Sequence[BaseMessage]) -> None:
        """Add one turn's messages, all or none: the new list replaces the old one at the end."""
        # Round-trip through the serialization SQLite uses, so both stores accept (and refuse)
        # the same messages and hand back copies nobody else can mutate.
        turn = messages_from_dict(list(_serialized(messages)))
        with self._lock:
            old = self._sessions.get((owner, session_id), [])
            self._sessions[(owner, session_id)] = [*old, *turn]

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

    def close(self) -> None:
        """Nothing to release."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    owner TEXT NOT NULL,
    id TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (owner, id)
);
CREATE TABLE IF NOT EXISTS messages (
    owner TEXT NOT NULL,
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (owner, session_id, seq)
);
"""


class SqliteStore:
    """Conversations in one SQLite file (WAL mode), which survives restarts.

    One connection, used by one thread at a time (a lock): SQLite writes one transaction at a
    time anyway, and the server reaches it from worker threads, never from the event loop.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        # Autocommit mode: every transaction here is an explicit BEGIN ... COMMIT.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")  # another process may hold the write lock
        with self._transaction() as db:
            # One statement at a time: executescript would COMMIT the open transaction.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            if row[0] is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                msg = f"{self.path} has schema {row[0]}; this server knows {SCHEMA_VERSION}"
                raise RuntimeError(msg)

    def _transaction(self, *, write: bool = True) -> _Transaction:
        return _Transaction(self._db, self._lock, write=write)

    def create(self, owner: str, session_id: str) -> None:
        """An empty conversation (nothing changes if it exists)."""
        with self._transaction() as db:
            _ensure(db, owner, session_id)

    def load(self, owner: str, session_id: str) -> list[BaseMessage] | None:
        """The conversation's messages in order; None if there is no such session."""
        with self._transaction(write=False) as db:
            key = (owner, session_id)
            if db.execute("SELECT 1 FROM sessions WHERE owner=? AND id=?", key).fetchone() is None:
                return None
            rows = db.execute(
                "SELECT body FROM messages WHERE owner=? AND session_id=? ORDER BY seq", key
            ).fetchall()
        return messages_from_dict([json.loads(body) for (body,) in rows])

    def append_turn(self, owner: str, session_id: str, messages: Sequence[BaseMessage]) -> None:
        """Add one turn's messages in one transaction: a failure on any rolls all back."""
        with self._transaction() as db:
            _ensure(db, owner, session_id)
            key = (owner, session_id)
            (last,) = db.execute(
                "SELECT coalesce(max(seq), -1) FROM messages WHERE owner=? AND session_id=?", key
            ).fetchone()
            rows = (
                (owner, session_id, last + 1 + i, json.dumps(body))
                for i, body in enumerate(_serialized(messages))
            )
            db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?)", rows)

    def delete(self, owner: str, session_id: str) -> bool:
        """Forget the conversation and its messages; False if there was none."""
        with self._transaction() as db:
            key = (owner, session_id)
            db.execute("DELETE FROM messages WHERE owner=? AND session_id=?", key)
            return db.execute("DELETE FROM sessions WHERE owner=? AND id=?", key).rowcount > 0

    def list(self, owner: str) -> list[str]:
        """The owner's session ids, oldest first."""
        with self._transaction(write=False) as db:
            rows = db.execute(
                "SELECT id FROM sessions WHERE owner=? ORDER BY created, rowid", (owner,)
            ).fetchall()
        return [sid for (sid,) in rows]

    def count(self, owner: str | None = None) -> int:
        """How many sessions the owner (or everyone) has."""
        with self._transaction(write=False) as db:
            if owner is None:
                row = db.execute("SELECT count(*) FROM sessions").fetchone()
            else:
                row = db.execute("SELECT count(*) FROM sessions WHERE owner=?", (owner,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


class _Transaction:
    """``with``: the lock, BEGIN, then COMMIT, or ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, *, write: bool) -> None:
        self._db = db
        self._lock = lock
        self._write = write

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            # A writer takes the write lock first (IMMEDIATE), so two processes never both read
            # a max(seq); a reader's snapshot (WAL) blocks nobody.
            self._db.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self._lock.release()


def _ensure(db: sqlite3.Connection, owner: str, session_id: str) -> None:
    now = time.time()
    db.execute(
        "INSERT INTO sessions VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO UPDATE SET updated = excluded.updated",
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
    """The store a ``--store`` URL names: ``memory`` or ``sqlite:///path.db``.

    Raises:
        ValueError: any other URL (Postgres comes later).
    """
    if url in ("memory", "memory://"):
        return MemoryStore()
    prefix = "sqlite:///"
    if url.startswith(prefix) and len(url) > len(prefix):
        return SqliteStore(url[len(prefix) :])
    msg = f"--store takes memory or sqlite:///path.db, got {url!r}"
    raise ValueError(msg)
