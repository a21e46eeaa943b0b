"""The hf-tools command: list, call (refusals offline), and the offline demo."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

import hf_tools.http.send
from hf_tools import HuggingFaceToolkit
from hf_tools.cli import main
from hf_tools.http import HFRequest, RawResponse

from .conftest import CASSETTES


def test_list_prints_the_served_tools_and_the_schema_cost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    served = HuggingFaceToolkit(api_key="hf_x").tool_names
    assert [line.split()[0] for line in lines[:-2]] == served
    assert lines[-2].startswith(f"{len(served)} tools; schemas ")
    size = int(lines[-2].split("schemas ")[1].split()[0])
    assert 1000 < size < 16_000  # the whole toolkit stays under the 16 KB budget
    assert lines[-1].startswith("not served with these settings: tabular_classification, ")
    assert "text2text_generation" in lines[-1] and "text2text_generation" not in served
    assert "ranking" in lines[-1] and "ranking" not in served


def test_call_without_token_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sent: list[HFRequest]
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)  # also under make record
    assert main(["call", "text_classification", "--args", '{"text": "I like you"}']) == 2
    err = capsys.readouterr().err
    assert err.startswith("no Hugging Face token for router.huggingface.co: export HF_TOKEN")
    assert sent == []


@pytest.mark.parametrize(
    "option",
    [
        ["--base-url", "http://127.0.0.1:8080"],
        ["--model", "http://127.0.0.1:8080/classify"],
    ],
)
def test_call_to_a_local_endpoint_needs_no_token(
    option: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)  # also under make record
    seen: list[HFRequest] = []

    def _answer(_: object, request: HFRequest) -> RawResponse:  # a local TGI, offline
        seen.append(request)
        headers = httpx2.Headers({"content-type": "application/json"})
        return RawResponse(200, headers, b'[{"label": "POSITIVE", "score": 0.99}]')

    monkeypatch.setattr(hf_tools.http.send, "_exchange_sync", _answer)
    argv = ["call", "text_classification", "--args", '{"text": "I like you"}', *option]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("POSITIVE 0.99")
    assert [r.url.startswith("http://127.0.0.1:8080/") for r in seen] == [True]
    assert "authorization" not in {k.lower() for k in seen[0].headers}


@pytest.mark.parametrize(("args", "kind"), [('"I like you"', "str"), ("[1]", "list"), ("3", "int")])
def test_call_args_must_be_a_json_object(
    args: str, kind: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_cli_secret_123456")
    assert main(["call", "text_classification", "--args", args]) == 2
    assert capsys.readouterr().err == (
        f'--args must be a JSON object like \'{{"text": "..."}}\', got a {kind}\n'
    )


def test_setup_errors_keep_their_closing_quote(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_cli_secret_123456")
    assert main(["call", "text_classification", "--args", "{}", "--base-url", "nope"]) == 2
    assert capsys.readouterr().err == ("base_url must start with http:// or https://, got 'nope'\n")
    assert main(["call", "nope", "--args", "{}"]) == 2  # a KeyError: its repr quotes dropped
    assert capsys.readouterr().err.startswith("no tool 'nope' in this toolkit; available: ")


def test_call_refuses_bad_json_and_unknown_tools(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_cli_secret_123456")
    assert main(["call", "text_classification", "--args", "{nope"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["call", "nope", "--args", "{}"]) == 2
    err = capsys.readouterr().err
    assert "available: text_classification" in err
    assert "hf_cli_secret_123456" not in err


def test_demo_replays_a_recorded_agent_session(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--cassettes", str(CASSETTES)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("hf-tools demo: replays a recorded agent session")
    assert 'To go live: HF_TOKEN=hf_... hf-tools agent "' in out
    steps = [line for line in lines if line.startswith("step ")]
    assert [s.split("calls ")[1].split("(")[0] for s in steps] == [
        "automatic_speech_recognition",
        "audio_classification",
        "image_to_text",
        "object_detection",
    ]
    assert "  -> a man said to the universe sir i exist" in lines
    assert "  -> umbrella 0.5733 [143,4,510,387]" in lines
    assert any(line.startswith("answer (step 3): A man is speaking") for line in lines)
    assert "hf_dummy" not in out


def test_demo_without_cassettes_says_it_needs_the_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--cassettes", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "run it from the checkout (make demo)" in err and "HF_TOKEN=hf_... hf-tools agent" in err


def test_agent_without_token_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)  # also under make record
    assert main(["agent", "Transcribe talk.flac"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("no Hugging Face token for router.huggingface.co: export HF_TOKEN")
    assert "hf auth login" in err and "--token-file FILE" in err


def test_agent_api_key_env_must_name_a_set_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MY_CHAT_KEY", raising=False)
    argv = ["agent", "hi", "--chat-base-url", "http://127.0.0.1:1/v1", "--api-key-env"]
    assert main([*argv, "MY_CHAT_KEY"]) == 2
    assert capsys.readouterr().err == "--api-key-env MY_CHAT_KEY: that variable is not set\n"


def fake_server(
    monkeypatch: pytest.MonkeyPatch, body: bytes, kind: str, status: int = 200
) -> list[HFRequest]:
    """Every request answered with ``body`` (offline); returns the requests sent."""
    seen: list[HFRequest] = []

    def _answer(_: object, request: HFRequest) -> RawResponse:
        seen.append(request)
        return RawResponse(status, httpx2.Headers({"content-type": kind}), body)

    monkeypatch.setattr(hf_tools.http.send, "_exchange_sync", _answer)
    return seen


def test_call_with_schema_invalid_args_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_cli_secret_123456")
    seen = fake_server(monkeypatch, b"[]", "application/json")
    assert main(["call", "text_classification", "--args", "{}"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and seen == []
    assert err == "--args do not fit text_classification: text: Field required\n"


def test_call_json_prints_status_content_and_artifact(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    monkeypatch.setenv("HF_TOKEN", "hf_cli_secret_123456")
    fake_server(monkeypatch, b'[{"label": "POSITIVE", "score": 0.99}]', "application/json")
    assert main(["call", "text_classification", "--args", '{"text": "hi"}', "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["status"] == "success" and body["content"].startswith("POSITIVE 0.99")
    assert body["artifact"]["labels"] == [{"label": "POSITIVE", "score": 0.99}]


def test_call_output_dir_saves_a_generated_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_cli_secret_123456")
    png = (Path(__file__).parent / "fixtures" / "image.png").read_bytes()
    fake_server(monkeypatch, png, "image/png")
    argv = ["call", "text_to_image", "--args", '{"prompt": "a cat"}', "--output-dir"]
    assert main([*argv, str(tmp_path)]) == 0
    saved = list(tmp_path.iterdir())
    assert [p.read_bytes() for p in saved] == [png]
    assert str(saved[0]) in capsys.readouterr().out  # the content says where it went


def test_list_json_and_schema_print_what_the_llm_receives(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    assert main(["list", "--schema", "text_classification"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["function"]["name"] == "text_classification"
    assert "text" in schema["function"]["parameters"]["required"]
    assert main(["list", "--json"]) == 0
    names = [t["function"]["name"] for t in json.loads(capsys.readouterr().out)]
    assert names[0] == "text_classification" and "text_to_image" in names
    assert main(["list", "--schema", "nope"]) == 2
    assert "no tool 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("steps", ["0", "-1"])
def test_agent_refuses_max_steps_below_one(
    steps: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_cli_secret_123456")
    assert main(["agent", "hi", "--max-steps", steps]) == 2
    assert capsys.readouterr().err == f"--max-steps must be at least 1, got {steps}\n"


def test_agent_refuses_unknown_tasks_without_leaking_the_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_cli_secret_123456")
    assert main(["agent", "hi", "--tasks", "text-classification,nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "hf_cli_secret_123456" not in err


def test_agent_streams_tools_and_answer_from_a_recorded_stream(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hf_tools.testing import CHAT_MATCH_ON, DUMMY_TOKEN, use_cassette

    monkeypatch.setenv("HF_TOKEN", DUMMY_TOKEN)
    argv = ["agent", "Is 'I like you' positive?", "--tasks", "text-classification"]
    cassettes = ("agent/stream.yaml", "text-classification/success.yaml")
    with use_cassette(*cassettes, library_dir=CASSETTES, match_on=CHAT_MATCH_ON):
        assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Let me check.",
        '[tool] text_classification({"text": "I like you"})',
        "  -> POSITIVE 0.9999, NEGATIVE 0.0001",
        "Positive: POSITIVE 0.9999.",
    ]


def test_every_flag_of_every_command_has_help(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    import agents.assistant
    import agents.chatbot_server
    from hf_tools.cli.entry import COMMANDS, build_parser

    parsers: list[argparse.ArgumentParser] = []

    def _capture(self: argparse.ArgumentParser, *_: object, **__: object) -> None:
        parsers.append(self)
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", _capture)
    for entry in (agents.assistant.main, agents.chatbot_server.main):
        with pytest.raises(SystemExit):
            entry([])
    subcommands = [
        p
        for command in COMMANDS
        for a in build_parser(command)._actions
        if isinstance(a, argparse._SubParsersAction)
        for name, p in a.choices.items()
        if name == command
    ]
    missing = [
        (p.prog, a.dest)
        for p in [*parsers, *subcommands]
        for a in p._actions
        if a.help is None and not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
    ]
    assert len(parsers) == 2 and len(subcommands) == len(COMMANDS) == 9
    assert all(len(p._actions) > 1 for p in subcommands)  # each command's flags were loaded
    assert missing == []
    assert all(p.description for p in [*parsers, *subcommands])
