"""The ``hf-tools`` command line: subcommands loaded lazily, a quiet exit on a closed pipe.

Only the subcommand that runs is imported (each is a module with ``configure(parser)`` and
``run(ns)``; :data:`FLAGS_FROM` names a lighter module for the flags of a heavy one), and
those import LangChain, the settings and the HTTP stack inside ``run``: ``--help``, the
command's included, imports none of them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["COMMANDS", "FLAGS_FROM", "build_parser", "main"]

DESCRIPTION = (
    "Hugging Face inference tasks as tools: list them, call one, ask an agent that uses them,"
    " find models, replay the demo, chat on the terminal, serve a chatbot or MCP, run a task"
    " over a dataset."
)

# name -> (module, one line of help); the module is imported only when its command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "list": (
        "hf_tools.cli.listing",
        "the tools these settings serve, one line each, and the schema size",
    ),
    "call": (
        "hf_tools.cli.call",
        "call one tool live (HF_TOKEN for Hugging Face hosts; not for your endpoint)",
    ),
    "agent": ("hf_tools.cli.agent", "ask a chat model that uses the tools (live)"),
    "models": ("hf_tools.cli.models", "the Hub's models that serve a task (live)"),
    "demo": ("hf_tools.cli.demo", "offline replay of a recorded agent session"),
    # The apps: the server imports Starlette only when it runs (without the server extra it
    # says how to install it); the assistant is the terminal chat.
    "assistant": ("hf_tools.assistant", "chat on this terminal with a model that uses the tools"),
    "serve": ("hf_tools.serve.command", "serve the chatbot over HTTP: API and web page"),
    "mcp": (
        "hf_tools.mcp.cli",
        "serve the tools over MCP: stdio (default), or streamable HTTP with --http",
    ),
    "batch": (
        "hf_tools.batch.cli",
        "run one task over a JSONL, CSV or Parquet file (progress, rate limits, resume)",
    ),
}

# Commands whose running module is heavy (LangChain, the batch runner): their flags are built
# from a light module of their own, so `--help` waits for neither.
FLAGS_FROM: dict[str, str] = {
    "assistant": "hf_tools.cli.assistant",
    "batch": "hf_tools.cli.batch",
}

# 128 + SIGPIPE, what a shell reports for a writer whose reader went away.
EXIT_CLOSED_PIPE = 141


def _version() -> str:
    from hf_tools import __version__

    return f"hf-tools {__version__}"


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """The parser, with the flags of ``command`` only (the others are listed, not loaded)."""
    parser = argparse.ArgumentParser(prog="hf-tools", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help) in COMMANDS.items():
        child = sub.add_parser(name, help=help, description=help)
        if name == command:
            importlib.import_module(FLAGS_FROM.get(name, module)).configure(child)
    return parser


def _run(argv: Sequence[str]) -> int:
    command = _chosen(argv)
    ns = build_parser(command if command in COMMANDS else None).parse_args(argv)
    handler: Any = importlib.import_module(COMMANDS[ns.command][0]).run
    code: int = handler(ns)
    sys.stdout.flush()  # a closed pipe shows here, inside the handler below
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 call failed, 2 usage).

    A reader that goes away (``hf-tools list | head``) ends the command quietly, with the
    shell's code for it (141), not a traceback.
    """
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        # Python flushes stdout again at exit; pointing it at /dev/null keeps that quiet too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # a stdout without a file descriptor (captured)
            pass
        finally:
            os.close(devnull)
        return EXIT_CLOSED_PIPE
