"""The chatbot server under hostile input and load: broken text, slow tenants, slow clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from starlette.testclient import TestClient

from agents.chatbot_server import create_app
from agents.store import ConversationStore, MemoryStore, SqliteStore
from hf_tools.langchain.agent import Agent
from hf_tools.langchain.chat import StreamAssembler
from hf_tools.testing import ScriptedChatModel

_JSON = {"Content-Type": "application/json"}
_DELTA = '{"choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":%s}]}'


def _frames(text: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if line[:1] != ":")
        if lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


# --- Lone surrogates ---------------------------------------------------------------------


def test_an_emoji_split_across_stream_chunks_is_joined_and_a_lone_half_replaced() -> None:
    assembler = StreamAssembler("m")
    # A server that escapes each UTF-16 unit on its own: the emoji's halves in two events.
    payloads = [
        _DELTA % ("ok \\ud83d", "null"),
        _DELTA % ("\\ude00 and \\ude00 then", "null"),
        _DELTA % (" \\ud83d", '"stop"'),  # a half whose other never comes
        "[DONE]",
    ]
    chunks = [c for p in payloads for c in assembler.feed(p)] + assembler.close()
    texts = [c.text for c in chunks]
    for text in texts:
        text.encode("utf-8")  # every chunk on its own can be written out
    assert "".join(texts) == "ok \U0001f600 and \ufffd then \ufffd"


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_lone_surrogates_from_the_model_never_break_a_session(
    backend: str, tmp_path: Path
) -> None:
    store: ConversationStore = (
        MemoryStore() if backend == "memory" else SqliteStore(tmp_path / "chat.db")
    )
    # Streamed word by word: "\ud83d" is a token of its own, as a model's split emoji is.
    model = ScriptedChatModel(replies=["smile \ud83d", AIMessage("again \ude00")])
    client = TestClient(create_app(Agent(model, []), store=store))
    streamed = client.post("/sessions/a/messages", json={"message": "hi", "stream": True})
    events = _frames(streamed.text)
    assert events[-1] == ("final", {**events[-1][1], "answer": "smile \ufffd"})
    assert [d["text"] for name, d in events if name == "token"] == ["smile ", "\ufffd"]
    answered = client.post("/sessions/a/messages", json={"message": "more"})
    assert answered.status_code == 200 and answered.json()["answer"] == "again \ufffd"
    history = client.get("/sessions/a")
    assert history.status_code == 200
    assert [m["content"] for m in history.json()["messages"]] == [
        "hi",
        "smile \ufffd",
        "more",
        "again \ufffd",
    ]
    replay = client.get("/sessions/a/events")
    assert replay.status_code == 200
    assert [name for name, _ in _frames(replay.text)].count("final") == 2


def test_a_message_with_a_lone_surrogate_is_a_400() -> None:
    model = ScriptedChatModel(replies=["paired"])
    client = TestClient(create_app(Agent(model, [])))
    body = b'{"message": "hi \\ud83d"}'
    response = client.post("/sessions/a/messages", content=body, headers=_JSON)
    assert response.status_code == 400 and response.json()["code"] == "invalid_message"
    assert model.seen == []
    body = b'{"message": "hi \\ud83d\\ude00"}'  # a pair, escaped: one emoji
    response = client.post("/sessions/a/messages", content=body, headers=_JSON)
    assert response.status_code == 200
    assert model.seen[0][-1].content == "hi \U0001f600"
