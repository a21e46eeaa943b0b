"""Several chatbot servers on one store: any replica serves any session, turns never overlap.

In process, apps on one SQLite file stand for replicas (each has its own store object, as
separate processes would). Then real ``python -m hf_tools.serve`` processes against a
scripted OpenAI-compatible model on loopback (``benchmarks.chatbot_procs``): on SQLite always,
on a shared Postgres when ``HF_TOOLS_TEST_POSTGRES`` is set (skipped, saying why, when not).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import BaseMessage
from starlette.testclient import TestClient

from benchmarks.chatbot_procs import ModelProcess, Replica, answer_to
from hf_tools.langchain.agent import Agent
from hf_tools.serve.app import create_app
from hf_tools.serve.sessions import SessionStore
from hf_tools.serve.store import MemoryStore, SqliteStore
from hf_tools.testing import ScriptedChatModel

from .test_store import needs_postgres, postgres_schema

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1", "::1"])]

_KEY = "replica-key"
_AUTH = {"Authorization": f"Bearer {_KEY}"}


def _answer(messages: list[BaseMessage]) -> str:
    said = [m for m in messages if m.type != "system"]
    return answer_to(str(said[-1].content), len(said))


def _app(path: Path, *, turn_wait: float = 10.0, reply: Callable[..., str] = _answer) -> TestClient:
    """One replica: its own store object on the shared file, a model that answers forever."""
    model = ScriptedChatModel(replies=[reply] * 50)
    app = create_app(
        Agent(model, []), api_keys=[_KEY], store=SqliteStore(path), turn_wait=turn_wait
    )
    return TestClient(app)


def _say(client: TestClient | httpx.Client, session: str, text: str) -> Any:
    response = client.post(f"/sessions/{session}/messages", json={"message": text}, headers=_AUTH)
    assert response.status_code == 200, response.text
    return response.json()["answer"]


def _history(client: TestClient | httpx.Client, session: str) -> list[str]:
    response = client.get(f"/sessions/{session}", headers=_AUTH)
    assert response.status_code == 200, response.text
    return [m["content"] for m in response.json()["messages"]]


def _turns(*pairs: tuple[str, int]) -> list[str]:
    """The history of turns ``(text, messages the model saw)``."""
    return [part for text, seen in pairs for part in (text, answer_to(text, seen))]


def test_each_turn_reads_what_other_replicas_recorded(tmp_path: Path) -> None:
    # Each replica once cached the history it had loaded: the third turn then went to the
    # model without the second, which the other replica had recorded.
    with _app(tmp_path / "chat.db") as a, _app(tmp_path / "chat.db") as b:
        session = a.post("/sessions", json={}, headers=_AUTH).json()["id"]
        assert _say(a, session, "one") == answer_to("one", 1)
        assert _say(b, session, "two") == answer_to("two", 3)
        assert _say(a, session, "three") == answer_to("three", 5)
        expected = _turns(("one", 1), ("two", 3), ("three", 5))
        assert _history(a, session) == _history(b, session) == expected


def test_a_turn_on_another_replica_waits_its_turn_or_gets_409(tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(messages: list[BaseMessage]) -> str:
        entered.set()
        assert release.wait(10)
        return _answer(messages)

    db = tmp_path / "chat.db"
    with (
        _app(db, reply=slow) as a,
        _app(db, turn_wait=0.3) as impatient,
        _app(db, turn_wait=10) as patient,
    ):
        session = a.post("/sessions", json={}, headers=_AUTH).json()["id"]
        answers: dict[str, Any] = {}
        first = threading.Thread(target=lambda: answers.update(a=_say(a, session, "slow")))
        first.start()
        assert entered.wait(10)
        # Too long a wait: 409 with a stable code, in JSON and in a stream, and no turn stored.
        busy = impatient.post(f"/sessions/{session}/messages", json={"message": "x"}, headers=_AUTH)
        assert busy.status_code == 409 and busy.json()["code"] == "session_busy"
        streamed = impatient.post(
            f"/sessions/{session}/messages", json={"message": "x", "stream": True}, headers=_AUTH
        )
        assert '"code": "session_busy"' in streamed.text
        deleting = impatient.delete(f"/sessions/{session}", headers=_AUTH)
        assert deleting.status_code == 409  # a delete would lose the running turn
        # A patient one waits, then runs after the first turn with its messages in the history.
        second = threading.Thread(target=lambda: answers.update(b=_say(patient, session, "next")))
        second.start()
        second.join(timeout=0.5)
        assert second.is_alive()  # still waiting: the first turn holds the session
        release.set()
        first.join(timeout=10)
        second.join(timeout=10)
        assert answers == {"a": answer_to("slow", 1), "b": answer_to("next", 3)}
        assert _history(impatient, session) == _turns(("slow", 1), ("next", 3))


# --- Real server processes ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> Iterator[ModelProcess]:
    process = ModelProcess(delay=0.0, lifetime=300)
    yield process
    process.stop()


def _replicas(store: str, model: ModelProcess, log: Path) -> list[Replica]:
    """Two servers on one store."""
    return Replica.started(2, store, model, keys=[_KEY], log=log)


def _client(replica: Replica) -> httpx.Client:
    return httpx.Client(base_url=replica.url, timeout=30)


def _killed_mid_turn_loses_nothing(
    model: ModelProcess, doomed: Replica, other: Callable[[], TestClient | httpx.Client]
) -> None:
    """A turn runs on ``doomed``; kill -9; ``other()`` has every answered turn, no half one."""
    with _client(doomed) as a:
        session = a.post("/sessions", json={}, headers=_AUTH).json()["id"]
        assert _say(a, session, "kept") == answer_to("kept", 1)
        failed: list[BaseException] = []

        def doomed_turn() -> None:
            try:
                _say(a, session, "sleep=30 lost")
            except httpx.HTTPError as exc:
                failed.append(exc)

        thread = threading.Thread(target=doomed_turn)
        running = model.stats()["running"]
        thread.start()
        model.wait_running(running + 1)  # the turn is with the model, holding the turn lock
        doomed.kill()
        thread.join(timeout=10)
    assert failed, "the killed replica's client should have lost its connection"
    with other() as b:
        assert _history(b, session) == _turns(("kept", 1))  # no half turn, nothing lost
        # The client retries there: the dead process's turn lock went with it.
        assert _say(b, session, "sleep=0 lost") == answer_to("sleep=0 lost", 3)
        assert _history(b, session) == _turns(("kept", 1), ("sleep=0 lost", 3))


def test_sqlite_a_killed_server_loses_nothing_and_a_restarted_one_serves(
    model: ModelProcess, tmp_path: Path
) -> None:
    # The restarted server is in process (a new app on the same file): one process start less.
    db = tmp_path / "chat.db"
    server = Replica(f"sqlite:///{db}", model, keys=[_KEY], log=tmp_path / "log")
    try:
        server.ready()
        _killed_mid_turn_loses_nothing(model, server, lambda: _app(db, turn_wait=5))
    finally:
        server.kill()


@pytest.fixture(scope="module")
def postgres_replicas(
    model: ModelProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Replica]]:
    log = tmp_path_factory.mktemp("replicas") / "log"
    with postgres_schema() as url:
        replicas = _replicas(url, model, log)
        try:
            yield replicas
        finally:
            for replica in replicas:
                replica.kill()


@needs_postgres
def test_postgres_a_session_continues_on_any_replica(postgres_replicas: list[Replica]) -> None:
    with _client(postgres_replicas[0]) as a, _client(postgres_replicas[1]) as b:
        session = a.post("/sessions", json={}, headers=_AUTH).json()["id"]
        assert _say(a, session, "one") == answer_to("one", 1)
        assert _say(b, session, "two") == answer_to("two", 3)  # B sees A's turn
        assert _say(a, session, "three") == answer_to("three", 5)  # and A sees B's
        expected = _turns(("one", 1), ("two", 3), ("three", 5))
        assert _history(a, session) == _history(b, session) == expected


@needs_postgres
def test_postgres_concurrent_turns_on_two_replicas_are_serialized(
    model: ModelProcess, postgres_replicas: list[Replica]
) -> None:
    with _client(postgres_replicas[0]) as a, _client(postgres_replicas[1]) as b:
        session = a.post("/sessions", json={}, headers=_AUTH).json()["id"]
        answers: dict[str, str] = {}
        running = model.stats()["running"]
        first = threading.Thread(target=lambda: answers.update(a=_say(a, session, "sleep=1 x")))
        first.start()
        model.wait_running(running + 1)
        second = threading.Thread(target=lambda: answers.update(b=_say(b, session, "y")))
        second.start()
        first.join(timeout=30)
        second.join(timeout=30)
        # B's turn ran after A's, with A's turn in its history: none interleaved, none lost.
        assert answers == {"a": answer_to("sleep=1 x", 1), "b": answer_to("y", 3)}
        assert _history(b, session) == _turns(("sleep=1 x", 1), ("y", 3))


@needs_postgres
def test_postgres_kill_9_mid_turn_loses_nothing_and_the_client_retries_elsewhere(
    model: ModelProcess, postgres_replicas: list[Replica]
) -> None:
    doomed, other = postgres_replicas
    _killed_mid_turn_loses_nothing(model, doomed, lambda: _client(other))


class _SlowToLock(MemoryStore):
    """A store whose turn lock takes 0.3 s to take (a busy database)."""

    def turn(self, owner: str, session_id: str, *, wait: float) -> AbstractContextManager[None]:
        real = super().turn(owner, session_id, wait=wait)

        class Slow:
            def __enter__(self) -> None:
                time.sleep(0.3)
                real.__enter__()

            def __exit__(self, *exc: Any) -> None:
                real.__exit__(*exc)

        return Slow()


async def test_a_turn_cancelled_while_taking_the_lock_gives_it_back() -> None:
    # The lock is taken in a worker thread, which a cancelled task cannot stop: once the
    # thread has it, it must be released, or the session would stay busy on every replica.
    store = _SlowToLock()
    sessions = SessionStore(10, backend=store, turn_wait=5)
    session = sessions.open("k", "s")

    async def turn() -> None:
        async with sessions.turn(session):
            await asyncio.sleep(10)

    task = asyncio.ensure_future(turn())
    await asyncio.sleep(0.1)  # the thread is taking the lock
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    for _ in range(100):  # bounded: 2 s
        await asyncio.sleep(0.02)
        if not store.turn_running("k", "s") and not session.lock.locked():
            break
    assert not store.turn_running("k", "s") and not session.lock.locked()
    async with sessions.turn(session):  # and the next turn gets it at once
        assert store.turn_running("k", "s")
