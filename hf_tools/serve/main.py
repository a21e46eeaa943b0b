"""``hf-tools serve``: check the setup, build the agent and the app, serve with uvicorn."""

from __future__ import annotations

import argparse
import copy
import os
import sqlite3
import sys
from collections.abc import Sequence

from hf_tools.bind import is_loopback
from hf_tools.cli.flags import settings_from, task_ids
from hf_tools.cli.messages import for_person
from hf_tools.errors import HFToolsError
from hf_tools.serve.agent import build_server_agent
from hf_tools.serve.app import create_app
from hf_tools.serve.auth import access_log, load_api_keys, normal_origin
from hf_tools.serve.connections import Connections, guarded
from hf_tools.serve.errors import ChatError
from hf_tools.serve.flags import build_parser
from hf_tools.serve.store import StoreUnavailable, open_store

__all__ = ["main", "serve"]


def _api_keys(ns: argparse.Namespace) -> list[str]:
    """The configured keys; ChatError (status 2's message) when the setup is unsafe or broken."""
    try:
        keys = load_api_keys(ns.api_keys_file, os.environ.get("HF_TOOLS_API_KEYS"))
    except (OSError, ValueError) as exc:
        raise ChatError(2, f"--api-keys-file: {exc}") from exc
    if not keys and not is_loopback(ns.host):
        msg = (
            f"refusing to serve {ns.host} without API keys: pass --api-keys-file FILE or set"
            " HF_TOOLS_API_KEYS (or bind 127.0.0.1)"
        )
        raise ChatError(2, msg)
    return keys


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the chatbot with uvicorn (live: needs HF_TOKEN); returns the exit code."""
    return serve(build_parser().parse_args(argv))


def serve(ns: argparse.Namespace) -> int:
    """Serve the chatbot as the flags of :func:`~hf_tools.serve.flags.add_server_flags` say."""
    settings = settings_from(ns)  # before the token check: --token-file stands for HF_TOKEN
    missing = [str(d) for d in ns.allow_files if not d.is_dir()]
    if missing:
        print(f"--allow-files takes folders; not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        keys = _api_keys(ns)
        for origin in ns.allowed_origin:
            normal_origin(origin)
        limits = Connections(ns.header_timeout, ns.max_connections)
    except (ChatError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        # No I/O yet; refused here when the chat model or the tools need a missing token.
        agent = build_server_agent(
            model_id=ns.model,
            chat_base_url=ns.chat_base_url,
            base_url=settings.pop("base_url", None),
            provider=settings.pop("provider", None),
            tasks=task_ids(ns.tasks),
            allow_files=ns.allow_files,
            output_dir=settings.pop("output_dir", None),
            settings=settings,
        )
    except HFToolsError as exc:
        print(for_person(str(exc)), file=sys.stderr)
        return 2
    try:
        store = open_store(ns.store)
    except (ValueError, OSError, sqlite3.Error, StoreUnavailable) as exc:
        print(f"--store: {exc}", file=sys.stderr)
        return 2
    import uvicorn
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    if not keys:
        print(
            f"warning: no API keys configured; the server is OPEN to anyone on this machine"
            f" ({ns.host}:{ns.port}). Set HF_TOOLS_API_KEYS or --api-keys-file to require keys.",
            file=sys.stderr,
        )
    app = create_app(
        agent,
        api_keys=keys,
        allowed_hosts=ns.allowed_host,
        allowed_origins=ns.allowed_origin,
        max_sessions=ns.max_sessions,
        max_sessions_per_key=ns.max_sessions_per_key,
        max_streams=ns.max_streams,
        max_streams_per_key=ns.max_streams_per_key,
        max_tool_calls_per_key=ns.max_tool_calls_per_key,
        max_history=ns.max_history,
        max_message_chars=ns.max_message_chars,
        store=store,
        heartbeat=ns.heartbeat,
        turn_wait=ns.turn_wait,
    )
    # uvicorn's access log prints the path and query string (session ids, event ids): it is
    # off, and this module's own line (the route template) goes where uvicorn logs.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"][access_log.name] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    # Slow or idle connections are held below the app, before any key is read: bounded here.
    http = guarded(AutoHTTPProtocol, limits)
    # The app has no WebSocket route: ws="none" refuses upgrades and never loads a WebSocket
    # stack (uvicorn<0.50 would import websockets.legacy, deprecated since websockets 14).
    uvicorn.run(
        app,
        host=ns.host,
        port=ns.port,
        access_log=False,
        log_config=log_config,
        http=http,
        ws="none",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
