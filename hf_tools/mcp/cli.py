"""``hf-tools mcp``: serve the offered tools over stdio (default) or streamable HTTP.

Its settings flags are the command line's one table (:mod:`hf_tools.cli.flags`), each also
read from its ``HF_TOOLS_*`` variable; ``--allow-files`` opens no folder by default here.

Configuration errors (no token for a Hugging Face host, an unknown task or family, a
provider that serves none of the tasks asked for, a public bind without a token) stop the
server before it serves anything: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hf_tools.cli.flags import TASKS, add_flags, add_settings_flags, settings_from, task_ids
from hf_tools.errors import HFToolsError
from hf_tools.mcp.store import DEFAULT_RESOURCE_BUDGET

# The toolset and the settings load when the server is built: `hf-tools mcp --help` needs
# neither (they import pydantic, every task and the HTTP stack).
if TYPE_CHECKING:
    from hf_tools.mcp.server import ToolServer

__all__ = ["DESCRIPTION", "INSTALL_HINT", "TOKEN_ENV", "build_server", "configure", "main", "run"]

DESCRIPTION = "serve the tools over MCP: stdio (default), or streamable HTTP with --http"

INSTALL_HINT = 'pip install "hf-tools[mcp]"'
TOKEN_ENV = "HF_TOOLS_MCP_TOKEN"
DEFAULT_PORT = 8765


class UsageError(Exception):
    """A setting that cannot work: the one line to print before exiting with 2."""


def _names(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    return [n.strip() for value in values for n in value.split(",") if n.strip()]


_HELPS = {
    "--allow-files": "a folder the tools may read local media from (repeatable; default: none,"
    " the client's model picks the paths)",
    "--output-dir": "also save generated images, audio, video and masks in DIR (default: not"
    " saved; they are MCP content and resources)",
}


def configure(parser: argparse.ArgumentParser) -> None:
    """The flags of ``hf-tools mcp``: which tools, the settings' table, how it serves."""
    what = parser.add_argument_group("which tools, served how")
    add_flags(what, [TASKS], errors=parser)
    what.add_argument(
        "--family",
        action="append",
        metavar="F",
        help="offer these tool families: text, vision, audio, generation, custom (repeatable)",
    )
    what.add_argument(
        "--audio-as",
        choices=("audio", "resource"),
        default="audio",
        help="audio results inline as AudioContent (default) or as a resource link only",
    )
    what.add_argument(
        "--resource-mb",
        type=int,
        default=DEFAULT_RESOURCE_BUDGET // 2**20,
        help="MiB of binary results kept for resources/read (oldest dropped first)",
    )
    http = parser.add_argument_group("streamable HTTP")
    http.add_argument("--http", action="store_true", help="serve streamable HTTP at /mcp")
    http.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    http.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8765)")
    http.add_argument(
        "--auth-token-file",
        type=Path,
        help=f"a file holding the bearer token clients must send (or ${TOKEN_ENV})",
    )
    http.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another host name clients use in Host/Origin (e.g. this machine's DNS name)",
    )
    add_settings_flags(parser, helps=_HELPS)


def _token(ns: argparse.Namespace) -> str | None:
    if ns.auth_token_file is not None:
        from hf_tools.config import read_token_file
        from hf_tools.errors import ConfigurationError

        try:
            token = read_token_file(str(ns.auth_token_file))
        except ConfigurationError as exc:  # a FIFO, a device, a huge or malformed file
            msg = f"--auth-token-file: {exc.message}"
            raise UsageError(msg) from None
        if not token:
            msg = f"--auth-token-file {ns.auth_token_file}: missing, unreadable or empty"
            raise UsageError(msg)
        return token
    env: str | None = os.environ.get(TOKEN_ENV)
    return env or None


def build_server(ns: argparse.Namespace) -> ToolServer:
    """The server the parsed flags describe.

    Raises:
        UsageError: a setting that cannot work (the message is the line to print).
    """
    from hf_tools.toolset import Toolset

    # No local files unless a folder is named: the client's model picks the paths.
    settings = {**settings_from(ns), "allowed_roots": list(ns.allow_files or ())}
    try:
        toolset = Toolset(tasks=task_ids(ns.tasks), families=_names(ns.family), **settings)
    except HFToolsError as exc:
        raise UsageError(str(exc)) from None
    if not toolset.tools:
        msg = "no tool is offered with these settings (see `hf-tools list`)"
        raise UsageError(msg)
    try:
        toolset.require_token()
    except HFToolsError as exc:
        raise UsageError(str(exc)) from None
    from hf_tools.mcp.server import ToolServer

    return ToolServer(toolset, audio_as=ns.audio_as, resource_budget=ns.resource_mb * 2**20)


def _listening(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        msg = f"cannot listen on {host}:{port}: {exc.strerror}"
        raise UsageError(msg) from None
    sock.listen(128)
    return sock


def _serve_http(app: Any, sock: socket.socket, host: str, count: int) -> None:
    """Serve ``app`` with uvicorn on ``sock``, listening before the banner is printed."""
    import uvicorn

    from hf_tools.mcp.http import netloc

    where = f"http://{netloc(host)}:{sock.getsockname()[1]}/mcp"
    print(f"hf-tools mcp: {count} tools at {where}", file=sys.stderr, flush=True)
    try:
        # Streamable HTTP has no WebSocket: ws="none" refuses upgrades, loads no WebSocket stack.
        uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none")).run(sockets=[sock])
    finally:
        sock.close()


def run(ns: argparse.Namespace) -> int:
    """Build the server and serve until stdin closes (stdio) or a signal (HTTP).

    Returns 2 with the install hint when the ``mcp`` extra is missing.
    """
    if importlib.util.find_spec("mcp") is None:
        print(f"hf-tools mcp needs the MCP SDK (the mcp extra): {INSTALL_HINT}", file=sys.stderr)
        return 2
    import anyio

    try:
        server = build_server(ns)
        app, sock = None, None
        if ns.http:
            from hf_tools.mcp.http import http_app

            try:
                app = http_app(
                    server, host=ns.host, token=_token(ns), allowed_hosts=ns.allowed_host
                )
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            sock = _listening(ns.host, ns.port)
    except UsageError as exc:
        from hf_tools.cli.messages import for_person

        print(f"hf-tools mcp: {for_person(str(exc))}", file=sys.stderr)
        return 2
    try:
        if sock is None:
            anyio.run(server.run_stdio_async)
        else:
            _serve_http(app, sock, ns.host, len(server.toolset.tools))
    finally:
        server.toolset.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``hf-tools mcp`` (also ``python -m hf_tools.mcp``); returns the exit code."""
    parser = argparse.ArgumentParser(prog="hf-tools mcp", description=DESCRIPTION)
    configure(parser)
    return run(parser.parse_args(argv))
