"""hf_tools.testing: offline replays of every flow, one cassettes folder, transports for all."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest

from hf_tools import ConfigurationError, HFChatModel, HFClient, HuggingFaceToolkit
from hf_tools.testing import cassette_library, replay, use_cassette

from .conftest import CASSETTES, ROOT


def _no_dns(*_: Any, **__: Any) -> Any:
    msg = "DNS is not available in this test"
    raise socket.gaierror(socket.EAI_NONAME, msg)


def test_replay_of_a_provider_flow_needs_no_dns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The text-to-speech example of docs/tools.md: the result file is on replicate.delivery, whose
    # address the media check asks for; a replay answers it from the cassette.
    monkeypatch.setattr(socket, "getaddrinfo", _no_dns)
    monkeypatch.setenv("HF_TOOLS_REPLAY", "1")
    monkeypatch.chdir(ROOT)
    with replay("text-to-speech/success.yaml"):
        toolkit = HuggingFaceToolkit(provider="auto", tasks=["text_to_speech"], output_dir=tmp_path)
        call = {"name": "text_to_speech", "id": "1", "type": "tool_call"}
        msg = toolkit.get_tool("text_to_speech").invoke(
            {**call, "args": {"text": "Hello from hf-tools."}}
        )
    assert msg.status == "success", msg.content
    assert msg.content.startswith("Generated WAV speech")
    assert [p.suffix for p in tmp_path.iterdir()] == [".wav"]


def test_replay_keeps_a_recorded_pinned_download_address(
    monkeypatch: pytest.MonkeyPatch, toolkit: HuggingFaceToolkit
) -> None:
    # A media input by URL was recorded at the address its name resolved to (Host kept):
    # the replay resolves the name to that same address, without DNS.
    monkeypatch.setattr(socket, "getaddrinfo", _no_dns)
    url = "https://images.example.com/woman-in-hat.png"
    tool = toolkit.get_tool("visual_question_answering")
    args = {"image": url, "question": "Who's in the picture?"}
    with use_cassette("visual-question-answering/image-url.yaml", library_dir=CASSETTES):
        msg = tool.invoke({"name": tool.name, "args": args, "id": "1", "type": "tool_call"})
    assert msg.status == "success", msg.content


def test_a_host_the_cassette_never_saw_is_not_looked_up(
    monkeypatch: pytest.MonkeyPatch, toolkit: HuggingFaceToolkit
) -> None:
    looked_up: list[str] = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: looked_up.append(host))
    tool = toolkit.get_tool("image_classification")
    args = {"image": "https://elsewhere.example.org/cat.png"}
    with use_cassette("image-classification/success.yaml", library_dir=CASSETTES, all_played=False):
        msg = tool.invoke({"name": tool.name, "args": args, "id": "1", "type": "tool_call"})
    assert msg.status == "error" and "could not be resolved" in str(msg.content)
    assert looked_up == []


def test_use_cassette_and_replay_find_the_same_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./cassettes here: the checkout's is found
    assert cassette_library() == CASSETTES
    with use_cassette("text-classification/success.yaml"):
        HFClient(api_key="hf_x").run("text-classification", text="I like you")
    mine = tmp_path / "mine"
    (mine / "text-classification").mkdir(parents=True)
    source = CASSETTES / "text-classification" / "success.yaml"
    (mine / "text-classification" / "success.yaml").write_bytes(source.read_bytes())
    monkeypatch.setenv("HF_TOOLS_CASSETTES", str(mine))
    assert cassette_library() == mine
    source.rename(source.with_suffix(".moved"))  # the checkout's copy is not the one used
    try:
        with use_cassette("text-classification/success.yaml"):
            HFClient(api_key="hf_x").run("text-classification", text="I like you")
        monkeypatch.setenv("HF_TOOLS_REPLAY", "1")
        with replay("text-classification/success.yaml"):
            HFClient().run("text-classification", text="I like you")
    finally:
        source.with_suffix(".moved").rename(source)


def _labels(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=[{"label": "POSITIVE", "score": 0.99}])


def _chat(request: httpx2.Request) -> httpx2.Response:
    body = {
        "id": "c1",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
    }
    return httpx2.Response(200, json=body)


async def test_toolkit_and_chat_model_take_a_transport_as_the_client_does() -> None:
    transport = httpx2.MockTransport(_labels)
    toolkit = HuggingFaceToolkit(
        api_key="hf_test", tasks=["text-classification"], transport=transport
    )
    tool = toolkit.get_tool("text_classification")
    assert tool.invoke({"text": "I like you"}).startswith("POSITIVE 0.99")
    assert (await tool.ainvoke({"text": "I like you"})).startswith("POSITIVE 0.99")
    chat = HFChatModel(model="org/m", api_key="hf_test", transport=httpx2.MockTransport(_chat))
    assert chat.invoke("hello").content == "hi"
    assert (await chat.ainvoke("hello")).content == "hi"
    assert "transport" not in chat.model_dump() and "transport" not in toolkit.model_dump()


def test_an_httpx_transport_is_refused_by_name() -> None:
    class Foreign:  # neither httpx2 kind, as an httpx transport is
        pass

    with pytest.raises(ConfigurationError, match="transport must be an httpx2"):
        HuggingFaceToolkit(api_key="hf_test", transport=Foreign())


def test_nothing_at_runtime_imports_the_testing_kit() -> None:
    import hf_tools.cli

    cli = Path(hf_tools.cli.__file__).parent
    modules = [
        *sorted(f"hf_tools.cli.{p.stem}" for p in cli.glob("[!_]*.py")),
        "hf_tools.demo",  # the demo loads the kit when it runs, not when imported
    ]
    code = (
        "import importlib, json, sys\n"
        "import hf_tools\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "tk = hf_tools.HuggingFaceToolkit(api_key='hf_x')\n"
        "tk.get_tools()\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.startswith(('hf_tools.testing', 'vcr', 'yaml')))))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
    assert len(modules) >= 6  # the CLI's modules were there to import
