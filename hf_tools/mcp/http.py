"""Streamable HTTP at ``/mcp``: stateless, Host and Origin checked, bodies capped, a bearer token.

Security by default: the server binds 127.0.0.1; an address that is not loopback
(:func:`hf_tools.bind.is_loopback`) needs a bearer token (every request must carry
``Authorization: Bearer <token>``, compared in constant time).
The SDK's DNS-rebinding check accepts only the bound host (and the loopback names) in
``Host`` and only their http(s) origins in ``Origin``; request bodies over
``max_body_bytes`` are refused.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from hf_tools.bind import LOOPBACK_NAMES, is_loopback
from hf_tools.mcp.server import ToolServer

__all__ = [
    "MAX_BODY_BYTES",
    "BearerToken",
    "http_app",
    "netloc",
    "transport_security",
]

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Largest request body (a tool call with an image as a data URI fits)."""


def netloc(host: str) -> str:
    """``host`` as it stands in a URL or a Host header (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def transport_security(host: str, extra_hosts: Sequence[str] = ()) -> TransportSecuritySettings:
    """The DNS-rebinding rule: ``Host`` and ``Origin`` must name this server (any port)."""
    names = list(
        dict.fromkeys([*map(netloc, LOOPBACK_NAMES), netloc(host), *map(netloc, extra_hosts)])
    )
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{name}:*" for name in names] + names,
        allowed_origins=[f"{scheme}://{name}:*" for name in names for scheme in ("http", "https")]
        + [f"{scheme}://{name}" for name in names for scheme in ("http", "https")],
    )


class BearerToken:
    """ASGI middleware: HTTP requests without ``Authorization: Bearer <token>`` get a 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass authorized HTTP requests (and lifespan events) to the app."""
        if scope["type"] == "http":
            given = dict(scope.get("headers") or ()).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await _unauthorized(send)
                return
        await self.app(scope, receive, send)


async def _unauthorized(send: Send) -> None:
    body = json.dumps({"error": "unauthorized: send Authorization: Bearer <token>"}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"www-authenticate", b'Bearer realm="hf-tools"'),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def http_app(
    server: ToolServer,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    allowed_hosts: Sequence[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Any:
    """The ASGI app serving ``server`` at ``/mcp`` (stateless streamable HTTP).

    Raises:
        ValueError: ``host`` is not a loopback address and no ``token`` is given.
    """
    if not is_loopback(host) and not token:
        msg = (
            f"--host {host} exposes the tools beyond this machine: give a bearer token"
            " (--auth-token-file FILE or HF_TOOLS_MCP_TOKEN)"
        )
        raise ValueError(msg)
    app: Any = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        max_request_body_size=max_body_bytes,
        transport_security=transport_security(host, allowed_hosts),
        host=host,
    )
    return BearerToken(app, token) if token else app
