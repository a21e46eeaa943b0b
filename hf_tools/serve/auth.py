"""Who may call: API keys, the Host and Origin checks, and the access log (the guard)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hf_tools.bind import LOOPBACK_NAMES
from hf_tools.serve.api import OPERATIONS
from hf_tools.serve.errors import ChatError, error_response, failure
from hf_tools.serve.web import is_public

CALLER = "hf_tools.caller"  # the ASGI scope key the guard stores the caller under
REQUEST_ID = "hf_tools.request_id"  # the ASGI scope key of the request's id
_LOOPBACK_NAMES = frozenset(LOOPBACK_NAMES)
# Routes served without an API key: health checks and the API's own description.
_PUBLIC = frozenset((op.method, op.path) for op in OPERATIONS if op.public)
log = logging.getLogger("hf_tools.serve")
access_log = logging.getLogger("hf_tools.serve.access")


def load_api_keys(path: Path | None = None, env: str | None = None) -> list[str]:
    """API keys from a file and/or a comma-separated string (``HF_TOOLS_API_KEYS``).

    The file holds one key a line; blank lines and ``#`` comments are skipped.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file holds no key (a server that is meant to be locked would run open).
    """
    keys: list[str] = []
    if path is not None:
        lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        keys = [line for line in lines if line and not line.startswith("#")]
        if not keys:
            msg = f"{path} holds no API key"
            raise ValueError(msg)
    return keys + [k.strip() for k in (env or "").split(",") if k.strip()]


class ApiKeys:
    """The configured keys, checked in constant time; a key is known by the hash of it."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = {hashlib.sha256(k.encode()).digest() for k in keys}

    def __bool__(self) -> bool:
        return bool(self._digests)

    def identify(self, authorization: str | None) -> str:
        """The key id (a short hash) of an ``Authorization: Bearer <key>`` header; 401 if none.

        Every configured key is compared (no early exit), each with ``hmac.compare_digest``
        over fixed-length digests, so timing tells nothing about which bytes matched.
        """
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            msg = "send an API key: Authorization: Bearer <key>"
            raise ChatError(401, msg, "missing_api_key")
        digest = hashlib.sha256(given.strip().encode()).digest()
        known = False
        for candidate in self._digests:
            known |= hmac.compare_digest(candidate, digest)
        if not known:
            raise ChatError(401, "unknown API key", "invalid_api_key")
        return digest.hex()[:16]


@dataclass
class Caller:
    """Who sent a request, and what to release when it ends (set by the guard)."""

    key_id: str
    releases: list[Callable[[], None]] = field(default_factory=list)


def _split_host(value: str, default_port: int | None) -> tuple[str, int | None] | None:
    """``host[:port]`` (brackets for IPv6) as a lower-case name and a port; None if malformed."""
    try:
        parts = urlsplit(f"//{value}")
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name or parts.path or parts.query or parts.fragment or parts.username is not None:
        return None
    return name, port if port is not None else default_port


def normal_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-cased; ValueError for anything else."""
    parts = urlsplit(origin.strip().rstrip("/").lower())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        msg = f"an origin is scheme://host[:port], got {origin!r}"
        raise ValueError(msg)
    return f"{parts.scheme}://{parts.netloc}"


class Guard:
    """Host, Origin, API key and Content-Type checks, the access log, and request cleanup.

    Runs before routing, so every route (unknown ones too) but the public ones (``GET
    /health``, ``/openapi.json``, ``/docs`` and the web page) needs a key. Every answer gets an
    ``X-Request-ID``, which the access log line and any 5xx body carry too.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: ApiKeys,
        allowed_hosts: Sequence[str],
        allowed_origins: Sequence[str],
        routes: Sequence[BaseRoute],
    ) -> None:
        self.app = app
        self.keys = keys
        self.hosts = [h for h in (_split_host(h, None) for h in allowed_hosts) if h]
        self.origins = {normal_origin(o) for o in allowed_origins}
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, run the app, log one line, release what the request held."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        caller = Caller("-")
        status = 500  # what the client gets if the app fails before answering
        # Ours, never the client's: it names this request in the logs and in 5xx bodies.
        request_id = scope[REQUEST_ID] = secrets.token_hex(8)

        started_response = False

        async def send_status(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
            await send(message)

        try:
            try:
                caller.key_id = self._check(scope, Headers(scope=scope))
            except ChatError as exc:
                await error_response(exc.status, exc.message, exc.code)(scope, receive, send_status)
                return
            scope[CALLER] = caller
            await self.app(scope, receive, send_status)
        except Exception:
            log.exception("request %s failed", request_id)
            if started_response:
                raise  # too late for a status: the server drops the connection
            body = failure(request_id, "internal_error")
            await JSONResponse(body, status_code=500)(scope, receive, send_status)
        finally:
            for release in caller.releases:  # also when the client left or the task was cancelled
                release()
            elapsed = (time.monotonic() - started) * 1000
            # The path template, never the path or query: they may hold the user's message.
            access_log.info(
                "%s %s %d %.1fms key=%s rid=%s",
                scope["method"],
                self._template(scope),
                status,
                elapsed,
                caller.key_id,
                request_id,
            )

    def _check(self, scope: Scope, headers: Headers) -> str:
        """The caller's key id ("-" when the server runs open), or the refusal."""
        host = headers.get("host", "")
        if not self._host_allowed(scope, host):
            raise ChatError(403, "this Host is not served here", "host_not_allowed")
        self._check_origin(scope, headers, host)
        key_id = "-"
        public = (scope["method"], scope["path"]) in _PUBLIC or is_public(scope)
        if self.keys and not public:  # the page asks its user for the key
            key_id = self.keys.identify(headers.get("authorization"))
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if scope["method"] == "POST" and content_type != "application/json":
            # A page on another site can send text/plain or form POSTs without a preflight.
            msg = "send the body as Content-Type: application/json"
            raise ChatError(415, msg, "unsupported_media_type")
        return key_id

    def _host_allowed(self, scope: Scope, host: str) -> bool:
        """Same host only (the bound address or a loopback name on its port), or listed."""
        default_port = 443 if scope.get("scheme") == "https" else 80
        split = _split_host(host, default_port)
        if split is None:
            return False
        name, port = split
        server = scope.get("server")
        if server is None:
            same = name in _LOOPBACK_NAMES
        else:
            bound = server[1] if server[1] is not None else default_port
            same = port == bound and name in {str(server[0]).lower(), *_LOOPBACK_NAMES}
        listed = any(n == name and p in (None, port) for n, p in self.hosts)
        return same or listed

    def _check_origin(self, scope: Scope, headers: Headers, host: str) -> None:
        origin = headers.get("origin")
        if origin is not None:
            try:
                normal = normal_origin(origin)
            except ValueError:  # "null" (sandboxed frames, file://) and junk
                normal = ""
            # The scheme too: an https page is another origin than this http server.
            own = f"{scope.get('scheme', 'http')}://{host.lower()}"
            same_origin = normal == own and bool(host)
            if not (same_origin or normal in self.origins):
                raise ChatError(403, "this Origin is not allowed", "origin_not_allowed")
        elif headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            # <img>, <script> or link GETs from another site carry no Origin; browsers say so.
            raise ChatError(403, "cross-site requests are not allowed", "cross_site")

    def _template(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE and isinstance(route, Route):
                return route.path
        return "(no route)"


def caller_of(request: Request) -> Caller:
    """Who sent ``request`` (the guard put it in the request's scope)."""
    caller = request.scope[CALLER]
    assert isinstance(caller, Caller)
    return caller
