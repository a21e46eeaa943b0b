"""The conversation store contract, the same assertions for memory, SQLite and Postgres.

The Postgres cases run when ``HF_TOOLS_TEST_POSTGRES`` holds the URL of a scratch database
(``.ci/run`` starts one); each test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from benchmarks.chatbot_procs import child_env
from benchmarks.chatbot_procs import postgres_schema as scratch_schema
from hf_tools.serve.store import (
    SCHEMA_VERSION,
    ConversationStore,
    MemoryStore,
    PostgresStore,
    SessionBusy,
    SqliteStore,
    StoredEvent,
    StoreUnavailable,
    open_store,
)
from hf_tools.testing import tool_call

Factory = Callable[[], ConversationStore]
POSTGRES = os.environ.get("HF_TOOLS_TEST_POSTGRES", "")
NO_POSTGRES = (
    "HF_TOOLS_TEST_POSTGRES is not set: export a postgresql:// URL of a scratch database"
    " to run the Postgres cases (.ci/run starts one)"
)
needs_postgres = pytest.mark.skipif(not POSTGRES, reason=NO_POSTGRES)
# The stores reach Postgres over TCP on loopback (pytest-socket blocks everything else).
pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1", "::1"])]


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL of the test database whose connections use a new empty schema, dropped after."""
    with scratch_schema(POSTGRES, "test") as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=needs_postgres)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Opens a store; each call opens the same database again (a restart, or a replica)."""
    opened: list[ConversationStore] = []
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_schema()) if request.param == "postgres" else ""

        def make() -> ConversationStore:
            store: ConversationStore
            if request.param == "memory":
                store = opened[0] if opened else MemoryStore()
            elif request.param == "sqlite":
                store = SqliteStore(tmp_path / "chat.db")
            else:
                store = PostgresStore(url, pool_size=4)
            opened.append(store)
            return store

        make.url = url or f"sqlite:///{tmp_path / 'chat.db'}"  # type: ignore[attr-defined]
        make.kind = request.param  # type: ignore[attr-defined]
        yield make
        for store in opened:
            store.close()


def _turn(i: int) -> list[BaseMessage]:
    return [
        HumanMessage(f"q{i}"),
        AIMessage("", tool_calls=[tool_call("image_segmentation", f"c{i}", image="x.png")]),
        ToolMessage("2 masks", tool_call_id=f"c{i}", name="image_segmentation"),
        AIMessage(f"a{i}", response_metadata={"model": "m"}),
    ]


def test_the_contract(make_store: Factory) -> None:
    store = make_store()
    assert store.load("k", "s") is None and store.count() == 0
    store.create("k", "s")
    store.create("k", "s")  # idempotent
    assert store.load("k", "s") == []
    store.append_turn("k", "s", _turn(0))
    store.append_turn("k", "s", _turn(1))
    loaded = store.load("k", "s")
    assert loaded == _turn(0) + _turn(1)  # types, tool calls, ids and metadata round-trip
    assert loaded is not None and isinstance(loaded[2], ToolMessage)
    assert loaded[1].tool_calls[0]["args"] == {"image": "x.png"}  # type: ignore[attr-defined]
    # Owners are apart: another key's "s" is another session, and it is counted apart.
    assert store.load("other", "s") is None
    store.append_turn("other", "t", _turn(9))  # appending creates the session
    store.create("k", "s2")
    assert store.list("k") == ["s", "s2"] and store.list("other") == ["t"]
    assert (store.count("k"), store.count("other"), store.count()) == (2, 1, 3)
    assert store.delete("k", "s") is True and store.delete("k", "s") is False
    assert store.load("k", "s") is None and store.count() == 2
    store.append_turn("k", "s", _turn(5))  # a deleted id starts over, without its old turns
    assert store.load("k", "s") == _turn(5)


def test_a_turn_that_fails_midway_leaves_nothing(make_store: Factory) -> None:
    store = make_store()
    store.append_turn("k", "s", _turn(0))
    broken: list[Any] = [HumanMessage("q1"), AIMessage("a1"), object()]  # third one fails
    with pytest.raises(TypeError, match="not object"):
        store.append_turn("k", "s", broken)
    assert store.load("k", "s") == _turn(0)
    store.append_turn("k", "s", _turn(1))  # and the store still works (no open transaction)
    assert store.load("k", "s") == _turn(0) + _turn(1)


def test_conversations_survive_a_restart(make_store: Factory) -> None:
    first = make_store()
    first.append_turn("k", "s", _turn(0))
    first.close()
    again = make_store()
    assert again.load("k", "s") == _turn(0)
    again.append_turn("k", "s", _turn(1))
    assert again.load("k", "s") == _turn(0) + _turn(1)


def test_sqlite_schema_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    SqliteStore(path).close()
    SqliteStore(path).close()  # opening again does not add a second version row
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(StoreUnavailable, match="has schema"):
        SqliteStore(path)  # a newer server's file is never written by an older one


def test_sqlite_files_are_the_owners_alone(tmp_path: Path) -> None:
    """The database, its -wal and -shm and the -turns lock file are 0600, whatever the umask."""
    old = os.umask(0o022)
    try:
        store = SqliteStore(tmp_path / "chatbot.db")
        store.append_turn("k", "s", _turn(0))  # a write: the WAL and shared memory exist
        names = ["chatbot.db", "chatbot.db-wal", "chatbot.db-shm", "chatbot.db-turns"]
        modes = {name: (tmp_path / name).stat().st_mode & 0o777 for name in names}
        store.close()
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(names, 0o600)


def test_open_store_by_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_store("memory"), MemoryStore)
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///chat.db")
    assert isinstance(relative, SqliteStore) and (tmp_path / "chat.db").is_file()
    relative.close()
    absolute = open_store(f"sqlite:///{tmp_path / 'abs.db'}")  # four slashes: absolute
    assert (tmp_path / "abs.db").is_file()
    absolute.close()
    for bad in ("mysql://db/chat", "sqlite:///", "chat.db"):
        with pytest.raises(ValueError, match="--store takes"):
            open_store(bad)


def test_two_connections_on_one_file_never_lose_a_turn(tmp_path: Path) -> None:
    # Two servers on one file: each turn takes the write lock before reading the last seq, so
    # concurrent appends interleave whole turns and none overwrites another.
    stores = [SqliteStore(tmp_path / "chat.db") for _ in range(2)]

    def _append(store: SqliteStore, base: int) -> None:
        for i in range(base, base + 10):
            store.append_turn("k", "s", _turn(i))

    threads = [threading.Thread(target=_append, args=(s, 100 * n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loaded = stores[0].load("k", "s") or []
    assert len(loaded) == 80
    turns = [loaded[i : i + 4] for i in range(0, 80, 4)]
    assert sorted(str(t[0].content) for t in turns) == sorted(
        f"q{i}" for base in (0, 100) for i in range(base, base + 10)
    )
    assert all(t == _turn(int(str(t[0].content)[1:])) for t in turns)  # never interleaved
    for store in stores:
        store.close()


# --- Turn locks, events and artifacts (issue 13, phase 2) ------------------------------------


def test_turns_of_one_session_run_one_at_a_time(make_store: Factory) -> None:
    store, replica = make_store(), make_store()  # replica: another server on the same data
    with store.turn("k", "s", wait=0):
        assert store.turn_running("k", "s") and replica.turn_running("k", "s")
        assert not replica.turn_running("k", "s2") and not replica.turn_running("other", "s")
        started = time.monotonic()
        with (
            pytest.raises(SessionBusy, match="runs another turn"),
            replica.turn("k", "s", wait=0.2),
        ):
            pass
        assert 0.2 <= time.monotonic() - started < 2  # it waited, and not much longer
        with pytest.raises(SessionBusy), store.turn("k", "s", wait=0):
            pass  # not re-entrant: the same store refuses a second turn too
        with replica.turn("k", "s2", wait=0), replica.turn("other", "s", wait=0):
            pass  # other sessions, and another owner's "s", are free
        assert store.turn_running("k", "s")  # probing and refusing left the lock held
    assert not store.turn_running("k", "s") and not replica.turn_running("k", "s")


def test_a_waiting_turn_starts_when_the_running_one_ends(make_store: Factory) -> None:
    store, replica = make_store(), make_store()
    order: list[str] = []

    def second() -> None:
        with replica.turn("k", "s", wait=5):
            order.append("second")

    with store.turn("k", "s", wait=0):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.2)
        order.append("first")
    thread.join(timeout=5)
    assert order == ["first", "second"]


def test_a_turn_lock_may_be_entered_and_left_on_different_threads(make_store: Factory) -> None:
    # The server enters and leaves through asyncio.to_thread, on whichever worker is free.
    store = make_store()
    lock = store.turn("k", "s", wait=0)
    for step in (lock.__enter__, lambda: lock.__exit__(None, None, None)):
        thread = threading.Thread(target=step)
        thread.start()
        thread.join(timeout=5)
        if step is lock.__enter__:
            assert store.turn_running("k", "s")
    assert not store.turn_running("k", "s")
    with store.turn("k", "s", wait=0):
        pass


_HOLDER = """
import sys, time
from hf_tools.serve.store import open_store
store = open_store(sys.argv[1])
with store.turn("k", "s", wait=5):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_killed_process_leaves_no_session_locked(make_store: Factory) -> None:
    store = make_store()
    if isinstance(store, MemoryStore):
        pytest.skip("a memory store lives in one process")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, make_store.url],  # type: ignore[attr-defined]
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
        env=child_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert store.turn_running("k", "s")  # another process's turn is seen
        with pytest.raises(SessionBusy), store.turn("k", "s", wait=0.2):
            pass
        os.kill(holder.pid, signal.SIGKILL)  # no cleanup runs: the kernel or Postgres drops it
        holder.wait(timeout=10)
        with store.turn("k", "s", wait=5):
            assert store.turn_running("k", "s")
        assert not store.turn_running("k", "s")
    finally:
        holder.kill()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()


def test_events_resume_after_an_id_on_any_replica(make_store: Factory) -> None:
    store, replica = make_store(), make_store()
    assert store.events_after("k", "s", 0) == []
    final = {"answer": "a", "artifacts": [{"id": "img1"}], "n": [1, 2.5, None]}
    assert store.append_events("k", "s", [("token", {"text": "a"}), ("final", final)]) == [1, 2]
    assert replica.events_after("k", "s", 0) == [
        StoredEvent(1, "token", {"text": "a"}),
        StoredEvent(2, "final", final),
    ]
    assert [e.id for e in replica.events_after("k", "s", 1)] == [2]
    assert store.append_events("k", "s", []) == []
    assert replica.append_events("k", "s", [("token", {"text": "b"})]) == [3]
    assert [e.id for e in store.events_after("k", "s", 0, limit=2)] == [1, 2]
    assert store.events_after("other", "s", 0) == [] and store.events_after("k", "s", 3) == []


def test_concurrent_replicas_never_reuse_an_event_id(make_store: Factory) -> None:
    stores = [make_store(), make_store()]
    ids: list[int] = []

    def append(store: ConversationStore) -> None:
        for i in range(15):
            ids.extend(store.append_events("k", "s", [("token", {"i": i})] * 2))

    threads = [threading.Thread(target=append, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(ids) == list(range(1, 61))
    assert [e.id for e in stores[0].events_after("k", "s", 0, limit=100)] == list(range(1, 61))


def test_only_the_last_events_are_kept_and_they_go_with_the_session(make_store: Factory) -> None:
    store = make_store()
    store.max_events = 5  # type: ignore[attr-defined]
    store.append_events("k", "s", [("token", {"i": i}) for i in range(3)])
    assert store.append_events("k", "s", [("token", {"i": i}) for i in range(10)]) == list(
        range(4, 14)
    )
    kept = store.events_after("k", "s", 0)
    assert [e.id for e in kept] == list(range(9, 14)) and kept[-1].data == {"i": 9}
    assert store.append_events("k", "s", [("final", {})]) == [14]  # ids go on from the newest
    assert store.delete("k", "s")
    assert store.events_after("k", "s", 0) == []


def test_artifacts_are_blobs_of_their_session(make_store: Factory) -> None:
    store, replica = make_store(), make_store()
    png = bytes(range(256)) * 64  # every byte value survives
    store.create("k", "s")
    store.put_artifact("k", "s", "img1", "image/png", png)
    assert replica.get_artifact("k", "s", "img1") == ("image/png", png)
    assert replica.get_artifact("other", "s", "img1") is None  # another owner sees nothing
    assert replica.get_artifact("k", "s", "img2") is None
    replica.put_artifact("k", "s", "img1", "image/webp", b"RIFF")  # replaced, not added
    assert store.get_artifact("k", "s", "img1") == ("image/webp", b"RIFF")
    assert store.load("k", "s") == []  # an artifact is no message: the model never gets it
    assert store.delete("k", "s")
    assert store.get_artifact("k", "s", "img1") is None


def test_a_version_1_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version"
        " VALUES (1); CREATE TABLE sessions (owner TEXT NOT NULL, id TEXT NOT NULL, created"
        " REAL NOT NULL, updated REAL NOT NULL, PRIMARY KEY (owner, id)); CREATE TABLE"
        " messages (owner TEXT NOT NULL, session_id TEXT NOT NULL, seq INTEGER NOT NULL, body"
        " TEXT NOT NULL, PRIMARY KEY (owner, session_id, seq));"
    )
    db.close()
    v1 = SqliteStore(path)
    v1.append_turn("k", "s", _turn(0))
    v1.close()
    store = SqliteStore(path)
    assert store.load("k", "s") == _turn(0)
    assert store.append_events("k", "s", [("final", {})]) == [1]
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    db.close()


@needs_postgres
def test_postgres_schema_is_versioned_and_replicas_may_start_at_once() -> None:
    import psycopg

    with postgres_schema() as url:
        stores: list[ConversationStore] = []
        threads = [threading.Thread(target=lambda: stores.append(open_store(url))) for _ in "ab"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(stores) == 2 and all(isinstance(s, PostgresStore) for s in stores)
        for store in stores:
            store.close()
        with psycopg.connect(url, autocommit=True) as db:
            rows = db.execute("SELECT version FROM schema_version").fetchall()
            assert rows == [(SCHEMA_VERSION,)]
            db.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
        with pytest.raises(StoreUnavailable, match="has schema"):
            PostgresStore(url)


def test_postgres_cases_say_why_they_are_skipped() -> None:
    # `pytest -rs` (make test) prints this reason when HF_TOOLS_TEST_POSTGRES is unset.
    assert "HF_TOOLS_TEST_POSTGRES" in NO_POSTGRES and needs_postgres.kwargs["reason"]


def test_an_unreachable_postgres_fails_at_start_and_says_so() -> None:
    # Port 1 on loopback refuses at once: the server stops at start, not at its first turn.
    with pytest.raises(StoreUnavailable, match="cannot reach the database"):
        PostgresStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", connect=0.5)


def test_sqlite_commits_messages_to_disk_and_events_to_the_os(tmp_path: Path) -> None:
    # Events are replay data written once per token: their commits skip the fsync a turn's
    # messages wait for (synchronous=FULL), which then carries the events to disk too.
    store = SqliteStore(tmp_path / "chat.db")
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    store.append_events("k", "s", [("token", {"text": "a"})])
    store.append_turn("k", "s", _turn(0))
    store.load("k", "s")
    pragmas = [s for s in statements if s.startswith("PRAGMA synchronous")]
    assert pragmas == ["PRAGMA synchronous=NORMAL", "PRAGMA synchronous=FULL"]
    store.close()


@needs_postgres
def test_postgres_turn_locks_go_on_after_the_lock_connection_dies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import psycopg

    with postgres_schema() as url:
        store = PostgresStore(url, pool_size=2)
        try:
            with store.turn("k", "s", wait=0):
                pass
            locker = store._locker
            assert locker is not None
            with psycopg.connect(url, autocommit=True) as admin:  # a restart, a killed backend
                admin.execute("SELECT pg_terminate_backend(%s)", (locker.info.backend_pid,))
            with store.turn("k", "s", wait=1):
                assert store.turn_running("k", "s")
            assert not store.turn_running("k", "s")
            assert "turn-lock connection was lost" in caplog.text
        finally:
            store.close()
