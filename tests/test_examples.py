"""Every example runs offline (HF_TOOLS_REPLAY=1) and prints what it promises."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

from hf_tools.testing import DUMMY_TOKEN

from .conftest import ROOT

EXAMPLES = ROOT / "examples"


def _run(name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HF_TOOLS_REPLAY", "1")
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out
    assert DUMMY_TOKEN not in out
    return out


def test_every_example_is_tested() -> None:
    tested = {
        "direct_tool_call.py",
        "lcel_chain.py",
        "custom_endpoint.py",
        "async_batch.py",
        "toolkit_agent.py",
        "batch_run.py",
        "batch_ray.py",
    }
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_direct_tool_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run("direct_tool_call.py", monkeypatch, capsys)
    assert "content (what the LLM reads): POSITIVE 0.9999, NEGATIVE 0.0001" in out
    assert "artifact (typed output): label='POSITIVE'" in out


def test_lcel_chain(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run("lcel_chain.py", monkeypatch, capsys)
    assert out == "German summary: Ein Mann sagt dem Universum, dass er existiert.\n"


def test_custom_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ENDPOINT_URL", raising=False)
    out = _run("custom_endpoint.py", monkeypatch, capsys)
    assert out.splitlines() == [
        "custom -> https://my-sentiment.us-east-1.aws.endpoints.huggingface.cloud: "
        "Sentiment (POSITIVE or NEGATIVE) of an English text.",
        '[{"label":"POSITIVE","score":0.9998695850372314},'
        '{"label":"NEGATIVE","score":0.00013043530634604394}]',
    ]


def test_async_batch(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run("async_batch.py", monkeypatch, capsys)
    assert out.splitlines() == [
        "POSITIVE 0.9999  I like you",
        "NEGATIVE 0.9994  The battery died after two days.",
        "POSITIVE 0.9991  Fast shipping, works as described.",
        "NEGATIVE 0.9997  Not worth the money.",
        "POSITIVE 0.9996  My kids love it.",
    ]


def test_replay_fails_loudly_when_a_request_was_not_recorded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    from hf_tools import HuggingFaceToolkit
    from hf_tools.testing import replay

    monkeypatch.setenv("HF_TOOLS_REPLAY", "1")
    monkeypatch.chdir(ROOT)
    with (
        pytest.raises(Exception, match="Can't overwrite existing cassette"),
        replay("text-classification/success.yaml"),
    ):
        HuggingFaceToolkit().get_tool("text_classification").invoke({"text": "unrecorded"})


def test_toolkit_agent(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run("toolkit_agent.py", monkeypatch, capsys)
    assert out.splitlines() == [
        "text_classification -> POSITIVE",
        "answer after 2 steps: Positive: the classifier gives POSITIVE with 99.99% confidence.",
    ]


def test_replay_of_a_missing_cassette_says_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from hf_tools.testing import replay

    monkeypatch.setenv("HF_TOOLS_REPLAY", "1")
    (tmp_path / "INDEX.md").write_text("# cassettes\n")
    with (
        pytest.raises(FileNotFoundError, match=r"cassette\(s\) chat/nope.yaml not found in "),
        replay("chat/nope.yaml", library_dir=tmp_path),
    ):
        pass


def test_batch_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run("batch_run.py", monkeypatch, capsys)
    assert out.splitlines() == [
        "done 5, failed 0; rerun skipped 5",
        "POSITIVE   I like you",
        "NEGATIVE   The battery died after two days.",
        "POSITIVE   Fast shipping, works as described.",
        "NEGATIVE   Not worth the money.",
        "POSITIVE   My kids love it.",
    ]


@pytest.mark.skipif(
    os.environ.get("HF_TOOLS_TEST_RAY") != "1", reason="Ray runs with HF_TOOLS_TEST_RAY=1"
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")
def test_batch_ray(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray")
    out = _run("batch_ray.py", monkeypatch, capsys)
    assert out.splitlines()[-5:] == [
        "POSITIVE   I like you",
        "NEGATIVE   The battery died after two days.",
        "POSITIVE   Fast shipping, works as described.",
        "NEGATIVE   Not worth the money.",
        "POSITIVE   My kids love it.",
    ]
