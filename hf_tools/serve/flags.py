"""The server's command line: each flag also read from an ``HF_TOOLS_*`` variable."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from hf_tools.cli.flags import CHAT_FLAGS, TASKS, Repeat, add_flags, add_settings_flags, env_name

__all__ = ["DEFAULT_STORE", "DESCRIPTION", "Repeat", "add_server_flags", "build_parser", "env_name"]

# Here, not in the store's module (which imports LangChain): `hf-tools serve --help` names it.
DEFAULT_STORE = "sqlite:///chatbot.db"  # a file next to where the server runs


# What two shared flags mean here: the LLM picks paths for many clients, so no folder (not
# even the working directory) is open unless named; artifacts live in the store.
_SERVER_HELPS = {
    "--allow-files": "let tools read local media from DIR (repeatable; default: URLs and data"
    " only, not even the working directory)",
    "--output-dir": "folder where the tools also write the files they produce (default: none;"
    " clients fetch artifacts from the store)",
}


DESCRIPTION = (
    "Serve a chatbot over HTTP: an agent with Hugging Face tools, one conversation per"
    " session, kept in a SQLite file so a restart loses nothing. Clients POST"
    " /sessions, then POST /sessions/{id}/messages (JSON or SSE); GET /docs describes"
    " the API. API keys from HF_TOOLS_API_KEYS or --api-keys-file. HF_TOKEN is needed"
    " only when the chat model or the tools run on Hugging Face."
)
EPILOG = (
    "Each --flag can also come from the environment variable named in its help"
    " (repeatable ones: comma-separated); a flag given wins over its variable."
)


def build_parser() -> argparse.ArgumentParser:
    """The server's command line (``hf-tools serve``)."""
    parser = argparse.ArgumentParser(prog="hf-tools serve", description=DESCRIPTION, epilog=EPILOG)
    add_server_flags(parser)
    return parser


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """The server's flags, each with its ``HF_TOOLS_*`` variable as the default."""

    def add(flag: str, help: str, default: Any = None, **kw: Any) -> None:
        name = env_name(flag)
        raw = os.environ.get(name)
        shown = "" if default in (None, []) else f"; default {default}"
        if kw.get("action") is Repeat:
            convert = kw.get("type", str)
            default = [convert(v.strip()) for v in (raw or "").split(",") if v.strip()]
        elif raw is not None:
            default = raw  # argparse converts a string default with the flag's type
        parser.add_argument(flag, default=default, help=f"{help} (env {name}{shown})", **kw)

    add("--host", "address to bind (not loopback: needs API keys)", "127.0.0.1")
    add("--port", "port to listen on", 8000, type=int)
    add("--store", "sqlite:///path.db or memory", DEFAULT_STORE, metavar="URL")
    add("--model", "chat model id (org/name[:provider])")
    # The chat model's and the tools' flags: the table every command shares.
    add_flags(parser, [CHAT_FLAGS[0], TASKS])
    add_settings_flags(parser, helps=_SERVER_HELPS)
    add("--api-keys-file", "API keys, one a line", type=Path, metavar="FILE")
    add(
        "--allowed-host",
        "another Host header to accept (repeatable; default: the bound address)",
        action=Repeat,
        metavar="NAME[:PORT]",
    )
    add(
        "--allowed-origin",
        "a web origin allowed to call the API, with CORS (repeatable; default: none)",
        action=Repeat,
        metavar="SCHEME://HOST[:PORT]",
    )
    add(
        "--turn-wait",
        "seconds a turn waits for a running turn of its session, on any replica, before a"
        " 409 session_busy",
        30.0,
        type=float,
        metavar="SECONDS",
    )
    for name, default, what in [
        ("max-sessions", 1000, "conversations held in all"),
        ("max-sessions-per-key", 100, "conversations held per API key"),
        ("max-streams", 64, "turns running at once in all"),
        ("max-streams-per-key", 4, "turns running at once per API key"),
        ("max-tool-calls-per-key", 4, "tool calls running at once per API key (more wait)"),
        ("max-history", 40, "messages of a conversation sent to the model"),
        ("max-message-chars", 4000, "longest user message (413 beyond)"),
    ]:
        add(f"--{name}", what, default, type=int, metavar="N")
    add(
        "--header-timeout",
        "seconds a connection may take to send a whole request head (slow ones are closed)",
        10.0,
        type=float,
        metavar="SECONDS",
    )
    add(
        "--max-connections",
        "open connections; past it a new one evicts the one that waited longest for its"
        " request head",
        500,
        type=int,
        metavar="N",
    )
    add(
        "--heartbeat",
        "seconds of silence after which an SSE stream gets a ': ping' comment",
        15.0,
        type=float,
        metavar="SECONDS",
    )
