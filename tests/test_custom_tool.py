"""The custom tool: one configured endpoint, a JSON payload posted as-is, its JSON answered back."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from langchain_core.messages import ToolMessage

from hf_tools import AsyncHFClient, ConfigurationError, HFClient, HuggingFaceToolkit, get_spec
from hf_tools.http import HFRequest
from hf_tools.langchain.tools import make_tool

SPEC = get_spec("custom")
URL = str(SPEC.example_endpoint)
PAYLOAD = {"inputs": "I like you", "parameters": {}}
ANSWER = (
    '[{"label":"POSITIVE","score":0.9998695850372314},'
    '{"label":"NEGATIVE","score":0.00013043530634604394}]'
)


def _call(args: dict[str, Any]) -> dict[str, Any]:
    return {"name": "custom", "args": args, "id": "1", "type": "tool_call"}


@pytest.fixture
def custom(token: str) -> HuggingFaceToolkit:
    return HuggingFaceToolkit(
        api_key=token, models={"custom": URL}, custom_description="Sentiment of an English text."
    )


def test_custom_is_offered_only_with_its_endpoint(token: str) -> None:
    assert "custom" not in HuggingFaceToolkit(api_key=token).tool_names
    with pytest.raises(ConfigurationError, match=r"needs its endpoint URL in models\['custom'\]"):
        HuggingFaceToolkit(api_key=token, tasks=["custom"])
    default = HuggingFaceToolkit(api_key=token, models={"custom": URL}).get_tool("custom")
    assert default.description == SPEC.description
    assert default.metadata == {"hf_task": "custom", "hf_model": URL}


def test_payload_goes_as_is_and_json_comes_back(
    custom: HuggingFaceToolkit, cassette: Any, sent: list[HFRequest]
) -> None:
    tool = custom.get_tool("custom")
    assert tool.description == "Sentiment of an English text."
    with cassette("custom/success"):
        msg = tool.invoke(_call({"payload": PAYLOAD}))
    assert isinstance(msg, ToolMessage) and msg.status == "success"
    assert sent[0].url == URL and json.loads(sent[0].content) == PAYLOAD
    assert msg.content == ANSWER
    assert msg.artifact.data == json.loads(ANSWER)


async def test_async_and_a_json_encoded_payload(custom: HuggingFaceToolkit, cassette: Any) -> None:
    # Some models send the object as a JSON string; it is the same request.
    with cassette("custom/success"):
        msg = await custom.get_tool("custom").ainvoke(_call({"payload": json.dumps(PAYLOAD)}))
    assert msg.content == ANSWER


@pytest.mark.parametrize("payload", [{"text": "I like you"}, "I like you", ["I like you"]])
def test_payload_without_inputs_is_refused_with_a_fix(
    custom: HuggingFaceToolkit, sent: list[HFRequest], payload: Any
) -> None:
    msg = custom.get_tool("custom").invoke(_call({"payload": payload}))
    assert msg.status == "error"
    assert 'payload must be a JSON object with an "inputs" key' in str(msg.content)
    assert sent == []


def test_a_large_answer_is_bounded_in_content_and_whole_in_the_artifact(token: str) -> None:
    rows = [{"label": f"LABEL_{i}", "score": 1 / (i + 1)} for i in range(500)]

    def endpoint(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=rows)

    client = HFClient(
        api_key=token,
        models={"custom": URL},
        transport=httpx2.MockTransport(endpoint),
        max_content_chars=300,
    )
    tool = make_tool(SPEC, client, AsyncHFClient(api_key=token))
    msg = tool.invoke(_call({"payload": PAYLOAD}))
    assert len(msg.content) <= 300 and "full result in the artifact" in msg.content
    assert msg.content.startswith('[{"label":"LABEL_0","score":1.0}')
    assert msg.artifact.data == rows


def test_python_callers_need_an_endpoint(token: str, cassette: Any) -> None:
    with pytest.raises(ConfigurationError, match="needs its endpoint URL"):
        HFClient(api_key=token).run("custom", payload=PAYLOAD)
    # A client made for one dedicated endpoint posts custom payloads to it.
    with (
        cassette("custom/success"),
        HFClient(api_key=token, base_url=URL, is_custom_endpoint=True) as client,
    ):
        assert client.run("custom", payload=PAYLOAD).data[0]["label"] == "POSITIVE"
