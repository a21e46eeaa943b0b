"""One check decides whether a token is missing, and every host says so in the same words."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from hf_tools.errors import ConfigurationError
from hf_tools.http import HFRequest

# The library speaks to a Python caller; the commands say the same in their flags.
NO_TOKEN_LIBRARY = (
    "no Hugging Face token for router.huggingface.co: pass api_key=..., set the HF_TOKEN"
    " environment variable or run `hf auth login` (a server of your own, base_url=..., needs"
    " none)"
)
NO_TOKEN = (
    "no Hugging Face token for router.huggingface.co: export HF_TOKEN=hf_..., run"
    " `hf auth login`, or pass --token-file FILE (a server of your own, --base-url or"
    " --chat-base-url, needs none)"
)


def _library() -> str:
    from hf_tools import HFClient

    with pytest.raises(ConfigurationError) as info:
        HFClient().run("text-classification", text="hi")
    return str(info.value)


def _library_provider() -> str:
    from hf_tools import HFClient

    with pytest.raises(ConfigurationError) as info:
        HFClient(provider="fal-ai").run("text-to-image", prompt="a cat")
    return str(info.value)


def _langchain_tool() -> str:
    from hf_tools import HuggingFaceToolkit

    tool = HuggingFaceToolkit(tasks=["summarization"]).get_tool("summarization")
    with pytest.raises(ConfigurationError) as info:
        tool.invoke({"text": "a long text"})
    return str(info.value)


def _exit_2(run: Callable[[], int], capsys: pytest.CaptureFixture[str], prefix: str = "") -> str:
    assert run() == 2
    err = capsys.readouterr().err
    assert err.startswith(prefix) and err.count("\n") == 1, err
    return err.removeprefix(prefix).removesuffix("\n")


def _cli_call(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    from hf_tools.cli import main

    args = ["call", "summarization", "--args", '{"text": "a long text"}']
    return _exit_2(lambda: main(args), capsys)


def _cli_agent(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    from hf_tools.cli import main

    return _exit_2(lambda: main(["agent", "Summarize this: a long text"]), capsys)


def _assistant(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    from hf_tools.assistant import main

    return _exit_2(lambda: main([]), capsys)


def _mcp(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    pytest.importorskip("mcp")  # make test-lowest's core pass has no MCP SDK
    from hf_tools.cli import main

    return _exit_2(lambda: main(["mcp", "--tasks", "summarization"]), capsys, "hf-tools mcp: ")


def _batch(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    from hf_tools.cli import main

    rows = tmp_path / "in.jsonl"
    rows.write_text('{"text": "a long text"}\n')
    out = tmp_path / "out.jsonl"
    argv = ["batch", "summarization", "--input", str(rows), "--output", str(out)]
    text = _exit_2(lambda: main(argv), capsys, "hf-tools batch: ")
    assert not out.exists()  # refused before the output was opened
    return text


def _serve(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    from hf_tools.serve.main import main

    store = tmp_path / "chat.db"
    text = _exit_2(lambda: main(["--port", "0", "--store", f"sqlite:///{store}"]), capsys)
    assert not store.exists()  # refused before the store was opened
    return text


@pytest.mark.parametrize("host", [_library, _library_provider, _langchain_tool])
def test_the_library_refuses_a_call_without_a_token_in_the_one_message(
    host: Callable[[], str], sent: list[HFRequest]
) -> None:
    assert host() == NO_TOKEN_LIBRARY
    assert sent == []


@pytest.mark.parametrize("host", [_cli_call, _cli_agent, _assistant, _mcp, _batch, _serve])
def test_every_host_refuses_to_start_without_a_token_in_the_one_message(
    host: Callable[[pytest.CaptureFixture[str], Path], str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sent: list[HFRequest],
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("served without a token"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.chdir(tmp_path)
    assert host(capsys, tmp_path) == NO_TOKEN
    assert sent == []


@pytest.mark.parametrize(
    ("urls", "refused"),
    [
        (["https://router.huggingface.co/v1"], True),
        (["http://127.0.0.1:8080", "https://api-inference.huggingface.co/models/x"], True),
        (["https://x.endpoints.huggingface.cloud"], True),
        (["http://127.0.0.1:8080", "https://api.example.com/v1"], False),
        (["https://huggingface.co.example.com"], False),
        ([], False),
    ],
)
def test_a_token_is_needed_only_for_hugging_face_hosts(urls: list[str], refused: bool) -> None:
    from hf_tools.config import Settings, require_token

    settings = Settings.create()
    if refused:
        with pytest.raises(ConfigurationError, match="no Hugging Face token for "):
            require_token(settings, urls)
    else:
        require_token(settings, urls)
    require_token(Settings.create(api_key="hf_given"), urls)  # a token: never refused
