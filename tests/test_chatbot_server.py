"""The chatbot backend in-process: statuses, memory per session, SSE, limits."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import StructuredTool, ToolException
from starlette.testclient import TestClient

from hf_tools import HuggingFaceToolkit
from hf_tools.http import HFRequest
from hf_tools.langchain.agent import Agent
from hf_tools.serve.agent import build_server_agent, system_prompt
from hf_tools.serve.app import create_app
from hf_tools.serve.auth import load_api_keys
from hf_tools.serve.errors import ChatError
from hf_tools.serve.sessions import SessionStore
from hf_tools.serve.sessions import trim as _trim
from hf_tools.serve.store import MemoryStore, open_store
from hf_tools.testing import DUMMY_TOKEN, ScriptedChatModel, tool_call

from .conftest import FIXTURES, ROOT, serve_app
from .test_store import Factory, make_store  # noqa: F401 (a fixture: the stores, Postgres too)

_JSON = {"Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def _memory_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main`` keeps conversations in memory here, never in a ./chatbot.db of the checkout."""
    monkeypatch.setenv("HF_TOOLS_STORE", "memory")


def _echo(messages: list[BaseMessage]) -> str:
    """Answers with what it was told, so memory shows in the answer."""
    said = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
    return "heard: " + " | ".join(said)


def _made(kw: dict[str, Any], sessions: dict[str, Sequence[str]]) -> dict[str, Any]:
    """``kw`` with a store (memory unless given) that has these sessions, by owner.

    A session is made by ``POST /sessions`` (a random id); the tests name theirs, made before
    the app starts, as a store kept from an earlier run has them.
    """
    store = kw.setdefault("store", MemoryStore())
    for owner, ids in sessions.items():
        for session_id in ids:
            store.create(owner, session_id)
    return kw


def _client(
    model: ScriptedChatModel,
    tools: list[Any] | None = None,
    *,
    sessions: Sequence[str] = (),
    **kw: Any,
) -> TestClient:
    """The open server (its caller is "-") with ``sessions`` already made."""
    return TestClient(create_app(Agent(model, tools or []), **_made(kw, {"-": sessions})))


def _frames(text: str) -> list[tuple[int | None, str, dict[str, Any]]]:
    """Each SSE event as (id, name, data); comments (``: ping``) left out."""
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if line[:1] != ":")
        if lines:
            event_id = int(lines["id"]) if "id" in lines else None
            events.append((event_id, lines["event"], json.loads(lines["data"])))
    return events


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, data) for _, name, data in _frames(text)]


def test_health_and_json_404() -> None:
    client = _client(ScriptedChatModel())
    assert client.get("/health").json() == {"status": "ok", "sessions": 0}
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found", "code": "not_found"}
    response = client.put("/sessions/a/messages")
    assert response.status_code == 405 and "error" in response.json()


def test_each_session_remembers_its_own_conversation() -> None:
    client = _client(ScriptedChatModel(replies=[_echo] * 3), sessions=("a", "b"))
    assert client.post("/sessions/a/messages", json={"message": "one"}).json()["answer"] == (
        "heard: one"
    )
    assert client.post("/sessions/b/messages", json={"message": "other"}).json()["answer"] == (
        "heard: other"
    )
    second = client.post("/sessions/a/messages", json={"message": "two"}).json()
    assert second["answer"] == "heard: one | two"
    history = client.get("/sessions/a").json()["messages"]
    assert [(m["role"], m["content"]) for m in history] == [
        ("human", "one"),
        ("ai", "heard: one"),
        ("human", "two"),
        ("ai", "heard: one | two"),
    ]
    assert client.delete("/sessions/a").status_code == 204
    assert client.get("/sessions/a").status_code == 404
    assert client.delete("/sessions/a").status_code == 404


def test_answer_lists_tools_and_artifacts_never_their_bytes(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    model = ScriptedChatModel(
        replies=[
            AIMessage(
                "", tool_calls=[tool_call("image_segmentation", image="tests/fixtures/image.png")]
            ),
            "Two people.",
            "No tool this time.",
        ]
    )
    client = _client(model, toolkit.get_tools(), sessions=["s1"])
    with cassette("image-segmentation/success"):
        response = client.post("/sessions/s1/messages", json={"message": "segment it"})
    body = response.json()
    assert response.status_code == 200
    assert body["answer"] == "Two people." and body["steps"] == 2
    assert body["tools"] == [
        {"name": "image_segmentation", "args": {"image": "tests/fixtures/image.png"}}
    ]
    masks = body["artifacts"]
    assert [(a["tool"], a["type"], a["content_type"]) for a in masks] == [
        ("image_segmentation", "mask", "image/png")
    ] * len(masks)
    assert len(masks) >= 2 and len({a["id"] for a in masks}) == len(masks)
    assert all(a["url"] == f"/sessions/s1/artifacts/{a['id']}" for a in masks)
    assert "PNG" not in response.text.replace("PNG images", "")
    # Each reference fetches the mask's PNG, the same bytes the tool produced.
    fetched = client.get(masks[0]["url"])
    assert fetched.status_code == 200 and fetched.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.headers["x-content-type-options"] == "nosniff"
    assert fetched.headers["content-disposition"] == f'inline; filename="{masks[0]["id"]}.png"'
    # Memory keeps the conversation without the masks; the tool message points at them.
    store: SessionStore = client.app.state.sessions  # type: ignore[attr-defined]
    session = store.get("-", "s1")
    assert session is not None
    assert all(m.artifact is None for m in session.messages if isinstance(m, ToolMessage))
    history = client.get("/sessions/s1").json()["messages"]
    assert [m.get("artifacts") for m in history if m["role"] == "tool"] == [masks]
    # The next turn's answer describes that turn only: no tools, no artifacts of the first.
    second = client.post("/sessions/s1/messages", json={"message": "thanks"}).json()
    assert (second["answer"], second["tools"], second["artifacts"]) == (
        "No tool this time.",
        [],
        [],
    )


@pytest.mark.parametrize(
    ("body", "status", "code", "error"),
    [
        (b"{not json", 400, "invalid_json", "not valid JSON"),
        (b"[1, 2]", 400, "invalid_body", "JSON object"),
        (b"{}", 400, "invalid_message", '{"message": "<non-empty text>"}'),
        (b'{"message": "   "}', 400, "invalid_message", "non-empty"),
        (b'{"message": 3}', 400, "invalid_message", "non-empty"),
        (
            json.dumps({"message": "x" * 101}).encode(),
            413,
            "message_too_long",
            "101 characters; the limit is 100",
        ),
        (b'{"message": "' + b"x" * 2000 + b'"}', 413, "body_too_large", "body over"),
    ],
)
def test_bad_requests_get_clean_json_errors(
    body: bytes, status: int, code: str, error: str
) -> None:
    model = ScriptedChatModel(replies=["never"])
    client = _client(model, max_message_chars=100)
    response = client.post("/sessions/a/messages", content=body, headers=_JSON)
    assert response.status_code == status
    assert response.json()["code"] == code and error in response.json()["error"]
    assert model.seen == []  # refused before the model was asked


def test_a_deeply_nested_body_is_a_400_not_a_crash() -> None:
    model = ScriptedChatModel(replies=["never"])
    client = _client(model, max_message_chars=10_000)
    body = b"[" * 16_000 + b"]" * 16_000  # deeper than the JSON parser's stack
    response = client.post("/sessions/a/messages", content=body, headers=_JSON)
    assert response.status_code == 400 and response.json()["code"] == "invalid_json"
    assert model.seen == []


def test_bad_session_ids_are_refused() -> None:
    client = _client(ScriptedChatModel())
    response = client.post("/sessions/a%20b/messages", json={"message": "x"})
    assert response.status_code == 400 and "session id" in response.json()["error"]
    assert response.json()["code"] == "invalid_session_id"
    response = client.get("/sessions/a/artifacts/x.png")
    assert response.status_code == 400 and response.json()["code"] == "invalid_artifact_id"


def test_post_stream_sends_sse_events_in_order() -> None:
    @StructuredTool.from_function
    def lookup(term: str) -> str:
        """Look a term up."""
        return f"{term}: found"

    model = ScriptedChatModel(
        replies=[
            AIMessage("Checking.", tool_calls=[tool_call("lookup", term="cats")]),
            "Cats exist.",
        ]
    )
    client = _client(model, [lookup], sessions=["a"])
    with client.stream(
        "POST", "/sessions/a/messages", json={"message": "cats?", "stream": True}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r.read().decode())
    assert [name for name, _ in events] == [
        "token",
        "tool_start",
        "tool_end",
        "token",
        "token",
        "final",
    ]
    assert events[1][1] == {
        "type": "tool_start",
        "name": "lookup",
        "args": {"term": "cats"},
        "call_id": "call_lookup",
        "step": 1,
    }
    assert events[2][1]["content"] == "cats: found"
    assert events[-1][1]["answer"] == "Cats exist."
    # The streamed run is remembered like any other.
    assert len(client.get("/sessions/a").json()["messages"]) == 4


def test_no_get_route_runs_a_turn() -> None:
    # An EventSource that reconnected to the old GET ...?message= re-ran the message.
    model = ScriptedChatModel(replies=["never"])
    client = _client(model)
    response = client.get("/sessions/a/messages", params={"message": "hi"})
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    assert client.get("/sessions/a/events").json()["code"] == "session_not_found"
    assert model.seen == []


def _boom(_: list[BaseMessage]) -> str:
    raise RuntimeError("model down: upstream said secret-detail")


def test_agent_failures_say_nothing_internal_and_log_it_under_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _client(ScriptedChatModel(replies=[_boom, _boom]), sessions=["a"])
    with caplog.at_level("ERROR", logger="hf_tools.serve"):
        response = client.post("/sessions/a/messages", json={"message": "hi"})
        streamed = client.post("/sessions/a/messages", json={"message": "hi", "stream": True})
    request_id = response.headers["x-request-id"]
    assert response.status_code == 502 and response.json() == {
        "error": "the turn failed and was not recorded; retry it, or give the operator"
        f" request id {request_id}",
        "code": "agent_failed",
        "request_id": request_id,
    }
    ((name, data),) = _sse(streamed.text)
    assert name == "error" and data["code"] == "agent_failed"
    assert data["request_id"] == streamed.headers["x-request-id"] != request_id
    for text in (response.text, streamed.text):
        assert "RuntimeError" not in text and "secret-detail" not in text
    # The operator finds the detail under the id the client was given.
    failures = [r for r in caplog.records if request_id in r.getMessage()]
    assert failures and "secret-detail" in str(failures[0].exc_info[1])  # type: ignore[index]
    assert client.get("/sessions/a").json() == {"messages": []}  # nothing half-remembered


def test_a_full_server_refuses_a_new_conversation_and_deletes_none() -> None:
    client = _client(ScriptedChatModel(replies=["ok"] * 4), max_sessions=2)
    a, b = (client.post("/sessions", json={}).json()["id"] for _ in range(2))
    for session in (a, b, a):
        said = client.post(f"/sessions/{session}/messages", json={"message": "hi"})
        assert said.status_code == 200
    refused = client.post("/sessions", json={})
    assert refused.status_code == 429 and refused.json()["code"] == "server_full"
    # Both conversations are whole: a new one never costs an old one.
    assert len(client.get(f"/sessions/{a}").json()["messages"]) == 4
    assert len(client.get(f"/sessions/{b}").json()["messages"]) == 2
    assert client.delete(f"/sessions/{b}").status_code == 204
    c = client.post("/sessions", json={}).json()["id"]
    assert client.post(f"/sessions/{c}/messages", json={"message": "hi"}).status_code == 200


async def test_memory_forgets_an_idle_session_the_store_still_has() -> None:
    backend = MemoryStore()
    backend.append_turn("k", "a", [HumanMessage("hi"), AIMessage("hello")])
    store = SessionStore(max_history=10, max_sessions=1, backend=backend)
    store.release(store.open("k", "a"))
    store.release(store.open("k", "b"))  # a is forgotten from memory, to make room
    assert store.get("k", "a") is None and len(store) == 1
    assert backend.load("k", "a") == [HumanMessage("hi"), AIMessage("hello")]
    assert await store.history("k", "a") == [HumanMessage("hi"), AIMessage("hello")]


async def test_full_store_of_busy_sessions_answers_429() -> None:
    store = SessionStore(max_history=10, max_per_owner=1)
    busy = store.open("k", "a")
    async with busy.turn():
        with pytest.raises(ChatError, match="busy") as info:
            store.open("k", "b")
        assert info.value.status == 429 and info.value.code == "too_many_sessions"
    store.release(busy)
    assert store.open("k", "b") is not busy  # idle again: a is evicted
    assert store.get("k", "a") is None


async def test_an_accepted_stream_keeps_its_session_until_its_request_ends() -> None:
    # A streamed turn starts after the response headers: in between, its session must not be
    # evicted, or the turn would be remembered in a session nobody can reach.
    store = SessionStore(max_history=10, max_per_owner=1)
    accepted = store.open("k", "a")
    with pytest.raises(ChatError, match="busy"):
        store.open("k", "b")
    async with accepted.turn():
        store.remember(accepted, [HumanMessage("hi"), AIMessage("hello")])
    assert store.get("k", "a") is accepted and len(accepted.messages) == 2
    store.release(accepted)
    store.open("k", "b")  # the request is over: a is idle and may go
    assert store.get("k", "a") is None


def test_a_stream_that_never_starts_releases_its_session_and_slot() -> None:
    # The client is gone before the response starts: the guard still releases what the
    # request held, so neither the session nor the key's stream slot stays taken.
    app = create_app(
        Agent(ScriptedChatModel(replies=["first", "again"]), []),
        **_made({"max_streams_per_key": 1}, {"-": ["a", "b"]}),
    )

    async def _call() -> None:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/sessions/a/messages",
            "raw_path": b"/sessions/a/messages",
            "query_string": b"",
            "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
            "server": ("testserver", 80),
            "scheme": "http",
            "http_version": "1.1",
            "root_path": "",
        }

        messages = [{"type": "http.request", "body": b'{"message": "hi", "stream": true}'}]

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(_: Any) -> None:
            raise OSError("client gone")

        with pytest.raises(OSError, match="client gone"):
            await app(scope, receive, send)

    asyncio.run(_call())
    store: SessionStore = app.state.sessions
    session = store.get("-", "a")
    assert session is not None and not session.busy
    response = TestClient(app).post("/sessions/b/messages", json={"message": "hi"})
    assert response.status_code == 200  # the one stream slot is free


def test_concurrent_requests_to_one_session_run_one_at_a_time() -> None:
    async def _main() -> list[str]:
        import httpx

        model = ScriptedChatModel(replies=[_echo, _echo])
        app = create_app(Agent(model, []), **_made({}, {"-": ["a"]}))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            replies = await asyncio.gather(
                client.post("/sessions/a/messages", json={"message": "one"}),
                client.post("/sessions/a/messages", json={"message": "two"}),
            )
        return [r.json()["answer"] for r in replies]

    answers = asyncio.run(_main())
    # The second run saw the first one's turn: no lost update.
    assert sorted(answers, key=len) in (
        ["heard: one", "heard: one | two"],
        ["heard: two", "heard: two | one"],
    )


def test_history_is_trimmed_at_a_user_turn() -> None:
    turns: list[BaseMessage] = []
    for i in range(4):
        turns += [
            HumanMessage(f"q{i}"),
            AIMessage("", tool_calls=[tool_call("t", f"c{i}")]),
            ToolMessage("r", tool_call_id=f"c{i}"),
            AIMessage(f"a{i}"),
        ]
    kept = _trim(turns, 6)
    assert [m.content for m in kept] == ["q3", "", "r", "a3"]
    assert _trim(turns[:4], 6) == turns[:4]


def test_server_main_needs_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    from hf_tools.serve.main import main

    assert main(["--port", "0"]) == 2
    assert "export HF_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize("path", ["tests/fixtures/image.png", str(FIXTURES / "image.png")])
def test_the_default_server_reads_no_local_file(
    path: str, monkeypatch: pytest.MonkeyPatch, sent: list[HFRequest]
) -> None:
    # Any HTTP client steers the tool arguments: a path in the server's working directory
    # (the library's default folder) must not be read and uploaded.
    monkeypatch.setenv("HF_TOKEN", DUMMY_TOKEN)
    monkeypatch.chdir(ROOT)
    model = ScriptedChatModel(
        replies=[AIMessage("", tool_calls=[tool_call("image_classification", image=path)]), "No."]
    )
    agent = build_server_agent(model, tasks=["image-classification"])
    client = TestClient(create_app(agent, **_made({}, {"-": ["a"]})))
    assert client.post("/sessions/a/messages", json={"message": "what is it?"}).json()["answer"]
    tool_reply = [m for m in client.get("/sessions/a").json()["messages"] if m["role"] == "tool"]
    assert tool_reply[0]["content"] == (
        f"local files are not accepted here: {path}. Pass a different input: a public URL,"
        " base64, or a local path inside the allowed folders (if any)."
    )
    assert sent == []
    assert "local file paths are refused" in str(model.seen[0][0].content)


def test_main_wires_allow_files(
    monkeypatch: pytest.MonkeyPatch, cassette: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    from hf_tools.serve.main import main

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    monkeypatch.setenv("HF_TOKEN", DUMMY_TOKEN)
    monkeypatch.chdir(ROOT)
    image = {"image": "tests/fixtures/image.png"}
    assert main([]) == 0
    default: Agent = served[-1].state.agent
    assert default.system_prompt == system_prompt(local_files=False)
    refused = default.tools["image_classification"].invoke(
        tool_call("image_classification", **image)
    )
    assert "local files are not accepted here" in str(refused.content)
    assert main(["--allow-files", str(FIXTURES)]) == 0
    allowed: Agent = served[-1].state.agent
    assert allowed.system_prompt == system_prompt(local_files=True)
    assert "local file path" in (allowed.system_prompt or "")
    with cassette("image-classification/success"):
        read = allowed.tools["image_classification"].invoke(
            tool_call("image_classification", **image)
        )
    assert read.status == "success"
    assert main(["--allow-files", "no/such/dir"]) == 2
    assert "--allow-files takes folders; not a folder: no/such/dir" in capsys.readouterr().err


# --- Access control: keys, owners, Host/Origin/Content-Type, limits, logs --------------------

_KEY_A, _KEY_B = "key-a-0123456789", "key-b-0123456789"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _owner(key: str) -> str:
    """The owner id the server gives a key (a hash of it)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _keyed(
    model: ScriptedChatModel, *, sessions: dict[str, Sequence[str]] | None = None, **kw: Any
) -> TestClient:
    """A server with keys A and B; ``sessions``: the ids each key (by key) already made."""
    made = {_owner(key): ids for key, ids in (sessions or {}).items()}
    return TestClient(create_app(Agent(model, []), api_keys=[_KEY_A, _KEY_B], **_made(kw, made)))


def _say(client: TestClient, session: str, key: str, text: str = "hi") -> Any:
    return client.post(f"/sessions/{session}/messages", json={"message": text}, headers=_auth(key))


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": _KEY_A}, "missing_api_key"),  # no scheme
        ({"Authorization": "Basic a2V5"}, "missing_api_key"),
        ({"Authorization": "Bearer "}, "missing_api_key"),
        ({"Authorization": "Bearer key-a-012345678"}, "invalid_api_key"),  # a prefix of a key
        ({"Authorization": f"Bearer {_KEY_A}x"}, "invalid_api_key"),
    ],
)
def test_with_keys_every_route_but_health_needs_one(headers: dict[str, str], code: str) -> None:
    model = ScriptedChatModel(replies=["never"])
    client = _keyed(model)
    for method, path in [
        ("POST", "/sessions/a/messages"),
        ("GET", "/sessions/a/events?after=0"),
        ("GET", "/sessions/a/artifacts/x"),
        ("GET", "/sessions/a"),
        ("DELETE", "/sessions/a"),
        ("POST", "/sessions"),
        ("GET", "/nope"),  # unknown routes too: nothing is learnt without a key
    ]:
        response = client.request(method, path, json={"message": "hi"}, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == code
        assert response.headers["www-authenticate"] == "Bearer"
    assert model.seen == []
    assert client.get("/health").json() == {"status": "ok", "sessions": 0}
    assert client.get("/openapi.json").json()["openapi"] == "3.1.0"  # the API's description
    assert client.get("/docs").status_code == 200


def test_a_configured_key_is_served() -> None:
    client = _keyed(ScriptedChatModel(replies=["hello", "again"]), sessions={_KEY_A: ["a"]})
    assert _say(client, "a", _KEY_A).json()["answer"] == "hello"
    bearer = {"Authorization": f"bearer  {_KEY_A} "}  # scheme case and spaces do not matter
    assert client.post("/sessions/a/messages", json={"message": "x"}, headers=bearer).json()[
        "answer"
    ] == ("again")


def test_api_keys_come_from_a_file_and_the_environment(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# team keys\n\n  first-key  \n#old-key\nsecond-key\n")
    assert load_api_keys(keys, " third , ,fourth") == [
        "first-key",
        "second-key",
        "third",
        "fourth",
    ]
    assert load_api_keys(None, None) == []
    keys.write_text("# nothing yet\n\n")
    with pytest.raises(ValueError, match="holds no API key"):
        load_api_keys(keys)


def test_sessions_belong_to_the_key_that_made_them() -> None:
    client = _keyed(ScriptedChatModel(replies=[_echo] * 3), sessions={_KEY_A: ["alice"]})
    assert _say(client, "alice", _KEY_A, "my secret plan").status_code == 200
    # Another key cannot read, delete or write to it, and is told nothing about it existing.
    for method in ("GET", "DELETE", "POST"):
        path = "/sessions/alice" + ("/messages" if method == "POST" else "")
        response = client.request(method, path, json={"message": "hi"}, headers=_auth(_KEY_B))
        assert response.status_code == 404 and response.json()["code"] == "session_not_found"
    # Its own "alice" (made in the store as A's was) is a different conversation.
    client.app.state.sessions.backend.create(_owner(_KEY_B), "alice")  # type: ignore[attr-defined]
    assert _say(client, "alice", _KEY_B, "hello").json()["answer"] == "heard: hello"
    history = client.get("/sessions/alice", headers=_auth(_KEY_A)).json()["messages"]
    assert [m["content"] for m in history] == ["my secret plan", "heard: my secret plan"]
    assert _say(client, "alice", _KEY_A, "go on").json()["answer"] == (
        "heard: my secret plan | go on"
    )
    assert client.delete("/sessions/alice", headers=_auth(_KEY_A)).status_code == 204
    assert client.get("/sessions/alice", headers=_auth(_KEY_B)).status_code == 200  # B's own


def test_post_sessions_issues_an_unguessable_id() -> None:
    client = _keyed(ScriptedChatModel(replies=["ok"]))
    response = client.post("/sessions", headers={**_auth(_KEY_A), **_JSON})
    assert response.status_code == 201
    session_id = response.json()["id"]
    assert (
        len(session_id) == 16
        and session_id != client.post("/sessions", headers={**_auth(_KEY_A), **_JSON}).json()["id"]
    )
    assert client.get(f"/sessions/{session_id}", headers=_auth(_KEY_A)).json() == {"messages": []}
    assert client.get(f"/sessions/{session_id}", headers=_auth(_KEY_B)).status_code == 404
    assert _say(client, session_id, _KEY_A).json()["answer"] == "ok"


@pytest.mark.parametrize("stream", [False, True])
def test_a_message_to_a_session_never_issued_is_a_404(stream: bool) -> None:
    # A typo of an issued id, or another key's id: refused, and no conversation is made.
    model = ScriptedChatModel(replies=["never"])
    client = _keyed(model)
    mine = client.post("/sessions", json={}, headers=_auth(_KEY_A)).json()["id"]
    for session_id, key in ((mine[:-1], _KEY_A), (mine, _KEY_B)):
        body = {"message": "hi", "stream": stream}
        path = f"/sessions/{session_id}/messages"
        response = client.post(path, json=body, headers=_auth(key))
        assert response.status_code == 404 and response.json()["code"] == "session_not_found"
        assert client.get(f"/sessions/{session_id}", headers=_auth(key)).status_code == 404
    assert model.seen == []
    assert client.app.state.sessions.backend.count() == 1  # type: ignore[attr-defined]


def test_a_turn_of_a_session_deleted_meanwhile_revives_nothing() -> None:
    # Deleted on another replica between the request's check and its turn: the turn ends with
    # session_not_found instead of writing the conversation back.
    class _GoneAtTheTurn(MemoryStore):
        def load(self, owner: str, session_id: str) -> Any:
            self.delete(owner, session_id)
            return super().load(owner, session_id)

    model = ScriptedChatModel(replies=["never"])
    client = _client(model, store=_GoneAtTheTurn(), sessions=["a"])
    response = client.post("/sessions/a/messages", json={"message": "hi"})
    assert response.status_code == 404 and response.json()["code"] == "session_not_found"
    assert model.seen == [] and client.app.state.sessions.backend.count() == 0  # type: ignore[attr-defined]


def test_the_history_keeps_each_tools_outcome_and_arguments() -> None:
    # What the page shows live (a failed step, with its arguments) it shows after a reload.
    def weather(city: str) -> str:
        """The weather in a city."""
        raise ToolException(f"no weather service for {city}")

    failing = StructuredTool.from_function(weather, handle_tool_error=False)
    model = ScriptedChatModel(
        replies=[
            AIMessage(
                "",
                tool_calls=[tool_call("weather", city="Paris"), tool_call("lookup", term="rain")],
            ),
            "No weather today.",
        ]
    )
    client = _client(model, [failing, lookup], sessions=["a"])
    assert client.post("/sessions/a/messages", json={"message": "rain?"}).status_code == 200
    tools = [m for m in client.get("/sessions/a").json()["messages"] if m["role"] == "tool"]
    assert [(m["name"], m["status"], m["args"]) for m in tools] == [
        ("weather", "error", {"city": "Paris"}),
        ("lookup", "success", {"term": "rain"}),
    ]
    assert "no weather service for Paris" in tools[0]["content"]


def test_history_never_returns_the_system_prompt() -> None:
    model = ScriptedChatModel(replies=["one", "two"])
    agent = Agent(model, [], system_prompt="SECRET INSTRUCTIONS")
    client = TestClient(create_app(agent, **_made({}, {"-": ["a"]})))
    client.post("/sessions/a/messages", json={"message": "hi"})
    client.post("/sessions/a/messages", json={"message": "again"})
    body = client.get("/sessions/a").text
    assert "SECRET" not in body and '"system"' not in body
    # The model still gets the prompt, once, on every turn.
    assert [type(m).__name__ for m in model.seen[1]] == [
        "SystemMessage",
        "HumanMessage",
        "AIMessage",
        "HumanMessage",
    ]
    assert model.seen[1][0].content == "SECRET INSTRUCTIONS"


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "text/json"]
)
def test_json_routes_refuse_other_content_types(content_type: str | None) -> None:
    # text/plain and form POSTs are "simple" CORS requests: any web page can send them.
    model = ScriptedChatModel(replies=["never"])
    client = _client(model, sessions=["a"])
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/sessions/a/messages", "/sessions"):
        response = client.post(path, content=b'{"message": "hi"}', headers=headers)
        assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
    assert model.seen == []
    ok = {"Content-Type": "Application/JSON; charset=utf-8"}
    assert client.post("/sessions/a/messages", content=b'{"message": "hi"}', headers=ok).json()[
        "answer"
    ] == ("never")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "null"},  # sandboxed iframes, file:// pages
        {"Origin": "http://localhost:3000"},  # same site, another origin
        {"Origin": "https://testserver"},  # same host, another scheme: another origin
        {"Sec-Fetch-Site": "cross-site"},  # <img>/<script> GETs carry no Origin
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_origin_requests_are_refused(headers: dict[str, str]) -> None:
    model = ScriptedChatModel(replies=["never"])
    client = _client(model)
    response = client.post("/sessions/a/messages", json={"message": "hi"}, headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] in ("origin_not_allowed", "cross_site")
    for path in ("/sessions/a/events", "/sessions/a/artifacts/x"):
        assert client.get(path, headers=headers).status_code == 403
    assert model.seen == []


def test_same_origin_and_allowed_origins_are_served_with_cors() -> None:
    app = "https://app.example"
    model = ScriptedChatModel(replies=["one", "two", "three"])
    client = _keyed(model, allowed_origins=[app + "/"], sessions={_KEY_A: ["a"]})
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin", **_auth(_KEY_A)}
    assert _say(client, "a", _KEY_A).status_code == 200
    response = client.post("/sessions/a/messages", json={"message": "x"}, headers=same)
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    cross = {"Origin": app, "Sec-Fetch-Site": "cross-site", **_auth(_KEY_A)}
    response = client.post("/sessions/a/messages", json={"message": "x"}, headers=cross)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == app
    # The browser's preflight (it carries no key) is answered for the allowed origin only.
    preflight = {
        "Origin": app,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    response = client.options("/sessions/a/messages", headers=preflight)
    assert response.status_code == 200
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    response = client.options(
        "/sessions/a/messages", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert response.status_code != 200


@pytest.mark.parametrize("host", ["evil.example", "testserver:8080", "", "a/b", "x@testserver"])
def test_other_hosts_are_refused(host: str) -> None:
    # DNS rebinding: a page on evil.example re-pointed at this server sends its own Host.
    model = ScriptedChatModel(replies=["never"])
    client = _client(model)
    response = client.post("/sessions/a/messages", json={"message": "hi"}, headers={"Host": host})
    assert response.status_code == 403 and response.json()["code"] == "host_not_allowed"
    assert model.seen == []


def test_allowed_hosts_are_added_to_the_default() -> None:
    client = _client(
        ScriptedChatModel(replies=["ok"] * 4),
        sessions=["a"],
        allowed_hosts=["chat.example", "Proxy.Example:8443"],
    )
    for host in ("chat.example", "CHAT.example:9000", "proxy.example:8443", "localhost"):
        response = client.post(
            "/sessions/a/messages", json={"message": "x"}, headers={"Host": host}
        )
        assert response.status_code == 200, host
    response = client.post(
        "/sessions/a/messages", json={"message": "x"}, headers={"Host": "proxy.example:8444"}
    )
    assert response.status_code == 403


def test_a_key_over_its_quota_is_refused_and_loses_nothing() -> None:
    # Key A fills its quota: its next new conversation is refused, its own and B's all stay,
    # and going on in a conversation it has is still fine.
    client = _keyed(ScriptedChatModel(replies=["ok"] * 8), max_sessions_per_key=2)

    def new(key: str) -> Any:
        return client.post("/sessions", json={}, headers=_auth(key))

    b1 = new(_KEY_B).json()["id"]
    a1, a2 = (new(_KEY_A).json()["id"] for _ in range(2))
    for session, key in ((b1, _KEY_B), (a1, _KEY_A), (a2, _KEY_A)):
        assert _say(client, session, key).status_code == 200
    refused = new(_KEY_A)
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_sessions"
    assert "delete one" in refused.json()["error"]
    for session, key in ((a1, _KEY_A), (a2, _KEY_A), (b1, _KEY_B)):
        assert client.get(f"/sessions/{session}", headers=_auth(key)).status_code == 200
    assert _say(client, a1, _KEY_A).status_code == 200
    assert new(_KEY_B).status_code == 201  # B's quota is its own


def test_the_quota_counts_the_store_across_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    first = _keyed(
        ScriptedChatModel(replies=["ok"] * 2), max_sessions_per_key=1, store=open_store(url)
    )
    a1 = first.post("/sessions", json={}, headers=_auth(_KEY_A)).json()["id"]
    assert _say(first, a1, _KEY_A).status_code == 200
    first.app.state.sessions.backend.close()
    again = _keyed(ScriptedChatModel(replies=["ok"]), max_sessions_per_key=1, store=open_store(url))
    refused = again.post("/sessions", json={}, headers=_auth(_KEY_A))
    assert refused.json()["code"] == "too_many_sessions"
    assert len(again.get(f"/sessions/{a1}", headers=_auth(_KEY_A)).json()["messages"]) == 2


def test_a_full_store_refuses_a_key_with_nothing_to_evict() -> None:
    store = SessionStore(max_history=10, max_sessions=2, max_per_owner=5)
    for session_id in ("a1", "a2"):
        store.release(store.open("A", session_id))
    with pytest.raises(ChatError) as info:
        store.open("B", "b1")
    assert info.value.status == 429 and info.value.code == "server_full"
    assert store.get("A", "a1") is not None and len(store) == 2


async def _held_streams(app: Any, held: int) -> tuple[list[int], list[Any]]:
    """Start ``held`` turns of key A that block in the model, then try more A and B turns.

    Returns the statuses of one more A turn and one B turn, then the held turns' responses.
    """
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        def post(key: str, session: str) -> Any:
            body = {"message": "hi", "stream": True}
            return client.post(f"/sessions/{session}/messages", json=body, headers=_auth(key))

        holding = [asyncio.ensure_future(post(_KEY_A, f"h{i}")) for i in range(held)]
        model: ScriptedChatModel = app.state.agent.model
        for _ in range(500):  # until every held turn is inside the model (bounded: 5 s)
            if len(model.seen) == held:
                break
            await asyncio.sleep(0.01)
        statuses = [(await post(_KEY_A, "more")).status_code]
        statuses.append((await post(_KEY_B, "b")).status_code)
        _RELEASE.set()
        return statuses, list(await asyncio.gather(*holding))


_RELEASE = threading.Event()


def _blocking(_: list[BaseMessage]) -> str:
    assert _RELEASE.wait(timeout=5)  # runs in LangChain's executor thread, not on the loop
    return "held"


def test_one_keys_held_streams_do_not_lock_others_out() -> None:
    _RELEASE.clear()
    model = ScriptedChatModel(replies=[_blocking, _blocking, _blocking, "free", "again"])
    app = create_app(
        Agent(model, []),
        api_keys=[_KEY_A, _KEY_B],
        **_made(
            {"max_streams_per_key": 3, "max_streams": 10},
            {_owner(_KEY_A): ["h0", "h1", "h2", "more"], _owner(_KEY_B): ["b"]},
        ),
    )
    statuses, held = asyncio.run(_held_streams(app, 3))
    assert statuses == [429, 200]  # A is at its 3 turns; B is served
    assert all(_sse(r.text)[-1][1]["answer"] == "held" for r in held)
    # The slots were freed when the held streams ended.
    assert _say(TestClient(app), "more", _KEY_A).json()["answer"] == "again"


def test_the_global_stream_bound_holds_across_keys() -> None:
    _RELEASE.clear()
    model = ScriptedChatModel(replies=[_blocking, _blocking, "free"])
    app = create_app(
        Agent(model, []),
        api_keys=[_KEY_A, _KEY_B],
        **_made(
            {"max_streams_per_key": 5, "max_streams": 2},
            {_owner(_KEY_A): ["h0", "h1", "h2", "more"], _owner(_KEY_B): ["b"]},
        ),
    )
    statuses, _ = asyncio.run(_held_streams(app, 2))
    assert statuses == [429, 429]


def test_a_stream_over_the_key_limit_says_why() -> None:
    client = _keyed(ScriptedChatModel(), max_streams_per_key=0, sessions={_KEY_A: ["a"]})
    response = _say(client, "a", _KEY_A)
    assert response.status_code == 429 and response.json() == {
        "error": "this key already runs 0 turns at once; wait for one to end",
        "code": "too_many_streams",
    }


def test_access_log_has_no_message_text(caplog: pytest.LogCaptureFixture) -> None:
    client = _keyed(ScriptedChatModel(replies=["fine", "fine"]), sessions={_KEY_A: ["private-id"]})
    with caplog.at_level("INFO", logger="hf_tools.serve.access"):
        said = _say(client, "private-id", _KEY_A, "my bank password is hunter2")
        client.get("/sessions/private-id/events", headers=_auth(_KEY_A))
        client.get("/sessions/private-id", headers=_auth("hunter2-guess"))
        client.get("/health")
    lines = [r.getMessage() for r in caplog.records if r.name == "hf_tools.serve.access"]
    assert len(lines) == 4
    text = "\n".join(lines)
    for secret in ("hunter2", "private-id", "bank", _KEY_A):
        assert secret not in text
    key_id = hashlib.sha256(_KEY_A.encode()).hexdigest()[:16]
    assert lines[0].startswith("POST /sessions/{session_id}/messages 200 ")
    assert lines[0].endswith(f"ms key={key_id} rid={said.headers['x-request-id']}")
    assert lines[1].startswith("GET /sessions/{session_id}/events 200 ")
    assert lines[2].startswith("GET /sessions/{session_id} 401 ") and " key=- rid=" in lines[2]
    assert lines[3].startswith("GET /health 200 ")


def _serve(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import uvicorn

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append({"app": app, **kw}))
    monkeypatch.setenv("HF_TOKEN", DUMMY_TOKEN)
    monkeypatch.delenv("HF_TOOLS_API_KEYS", raising=False)
    return served


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "chat.example"])
def test_main_refuses_a_public_host_without_keys(
    host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hf_tools.serve.main import main

    served = _serve(monkeypatch)
    assert main(["--host", host]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"refusing to serve {host} without API keys" in err
    assert served == []


def test_main_serves_keys_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hf_tools.serve.main import main

    served = _serve(monkeypatch)
    keys = tmp_path / "keys"
    keys.write_text(f"# ops\n{_KEY_A}\n")
    monkeypatch.setenv("HF_TOOLS_API_KEYS", _KEY_B)
    assert main(["--host", "0.0.0.0", "--api-keys-file", str(keys), "--port", "9"]) == 0
    assert capsys.readouterr().err == ""  # no "open" warning
    run = served[-1]
    assert (run["host"], run["port"], run["access_log"]) == ("0.0.0.0", 9, False)
    assert run["log_config"]["loggers"]["hf_tools.serve.access"]["level"] == "INFO"
    client = TestClient(run["app"])
    assert client.get("/sessions/a", headers=_auth(_KEY_A)).status_code == 404  # known key
    assert client.get("/sessions/a", headers=_auth(_KEY_B)).status_code == 404
    assert client.get("/sessions/a", headers=_auth("other")).status_code == 401
    keys.write_text("# nothing\n")
    assert main(["--api-keys-file", str(keys)]) == 2
    assert "holds no API key" in capsys.readouterr().err
    assert main(["--api-keys-file", str(tmp_path / "missing")]) == 2
    assert "--api-keys-file" in capsys.readouterr().err
    assert main(["--allowed-origin", "app.example"]) == 2
    assert "scheme://host" in capsys.readouterr().err


def test_main_on_loopback_without_keys_runs_open_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hf_tools.serve.main import main

    served = _serve(monkeypatch)
    assert main(["--max-sessions-per-key", "7", "--allowed-host", "chat.example"]) == 0
    assert "no API keys configured; the server is OPEN" in capsys.readouterr().err
    app = served[-1]["app"]
    assert app.state.sessions.max_per_owner == 7
    client = TestClient(app)
    assert client.get("/sessions/a", headers={"Host": "chat.example"}).status_code == 404


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_real_uvicorn_serves_its_own_host_only() -> None:
    # The default Host rule reads the bound address from the connection, as uvicorn gives it.
    import httpx

    app = create_app(Agent(ScriptedChatModel(replies=["ok"]), []), api_keys=[_KEY_A])
    with serve_app(app) as base, httpx.Client(timeout=5) as client:
        port = base.rsplit(":", 1)[1]
        url = f"{base}/sessions/a"
        assert client.get(url, headers=_auth(_KEY_A)).status_code == 404
        for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
            assert client.get(url, headers={**_auth(_KEY_A), "Host": host}).status_code == 404
        for host in (f"evil.example:{port}", "127.0.0.1:1"):
            response = client.get(url, headers={**_auth(_KEY_A), "Host": host})
            assert response.status_code == 403, host
        assert client.get(url).status_code == 401


# --- Durable conversations and settings (issue 13, phase 1) ----------------------------------


def test_a_restarted_server_keeps_its_conversations(tmp_path: Path) -> None:
    from hf_tools.serve.store import SqliteStore

    def _app(replies: list[Any]) -> Any:
        agent = Agent(ScriptedChatModel(replies=replies), [])
        return create_app(agent, api_keys=[_KEY_A], store=SqliteStore(tmp_path / "chat.db"))

    with TestClient(_app([_echo])) as first:
        session = first.post("/sessions", headers=_auth(_KEY_A), json={}).json()["id"]
        assert _say(first, session, _KEY_A, "one").json()["answer"] == "heard: one"
    with TestClient(_app([_echo])) as second:  # a new process on the same file
        history = second.get(f"/sessions/{session}", headers=_auth(_KEY_A)).json()["messages"]
        assert [(m["role"], m["content"]) for m in history] == [
            ("human", "one"),
            ("ai", "heard: one"),
        ]
        # The model gets the stored history back, and the new turn is stored after it.
        assert _say(second, session, _KEY_A, "two").json()["answer"] == "heard: one | two"
        assert second.get(f"/sessions/{session}", headers=_auth(_KEY_B)).status_code == 401
        assert second.delete(f"/sessions/{session}", headers=_auth(_KEY_A)).status_code == 204
    with TestClient(_app([])) as third:
        assert third.get(f"/sessions/{session}", headers=_auth(_KEY_A)).status_code == 404


def test_a_turn_the_store_cannot_write_is_a_502_and_leaves_nothing(tmp_path: Path) -> None:
    from hf_tools.serve.store import SqliteStore

    class _Failing(SqliteStore):
        def append_turn(self, owner: str, session_id: str, messages: Any) -> None:
            raise sqlite3.OperationalError("disk I/O error")

    store = _Failing(tmp_path / "chat.db")
    client = _client(ScriptedChatModel(replies=["ok", _echo]), store=store, sessions=["a"])
    response = client.post("/sessions/a/messages", json={"message": "lost"})
    assert response.status_code == 502
    assert client.get("/sessions/a").json() == {"messages": []}  # not in memory either
    assert store.load("-", "a") == []  # its events made the session, no message is in it
    # The next turn does not see the unrecorded one.
    store.append_turn = SqliteStore.append_turn.__get__(store)  # type: ignore[method-assign]
    response = client.post("/sessions/a/messages", json={"message": "kept"})
    assert response.json()["answer"] == "heard: kept"
    assert [m.content for m in store.load("-", "a") or []] == ["kept", "heard: kept"]


@pytest.mark.parametrize("stream", ["yes", "false", 1, None])
def test_stream_must_be_a_json_boolean(stream: Any) -> None:
    client = _client(ScriptedChatModel(replies=["never"]))
    response = client.post("/sessions/a/messages", json={"message": "hi", "stream": stream})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_stream"
    assert client.get("/sessions/a").status_code == 404  # refused before any session exists


def test_help_explains_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    from hf_tools.serve.main import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Serve a chatbot over HTTP" in out and "SQLite" in out
    for flag in ("--store", "--chat-base-url", "--base-url", "--provider", "--max-history"):
        assert flag in out


def test_main_stores_in_chatbot_db_and_takes_settings_from_flags_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hf_tools.serve.main import main
    from hf_tools.serve.store import SqliteStore

    served = _serve(monkeypatch)
    monkeypatch.delenv("HF_TOOLS_STORE")
    monkeypatch.chdir(tmp_path)
    assert main(["--max-history", "6", "--provider", "auto"]) == 0
    app = served[-1]["app"]
    backend = app.state.sessions.backend
    assert isinstance(backend, SqliteStore) and backend.path == Path("chatbot.db")
    assert (tmp_path / "chatbot.db").is_file() and app.state.sessions.max_history == 6
    backend.close()
    monkeypatch.setenv("HF_TOOLS_STORE", "sqlite:///other.db")
    assert main([]) == 0
    assert served[-1]["app"].state.sessions.backend.path == Path("other.db")
    served[-1]["app"].state.sessions.backend.close()
    assert main(["--store", "mysql://db/chat"]) == 2
    assert "--store takes memory, sqlite:///path.db or postgresql://" in capsys.readouterr().err


def test_hf_token_is_needed_only_for_hugging_face_hosts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hf_tools.serve.main import main

    served = _serve(monkeypatch)
    monkeypatch.delenv("HF_TOKEN")
    local = ["--chat-base-url", "http://127.0.0.1:8080/v1", "--base-url", "http://127.0.0.1:9"]
    assert main(local) == 0
    agent: Agent = served[-1]["app"].state.agent
    assert agent.model.base_url == "http://127.0.0.1:8080/v1"  # type: ignore[attr-defined]
    assert main(local[:2]) == 2  # the tools still default to Hugging Face
    assert "export HF_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("HF_TOOLS_CHAT_BASE_URL", "https://router.huggingface.co/v1")
    assert main(local[2:]) == 2


# --- The HTTP surface (issue 13): resumable SSE, artifacts, codes, OpenAPI, CORS, settings ----


@StructuredTool.from_function
def lookup(term: str) -> str:
    """Look a term up."""
    return f"{term}: found"


def _lookup_model(*answers: str) -> ScriptedChatModel:
    replies: list[Any] = []
    for answer in answers:
        replies += [AIMessage("Checking.", tool_calls=[tool_call("lookup", term="cats")]), answer]
    return ScriptedChatModel(replies=replies)


def test_stream_events_carry_ids_and_resume_replays_the_rest() -> None:
    model = _lookup_model("Cats exist.", "Still.")
    client = _client(model, [lookup], sessions=["a"])
    body = {"message": "cats?", "stream": True}
    first = _frames(client.post("/sessions/a/messages", json=body).text)
    ids = [event_id for event_id, _, _ in first]
    assert ids == list(range(1, len(first) + 1)) and first[-1][1] == "final"
    assert first[-1][2]["answer"] == "Cats exist."
    # after=N (or Last-Event-ID: N) replays what came after N, and ends at the final event.
    assert _frames(client.get("/sessions/a/events", params={"after": 2}).text) == first[2:]
    resumed = client.get("/sessions/a/events", headers={"Last-Event-ID": "4"})
    assert _frames(resumed.text) == first[4:]
    assert resumed.headers["content-type"].startswith("text/event-stream")
    both = client.get("/sessions/a/events?after=5", headers={"Last-Event-ID": "1"})
    assert _frames(both.text) == first[5:]  # the query wins
    # After the final event there is nothing to say, and nothing ran.
    assert client.get("/sessions/a/events", params={"after": ids[-1]}).text == ""
    assert len(model.seen) == 2
    # The next turn's ids go on from the last one.
    second = _frames(client.post("/sessions/a/messages", json=body).text)
    assert second[0][0] == ids[-1] + 1 and second[-1][2]["answer"] == "Still."
    assert _frames(client.get("/sessions/a/events", params={"after": ids[-1]}).text) == second


@pytest.mark.parametrize("after", ["x", "-1", "1.5", "9" * 19, "\u0661"])  # an Arabic-Indic digit
def test_a_bad_event_id_is_a_400(after: str) -> None:
    client = _client(ScriptedChatModel(replies=["ok"]))
    client.post("/sessions/a/messages", json={"message": "hi"})
    response = client.get("/sessions/a/events", params={"after": after})
    assert response.status_code == 400 and response.json()["code"] == "invalid_after"
    if after.isascii():
        response = client.get("/sessions/a/events", headers={"Last-Event-ID": after})
        assert response.status_code == 400


def test_a_turn_whose_replica_died_ends_with_turn_interrupted() -> None:
    # What a killed replica leaves: events of a turn, no final one, and no lock held.
    from hf_tools.serve.store import MemoryStore

    store = MemoryStore()
    model = ScriptedChatModel(replies=["never"])
    client = _client(model, store=store)
    store.create("-", "a")
    store.append_events("-", "a", [("token", {"type": "token", "text": "Hal", "step": 1})])
    frames = _frames(client.get("/sessions/a/events").text)
    assert frames == [
        (1, "token", {"type": "token", "text": "Hal", "step": 1}),
        (
            None,
            "error",
            {
                "error": "the turn stopped before its end (its server went away): look at the"
                " conversation, then send the message again",
                "code": "turn_interrupted",
            },
        ),
    ]
    assert _frames(client.get("/sessions/a/events?after=1").text)[0][2]["code"] == (
        "turn_interrupted"
    )
    assert model.seen == []  # resuming never starts a turn
    assert client.get("/sessions/b/events").json()["code"] == "session_not_found"


_SLOW = threading.Event()


@StructuredTool.from_function
def slow(term: str) -> str:
    """Take a while."""
    assert _SLOW.wait(timeout=30)  # in LangChain's executor thread, not on the loop
    return f"{term}: slow"


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1", "::1"])  # the Postgres case's database
def test_a_resume_on_another_replica_follows_the_running_turn_with_heartbeats(
    make_store: Factory,  # noqa: F811 (the fixture imported above)
) -> None:
    import httpx

    _SLOW.clear()
    store = make_store()  # two apps on one database: two replicas, as a client sees them
    store.create("-", "a")
    model = ScriptedChatModel(
        replies=[AIMessage("", tool_calls=[tool_call("slow", term="x")]), "Done."]
    )
    fast = {"heartbeat": 0.05, "poll_interval": 0.01}
    runs = create_app(Agent(model, [slow]), store=store, **fast)  # type: ignore[arg-type]
    other_store = make_store()
    other = create_app(Agent(ScriptedChatModel(), []), store=other_store, **fast)  # type: ignore[arg-type]

    async def _main() -> tuple[str, str]:
        def client(app: Any) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app)
            return httpx.AsyncClient(transport=transport, base_url="http://testserver")

        async with client(runs) as one, client(other) as two:
            body = {"message": "go", "stream": True}
            posted = asyncio.ensure_future(one.post("/sessions/a/messages", json=body))
            for _ in range(2000):  # until the tool runs (bounded: 20 s on a loaded machine)
                if store.turn_running("-", "a") and store.events_after("-", "a", 0):
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail("the turn's tool did not start within 20 s")
            resumed = asyncio.ensure_future(two.get("/sessions/a/events?after=0"))
            await asyncio.sleep(0.3)  # a quiet tool: both streams get heartbeats meanwhile
            _SLOW.set()
            return (await posted).text, (await resumed).text

    live, resumed = asyncio.run(_main())
    assert _frames(resumed) == _frames(live)  # same ids, same events, on either replica
    assert _frames(live)[-1][2]["answer"] == "Done."
    assert ": ping\n\n" in live and ": ping\n\n" in resumed


def test_a_client_that_leaves_does_not_stop_its_turn() -> None:
    # The turn runs apart from its request: its answer is recorded and can be replayed.
    import httpx

    _SLOW.clear()
    model = ScriptedChatModel(
        replies=[AIMessage("", tool_calls=[tool_call("slow", term="x")]), "Kept."]
    )
    app = create_app(Agent(model, [slow]), **_made({}, {"-": ["a"]}))

    async def _main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            body = {"message": "go", "stream": True}
            posted = asyncio.ensure_future(c.post("/sessions/a/messages", json=body))
            for _ in range(500):
                if len(model.seen) == 1:
                    break
                await asyncio.sleep(0.01)
            posted.cancel()  # the client hangs up mid-turn
            _SLOW.set()
            for _ in range(500):
                if (
                    app.state.sessions.backend.turn_running("-", "a") is False
                    and (await c.get("/sessions/a")).json()["messages"]
                ):
                    break
                await asyncio.sleep(0.01)

    asyncio.run(_main())
    client = TestClient(app)
    assert client.get("/sessions/a").json()["messages"][-1]["content"] == "Kept."
    assert _sse(client.get("/sessions/a/events").text)[-1][1]["answer"] == "Kept."


def _image_tool(image: bytes, mime: str) -> Any:
    from hf_tools.tasks.text_to_image import TextToImageOutput

    def draw(prompt: str) -> tuple[str, Any]:
        """Draw it."""
        return "an image", TextToImageOutput(image=image, mime=mime)

    return StructuredTool.from_function(draw, response_format="content_and_artifact")


def test_artifacts_are_served_to_their_owner_only_with_safe_headers() -> None:
    png = (FIXTURES / "image.png").read_bytes()
    model = ScriptedChatModel(
        replies=[AIMessage("", tool_calls=[tool_call("draw", prompt="a cat")]), "Drawn."]
    )
    app = create_app(
        Agent(model, [_image_tool(png, "image/png")]),
        api_keys=[_KEY_A, _KEY_B],
        **_made({}, {_owner(_KEY_A): ["s"]}),
    )
    client = TestClient(app)
    (ref,) = _say(client, "s", _KEY_A, "draw a cat").json()["artifacts"]
    assert {k: ref[k] for k in ("tool", "type", "content_type")} == {
        "tool": "draw",
        "type": "image",
        "content_type": "image/png",
    }
    response = client.get(ref["url"], headers=_auth(_KEY_A))
    assert response.content == png and response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    # Another key's request, an unknown id, a deleted session: 404, telling nothing.
    for url, key in [
        (ref["url"], _KEY_B),
        ("/sessions/s/artifacts/nope", _KEY_A),
        (f"/sessions/other/artifacts/{ref['id']}", _KEY_A),
    ]:
        response = client.get(url, headers=_auth(key))
        assert response.status_code == 404 and response.json()["code"] == "artifact_not_found"
    assert client.delete("/sessions/s", headers=_auth(_KEY_A)).status_code == 204
    assert client.get(ref["url"], headers=_auth(_KEY_A)).status_code == 404


@pytest.mark.parametrize("stored", ["text/html", "image/svg+xml", "application/javascript"])
def test_an_artifact_a_browser_could_run_is_a_download(stored: str) -> None:
    from hf_tools.serve.store import MemoryStore

    store = MemoryStore()
    store.put_artifact("-", "s", "a1", stored, b"<script>alert(1)</script>")
    response = _client(ScriptedChatModel(), store=store).get("/sessions/s/artifacts/a1")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="a1.bin"'
    assert response.headers["x-content-type-options"] == "nosniff"


def test_binary_parts_come_from_memory_with_a_checked_type(tmp_path: Path) -> None:
    from pydantic import BaseModel

    from hf_tools.serve.artifacts import binary_parts, served_type
    from hf_tools.tasks.text_to_image import TextToImageOutput

    def parts(output: object) -> list[tuple[str, str, bytes]]:
        return [(p.kind, served_type(p), p.data) for p in binary_parts(output)]

    png = (FIXTURES / "image.png").read_bytes()
    # The bytes' signature wins over a declared type; a declared type counts only when the
    # signature says nothing, and only for media a browser shows without running anything.
    assert parts(TextToImageOutput(image=png, mime="image/jpeg")) == [("image", "image/png", png)]
    assert parts(TextToImageOutput(image=b"\0\0", mime="video/mp4"))[0][1] == "video/mp4"
    assert parts(TextToImageOutput(image=b"<svg/>", mime="image/svg+xml")) == [
        ("image", "application/octet-stream", b"<svg/>")
    ]
    assert binary_parts("text") == [] and binary_parts(None) == []

    class Elsewhere(BaseModel):  # keeps its bytes where no field shows them
        def save(self, directory: Path) -> list[Path]:
            path = directory / "out.flac"
            path.write_bytes(b"fLaC" + b"\0" * 8)
            return [path]

    assert parts(Elsewhere()) == [("audio", "audio/flac", b"fLaC" + b"\0" * 8)]


def test_a_crash_is_a_json_500_with_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    from hf_tools.serve.store import MemoryStore

    class _Broken(MemoryStore):
        def load(self, owner: str, session_id: str) -> Any:
            raise KeyError("internal detail")

    app = create_app(Agent(ScriptedChatModel(), []), store=_Broken())
    with caplog.at_level("ERROR", logger="hf_tools.serve"):
        response = TestClient(app, raise_server_exceptions=False).get("/sessions/a")
    request_id = response.headers["x-request-id"]
    assert response.status_code == 500 and response.json() == {
        "error": f"internal error; give the operator request id {request_id}",
        "code": "internal_error",
        "request_id": request_id,
    }
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)


def test_openapi_describes_every_route_and_nothing_else() -> None:
    from starlette.routing import Route

    from hf_tools.serve.api import ERRORS

    client = _client(ScriptedChatModel())
    document = client.get("/openapi.json").json()
    served = {
        (method, route.path)
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.include_in_schema
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(m.upper(), path) for path, ops in document["paths"].items() for m in ops}
    assert served == documented
    assert document["openapi"] == "3.1.0"
    schemas = document["components"]["schemas"]
    assert schemas["MessageRequest"]["properties"]["message"]["maxLength"] == 4000
    for path, ops in document["paths"].items():
        for op in ops.values():
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):  # each error names its codes and their meaning
                    codes = [c for c in ERRORS if f"`{c}`" in response["description"]]
                    assert codes and all(str(ERRORS[c].status) == status for c in codes), path
    messages = document["paths"]["/sessions/{session_id}/messages"]["post"]["responses"]
    assert "`agent_failed`" in messages["502"]["description"]
    assert "`session_busy`" in messages["409"]["description"]


def test_openapi_document_is_valid() -> None:
    from openapi_spec_validator import validate

    validate(_client(ScriptedChatModel()).get("/openapi.json").json())


def test_the_docs_page_renders_the_document_without_script() -> None:
    response = _client(ScriptedChatModel()).get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<script" not in response.text.lower()
    assert "default-src 'none'" in response.headers["content-security-policy"]
    for text in ("GET /sessions/{session_id}/events", "/openapi.json", "<h2>Error codes</h2>"):
        assert text in response.text
    assert "<tr><td><code>turn_interrupted</code></td><td>SSE</td>" in response.text


def test_every_error_code_is_in_the_docstring_and_the_server_page() -> None:
    import hf_tools.serve as server
    from hf_tools.serve.api import ERRORS

    server_page = (ROOT / "docs" / "server.md").read_text()
    for code in ERRORS:
        assert f"``{code}``" in (server.__doc__ or ""), code
        assert f"`{code}`" in server_page, code
    with pytest.raises(ValueError, match="not in the table"):
        ChatError(400, "x", "made_up")
    with pytest.raises(ValueError, match="not in the table"):
        ChatError(404, "x", "invalid_json")  # a known code with another status


def test_cors_preflights_cover_resume_and_artifacts() -> None:
    app = "https://app.example"
    client = _keyed(ScriptedChatModel(replies=["ok"]), allowed_origins=[app])
    for path, headers in [
        ("/sessions/a/events", "authorization, last-event-id"),
        ("/sessions/a/artifacts/x", "authorization"),
        ("/sessions/a", "authorization"),
    ]:
        preflight = {
            "Origin": app,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": headers,
        }
        response = client.options(path, headers=preflight)
        assert response.status_code == 200, path
        allowed = response.headers["access-control-allow-headers"].lower()
        assert all(h.strip() in allowed for h in headers.split(","))
    cross = {"Origin": app, **_auth(_KEY_A)}
    response = client.post("/sessions/a/messages", json={"message": "hi"}, headers=cross)
    assert response.headers["access-control-allow-origin"] == app
    assert response.headers["access-control-expose-headers"] == "X-Request-ID"


def test_every_flag_has_an_environment_variable_and_flags_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hf_tools.serve.main as server
    from hf_tools.serve.flags import build_parser, env_name

    served = _serve(monkeypatch)
    made: list[dict[str, Any]] = []
    agents: list[dict[str, Any]] = []
    real, real_agent = server.create_app, server.build_server_agent
    monkeypatch.setattr(server, "create_app", lambda *a, **kw: made.append(kw) or real(*a, **kw))
    monkeypatch.setattr(
        server, "build_server_agent", lambda **kw: agents.append(kw) or real_agent(**kw)
    )
    parser = build_parser()
    for action in parser._actions:
        for flag in action.option_strings[:1]:  # --x, not its negation --no-x
            if flag.startswith("--") and flag != "--help":
                assert f"env {env_name(flag)}" in (action.help or ""), flag
    out = tmp_path / "out"
    monkeypatch.setenv("HF_TOOLS_MAX_MESSAGE_CHARS", "50")
    monkeypatch.setenv("HF_TOOLS_HEARTBEAT", "2.5")
    monkeypatch.setenv("HF_TOOLS_OUTPUT_DIR", str(out))
    monkeypatch.setenv("HF_TOOLS_ALLOWED_ORIGIN", "https://a.example, https://b.example")
    monkeypatch.setenv("HF_TOOLS_MAX_HISTORY", "8")
    assert server.main(["--max-history", "6", "--allowed-origin", "https://c.example"]) == 0
    settings = made[-1]
    assert (settings["max_message_chars"], settings["heartbeat"]) == (50, 2.5)
    assert settings["max_history"] == 6  # the flag wins over HF_TOOLS_MAX_HISTORY
    assert settings["allowed_origins"] == ["https://c.example"]  # replaces the env's list
    assert agents[-1]["output_dir"] == out and len(served) == 1
    assert server.main([]) == 0
    assert made[-1]["allowed_origins"] == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("HF_TOOLS_HEARTBEAT", "soon")
    with pytest.raises(SystemExit):
        server.main([])


def test_a_resumed_stream_counts_against_the_stream_limit_and_reports_its_failure() -> None:
    from hf_tools.serve.store import MemoryStore

    class _Flaky(MemoryStore):
        def events_after(self, *args: Any, **kw: Any) -> Any:
            raise sqlite3.OperationalError("disk I/O error at /srv/secret.db")

    store = _Flaky()
    store.create("-", "a")
    response = _client(ScriptedChatModel(), store=store).get("/sessions/a/events")
    ((name, data),) = _sse(response.text)
    assert name == "error" and data["code"] == "internal_error"
    assert data["request_id"] == response.headers["x-request-id"]
    assert "secret" not in response.text and "OperationalError" not in response.text
    response = _client(ScriptedChatModel(), max_streams_per_key=0).get("/sessions/a/events")
    assert response.status_code == 404  # no such session: checked first
    client = _client(ScriptedChatModel(replies=["ok"]), max_streams_per_key=1, sessions=["a"])
    client.post("/sessions/a/messages", json={"message": "hi"})
    assert client.get("/sessions/a/events").status_code == 200  # the turn's slot is free again
    held = _client(ScriptedChatModel(), max_streams=0, store=store)
    assert held.get("/sessions/a/events").json()["code"] == "server_busy"


def test_a_token_stream_is_stored_in_few_writes_in_order() -> None:
    from hf_tools.serve.store import MemoryStore

    class _Slow(MemoryStore):
        writes: list[int] = []

        def append_events(self, owner: str, session_id: str, events: Any) -> list[int]:
            time.sleep(0.005)  # a disk: tokens come faster than single writes could go
            self.writes.append(len(events))
            return super().append_events(owner, session_id, events)

    store = _Slow()
    words = " ".join(f"w{i}" for i in range(60))
    client = _client(ScriptedChatModel(replies=[words]), store=store, sessions=["a"])
    live = _frames(client.post("/sessions/a/messages", json={"message": "hi", "stream": True}).text)
    assert [name for _, name, _ in live].count("token") == 60 and live[-1][1] == "final"
    assert [i for i, _, _ in live] == list(range(1, 62))  # every event, in order, with its id
    assert sum(store.writes) == 61 and len(store.writes) < 10
    assert _frames(client.get("/sessions/a/events").text) == live


def test_a_store_that_cannot_take_events_fails_the_turn_and_records_nothing() -> None:
    from hf_tools.serve.store import MemoryStore

    class _Full(MemoryStore):
        def append_events(self, *args: Any, **kw: Any) -> list[int]:
            raise sqlite3.OperationalError("database or disk is full")

    client = _client(ScriptedChatModel(replies=["lost"]), store=_Full(), sessions=["a"])
    streamed = client.post("/sessions/a/messages", json={"message": "hi", "stream": True})
    ((event_id, name, data),) = _frames(streamed.text)
    assert (event_id, name, data["code"]) == (None, "error", "agent_failed")
    assert "full" not in streamed.text
    response = client.post("/sessions/a/messages", json={"message": "hi"})
    assert response.status_code == 502 and response.json()["code"] == "agent_failed"
    assert client.get("/sessions/a").json() == {"messages": []}
