"""Multimodal terminal assistant: chat with a model that picks from the whole toolkit.

Type a request per line; mention local files or URLs for images and audio
(``what is said in tests/fixtures/audio.flac?``). Tool calls and their short results are
shown as they happen, the answer streams, and the conversation carries over between lines.
``/reset`` starts over, ``/quit`` (or end of input) leaves.

Run it: ``HF_TOKEN=hf_... python -m agents.assistant [--model org/name] [--tasks a,b]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage

from hf_tools import HuggingFaceToolkit
from hf_tools.agent import DEFAULT_AGENT_MODEL, Agent, FinalAnswer, ModelToken, ToolEnd, ToolStart
from hf_tools.cli import task_ids
from hf_tools.errors import HFToolsError

__all__ = ["DEFAULT_MODEL", "SYSTEM_PROMPT", "build_agent", "chat", "main"]

DEFAULT_MODEL = DEFAULT_AGENT_MODEL

SYSTEM_PROMPT = (
    "You are a multimodal assistant with Hugging Face tools for text, images and audio. "
    "When the user mentions a file path or URL of an image or a recording, pass it to the "
    "right tool as is. Call several tools in one turn when they do not depend on each other. "
    "Answer briefly, from the tool results."
)


def build_agent(
    model: BaseChatModel | None = None,
    toolkit: HuggingFaceToolkit | None = None,
    *,
    model_id: str | None = None,
    tasks: list[str] | None = None,
    output_dir: Path | None = None,
    allowed_roots: Sequence[Path] | None = None,
    max_steps: int = 8,
    system_prompt: str = SYSTEM_PROMPT,
) -> Agent:
    """The assistant's agent; pass ``model``/``toolkit`` to inject your own (tests do).

    ``tasks``, ``output_dir`` and ``allowed_roots`` (folders local media may come from;
    default: the working directory) configure the toolkit built when none is given.
    """
    if model is None:
        from hf_tools.chat import HFChatModel

        model = HFChatModel(model=model_id or DEFAULT_MODEL)
    if toolkit is None:
        roots = list(allowed_roots) if allowed_roots is not None else None
        toolkit = HuggingFaceToolkit(tasks=tasks, output_dir=output_dir, allowed_roots=roots)
    return Agent(model, toolkit.get_tools(), max_steps=max_steps, system_prompt=system_prompt)


def chat(agent: Agent, stdin: TextIO, stdout: TextIO, *, prompt: str = "you> ") -> int:
    """Read requests from ``stdin`` line by line, answer on ``stdout``; returns the turns run."""
    history: list[BaseMessage] = []
    turns = 0
    while True:
        stdout.write(prompt)
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return turns
        text = line.strip()
        if text in ("/quit", "/exit"):
            return turns
        if text == "/reset":
            history = []
            stdout.write("(conversation cleared)\n")
            continue
        if not text:
            continue
        turns += 1
        history = _turn(agent, history, text, stdout)


def _turn(agent: Agent, history: list[BaseMessage], text: str, out: TextIO) -> list[BaseMessage]:
    """Run one request, printing as events arrive; returns the conversation to keep.

    A failed model call (rate limit, timeout, server error) ends only this turn: the error
    is shown on one line and the conversation stays as it was before the request.
    """
    mid_line = False
    try:
        for event in agent.stream_events([*history, HumanMessage(text)]):
            if isinstance(event, ModelToken):
                if not mid_line:
                    out.write("assistant> ")
                out.write(event.text)
                mid_line = True
            else:
                if mid_line:
                    out.write("\n")
                    mid_line = False
                if isinstance(event, ToolStart):
                    args = json.dumps(event.args, ensure_ascii=False)
                    out.write(f"  [tool] {event.name}({args[:200]})\n")
                elif isinstance(event, ToolEnd):
                    mark = "->" if event.status == "success" else "!!"
                    first = event.content.splitlines()[0] if event.content else ""
                    out.write(f"  {mark} {first[:160]}\n")
                elif isinstance(event, FinalAnswer):
                    return _finish(event, out)
            out.flush()
    except HFToolsError as exc:
        # Our errors never hold the token; their first line is what the user needs.
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        out.write(("\n" if mid_line else "") + f"!! error: {message}\n")
        out.flush()
    return history


def _finish(event: FinalAnswer, out: TextIO) -> list[BaseMessage]:
    result = event.result
    if result.stopped_reason != "answer":
        out.write(f"assistant> {result.answer}\n")
    for name, artifact in result.artifacts:
        out.write(f"  (artifact from {name}: {type(artifact).__name__})\n")
    out.flush()
    return result.messages


def main(argv: Sequence[str] | None = None) -> int:
    """Interactive entry point (live: needs HF_TOKEN)."""
    parser = argparse.ArgumentParser(prog="python -m agents.assistant", description=__doc__)
    parser.add_argument("--model", help=f"chat model (default {DEFAULT_MODEL})")
    parser.add_argument("--tasks", help="comma-separated task ids (default: all)")
    parser.add_argument("--output-dir", type=Path, help="where masks and images are saved")
    ns = parser.parse_args(argv)
    if not os.environ.get("HF_TOKEN"):
        print("the assistant needs a token: export HF_TOKEN=hf_...", file=sys.stderr)
        return 2
    try:
        agent = build_agent(model_id=ns.model, tasks=task_ids(ns.tasks), output_dir=ns.output_dir)
    except HFToolsError as exc:  # an unknown task: a usage error, as in hf-tools agent
        print(exc, file=sys.stderr)
        return 2
    print("hf-tools assistant: ask away; mention image/audio paths or URLs. /quit to leave.")
    chat(agent, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
