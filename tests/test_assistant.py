"""The terminal assistant, driven through injected I/O with a scripted model and cassettes."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

import hf_tools.assistant
from hf_tools import HuggingFaceToolkit
from hf_tools.assistant import HELP, INTERRUPT_HINT, SYSTEM_PROMPT, build_agent, chat, main
from hf_tools.langchain.agent import ToolStart
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


class _Keys(io.StringIO):
    """A stdin whose ``readline`` raises KeyboardInterrupt where the script says ``^C``."""

    def __init__(self, *lines: str) -> None:
        super().__init__()
        self._lines: Iterator[str] = iter(lines)

    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]  # typeshed
        """The next scripted line; ``^C`` raises as Ctrl-C at a terminal does."""
        line = next(self._lines, "")
        if line == "^C":
            raise KeyboardInterrupt
        return line


def test_one_ctrl_c_at_the_prompt_hints_and_keeps_the_conversation(
    toolkit: HuggingFaceToolkit,
) -> None:
    model = ScriptedChatModel(replies=["first", "second"])
    stdout = io.StringIO()
    assert chat(build_agent(model, toolkit), _Keys("one\n", "^C", "two\n"), stdout) == 2
    assert f"you> \n{INTERRUPT_HINT}\nyou> " in stdout.getvalue()
    assert [m.content for m in model.seen[1][1:]] == ["one", "first", "two"]


@pytest.mark.parametrize(
    "keys",
    [("^C", "^C", "never read\n"), ("^C", ""), ("^C", "/help\n", "^C", "^C", "never read\n")],
)
def test_ctrl_c_twice_in_a_row_or_ctrl_d_leaves(
    keys: tuple[str, ...], toolkit: HuggingFaceToolkit
) -> None:
    model = ScriptedChatModel(replies=[])
    stdout = io.StringIO()
    assert chat(build_agent(model, toolkit), _Keys(*keys), stdout) == 0
    assert model.seen == [] and stdout.getvalue().endswith("you> \n")


def test_main_leaves_cleanly_on_ctrl_c_twice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_dummy_token")
    monkeypatch.setattr("sys.stdin", _Keys("^C", "^C"))
    assert main(["--tasks", "summarization"]) == 0
    captured = capsys.readouterr()
    assert INTERRUPT_HINT in captured.out and "Traceback" not in captured.out + captured.err


def test_ctrl_c_during_a_call_cancels_it_and_keeps_the_conversation(
    toolkit: HuggingFaceToolkit,
) -> None:
    def interrupted(_: Any) -> str:
        raise KeyboardInterrupt

    model = ScriptedChatModel(
        replies=[
            "hello",
            AIMessage("", tool_calls=[tool_call("summarization", text="long text")]),
            interrupted,
            "still here",
        ]
    )
    stdout = io.StringIO()
    stdin = io.StringIO("hi\nsummarize it\nthird\n")
    with pytest.MonkeyPatch.context() as mp:  # the tool answers without the network
        mp.setattr(toolkit.get_tool("summarization"), "func", lambda **_: ("a summary", None))
        assert chat(build_agent(model, toolkit), stdin, stdout) == 3
    out = stdout.getvalue()
    assert "  -> a summary\n(cancelled)\nyou> " in out and "assistant> still here" in out
    # The cancelled request, its tool call and result are gone; the model was not asked again.
    assert [m.content for m in model.seen[3][1:]] == ["hi", "hello", "third"]
    assert len(model.seen) == 4


def test_cancelling_closes_the_run(toolkit: HuggingFaceToolkit) -> None:
    closed: list[bool] = []

    def run(*_: Any, **__: Any) -> Iterator[Any]:
        try:
            yield ToolStart("summarization", {}, "c1", 1)
            raise AssertionError("the run went on after Ctrl-C")
        finally:
            closed.append(True)

    agent = build_agent(ScriptedChatModel(replies=[]), toolkit)

    class _Out(io.StringIO):
        def write(self, text: str) -> int:
            if text.startswith("  [tool]"):
                raise KeyboardInterrupt  # Ctrl-C while the tool line is printed
            return super().write(text)

    stdout = _Out()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(agent, "stream_events", run)
        assert chat(agent, io.StringIO("go\n"), stdout) == 1
    assert closed == [True] and "(cancelled)" in stdout.getvalue()


def test_help_is_answered_locally(toolkit: HuggingFaceToolkit) -> None:
    model = ScriptedChatModel(replies=["hello"])
    stdout = io.StringIO()
    assert chat(build_agent(model, toolkit), io.StringIO("/help\nhi\n"), stdout) == 1
    assert HELP in stdout.getvalue()
    for command in ("/help", "/reset", "/quit", "path or URL"):
        assert command in HELP
    assert [[m.content for m in seen[1:]] for seen in model.seen] == [["hi"]]


def test_saved_files_are_listed_by_path(token: str, cassette: Any, tmp_path: Path) -> None:
    model = ScriptedChatModel(
        replies=[
            AIMessage(
                "",
                tool_calls=[
                    tool_call("text_to_image", prompt="An astronaut riding a horse on the moon.")
                ],
            ),
            "Here it is.",
        ]
    )
    toolkit = HuggingFaceToolkit(api_key=token, tasks=["text-to-image"], output_dir=tmp_path)
    stdout = io.StringIO()
    with cassette("text-to-image/success"):
        chat(build_agent(model, toolkit), io.StringIO("draw it\n"), stdout)
    (saved,) = tmp_path.iterdir()
    assert f"assistant> Here it is.\n  saved: {saved}\nyou> " in stdout.getvalue()


def test_the_status_line_shows_between_events_and_is_cleared(
    toolkit: HuggingFaceToolkit,
) -> None:
    model = ScriptedChatModel(
        replies=[
            AIMessage("", tool_calls=[tool_call("image_classification", image="missing.png")]),
            "done",
        ]
    )
    stdout = io.StringIO()
    chat(build_agent(model, toolkit), io.StringIO("go\n"), stdout, status=True)
    assert stdout.getvalue() == (
        "you> \r\033[K… thinking\r\033[K"
        '  [tool] image_classification({"image": "missing.png"})\n'
        "\r\033[K… running image_classification\r\033[K"
        # The person reads the command line's wording, not the advice the model got.
        "  !! file not found: missing.png (or it is not a regular file, or it is outside the "
        "allowed folders (add --allow-files DIR)). Give a public URL, base64 text, or a fi\n"
        "\r\033[K… thinking\r\033[K"
        "assistant> done\n"
        "you> \n"
    )


def test_no_status_line_off_a_terminal(toolkit: HuggingFaceToolkit) -> None:
    stdout = io.StringIO()
    chat(build_agent(ScriptedChatModel(replies=["done"]), toolkit), io.StringIO("go\n"), stdout)
    assert stdout.getvalue() == "you> assistant> done\nyou> \n"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_reads_with_input_for_line_editing(
    toolkit: HuggingFaceToolkit, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = iter(["hi"])
    prompts: list[str] = []

    def fake_input(prompt: str) -> str:
        prompts.append(prompt)
        line = next(typed, None)
        if line is None:
            raise EOFError  # Ctrl-D
        return line

    monkeypatch.setattr("sys.stdin", _Tty())
    monkeypatch.setattr("builtins.input", fake_input)
    model = ScriptedChatModel(replies=["hello"])
    stdout = io.StringIO()
    assert chat(build_agent(model, toolkit), sys.stdin, stdout) == 1
    assert prompts == ["you> ", "you> "] and [m.content for m in model.seen[0][1:]] == ["hi"]


def test_history_file_is_private_and_kept(tmp_path: Path) -> None:
    import readline

    path = tmp_path / "hf-tools" / "assistant_history"
    save = hf_tools.assistant._line_editing(path)
    assert save is not None
    readline.clear_history()
    readline.add_history("caption tests/fixtures/image.png")
    save()
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    readline.clear_history()
    hf_tools.assistant._line_editing(path)
    assert readline.get_history_item(1) == "caption tests/fixtures/image.png"
    readline.clear_history()


def test_history_is_never_written_through_a_planted_link(tmp_path: Path) -> None:
    import readline

    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "hf-tools" / "assistant_history"
    path.parent.mkdir()
    path.symlink_to(victim)
    readline.clear_history()
    save = hf_tools.assistant._line_editing(path)
    assert save is not None
    assert readline.get_current_history_length() == 0  # the link's target was not read in
    readline.add_history("caption tests/fixtures/image.png")
    save()
    readline.clear_history()
    assert victim.read_text() == "precious\n"
    assert not path.is_symlink() and os.stat(path).st_mode & 0o777 == 0o600
    assert "caption tests/fixtures/image.png" in path.read_text()
    assert sorted(p.name for p in path.parent.iterdir()) == ["assistant_history"]  # no temp left


@pytest.mark.parametrize(
    ("argv", "env", "code", "err"),
    [
        # A local chat model and local tools: no token needed at all.
        (
            ["--chat-base-url", "http://127.0.0.1:1/v1", "--base-url", "http://127.0.0.1:2"],
            {},
            0,
            "",
        ),
        # The chat key comes from --api-key-env; the tools still go to Hugging Face.
        (
            ["--chat-base-url", "http://127.0.0.1:1/v1", "--api-key-env", "MY_KEY"],
            {"MY_KEY": "sk-local"},
            2,
            "no Hugging Face token for router.huggingface.co",
        ),
        (["--api-key-env", "MY_KEY", "--base-url", "http://127.0.0.1:2"], {"MY_KEY": "k"}, 0, ""),
        (["--api-key-env", "MY_KEY"], {}, 2, "--api-key-env MY_KEY: that variable is not set"),
        ([], {}, 2, "no Hugging Face token for router.huggingface.co"),
        # A local chat model; the tools still go to Hugging Face.
        (["--chat-base-url", "http://127.0.0.1:1/v1"], {}, 2, "no Hugging Face token for"),
    ],
)
def test_main_needs_a_token_only_for_hugging_face_hosts(
    argv: list[str],
    env: dict[str, str],
    code: int,
    err: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(argv) == code
    assert capsys.readouterr().err.startswith(err)


def test_main_reads_the_token_hf_auth_login_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "token").write_text("hf_stored\n")
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "token"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main([]) == 0 and capsys.readouterr().err == ""


def test_every_flag_has_help() -> None:
    parser = hf_tools.assistant._parser()
    for action in parser._actions:
        assert action.help, action.option_strings
    text = parser.format_help()
    for flag in ("--chat-base-url", "--base-url", "--api-key-env", "--output-dir"):
        assert flag in text
