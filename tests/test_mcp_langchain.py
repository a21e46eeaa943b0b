"""LangChain's own MCP client (``langchain.mcp``, over fastmcp) against ``hf-tools mcp``.

What it gets, measured: text as a text block; an image as an image block (base64) plus an
image block whose URL is the ``hf-tools://`` resource link; video as a file block with that
URL; ``structuredContent`` (with the bytes as base64) as the artifact. Audio inline
(``AudioContent``) makes it raise ``NotImplementedError``: ``--audio-as resource`` serves audio
as a resource link only, which it takes as a file block.
"""

from __future__ import annotations

import base64
import sys
from typing import Any

import pytest
from langchain_core._api import suppress_langchain_beta_warning
from langchain_core.messages import AIMessage, ToolMessage

from hf_tools import REGISTRY
from hf_tools.mcp import ToolServer
from hf_tools.routing import MAPPINGS
from hf_tools.testing import ScriptedChatModel, tool_call

from .conftest import ROOT
from .test_mcp import task_server
from .test_mcp_transports import TASKS, server_env, server_flags

with suppress_langchain_beta_warning():
    from fastmcp.client.transports import StdioTransport
    from langchain.mcp import MCPAdapter, MCPToolArtifact


async def _message(server: ToolServer, task: str) -> ToolMessage:
    spec = REGISTRY[task]
    (tool,) = await MCPAdapter(server).list_tools()
    call = {"name": tool.name, "args": dict(spec.example), "id": "c1", "type": "tool_call"}
    message = await tool.ainvoke(call)
    assert isinstance(message, ToolMessage)
    return message


def _kinds(message: ToolMessage) -> list[tuple[str, str]]:
    blocks: Any = message.content
    return [
        (b["type"], "base64" if b.get("base64") else b.get("url", "").split("://")[0])
        for b in blocks
    ]


async def test_an_image_is_an_inline_block_and_a_link_block(token: str, cassette: Any) -> None:
    with cassette("text-to-image/success"):
        message = await _message(task_server("text-to-image", token), "text-to-image")
    assert _kinds(message) == [("text", ""), ("image", "base64"), ("image", "hf-tools")]
    artifact: MCPToolArtifact = message.artifact
    image = message.content[1]["base64"]  # type: ignore[index]
    assert base64.b64decode(artifact["structured_content"]["image"]) == base64.b64decode(image)


async def test_a_video_is_a_file_block_with_its_link(token: str, cassette: Any) -> None:
    with cassette("text-to-video/success"):
        message = await _message(task_server("text-to-video", token), "text-to-video")
    assert _kinds(message) == [("text", ""), ("file", "hf-tools")]
    assert message.artifact["structured_content"]["video"]


async def test_inline_audio_breaks_langchains_client_and_audio_as_resource_fixes_it(
    token: str, cassette: Any
) -> None:
    with cassette("text-to-speech/success"), pytest.raises(NotImplementedError, match="audio"):
        await _message(task_server("text-to-speech", token), "text-to-speech")
    MAPPINGS.clear()  # the second run replays the Hub lookup too
    with cassette("text-to-speech/success"):
        server = task_server("text-to-speech", token, audio_as="resource")
        message = await _message(server, "text-to-speech")
    assert _kinds(message) == [("text", ""), ("file", "hf-tools")]
    assert message.artifact["structured_content"]["audio"]


async def test_create_agent_calls_a_tool_of_the_stdio_server() -> None:
    from langchain.agents import create_agent

    flags = [*server_flags(), "--audio-as", "resource"]
    command = ["-m", "tests.mcp_replay", *flags]
    transport = StdioTransport(sys.executable, command, env=server_env(), cwd=str(ROOT))
    tools = await MCPAdapter(transport).list_tools()
    assert [t.name for t in tools] == [t.replace("-", "_") for t in TASKS]
    model = ScriptedChatModel(
        replies=[
            AIMessage("", tool_calls=[tool_call("text_classification", text="I like you")]),
            "It is positive.",
        ]
    )
    agent = create_agent(model, tools)
    state = await agent.ainvoke({"messages": [{"role": "user", "content": "Mood of: I like you"}]})
    tool_message = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert tool_message.status == "success" and "POSITIVE" in str(tool_message.content)
    assert state["messages"][-1].content == "It is positive."
    # The model was offered the server's schemas, as the toolset states them.
    offered = {t["function"]["name"] for t in model.tools}
    assert offered == {t.replace("-", "_") for t in TASKS}
