"""The chatbot backend in-process: statuses, memory per session, SSE, limits."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import StructuredTool
from starlette.testclient import TestClient

from agents.chatbot_server import (
    ChatError,
    SessionStore,
    _trim,
    build_server_agent,
    create_app,
    system_prompt,
)
from hf_tools import HuggingFaceToolkit
from hf_tools.agent import Agent
from hf_tools.http import HFRequest
from hf_tools.testing import DUMMY_TOKEN, ScriptedChatModel, tool_call

from .conftest import FIXTURES, ROOT

_JSON = {"Content-Type": "application/json"}


def _echo(messages: list[BaseMessage]) -> str:
    """Answers with what it was told, so memory shows in the answer."""
    said = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
    return "heard: " + " | ".join(said)


def _client(model: ScriptedChatModel, tools: list[Any] | None = None, **kw: Any) -> TestClient:
    return TestClient(create_app(Agent(model, tools or []), **kw))


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_health_and_json_404() -> None:
    client = _client(ScriptedChatModel())
    assert client.get("/health").json() == {"status": "ok", "sessions": 0}
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found", "code": "not_found"}
    response = client.put("/sessions/a/messages")
    assert response.status_code == 405 and "error" in response.json()


def test_each_session_remembers_its_own_conversation() -> None:
    client = _client(ScriptedChatModel(replies=[_echo] * 3))
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
        ]
    )
    client = _client(model, toolkit.get_tools())
    with cassette("image-segmentation/success"):
        response = client.post("/sessions/s1/messages", json={"message": "segment it"})
    body = response.json()
    assert response.status_code == 200
    assert body["answer"] == "Two people." and body["steps"] == 2
    assert body["tools"] == [
        {"name": "image_segmentation", "args": {"image": "tests/fixtures/image.png"}}
    ]
    assert body["artifacts"] == [{"tool": "image_segmentation", "type": "ImageSegmentationOutput"}]
    assert "PNG" not in response.text.replace("PNG images", "")
    # Memory keeps the conversation without the masks.
    store: SessionStore = client.app.state.sessions  # type: ignore[attr-defined]
    session = store.get("-", "s1")
    assert session is not None
    assert all(m.artifact is None for m in session.messages if isinstance(m, ToolMessage))


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b"{}", 400, '{"message": "<non-empty text>"}'),
        (b'{"message": "   "}', 400, "non-empty"),
        (b'{"message": 3}', 400, "non-empty"),
        (json.dumps({"message": "x" * 101}).encode(), 413, "101 characters; the limit is 100"),
        (b'{"message": "' + b"x" * 2000 + b'"}', 413, "body over"),
    ],
)
def test_bad_requests_get_clean_json_errors(body: bytes, status: int, error: str) -> None:
    model = ScriptedChatModel(replies=["never"])
    client = _client(model, max_message_chars=100)
    response = client.post("/sessions/a/messages", content=body, headers=_JSON)
    assert response.status_code == status
    assert error in response.json()["error"]
    assert model.seen == []  # refused before the model was asked


def test_bad_session_ids_are_refused() -> None:
    response = _client(ScriptedChatModel()).post("/sessions/a%20b/messages", json={"message": "x"})
    assert response.status_code == 400 and "session id" in response.json()["error"]


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
    client = _client(model, [lookup])
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


def test_get_stream_for_eventsource_clients() -> None:
    client = _client(ScriptedChatModel(replies=["hello there"]))
    response = client.get("/sessions/a/messages", params={"message": "hi"})
    assert response.status_code == 200
    assert _sse(response.text)[-1] == (
        "final",
        {
            "type": "final",
            "answer": "hello there",
            "steps": 1,
            "stopped_reason": "answer",
            "artifacts": [],
        },
    )
    assert client.get("/sessions/a/messages").status_code == 400


def test_agent_failures_are_502_or_an_error_event() -> None:
    def _boom(_: list[BaseMessage]) -> str:
        raise RuntimeError("model down")

    client = _client(ScriptedChatModel(replies=[_boom, _boom]))
    response = client.post("/sessions/a/messages", json={"message": "hi"})
    assert response.status_code == 502 and "model down" in response.json()["error"]
    response = client.get("/sessions/a/messages", params={"message": "hi"})
    assert _sse(response.text) == [("error", {"error": "RuntimeError: model down"})]
    assert client.get("/sessions/a").json() == {"messages": []}  # nothing half-remembered


def test_full_store_evicts_the_least_recently_used_session() -> None:
    client = _client(ScriptedChatModel(replies=["ok"] * 4), max_sessions=2)
    for session in ("a", "b", "a", "c"):
        assert (
            client.post(f"/sessions/{session}/messages", json={"message": "hi"}).status_code == 200
        )
    assert client.get("/sessions/b").status_code == 404  # b was least recently used
    assert client.get("/sessions/a").status_code == 200
    assert client.get("/health").json()["sessions"] == 2


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
    app = create_app(Agent(ScriptedChatModel(replies=["never"]), []), max_streams_per_key=1)

    async def _call() -> None:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/sessions/a/messages",
            "raw_path": b"/sessions/a/messages",
            "query_string": b"message=hi",
            "headers": [(b"host", b"testserver")],
            "server": ("testserver", 80),
            "scheme": "http",
            "http_version": "1.1",
            "root_path": "",
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(_: Any) -> None:
            raise OSError("client gone")

        with pytest.raises(OSError, match="client gone"):
            await app(scope, receive, send)

    asyncio.run(_call())
    store: SessionStore = app.state.sessions
    session = store.get("-", "a")
    assert session is not None and not session.busy
    response = TestClient(app).get("/sessions/b/messages", params={"message": "hi"})
    assert _sse(response.text)[-1][1]["answer"] == "never"  # the one stream slot is free


def test_concurrent_requests_to_one_session_run_one_at_a_time() -> None:
    async def _main() -> list[str]:
        import httpx

        model = ScriptedChatModel(replies=[_echo, _echo])
        app = create_app(Agent(model, []))
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
    from agents.chatbot_server import main

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
    client = TestClient(create_app(build_server_agent(model, tasks=["image-classification"])))
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

    from agents.chatbot_server import main

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
