"""Chain semantics: with a ToolCall errors are ToolMessages; with plain arguments they raise.

An LCEL chain must stop at a failed step instead of passing its error text on as data, and
``batch(..., return_exceptions=True)`` / ``astream_events`` must see the failure.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from langchain_core.messages import ToolMessage
from langchain_core.prompts import PromptTemplate

import hf_tools.http.send
from hf_tools import HFToolError, HuggingFaceToolkit
from hf_tools.errors import ModelLoadingError
from hf_tools.http import HFRequest, RawResponse

LOADING = json.dumps({"error": "Model x is currently loading", "estimated_time": 5.0}).encode()


def _server(monkeypatch: pytest.MonkeyPatch, answers: dict[str, tuple[int, bytes]]) -> list[str]:
    """Answer by the model path; every URL asked is recorded."""
    asked: list[str] = []

    def _answer(request: HFRequest) -> RawResponse:
        asked.append(request.url)
        status, body = next(v for k, v in answers.items() if k in request.url)
        return RawResponse(status, httpx2.Headers({"content-type": "application/json"}), body)

    async def _aanswer(_: object, request: HFRequest) -> RawResponse:
        return _answer(request)

    monkeypatch.setattr(hf_tools.http.send, "_exchange_sync", lambda _, r: _answer(r))
    monkeypatch.setattr(hf_tools.http.send, "_exchange_async", _aanswer)
    return asked


@pytest.fixture
def toolkit() -> HuggingFaceToolkit:
    return HuggingFaceToolkit(
        api_key="hf_test",
        tasks=["summarization", "translation"],
        models={"summarization": "org/sum", "translation": "org/tr"},
        provider="hf-inference",  # arbitrary models, answered as hf-inference would
        max_retries=0,
        wait_for_model=False,
    )


def test_a_failed_step_stops_the_chain(
    toolkit: HuggingFaceToolkit, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _server(
        monkeypatch,
        {"org/sum": (503, LOADING), "org/tr": (200, b'[{"translation_text": "x"}]')},
    )
    chain = toolkit.get_tool("summarization") | toolkit.get_tool("translation")
    with pytest.raises(HFToolError, match="currently loading") as raised:
        chain.invoke({"text": "A long text."})
    assert isinstance(raised.value.error, ModelLoadingError)
    assert [u.rsplit("/models/", 1)[1] for u in asked] == ["org/sum"]  # translation never ran


async def test_batch_returns_the_exceptions(
    toolkit: HuggingFaceToolkit, monkeypatch: pytest.MonkeyPatch
) -> None:
    _server(monkeypatch, {"org/sum": (503, LOADING)})
    tool = toolkit.get_tool("summarization")
    for results in (
        tool.batch([{"text": "a"}, {"text": "b"}], return_exceptions=True),
        await tool.abatch([{"text": "a"}], return_exceptions=True),
    ):
        assert all(isinstance(r, HFToolError) for r in results)


async def test_astream_events_emits_on_tool_error(
    toolkit: HuggingFaceToolkit, monkeypatch: pytest.MonkeyPatch
) -> None:
    _server(monkeypatch, {"org/sum": (503, LOADING)})
    kinds: list[str] = []
    with pytest.raises(HFToolError):
        async for event in toolkit.get_tool("summarization").astream_events({"text": "a"}):
            kinds.append(event["event"])
    assert kinds == ["on_tool_start", "on_tool_error"]


async def test_a_tool_call_still_gets_an_error_message(
    toolkit: HuggingFaceToolkit, monkeypatch: pytest.MonkeyPatch
) -> None:
    _server(monkeypatch, {"org/sum": (503, LOADING)})
    tool = toolkit.get_tool("summarization")
    call: Any = {"name": tool.name, "args": {"text": "a"}, "id": "1", "type": "tool_call"}
    for message in (tool.invoke(call), await tool.ainvoke(call)):
        assert isinstance(message, ToolMessage) and message.status == "error"
        assert "currently loading" in str(message.content)
    # Arguments that do not validate: a message for the agent, an exception for a chain.
    bad: Any = {**call, "args": {}}
    assert tool.invoke(bad).content.startswith("Invalid arguments for summarization: text")
    with pytest.raises(HFToolError, match=r"^Invalid arguments for summarization: text"):
        tool.invoke({})


def test_a_prompt_template_feeds_the_first_argument(
    toolkit: HuggingFaceToolkit, monkeypatch: pytest.MonkeyPatch
) -> None:
    _server(monkeypatch, {"org/sum": (200, b'[{"summary_text": "Short."}]')})
    chain = PromptTemplate.from_template("Summarize: {topic}") | toolkit.get_tool("summarization")
    assert chain.invoke({"topic": "cats"}) == "Short."
