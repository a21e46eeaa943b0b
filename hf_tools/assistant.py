"""Multimodal terminal assistant: chat with a model that picks from the whole toolkit.

Type a request per line; mention local files or URLs for images and audio
(``what is said in tests/fixtures/audio.flac?``). Tool calls and their short results are
shown as they happen, the answer streams, and the conversation carries over between lines.
``/help`` lists the commands, ``/reset`` starts over, ``/quit`` (or Ctrl-D) leaves. Ctrl-C
cancels the running request (the conversation stays as it was); twice at the prompt, it leaves.

Run it: ``HF_TOKEN=hf_... hf-tools assistant [--model org/name] [--tasks a,b]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel, SecretStr

from hf_tools import HuggingFaceToolkit
from hf_tools.cli.assistant import configure
from hf_tools.cli.flags import (
    DEFAULT_OUTPUT_DIR,
    chat_key,
    chosen_roots,
    settings_from,
    task_ids,
)
from hf_tools.cli.messages import for_person
from hf_tools.errors import HFToolsError
from hf_tools.langchain.agent import (
    DEFAULT_AGENT_MODEL,
    Agent,
    FinalAnswer,
    ModelToken,
    ToolEnd,
    ToolStart,
)

__all__ = [
    "DEFAULT_MODEL",
    "HELP",
    "SYSTEM_PROMPT",
    "build_agent",
    "chat",
    "configure",
    "main",
    "run",
]

DEFAULT_MODEL = DEFAULT_AGENT_MODEL

SYSTEM_PROMPT = (
    "You are a multimodal assistant with Hugging Face tools for text, images and audio. "
    "When the user mentions a file path or URL of an image or a recording, pass it to the "
    "right tool as is. Call several tools in one turn when they do not depend on each other. "
    "Answer briefly, from the tool results."
)

HELP = """\
  /help    this list (never sent to the model)
  /reset   forget the conversation
  /quit    leave (also /exit, Ctrl-D, or Ctrl-C twice)
  Any other /word is an unknown command; a line that starts with a path is a request.
  Ctrl-C   cancel the running request; the conversation stays as it was before it
  Mention files by path or URL in your request, e.g.
  "what is said in tests/fixtures/audio.flac?" or "caption https://.../cat.png".
"""

INTERRUPT_HINT = "(Ctrl-C again or Ctrl-D to leave)"
# A status line is rewritten in place; this clears it (carriage return, erase to end of line).
_CLEAR = "\r\033[K"
# Commands are few and short: keep a bounded history file, never a growing one.
_HISTORY_LINES = 1000


def build_agent(
    model: BaseChatModel | None = None,
    toolkit: HuggingFaceToolkit | None = None,
    *,
    model_id: str | None = None,
    chat_base_url: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    tasks: list[str] | None = None,
    output_dir: Path | None = None,
    allowed_roots: Sequence[Path] | None = None,
    max_steps: int = 8,
    system_prompt: str = SYSTEM_PROMPT,
    settings: Mapping[str, Any] | None = None,
) -> Agent:
    """The assistant's agent; pass ``model``/``toolkit`` to inject your own (tests do).

    ``model_id``, ``chat_base_url`` (an OpenAI-compatible ``/v1`` base) and ``api_key`` (its
    key; default: the Hugging Face token) configure the chat model built when none is given;
    ``base_url`` (the tools' server), ``tasks``, ``output_dir`` and ``allowed_roots`` (folders
    local media may come from; default: the working directory) the toolkit, with any other
    ``settings`` (the arguments of ``Settings.create``, as the command line's flags state them).

    Raises:
        ConfigurationError: the chat model built here or the tools call a Hugging Face host
            and there is no token (before any request).
    """
    # The chat model built here with no api_key uses the Hugging Face token, as the tools do.
    chat_urls: list[str] = []
    if model is None:
        from hf_tools.langchain.chat import DEFAULT_CHAT_BASE_URL, HFChatModel

        chat_urls = [] if api_key else [chat_base_url or DEFAULT_CHAT_BASE_URL]
        model = HFChatModel(
            model=model_id or DEFAULT_MODEL,
            base_url=chat_base_url or DEFAULT_CHAT_BASE_URL,
            api_key=SecretStr(api_key) if api_key else None,
        )
    if toolkit is None:
        roots = list(allowed_roots) if allowed_roots is not None else None
        toolkit = HuggingFaceToolkit(
            tasks=tasks,
            output_dir=output_dir,
            allowed_roots=roots,
            base_url=base_url,
            **(settings or {}),
        )
    toolkit.toolset.require_token(*chat_urls)
    return Agent(model, toolkit.get_tools(), max_steps=max_steps, system_prompt=system_prompt)


def chat(
    agent: Agent,
    stdin: TextIO,
    stdout: TextIO,
    *,
    prompt: str = "you> ",
    status: bool | None = None,
) -> int:
    """Read requests from ``stdin`` line by line, answer on ``stdout``; returns the turns run.

    ``status`` shows a "thinking" line while the model works (default: when ``stdout`` is a
    terminal). Lines are read with ``input()`` (readline editing and history) when ``stdin``
    is the terminal's ``sys.stdin``.
    """
    show_status = stdout.isatty() if status is None else status
    read = _reader(stdin, stdout, prompt)
    history: list[BaseMessage] = []
    turns = 0
    interrupted = False  # the last thing at the prompt was a Ctrl-C
    while True:
        try:
            line = read()
        except KeyboardInterrupt:
            if interrupted:
                stdout.write("\n")
                return turns
            interrupted = True
            stdout.write(f"\n{INTERRUPT_HINT}\n")
            continue
        interrupted = False
        if not line:  # end of input (Ctrl-D)
            stdout.write("\n")
            return turns
        text = line.strip()
        if text in ("/quit", "/exit"):
            return turns
        if text == "/help":
            stdout.write(HELP)
            continue
        if text == "/reset":
            history = []
            stdout.write("(conversation cleared)\n")
            continue
        if _is_command(text):  # a typo of a command is not a question for the model
            stdout.write(f"unknown command {text.split()[0]}, /help lists them\n")
            continue
        if not text:
            continue
        turns += 1
        history = _Turn(stdout, show_status).run(agent, history, text)


def _is_command(text: str) -> bool:
    """Whether ``text`` is meant as a command: a slash and a word (``/rest``, ``/q``).

    A path (``/tmp/a.png what is this?``) is a request that starts with a slash.
    """
    word = text.split()[0] if text.strip() else ""
    return word.startswith("/") and "/" not in word[1:] and "." not in word


def _reader(stdin: TextIO, stdout: TextIO, prompt: str) -> Callable[[], str]:
    """A function returning the next line ("" at end of input); Ctrl-C raises from it."""
    if stdin is sys.stdin and stdin.isatty():

        def _input() -> str:
            try:
                return input(prompt) + "\n"
            except EOFError:
                return ""

        return _input

    def _readline() -> str:
        stdout.write(prompt)
        stdout.flush()
        return stdin.readline()

    return _readline


class _Turn:
    """One request on ``out``: events as lines, a status line between them when asked."""

    def __init__(self, out: TextIO, status: bool) -> None:
        self.out = out
        self.status = status
        self.mid_line = False  # the answer is streaming on the current line
        self.showing = False  # a status line is on screen

    def run(self, agent: Agent, history: list[BaseMessage], text: str) -> list[BaseMessage]:
        """Run the request; returns the conversation to keep.

        A failed model call (rate limit, timeout, server error) or Ctrl-C ends only this turn:
        the conversation stays as it was before the request.
        """
        self._show("thinking")
        events = agent.stream_events([*history, HumanMessage(text)])
        try:
            for event in events:
                if isinstance(event, FinalAnswer):
                    return self._finish(event)
                self._event(event)
        except KeyboardInterrupt:
            self._line("(cancelled)")
        except HFToolsError as exc:
            # Our errors never hold the token; their first line is what the user needs.
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._line(f"!! error: {for_person(message)}")
        finally:
            # Closing the run's generator stops it where it is: no further model or tool call.
            if isinstance(events, Generator):
                events.close()
        return history

    def _event(self, event: ModelToken | ToolStart | ToolEnd) -> None:
        if isinstance(event, ModelToken):
            self._clear()
            if not self.mid_line:
                self.out.write("assistant> ")
            self.out.write(event.text)
            self.mid_line = True
        elif isinstance(event, ToolStart):
            args = json.dumps(event.args, ensure_ascii=False)
            self._line(f"  [tool] {event.name}({args[:200]})")
            self._show(f"running {event.name}")
        else:
            mark = "->" if event.status == "success" else "!!"
            first = for_person(event.content.splitlines()[0]) if event.content else ""
            self._line(f"  {mark} {first[:160]}")
            self._show("thinking")
        self.out.flush()

    def _finish(self, event: FinalAnswer) -> list[BaseMessage]:
        result = event.result
        if result.stopped_reason != "answer":
            self._line(f"assistant> {result.answer}")
        else:
            self._line("")  # ends the streamed answer's line (nothing if none is open)
        for _, artifact in result.artifacts:
            for path in _saved_paths(artifact):
                self.out.write(f"  saved: {path}\n")
        self.out.flush()
        return result.messages

    def _line(self, text: str) -> None:
        """``text`` on a line of its own (after the status line or streamed answer)."""
        self._clear()
        if self.mid_line:
            self.out.write("\n")
            self.mid_line = False
        if text:
            self.out.write(text + "\n")
        self.out.flush()

    def _show(self, what: str) -> None:
        if self.status:
            self.out.write(f"{_CLEAR}… {what}")
            self.out.flush()
            self.showing = True

    def _clear(self) -> None:
        if self.showing:
            self.out.write(_CLEAR)
            self.showing = False


def _saved_paths(value: Any) -> Iterator[Path]:
    """The files an artifact was saved to: its ``Path`` fields, which only ``save`` sets."""
    if isinstance(value, Path):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _saved_paths(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _saved_paths(item)


def _line_editing(history_file: Path | None) -> Callable[[], None] | None:
    """Turn on readline editing (and a history file, if given); returns the history saver."""
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline: plain input() still works
        return None
    readline.set_history_length(_HISTORY_LINES)
    if history_file is None:
        return None
    if not history_file.is_symlink():  # a planted link would read another file in
        with contextlib.suppress(OSError):
            readline.read_history_file(history_file)

    def _save() -> None:
        # Requests may name private files: the history is the user's alone (0600, 0700 dir).
        with contextlib.suppress(OSError):
            history_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _replace_privately(history_file, readline.write_history_file)

    return _save


def _replace_privately(path: Path, write: Callable[[str], object]) -> None:
    """``write`` a new 0600 file beside ``path``, then rename it over ``path``.

    The new file is made exclusively (never through a link someone planted), and the rename
    replaces a link at ``path`` itself rather than the file it points at.
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600, O_EXCL
    os.close(fd)
    try:
        write(temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _history_file() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache).expanduser() / "hf-tools" / "assistant_history"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hf-tools assistant",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    configure(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Interactive entry point (live: a token for Hugging Face hosts)."""
    return run(_parser().parse_args(argv))


def run(ns: argparse.Namespace) -> int:
    """Chat on the terminal as the flags of :func:`configure` say; returns the exit code."""
    from hf_tools.langchain.chat import DEFAULT_CHAT_BASE_URL

    try:
        key = chat_key(ns.api_key_env)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    chat_url = ns.chat_base_url or DEFAULT_CHAT_BASE_URL
    settings = settings_from(ns)
    try:
        agent = build_agent(
            model_id=ns.model,
            chat_base_url=chat_url,
            api_key=key,
            base_url=settings.pop("base_url", None),
            tasks=task_ids(ns.tasks),
            output_dir=settings.pop("output_dir", DEFAULT_OUTPUT_DIR),
            allowed_roots=chosen_roots(ns),
            settings=settings,
        )
    except HFToolsError as exc:  # an unknown task, a bad URL: a usage error, as in hf-tools agent
        print(for_person(str(exc)), file=sys.stderr)
        return 2
    save_history = None
    if sys.stdin.isatty():
        save_history = _line_editing(None if ns.no_history else _history_file())
    print("hf-tools assistant: ask away; mention image/audio paths or URLs. /help, /quit.")
    try:
        chat(agent, sys.stdin, sys.stdout)
    finally:
        if save_history is not None:
            save_history()
    return 0


if __name__ == "__main__":
    sys.exit(main())
