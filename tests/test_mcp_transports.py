"""Real ``hf-tools mcp`` processes (stdio and streamable HTTP) replaying cassettes.

Each server is a subprocess started through tests/mcp_replay.py (test-only: the runtime never
reads its variable), driven by the SDK's client; HTTP on a free 127.0.0.1 port, stopped on exit.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import AudioContent, ImageContent, ResourceLink, TextContent

from benchmarks.chatbot_procs import free_port, stop
from hf_tools import REGISTRY
from hf_tools.testing import DUMMY_TOKEN

from .conftest import RECORDED_MODELS, ROOT, provider_flow

TASKS = (
    "text-classification",
    "text-to-image",
    "text-to-speech",
    "image-to-video",
    "summarization",
)
CASSETTES = ",".join(f"{t}/success" for t in TASKS if t != "summarization")
START_TIMEOUT = 60  # a loaded machine imports slowly; a healthy start takes ~2 s


def server_flags() -> list[str]:
    flags = ["--tasks", ",".join(TASKS), "--allow-files", "tests/fixtures"]
    for task in TASKS:
        flags += ["--task-model", f"{task}={RECORDED_MODELS[task]}"]
        if provider_flow(REGISTRY[task]):
            flags += ["--task-provider", f"{task}=auto"]
    return flags


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "PYTEST"))}
    env.update(HF_TOOLS_MCP_CASSETTES=CASSETTES, HF_TOKEN=DUMMY_TOKEN, **extra)
    env["HF_TOKEN_PATH"] = "/nonexistent/hf-tools-tests/token"
    return env


def stdio_server() -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "tests.mcp_replay", *server_flags()],
        env=server_env(),
        cwd=str(ROOT),
    )


async def exercise(client: Client) -> None:
    """List the tools and call a text, an image, an audio, a polled video tool and a bad call."""
    names = [t.name for t in (await client.list_tools()).tools]
    assert names == [t.replace("-", "_") for t in TASKS]

    text = await client.call_tool("text_classification", {"text": "I like you"})
    assert not text.is_error and isinstance(text.content[0], TextContent)
    assert text.structured_content["labels"][0]["label"] == "POSITIVE"

    image = await client.call_tool("text_to_image", dict(REGISTRY["text-to-image"].example))
    (inline,) = [b for b in image.content if isinstance(b, ImageContent)]
    (link,) = [b for b in image.content if isinstance(b, ResourceLink)]
    (read,) = (await client.read_resource(link.uri)).contents
    assert base64.b64decode(read.blob) == base64.b64decode(inline.data)  # type: ignore[union-attr]

    audio = await client.call_tool("text_to_speech", dict(REGISTRY["text-to-speech"].example))
    assert [b.mime_type for b in audio.content if isinstance(b, AudioContent)] == ["audio/wav"]

    seen: list[str | None] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    video = await client.call_tool(
        "image_to_video", dict(REGISTRY["image-to-video"].example), progress_callback=progress
    )
    assert not video.is_error, video.content
    assert [b.mime_type for b in video.content if isinstance(b, ResourceLink)] == ["video/mp4"]
    assert len(seen) == 1 and "poll 1" in (seen[0] or "")

    bad = await client.call_tool("summarization", {"txt": "typo"})
    assert bad.is_error and "Fix the arguments" in bad.content[0].text  # type: ignore[union-attr]


async def test_stdio_server_answers_the_sdk_client() -> None:
    async with Client(stdio_server()) as client:
        await exercise(client)


@contextlib.contextmanager
def http_server(*flags: str, **env: str) -> Iterator[str]:
    """An ``hf-tools mcp --http`` process on a free port; yields its /mcp URL, stops it on exit."""
    port = free_port()
    command = [sys.executable, "-m", "tests.mcp_replay", *server_flags(), "--http"]
    process = subprocess.Popen(
        [*command, "--port", str(port), *flags],
        cwd=ROOT,
        env=server_env(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + START_TIMEOUT
        line = ""
        while "tools at" not in line:
            left = deadline - time.monotonic()
            assert left > 0 and process.poll() is None, f"server did not start: {line}"
            if select.select([process.stderr], [], [], left)[0]:
                line = process.stderr.readline()
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)
        if process.stderr is not None:
            process.stderr.close()


@pytest.mark.allow_hosts(["127.0.0.1"])
async def test_http_server_answers_the_sdk_client() -> None:
    with http_server() as url:
        async with Client(url) as client:
            await exercise(client)


_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
_ACCEPT = {"accept": "application/json, text/event-stream"}


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_http_refuses_a_foreign_origin_or_host_and_a_missing_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n", encoding="utf-8")
    with http_server("--auth-token-file", str(token_file)) as url:
        good = {**_ACCEPT, "authorization": "Bearer s3cret-token"}
        with httpx2.Client(timeout=30) as http:
            assert http.post(url, json=_INITIALIZE, headers=_ACCEPT).status_code == 401
            wrong = {**_ACCEPT, "authorization": "Bearer nope"}
            assert http.post(url, json=_INITIALIZE, headers=wrong).status_code == 401
            evil = {**good, "origin": "http://evil.example"}
            assert http.post(url, json=_INITIALIZE, headers=evil).status_code == 403
            rebound = {**good, "host": "evil.example"}
            assert http.post(url, json=_INITIALIZE, headers=rebound).status_code == 421
            huge = {"jsonrpc": "2.0", "id": 2, "method": "ping", "pad": "x" * (5 * 2**20)}
            assert http.post(url, json=huge, headers=good).status_code == 413
            ok = http.post(url, json=_INITIALIZE, headers={**good, "origin": "http://localhost:3"})
            assert ok.status_code == 200, ok.text


@pytest.mark.allow_hosts(["127.0.0.1"])
async def test_http_with_a_token_serves_a_client_that_sends_it() -> None:
    with http_server(HF_TOOLS_MCP_TOKEN="env-token") as url:
        headers = {"authorization": "Bearer env-token"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            assert len((await client.list_tools()).tools) == len(TASKS)


@pytest.mark.parametrize("kind", ["fifo", "huge"])
def test_an_auth_token_file_that_is_no_token_is_a_usage_error(tmp_path: Path, kind: str) -> None:
    # The MCP server's token file is read like every token file: no hang on a FIFO, capped.
    from hf_tools.mcp.cli import UsageError, _token

    path = tmp_path / "token"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.write_text("t" * 100_000)
    with pytest.raises(UsageError, match="--auth-token-file"):
        _token(argparse.Namespace(auth_token_file=path))
