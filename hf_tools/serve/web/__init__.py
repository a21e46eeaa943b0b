"""The web chat page at ``/``: plain HTML, JS and CSS files in this folder, no build step.

The page and its files need no API key (the server's guard lets these GETs through, see
``is_public``); every API call the page makes carries the key its user typed once, which the
browser keeps in localStorage. Each file goes out with a strict Content-Security-Policy: script,
style and connections from this origin only (no inline script or style, no CDN), images and
audio also as the ``blob:`` URLs the page makes of artifacts it fetched with the key, no frames.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

__all__ = ["CONTENT_SECURITY_POLICY", "is_public", "web_routes"]

_DIR = Path(__file__).parent
# URL path -> (file in this folder, content type): a fixed list, so no request path reaches
# the disk.
_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/web/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/web/style.css": ("style.css", "text/css; charset=utf-8"),
    "/web/icon.svg": ("icon.svg", "image/svg+xml"),
}
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' blob:",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate: a new server version shows at once
}


def is_public(scope: Scope) -> bool:
    """Whether a request fetches the page or one of its files (served without an API key)."""
    return scope["method"] in ("GET", "HEAD") and scope["path"] in _FILES


def _serve(body: bytes, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(_: Request) -> Response:
        return Response(body, media_type=media_type, headers=_HEADERS)

    return endpoint


def web_routes() -> list[Route]:
    """The page's routes (GET, and HEAD), each file read once, when the app is built.

    The OpenAPI document lists the page (``GET /``), not its files (``/web/...``).
    """
    return [
        Route(
            path,
            _serve((_DIR / name).read_bytes(), media_type),
            methods=["GET"],
            include_in_schema=not path.startswith("/web/"),
        )
        for path, (name, media_type) in _FILES.items()
    ]
