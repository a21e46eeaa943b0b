"""The shared connection pools: TLS context, limits, and the deadline backends fitted in."""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable
from typing import Any

import httpx2

from hf_tools.http.backend import _AsyncDeadlineBackend, _DeadlineBackend

log = logging.getLogger("hf_tools.http")  # one logger for the package, as before the split


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The one TLS context every client of ours shares (the OS trust store, or SSL_CERT_FILE).

    Building one reads the CA store, 15-30 ms: once per process, not per client or download.
    """
    return httpx2.create_ssl_context()


def client_options(timeout: float, transport: Any = None) -> dict[str, Any]:
    """Options of every httpx2 client here: the shared TLS context, redirects never followed."""
    return {
        "timeout": timeout,
        "transport": transport,
        "verify": ssl_context(),
        "follow_redirects": False,
    }


# Only the encodings BodyReader inflates in bounded slices (br/zstd could come otherwise).
_POOL_HEADERS = {"accept-encoding": "gzip, deflate"}

# One pool serves every tool (and every chat turn of a server) of its process or loop: with
# httpx2's default of 20 idle connections kept, 64 calls in flight close and reopen
# connections (a TLS handshake each) all the time. Keep as many as may be open.
POOL_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=100)


def sync_pool(
    timeout: float, transport: httpx2.BaseTransport | None = None, *, trust_env: bool = True
) -> httpx2.Client:
    """A pooled client whose sockets keep to the call deadlines (unless given a transport).

    ``trust_env=False``: no proxy from the environment (the pinned downloader's clients).
    """
    options = {**client_options(timeout, transport), "headers": _POOL_HEADERS}
    options["trust_env"] = trust_env
    if transport is None:
        made = httpx2.HTTPTransport(verify=ssl_context(), limits=POOL_LIMITS)
        _guard(made, _DeadlineBackend)
        options["transport"] = made
    return httpx2.Client(**options)


def async_pool(
    timeout: float, transport: httpx2.AsyncBaseTransport | None = None, *, trust_env: bool = True
) -> httpx2.AsyncClient:
    """The asyncio twin of :func:`sync_pool`."""
    options = {**client_options(timeout, transport), "headers": _POOL_HEADERS}
    options["trust_env"] = trust_env
    if transport is None:
        made = httpx2.AsyncHTTPTransport(verify=ssl_context(), limits=POOL_LIMITS)
        _guard(made, _AsyncDeadlineBackend)
        options["transport"] = made
    return httpx2.AsyncClient(**options)


def given_transport(client: httpx2.Client | httpx2.AsyncClient) -> Any:
    """The transport a caller gave ``client``'s pool (a test double, a custom one), else None.

    The pinned downloader sends through it too: every request of a client built with
    ``transport=`` goes where that transport sends it.
    """
    transport = getattr(client, "_transport", None)
    made = httpx2.HTTPTransport | httpx2.AsyncHTTPTransport
    return None if isinstance(transport, made) else transport


def _guard(transport: Any, backend: Callable[[Any], Any]) -> None:
    # httpx2 does not expose the pool's network backend; wrapping it is the one way to bound
    # the reads httpcore2 makes while it waits for headers.
    pool: Any = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if inner is None:  # pragma: no cover - a future httpx2 without the field
        log.warning("httpx2 changed: reads are bounded per read, not by the call deadline")
        return
    pool._network_backend = backend(inner)
