"""Our tools, unchanged, inside langchain's create_agent and langgraph's prebuilt ReAct agent."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.prebuilt import create_react_agent
from langgraph.warnings import LangGraphDeprecatedSinceV10

from hf_tools import HuggingFaceToolkit
from hf_tools.testing import ScriptedChatModel, tool_call


def _react_agent(model: ScriptedChatModel, toolkit: HuggingFaceToolkit) -> Any:
    with warnings.catch_warnings():
        # langgraph 1.x flags the prebuilt agent as moved to langchain's create_agent.
        warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
        return create_react_agent(model, toolkit.get_tools())


def _create_agent(model: ScriptedChatModel, toolkit: HuggingFaceToolkit) -> Any:
    # langchain 1.5 needs newer langchain-core than our floor: make test-lowest runs this later.
    agents = pytest.importorskip("langchain.agents")
    return agents.create_agent(model, toolkit.get_tools())


BUILDERS = pytest.mark.parametrize(
    "build", [_create_agent, _react_agent], ids=["create_agent", "create_react_agent"]
)


@BUILDERS
def test_agent_runs_our_tools_and_keeps_artifacts(
    build: Any, toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    model = ScriptedChatModel(
        replies=[
            AIMessage(
                "",
                tool_calls=[
                    tool_call(
                        "automatic_speech_recognition", "a", audio="tests/fixtures/audio.flac"
                    ),
                    tool_call("audio_classification", "b", audio="tests/fixtures/audio.flac"),
                ],
            ),
            "A man says: sir, I exist.",
        ]
    )
    graph = build(model, toolkit)
    with cassette("automatic-speech-recognition/success", "audio-classification/success"):
        state = graph.invoke({"messages": [("user", "Who speaks in audio.flac and what is said?")]})
    tool_messages = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.name for m in tool_messages] == [
        "automatic_speech_recognition",
        "audio_classification",
    ]
    assert "a man said to the universe sir i exist" in str(tool_messages[0].content)
    assert str(tool_messages[1].content).startswith("male 0.9987")
    # langgraph keeps the typed artifact on the message; the model got the text.
    assert type(tool_messages[1].artifact).__name__ == "AudioClassificationOutput"
    assert state["messages"][-1].content == "A man says: sir, I exist."
    assert [t["function"]["name"] for t in model.tools] == toolkit.tool_names


@BUILDERS
async def test_agent_feeds_tool_errors_back(build: Any, toolkit: HuggingFaceToolkit) -> None:
    model = ScriptedChatModel(
        replies=[
            AIMessage("", tool_calls=[tool_call("image_classification", "x", image="nope.png")]),
            "The file does not exist.",
        ]
    )
    state = await build(model, toolkit).ainvoke({"messages": [("user", "classify nope.png")]})
    (error,) = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert error.status == "error" and "file not found: nope.png" in str(error.content)
    assert model.seen[1][-1] == error
