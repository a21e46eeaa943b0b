"""The hf-tools command: list, call (refusals offline), and the offline demo."""

from __future__ import annotations

import pytest

from hf_tools import REGISTRY
from hf_tools.cli import main

from .conftest import CASSETTES


def test_list_prints_every_tool_and_the_schema_cost(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    tools = [s for s in REGISTRY.values() if not s.needs_endpoint]
    assert len(lines) == len(tools) + 1
    assert lines[0].startswith("text_classification ")
    assert lines[-1].startswith(f"{len(tools)} tools; schemas ")
    size = int(lines[-1].split("schemas ")[1].split()[0])
    assert 1000 < size < 12_000  # the whole toolkit stays under the 12 KB budget


def test_call_without_token_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "text_classification", "--args", "{}"]) == 2
    assert "export HF_TOKEN" in capsys.readouterr().err


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


def test_demo_replays_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--cassettes", str(CASSETTES)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hf-tools demo: replays recorded Hugging Face API interactions")
    assert "no network" in out.splitlines()[0]
    assert "> text_classification" in out and "POSITIVE 0.9999, NEGATIVE 0.0001" in out
    assert "[error]" in out and "HTTP 400" in out
    assert "hf_demo" not in out
