"""The idle check of pooled connections, answered from the socket (see :class:`_IdleProbe`)."""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from asyncio.trsock import TransportSocket
from collections.abc import Callable
from typing import Any


class _IdleProbe:
    """Answers httpcore2's "has the server closed this idle connection?" from the socket itself.

    httpcore2 asks every idle connection of the pool twice per request; its anyio path looks
    the socket up through anyio's attribute tables each time (7-11 µs), and with 64 calls in
    flight that was a tenth of a call's CPU. Here the socket and a poll object are kept, and
    bytes already read off the socket but not yet consumed (OpenSSL's decrypted bytes, a TLS
    record in a memory BIO, a chunk or end of stream in asyncio's queue) count as readable,
    as the kernel no longer shows them.
    """

    __slots__ = ("_held", "_poll", "_sock")

    def __init__(
        self, sock: socket.socket | TransportSocket, held: tuple[Callable[[], object], ...]
    ) -> None:
        self._sock = sock
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        self._held = held

    def readable(self) -> bool:
        if self._sock.fileno() < 0:  # closed: the next read is the end of the stream
            return True
        for held in self._held:  # a loop, not any(): this runs ~20 times per request
            if held():
                return True
        return bool(self._poll.poll(0))


def _idle_probe(inner: Any) -> _IdleProbe | None:
    """A probe for ``inner``'s socket; None where httpcore2's own answer must be used."""
    sock = inner.get_extra_info("socket")  # asyncio hands out a TransportSocket
    if not isinstance(sock, socket.socket | TransportSocket) or not hasattr(select, "poll"):
        return None  # trio's socket, or no poll() (Windows): keep httpcore2's path
    held: list[Callable[[], object]] = []
    tls = inner.get_extra_info("ssl_object")
    if tls is not None:
        held.append(tls.pending)
    # httpcore2's TLS-in-TLS stream and anyio's streams hold bytes in private fields: read
    # them where they are, so that a close_notify already read off the socket still counts.
    bio = getattr(inner, "_incoming", None)
    stream = getattr(inner, "_stream", None)
    while stream is not None:
        bio = bio or getattr(stream, "_read_bio", None)
        protocol = getattr(stream, "_protocol", None)
        event = getattr(protocol, "read_event", None)
        if isinstance(event, asyncio.Event):
            held.append(event.is_set)
        stream = getattr(stream, "transport_stream", None)
    if isinstance(bio, ssl.MemoryBIO):
        held.append(lambda: bio.pending)
    return _IdleProbe(sock, tuple(held))


_UNPROBED: Any = object()


class _ProbedStream:
    """The part both deadline streams share: the wrapped stream, and the idle check."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._probe: _IdleProbe | None = _UNPROBED  # made on the first check

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            if self._probe is _UNPROBED:
                self._probe = _idle_probe(self._inner)
            if self._probe is not None:
                return self._probe.readable()
        return self._inner.get_extra_info(info)
