"""The conversation store contract, the same assertions for memory and SQLite."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agents.store import (
    SCHEMA_VERSION,
    ConversationStore,
    MemoryStore,
    SqliteStore,
    open_store,
)
from hf_tools.testing import tool_call

Factory = Callable[[], ConversationStore]


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Opens a store; for SQLite every call opens the same file again (a restarted server)."""
    opened: list[ConversationStore] = []

    def make() -> ConversationStore:
        store: ConversationStore
        if request.param == "memory":
            store = opened[0] if opened else MemoryStore()
        else:
            store = SqliteStore(tmp_path / "chat.db")
        opened.append(store)
        return store

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
    with pytest.raises(RuntimeError, match="has schema"):
        SqliteStore(path)  # a newer server's file is never written by an older one


def test_open_store_by_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_store("memory"), MemoryStore)
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///chat.db")
    assert isinstance(relative, SqliteStore) and (tmp_path / "chat.db").is_file()
    relative.close()
    absolute = open_store(f"sqlite:///{tmp_path / 'abs.db'}")  # four slashes: absolute
    assert (tmp_path / "abs.db").is_file()
    absolute.close()
    for bad in ("postgresql://db/chat", "sqlite:///", "chat.db"):
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
