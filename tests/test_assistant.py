"""The terminal assistant, driven through injected I/O with a scripted model and cassettes."""

from __future__ import annotations

import io
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from agents.assistant import SYSTEM_PROMPT, build_agent, chat, main
from hf_tools import HuggingFaceToolkit
from hf_tools.testing import ScriptedChatModel, tool_call


def test_a_session_shows_tools_streams_answers_and_remembers(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    model = ScriptedChatModel(
        replies=[
            AIMessage(
                "",
                tool_calls=[
                    tool_call("automatic_speech_recognition", audio="tests/fixtures/audio.flac")
                ],
            ),
            "He says: sir, I exist.",
            "You asked about the recording.",
        ]
    )
    agent = build_agent(model, toolkit)
    stdin = io.StringIO(
        "what is said in tests/fixtures/audio.flac?\n\nwhat did I ask?\n/quit\nignored\n"
    )
    stdout = io.StringIO()
    with cassette("automatic-speech-recognition/success"):
        assert chat(agent, stdin, stdout) == 2
    out = stdout.getvalue()
    assert '  [tool] automatic_speech_recognition({"audio": "tests/fixtures/audio.flac"})' in out
    assert "  -> a man said to the universe sir i exist" in out
    assert "assistant> He says: sir, I exist.\n" in out
    assert "artifact" not in out and "saved:" not in out  # no output dir: nothing saved
    # The second request carried the first exchange, after the system prompt.
    third = model.seen[2]
    assert isinstance(third[0], SystemMessage) and third[0].content == SYSTEM_PROMPT
    assert [type(m) for m in third[1:]] == [
        HumanMessage,
        AIMessage,
        ToolMessage,
        AIMessage,
        HumanMessage,
    ]


def test_reset_forgets_and_eof_ends(toolkit: HuggingFaceToolkit) -> None:
    model = ScriptedChatModel(replies=["a", "b"])
    stdout = io.StringIO()
    assert chat(build_agent(model, toolkit), io.StringIO("one\n/reset\ntwo"), stdout) == 2
    assert "(conversation cleared)" in stdout.getvalue()
    assert [m.content for m in model.seen[1][1:]] == ["two"]
    assert stdout.getvalue().endswith("you> \n")


def test_errors_and_the_step_limit_are_shown(toolkit: HuggingFaceToolkit) -> None:
    model = ScriptedChatModel(
        replies=[AIMessage("", tool_calls=[tool_call("image_classification", image="missing.png")])]
    )
    agent = build_agent(model, toolkit, max_steps=1)
    stdout = io.StringIO()
    chat(agent, io.StringIO("classify missing.png\n"), stdout)
    out = stdout.getvalue()
    assert "  !! file not found: missing.png" in out
    assert "assistant> Stopped at the step limit (max_steps=1)" in out


def test_main_needs_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "export HF_TOKEN" in capsys.readouterr().err


def test_a_failed_model_call_ends_the_turn_not_the_session(toolkit: HuggingFaceToolkit) -> None:
    from hf_tools.errors import RateLimitError

    def rate_limited(_: Any) -> str:
        raise RateLimitError("Too Many Requests", status_code=429, task="chat-completion")

    model = ScriptedChatModel(replies=["hello", rate_limited, "still here"])
    stdout = io.StringIO()
    assert chat(build_agent(model, toolkit), io.StringIO("hi\nagain\nthird\n"), stdout) == 3
    out = stdout.getvalue()
    assert "you> !! error: HTTP 429: Too Many Requests [chat-completion]\n" in out
    assert "Traceback" not in out and "assistant> still here" in out
    # The failed request is not kept: the third turn follows the first exchange.
    assert [m.content for m in model.seen[2][1:]] == ["hi", "hello", "third"]


@pytest.mark.parametrize(
    ("tasks", "code", "err"),
    [
        ("text-classification, summarization", 0, ""),
        ("text-classification,nope", 2, "unknown task 'nope'"),
    ],
)
def test_main_reads_task_lists_with_spaces_and_refuses_unknown_tasks(
    tasks: str,
    code: int,
    err: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_dummy_token")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # end of input: leave at once
    assert main(["--tasks", tasks]) == code
    captured = capsys.readouterr().err
    assert captured.startswith(err) and "Traceback" not in captured
    assert len(captured.strip().splitlines()) <= 1
