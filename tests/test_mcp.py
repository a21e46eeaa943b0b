"""The MCP server through the SDK's in-memory client: listings, every tool, media, errors, jobs."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import AudioContent, ImageContent, ResourceLink, TextContent

from hf_tools import REGISTRY
from hf_tools.langchain.toolkit import HuggingFaceToolkit
from hf_tools.mcp import ToolServer
from hf_tools.mcp.cli import main
from hf_tools.tasks import TaskSpec
from hf_tools.toolset import Toolset

from .conftest import EVERY_TOOL, FIXTURES, RECORDED_MODELS, ROOT, provider_flow, task_toolkit

SPECS = list(REGISTRY.values())
IDS = [s.task for s in SPECS]


def task_server(task: str, token: str, **kw: Any) -> ToolServer:
    """A server with the one tool of ``task``, set up as its cassette was recorded."""
    spec = REGISTRY[task]
    model = str(spec.example_endpoint) if spec.needs_endpoint else RECORDED_MODELS[task]
    provider = "auto" if provider_flow(spec) else None
    toolset = Toolset(
        api_key=token,
        tasks=[task],
        models={task: model},
        provider=provider,
        allowed_roots=[FIXTURES, ROOT],
    )
    return ToolServer(toolset, **kw)


async def call(server: ToolServer, name: str, args: dict[str, Any], **kw: Any) -> Any:
    async with Client(server) as client:
        return await client.call_tool(name, args, **kw)


async def test_the_listing_is_the_toolsets_names_descriptions_and_schemas() -> None:
    toolset = Toolset(api_key="hf_x", **EVERY_TOOL)
    async with Client(ToolServer(toolset)) as client:
        listed = (await client.list_tools()).tools
    assert [t.name for t in listed] == toolset.names
    assert len(listed) == len(REGISTRY)
    for mcp_tool, tool in zip(listed, toolset.tools, strict=True):
        assert mcp_tool.description == tool.description
        assert mcp_tool.input_schema == tool.json_schema()
        assert mcp_tool.annotations is not None and mcp_tool.annotations.open_world_hint
    hints = {t.name: t.annotations.read_only_hint for t in listed if t.annotations}
    assert hints["text_classification"] is True and hints["image_segmentation"] is True
    assert hints["text_to_image"] is False and hints["text_to_video"] is False


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
async def test_every_tool_answers_from_its_cassette(
    spec: TaskSpec[Any, Any], token: str, cassette: Any
) -> None:
    server = task_server(spec.task, token)
    with cassette(f"{spec.task}/success"):
        result = await call(server, spec.tool_name, dict(spec.example))
    assert not result.is_error, result.content
    text = result.content[0]
    assert isinstance(text, TextContent) and text.text.strip()
    assert len(text.text) <= server.toolset.settings.max_content_chars
    # structuredContent is the typed output as JSON: it validates back into the output.
    output = spec.output_model.model_validate(result.structured_content)
    assert output.model_dump(mode="json") == result.structured_content


def _blocks(result: Any, kind: type) -> list[Any]:
    return [b for b in result.content if isinstance(b, kind)]


async def _read(server: ToolServer, uri: str) -> tuple[bytes, str | None]:
    async with Client(server) as client:
        (contents,) = (await client.read_resource(uri)).contents
    return base64.b64decode(contents.blob), contents.mime_type  # type: ignore[union-attr]


async def test_an_image_comes_inline_and_as_a_readable_resource(token: str, cassette: Any) -> None:
    server = task_server("text-to-image", token)
    with cassette("text-to-image/success"):
        result = await call(server, "text_to_image", dict(REGISTRY["text-to-image"].example))
    (image,) = _blocks(result, ImageContent)
    (link,) = _blocks(result, ResourceLink)
    data = base64.b64decode(image.data)
    assert data == base64.b64decode(result.structured_content["image"])
    assert image.mime_type == link.mime_type and image.mime_type.startswith("image/")
    assert link.size == len(data) and link.uri.startswith("hf-tools://artifacts/image_")
    assert await _read(server, link.uri) == (data, image.mime_type)


@pytest.mark.parametrize("audio_as", ["audio", "resource"])
async def test_audio_comes_inline_unless_asked_as_a_resource_only(
    token: str, cassette: Any, audio_as: str
) -> None:
    server = task_server("text-to-speech", token, audio_as=audio_as)
    with cassette("text-to-speech/success"):
        result = await call(server, "text_to_speech", {"text": "Hello from hf-tools."})
    (link,) = _blocks(result, ResourceLink)
    data, mime = await _read(server, link.uri)
    assert mime == link.mime_type and mime is not None and mime.startswith("audio/")
    inline = _blocks(result, AudioContent)
    if audio_as == "audio":
        assert [base64.b64decode(a.data) for a in inline] == [data]
    else:
        assert inline == []


async def test_a_video_is_a_resource_link_only(token: str, cassette: Any) -> None:
    server = task_server("text-to-video", token)
    with cassette("text-to-video/success"):
        result = await call(server, "text_to_video", {"prompt": "A running dog"})
    assert _blocks(result, ImageContent) == _blocks(result, AudioContent) == []
    (link,) = _blocks(result, ResourceLink)
    data, mime = await _read(server, link.uri)
    assert mime == "video/mp4" and data == base64.b64decode(result.structured_content["video"])


async def test_a_part_over_the_budget_is_inlined_but_not_kept(token: str, cassette: Any) -> None:
    server = task_server("text-to-image", token, resource_budget=10)
    with cassette("text-to-image/success"):
        result = await call(server, "text_to_image", dict(REGISTRY["text-to-image"].example))
    assert _blocks(result, ImageContent) and not _blocks(result, ResourceLink)
    async with Client(server) as client:
        assert (await client.list_resources()).resources == []


def _langchain_text(task: str, token: str, args: dict[str, Any], **kw: Any) -> Any:
    tool = task_toolkit(task, token, **kw).get_tool(REGISTRY[task].tool_name)
    return tool.invoke({"name": tool.name, "args": args, "id": "c1", "type": "tool_call"})


async def test_bad_arguments_are_an_error_result_with_langchains_text(token: str) -> None:
    server = task_server("summarization", token)
    args = {"txt": "typo"}
    result = await call(server, "summarization", args)
    assert result.is_error
    (text,) = result.content
    message = _langchain_text("summarization", token, args)
    assert message.status == "error"
    assert text.text == message.content and "Fix the arguments" in text.text


async def test_an_unavailable_model_is_an_error_result_with_langchains_text(
    token: str, cassette: Any
) -> None:
    model = {"text-classification": "this-model-does-not-exist-123"}
    server = ToolServer(Toolset(api_key=token, tasks=["text-classification"], models=model))
    with cassette("client/404"):
        result = await call(server, "text_classification", {"text": "I like you"})
    with cassette("client/404"):
        toolkit = HuggingFaceToolkit(api_key=token, tasks=["text-classification"], models=model)
        message = toolkit.get_tool("text_classification").invoke(
            {
                "name": "text_classification",
                "args": {"text": "I like you"},
                "id": "c1",
                "type": "tool_call",
            }
        )
    assert result.is_error and result.content[0].text == message.content
    assert "unavailable" in message.content


async def test_an_unknown_tool_is_a_protocol_error() -> None:
    from mcp.shared.exceptions import MCPError

    server = ToolServer(Toolset(api_key="hf_x", tasks=["summarization"]))
    async with Client(server) as client:
        with pytest.raises(MCPError, match="no tool 'nope'"):
            await client.call_tool("nope", {})


async def test_a_polled_video_job_reports_progress(token: str, cassette: Any) -> None:
    server = task_server("image-to-video", token)
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    args = dict(REGISTRY["image-to-video"].example)
    with cassette("image-to-video/success"):
        result = await call(server, "image_to_video", args, progress_callback=progress)
    assert not result.is_error, result.content
    assert [s[0] for s in seen] == [1]  # the recorded job answered its first poll
    assert seen[0][2] is not None and "poll 1" in seen[0][2]
    (link,) = _blocks(result, ResourceLink)
    assert link.mime_type == "video/mp4"


async def test_a_cancelled_call_polls_no_more_and_cancels_the_providers_job(
    token: str, cassette: Any, sent: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hf_tools.flow
    import hf_tools.http.send

    polling, release = asyncio.Event(), asyncio.Event()
    cancelled: list[bool] = []

    async def held(seconds: float) -> None:  # the poll interval lasts until released
        polling.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    monkeypatch.setattr(hf_tools.http.send, "_asleep", held)
    server = task_server("image-to-video", token)
    args = dict(REGISTRY["image-to-video"].example)
    with cassette("image-to-video/success", "image-to-video/cancel", all_played=False):
        async with Client(server) as client:
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "image_to_video", args)
                with anyio.fail_after(10):
                    await polling.wait()
                group.cancel_scope.cancel()
            release.set()  # a call still running would now poll
            await asyncio.sleep(0.1)
            await asyncio.gather(*hf_tools.flow._CANCELLING)
            assert cancelled == [True]
            # The Hub lookup, the job's submission, no poll: fal's cancel of the job instead.
            assert [r.method for r in sent] == ["GET", "POST", "PUT"]
            assert sent[2].url.endswith(
                "/requests/0e6a1d2c-3b4f-4c5d-8e9f-a0b1c2d3e4f5/cancel?_subdomain=queue"
            )
            assert sent[2].headers["authorization"] == f"Bearer {token}"
            # The server is still there for the next request.
            assert [t.name for t in (await client.list_tools()).tools] == ["image_to_video"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--tasks", "nope"], "unknown task 'nope'"),
        (["--family", "text"], "no Hugging Face token for router.huggingface.co"),
        (["--tasks", "summarization", "--provider", "fal-ai"], "no adapter for summarization"),
        (["--family", "nope"], "unknown tool families ['nope']"),
        (["--http", "--host", "0.0.0.0", "--tasks", "summarization"], "give a bearer token"),
    ],
)
def test_configuration_errors_stop_the_server_with_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if "--http" in argv:
        monkeypatch.setenv("HF_TOKEN", "hf_xxxxxxxxxxxxxxxxxxxx")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hf-tools mcp: ") and says in err
    assert err.count("\n") == 1
