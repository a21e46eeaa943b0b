"""Network backends whose every connect, TLS handshake, read and write stop at the deadline.

A host is resolved by :func:`~hf_tools.http.resolver.resolve` inside the deadline, and the
socket connects to the address found (the socket call itself has no bound on its lookup).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2

from hf_tools.http.deadlines import _bounded
from hf_tools.http.idle import _ProbedStream
from hf_tools.http.resolver import aresolve, resolve


def _connect_error(exc: OSError) -> httpcore2.ConnectError | httpcore2.ConnectTimeout:
    if isinstance(exc, TimeoutError):
        return httpcore2.ConnectTimeout(str(exc))
    return httpcore2.ConnectError(str(exc))


class _DeadlineStream(_ProbedStream, httpcore2.NetworkStream):
    """A socket whose every read and write stops at the call's deadline."""

    _inner: httpcore2.NetworkStream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.NetworkStream:
        limit = _bounded(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, limit))


class _DeadlineBackend(httpcore2.NetworkBackend):
    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        # Resolved here, bounded, and not by the socket call (which no timeout bounds).
        try:
            addresses = resolve(host, port, _bounded(timeout, httpcore2.ConnectTimeout))
        except OSError as exc:
            raise _connect_error(exc) from None
        failure: httpcore2.ConnectError | None = None
        for address in addresses:
            limit = _bounded(timeout, httpcore2.ConnectTimeout)
            try:
                inner = self._inner.connect_tcp(address, port, limit, local_address, socket_options)
            except httpcore2.ConnectError as exc:  # refused: the next address may answer
                failure = exc
                continue
            return _DeadlineStream(inner)
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        limit = _bounded(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, limit, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncDeadlineStream(_ProbedStream, httpcore2.AsyncNetworkStream):
    """The asyncio twin of :class:`_DeadlineStream`."""

    _inner: httpcore2.AsyncNetworkStream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _bounded(timeout, httpcore2.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _bounded(timeout, httpcore2.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        limit = _bounded(timeout, httpcore2.ConnectTimeout)
        inner = await self._inner.start_tls(ssl_context, server_hostname, limit)
        return _AsyncDeadlineStream(inner)


class _AsyncDeadlineBackend(httpcore2.AsyncNetworkBackend):
    def __init__(self, inner: httpcore2.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            addresses = await aresolve(host, port, _bounded(timeout, httpcore2.ConnectTimeout))
        except OSError as exc:
            raise _connect_error(exc) from None
        failure: httpcore2.ConnectError | None = None
        for address in addresses:
            limit = _bounded(timeout, httpcore2.ConnectTimeout)
            try:
                inner = await self._inner.connect_tcp(
                    address, port, limit, local_address, socket_options
                )
            except httpcore2.ConnectError as exc:
                failure = exc
                continue
            return _AsyncDeadlineStream(inner)
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        limit = _bounded(timeout, httpcore2.ConnectTimeout)
        inner = await self._inner.connect_unix_socket(path, limit, socket_options)
        return _AsyncDeadlineStream(inner)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
