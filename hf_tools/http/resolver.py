"""Name lookups bounded by the call's deadline, in a capped thread pool of their own."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hf_tools.http.deadlines import _bounded

# Tests swap this in; None: socket.getaddrinfo (looked up when called).
_getaddrinfo: Callable[..., list[Any]] | None = None
# Every name lookup runs here and is awaited no longer than the caller's time left. A lookup
# the system resolver never answers holds its thread until the resolver gives up; the cap
# keeps such threads from piling up (later lookups queue, and time out with their calls).
RESOLVER_THREADS = 8
_resolver = ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="hf-tools-resolve")


def _addresses(host: str, port: int, lookup: Callable[..., list[Any]] | None) -> list[str]:
    try:
        infos = (lookup or _getaddrinfo or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        infos = []
    return [str(info[4][0]) for info in infos]


def _literal(host: str) -> list[str] | None:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return None


def _no_address(host: str, addresses: list[str]) -> list[str]:
    if not addresses:
        msg = f"{host} could not be resolved"
        raise OSError(msg)
    return addresses


def _lookup_too_slow(host: str, limit: float | None) -> TimeoutError:
    return TimeoutError(f"looking up {host} took longer than {limit or 0:g} s")


def resolve(
    host: str, port: int, wait: float | None, lookup: Callable[..., list[Any]] | None = None
) -> list[str]:
    """The addresses of ``host``, looked up within ``wait`` s and the call's deadline.

    ``lookup``: a getaddrinfo to use instead of the module's.

    Raises:
        TimeoutError: no answer in time (the lookup goes on in its capped thread).
        OSError: the name has no address.
    """
    if (literal := _literal(host)) is not None:
        return literal
    limit = _bounded(wait, TimeoutError)
    future = _resolver.submit(_addresses, host, port, lookup)
    try:
        return _no_address(host, future.result(limit))
    except TimeoutError:
        future.cancel()  # still queued: never run
        raise _lookup_too_slow(host, limit) from None


async def aresolve(
    host: str, port: int, wait: float | None, lookup: Callable[..., list[Any]] | None = None
) -> list[str]:
    """The asyncio twin of :func:`resolve` (the same capped threads, not the loop's pool)."""
    if (literal := _literal(host)) is not None:
        return literal
    limit = _bounded(wait, TimeoutError)
    future = _resolver.submit(_addresses, host, port, lookup)
    try:
        found = await asyncio.wait_for(asyncio.wrap_future(future), limit)
    except TimeoutError:
        future.cancel()
        raise _lookup_too_slow(host, limit) from None
    return _no_address(host, found)
