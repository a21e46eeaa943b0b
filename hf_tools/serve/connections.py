"""Connection limits for the chatbot's HTTP server, below the app: before any key is read.

uvicorn has no header-read timeout and no connection cap that keeps serving: a client that
opens many connections and sends half a request head on each holds them forever, and
``limit_concurrency`` alone answers 503 to everyone once they are held. :func:`guarded`
wraps uvicorn's HTTP protocol so that

* a connection that has not sent a whole request head ``header_timeout`` seconds after it
  opened (or after its last response, when kept alive) is closed;
* past ``max_connections`` open connections, a new one evicts the one that has waited longest
  for its request head (slow or idle), so slow clients cannot keep new ones out; only when
  every connection is inside a request is the new one answered 503 ``too_many_connections``
  and closed.

A request head is complete when uvicorn starts its request cycle; the body, and the time a
request takes, are the app's business (its own limits), not this module's.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any, cast

__all__ = ["Connections", "guarded"]

_BUSY = b'{"error": "the server holds its most connections; retry", "code": "too_many_connections"}'
_FULL = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_BUSY), _BUSY)
)


class Connections:
    """The open connections of one server, oldest first, and the limits they live under.

    Raises:
        ValueError: a header time that is not positive, or a cap below 1.
    """

    def __init__(self, header_timeout: float, max_connections: int) -> None:
        if header_timeout <= 0 or max_connections < 1:
            msg = "header_timeout must be > 0 and max_connections >= 1"
            raise ValueError(msg)
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        # Each open connection -> when it began waiting for a request head (None: in a request).
        self.open: OrderedDict[_Guarded, float | None] = OrderedDict()

    def make_room(self) -> bool:
        """Close the connection that has waited longest for a head; False if none waits.

        Waiting connections are in the order they began to wait (each moves to the end when
        it does), so the first one found is the oldest.
        """
        oldest = next((conn for conn, since in self.open.items() if since is not None), None)
        if oldest is None:
            return False
        oldest.drop()
        return True


class _Guarded(asyncio.Protocol):
    """The methods :func:`guarded` adds to uvicorn's protocol class (a mixin)."""

    limits: Connections  # not "connections": uvicorn's protocol has that name
    transport: asyncio.Transport
    cycle: Any
    _head_timer: asyncio.TimerHandle | None = None
    _refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        limits = self.limits
        if len(limits.open) >= limits.max_connections and not limits.make_room():
            assert isinstance(transport, asyncio.WriteTransport)
            self._refused = True
            transport.write(_FULL)
            transport.close()
            return
        super().connection_made(transport)
        self._wait_for_head()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # what a refused client sent before its close: never uvicorn's
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before and self in self.limits.open:
            self._in_request()  # the head is whole: uvicorn began a request cycle

    def on_response_complete(self) -> None:
        before = self.cycle
        super().on_response_complete()  # type: ignore[misc]
        if self.cycle is before and not self.transport.is_closing():
            self._wait_for_head()  # kept alive: the next head has the same time

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return  # refused in connection_made: uvicorn never saw it
        self.limits.open.pop(self, None)
        self._cancel_timer()
        super().connection_lost(exc)

    def drop(self) -> None:
        """Close this connection now (a slow head, or room for a new connection)."""
        self._cancel_timer()
        self.limits.open.pop(self, None)  # its room is free now, not once it is gone
        self.transport.close()

    def _wait_for_head(self) -> None:
        self._cancel_timer()
        self.limits.open[self] = time.monotonic()
        self.limits.open.move_to_end(self)
        loop = asyncio.get_running_loop()
        self._head_timer = loop.call_later(self.limits.header_timeout, self.drop)

    def _in_request(self) -> None:
        self._cancel_timer()
        self.limits.open[self] = None

    def _cancel_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None


def guarded(base: type[asyncio.Protocol], limits: Connections) -> type[asyncio.Protocol]:
    """The uvicorn HTTP protocol ``base`` (``http=`` of ``uvicorn.run``) under ``limits``.

    ``limits`` holds one server's connections: give each server its own.
    """
    name = f"Guarded{base.__name__}"
    return cast(type[asyncio.Protocol], type(name, (_Guarded, base), {"limits": limits}))
