"""Request building and the one send path shared by the sync and async clients.

Everything here but the two ``send_*`` drivers is pure. The retry logic is written once, as a
generator (:func:`retry_flow`) that yields either a request to send or a delay to wait and
receives the outcome; :func:`send_sync` and :func:`send_async` only perform that I/O. This is
httpx's sans-I/O auth-flow idea applied to retries.

Limits, for hostile or broken servers:

* One deadline per call (:func:`deadline`, ``request.timeout`` seconds): the pools made by
  :func:`sync_pool` / :func:`async_pool` bound every connect, TLS handshake, read and write by
  the time left, so a server that drips bytes cannot stretch a call; retry waits that would
  pass it are not taken. Names are resolved by :func:`resolve` / :func:`aresolve` (a capped
  thread pool of their own, awaited at most the time left), and the socket connects to the
  address found.
* Every body is read with a cap counted after decompression (:class:`BodyReader`):
  ``request.max_body`` for a 2xx (:class:`ResponseTooLargeError` past it), 64 KB of an error
  body for its message. The connection is closed, not drained.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import random
import select
import socket
import ssl
import time
import zlib
from asyncio.trsock import TransportSocket
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2

from hf_tools.config import (
    DEFAULT_MAX_JSON_BYTES,
    DEFAULT_TIMEOUT,
    RetryPolicy,
    Settings,
    is_hf_host,
)
from hf_tools.errors import (
    APIError,
    ConfigurationError,
    HFConnectionError,
    HFTimeoutError,
    HFToolsError,
    InputError,
    ModelLoadingError,
    RateLimitError,
    ResponseFormatError,
    ResponseTooLargeError,
    error_from_response,
    excerpt,
    redact,
    secrets_scope,
)

__all__ = [
    "ERROR_BODY_BYTES",
    "USER_AGENT",
    "BodyReader",
    "HFRequest",
    "RawResponse",
    "aiter_body",
    "aread_body",
    "aresolve",
    "async_pool",
    "build_headers",
    "build_request",
    "client_options",
    "deadline",
    "decode_body",
    "given_transport",
    "iter_body",
    "json_body",
    "read_body",
    "redacting",
    "resolve",
    "retry_flow",
    "secrets_of",
    "send_async",
    "send_sync",
    "ssl_context",
    "sync_pool",
    "time_left",
    "transport_error",
]

log = logging.getLogger("hf_tools.http")

USER_AGENT = "hf-tools/0.1.0"
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Of an error body only the start is read: enough for the message, never a flood.
ERROR_BODY_BYTES = 64 * 1024
# Decompression output step: one compressed chunk can inflate ~1000x, so inflate in slices.
_INFLATE_STEP = 64 * 1024

# Indirections so tests can observe waits without sleeping.
_sleep: Callable[[float], None] = time.sleep
_asleep: Callable[[float], Any] = asyncio.sleep


@dataclass(frozen=True, slots=True)
class HFRequest:
    """One request, fully built: what goes on the wire plus the labels used in errors.

    ``method`` is POST for inference calls; GET for Hub lookups, job polls and result files.
    """

    url: str
    headers: Mapping[str, str]
    content: bytes
    task: str | None = None
    model: str | None = None
    stream: bool = False
    timeout: float = DEFAULT_TIMEOUT
    max_body: int = DEFAULT_MAX_JSON_BYTES
    method: str = "POST"

    def __repr__(self) -> str:  # headers hold the token: never show them
        return f"HFRequest(url={self.url!r}, task={self.task!r}, bytes={len(self.content)})"


@dataclass(slots=True)
class RawResponse:
    """A response as the flow sees it.

    ``stream`` is the still-open response of a 2xx stream, to be read with :func:`iter_body`
    before ``deadline`` (the call's, as :func:`time.monotonic` counts).
    """

    status_code: int
    headers: httpx2.Headers
    content: bytes = b""
    stream: httpx2.Response | None = field(default=None, repr=False)
    deadline: float | None = None

    def __repr__(self) -> str:  # a body may echo the token: show its size only
        return f"RawResponse(status_code={self.status_code}, bytes={len(self.content)})"


# ------------------------------------------------------------------------------- secrets


def secrets_of(request: HFRequest) -> tuple[str, ...]:
    """The token a request carries (what must never appear in an error message)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token,) if scheme.lower() == "bearer" and token else ()


class redacting:
    """Cut ``request``'s token out of any hf_tools error raised in the block.

    Parsers quote bodies in their messages, and servers echo tokens. A class, not a
    ``@contextmanager``: it is entered a few times per call, on the hot path.
    """

    __slots__ = ("_request", "_scope")

    def __init__(self, request: HFRequest) -> None:
        self._request = request
        # What a parser quotes inside the block is redacted before it is cut (errors.excerpt).
        self._scope = secrets_scope(secrets_of(request))

    def __enter__(self) -> None:
        self._scope.__enter__()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._scope.__exit__()
        if isinstance(exc, HFToolsError):
            exc.redact(secrets_of(self._request))


# ------------------------------------------------------------------------------ deadlines

# The deadline of the call running in this thread / task (time.monotonic() seconds). A
# context variable, because the pools are shared while every call has its own deadline.
_deadline: ContextVar[float | None] = ContextVar("hf_tools_deadline", default=None)


def time_left() -> float | None:
    """Seconds left before the current call's deadline; None outside of one."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


class deadline:
    """Run the block under the deadline ``at`` (monotonic seconds), or an earlier outer one.

    A class, not a ``@contextmanager``: every call enters it more than once.
    """

    __slots__ = ("_at", "_token")

    def __init__(self, at: float | None) -> None:
        self._at = at
        self._token: Token[float | None] | None = None

    def __enter__(self) -> None:
        at, current = self._at, _deadline.get()
        if at is not None and (current is None or at < current):
            self._token = _deadline.set(at)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _deadline.reset(self._token)
            self._token = None


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left; ``error`` once the deadline has passed."""
    left = time_left()
    if left is None:
        return timeout
    if left <= 0:
        msg = "the call's deadline has passed"
        raise error(msg)
    return left if timeout is None else min(timeout, left)


# ------------------------------------------------------------------------- name lookups

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


def _connect_error(exc: OSError) -> httpcore2.ConnectError | httpcore2.ConnectTimeout:
    if isinstance(exc, TimeoutError):
        return httpcore2.ConnectTimeout(str(exc))
    return httpcore2.ConnectError(str(exc))


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


# ----------------------------------------------------------------------------- body caps


class _Inflater:
    """gzip / deflate decoding whose output comes in bounded slices (a bomb never lands whole)."""

    def __init__(self, encoding: str) -> None:
        self._deflate = encoding == "deflate"
        self._started = False
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if not self._deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._z.decompress(data, _INFLATE_STEP)
            except zlib.error:
                if not (self._deflate and not self._started):
                    raise
                # Some servers send raw deflate without the zlib header (httpx accepts both).
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._z.decompress(data, _INFLATE_STEP)
            self._started = True
            data = self._z.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < _INFLATE_STEP:
                return


class BodyReader:
    """Decodes a body's raw chunks and counts what they inflate to against a cap.

    Past ``limit`` it raises :class:`ResponseTooLargeError`, or with ``truncate`` (error
    bodies) it sets :attr:`full` and keeps the first ``limit`` bytes. Each chunk is also
    checked against the call's deadline.

    Args:
        encoding: the ``content-encoding`` header ("" when the bytes are already decoded).
        limit: most bytes kept, after decompression.
        request: labels and secrets for the errors.
        truncate: keep the start instead of failing.
    """

    def __init__(
        self, encoding: str, limit: int, request: HFRequest, *, truncate: bool = False
    ) -> None:
        names = [e.strip().lower() for e in encoding.split(",")]
        names = [n for n in names if n not in ("", "identity")]
        if len(names) > 1 or (names and names[0] not in ("gzip", "x-gzip", "deflate")):
            msg = f"the answer uses a content-encoding we did not ask for: {encoding!r}"
            raise ResponseFormatError(msg, task=request.task, model=request.model)
        self._inflater = _Inflater(names[0]) if names else None
        self._limit = limit
        self._request = request
        self._truncate = truncate
        self.size = 0
        self.full = False

    def feed(self, raw: bytes) -> list[bytes]:
        """Raw bytes in, decoded bytes out (within the cap)."""
        left = time_left()
        if left is not None and left <= 0:
            raise _timeout(self._request, "the answer")
        pieces: list[bytes] = []
        try:
            for piece in self._inflater.feed(raw) if self._inflater else (raw,):
                if self.size + len(piece) > self._limit:
                    self._over(pieces, piece)
                    break
                self.size += len(piece)
                pieces.append(piece)
        except zlib.error:
            msg = "the answer is not valid gzip/deflate data"
            raise ResponseFormatError(
                msg, task=self._request.task, model=self._request.model
            ) from None
        return pieces

    def _over(self, pieces: list[bytes], piece: bytes) -> None:
        if not self._truncate:
            msg = (
                f"the answer is larger than the {self._limit:,}-byte limit (after"
                " decompression); it was not read"
            )
            raise ResponseTooLargeError(
                msg, limit=self._limit, task=self._request.task, model=self._request.model
            )
        pieces.append(piece[: self._limit - self.size])
        self.size = self._limit
        self.full = True


def _reader(resp: httpx2.Response, request: HFRequest) -> BodyReader:
    # A response built from bytes in memory (MockTransport) was read and decoded already.
    encoding = "" if resp.is_stream_consumed else resp.headers.get("content-encoding", "")
    if resp.status_code >= 400:
        return BodyReader(encoding, ERROR_BODY_BYTES, request, truncate=True)
    return BodyReader(encoding, request.max_body, request)


def _raw_sync(resp: httpx2.Response) -> Iterator[bytes]:
    return iter((resp.content,)) if resp.is_stream_consumed else resp.iter_raw()


def _raw_async(resp: httpx2.Response) -> AsyncIterator[bytes]:
    async def consumed() -> AsyncIterator[bytes]:
        yield resp.content

    return consumed() if resp.is_stream_consumed else resp.aiter_raw()


def iter_body(raw: RawResponse, request: HFRequest) -> Iterator[bytes]:
    """The decoded chunks of a 2xx stream, within its cap and the call's deadline.

    The deadline is set around each read only: this generator is resumed from whatever
    context its consumer runs in.
    """
    assert raw.stream is not None
    reader = _reader(raw.stream, request)
    chunks = _raw_sync(raw.stream)
    while True:
        with deadline(raw.deadline):
            try:
                pieces = reader.feed(next(chunks))
            except StopIteration:
                return
            except httpx2.TransportError as exc:
                raise transport_error(exc, request)[0] from None
        yield from pieces


async def aiter_body(raw: RawResponse, request: HFRequest) -> AsyncIterator[bytes]:
    """The asyncio twin of :func:`iter_body`."""
    assert raw.stream is not None
    reader = _reader(raw.stream, request)
    chunks = _raw_async(raw.stream)
    while True:
        with deadline(raw.deadline):
            try:
                pieces = reader.feed(await anext(chunks))
            except StopAsyncIteration:
                return
            except httpx2.TransportError as exc:
                raise transport_error(exc, request)[0] from None
        for piece in pieces:
            yield piece


def _read_sync(resp: httpx2.Response, request: HFRequest) -> bytes:
    reader, parts = _reader(resp, request), []
    for chunk in _raw_sync(resp):
        parts += reader.feed(chunk)
        if reader.full:
            break
    return b"".join(parts)


async def _read_async(resp: httpx2.Response, request: HFRequest) -> bytes:
    reader, parts = _reader(resp, request), []
    async for chunk in _raw_async(resp):
        parts += reader.feed(chunk)
        if reader.full:
            break
    return b"".join(parts)


def read_body(resp: httpx2.Response, request: HFRequest) -> bytes:
    """A streamed response's body, capped as :class:`BodyReader` does (``request.max_body``)."""
    return _read_sync(resp, request)


async def aread_body(resp: httpx2.Response, request: HFRequest) -> bytes:
    """The asyncio twin of :func:`read_body`."""
    return await _read_async(resp, request)


def json_body(payload: Any) -> bytes:
    """Serialize a JSON body the way every request here does (compact, UTF-8).

    Raises:
        ValueError: NaN or an infinity, which JSON cannot carry (Python would write them).
    """
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def build_headers(
    settings: Settings,
    url: str,
    *,
    content_type: str | None,
    accept: str | None = None,
) -> dict[str, str]:
    """Headers for one request; options only when set, the token only where it may go.

    Raises:
        ConfigurationError: a Hugging Face host and no api key.
    """
    headers = {"user-agent": USER_AGENT}
    key = settings.key_for(url)
    if key:
        headers["authorization"] = f"Bearer {key}"
    elif settings.api_key is None and is_hf_host(url):
        msg = (
            "No Hugging Face api key: pass api_key=..., set the HF_TOKEN environment variable "
            "or run `hf auth login`"
        )
        raise ConfigurationError(msg)
    if content_type:
        headers["content-type"] = content_type
    if accept:
        headers["accept"] = accept
    if settings.use_cache is not None:
        headers["x-use-cache"] = "true" if settings.use_cache else "false"
    if settings.wait_for_model is not None:
        headers["x-wait-for-model"] = "true" if settings.wait_for_model else "false"
    if settings.bill_to and url.startswith(settings.router_url + "/"):
        headers["x-hf-bill-to"] = settings.bill_to  # an organization pays for router calls
    return headers


def build_request(
    settings: Settings,
    url: str,
    *,
    json: Any = None,
    data: bytes | None = None,
    content_type: str | None = None,
    accept: str | None = None,
    task: str | None = None,
    model: str | None = None,
    stream: bool = False,
    binary: bool = False,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    auth: bool = True,
) -> HFRequest:
    """Build a request with a JSON body, or raw bytes with their content type.

    ``binary``: the answer is bytes (an image...), read up to ``settings.max_binary_bytes``
    instead of ``settings.max_json_bytes``. ``headers`` are added last. ``auth=False``: a host
    that never sees the token nor our options (provider CDNs, foreign polling hosts).

    Raises:
        ConfigurationError: ``auth`` to a Hugging Face host and no api key.
        InputError: a JSON body with NaN or infinity.
    """
    if data is None:
        try:
            content, content_type = json_body(json), "application/json"
        except ValueError:
            msg = "numbers must be finite: JSON has no NaN or Infinity"
            raise InputError(msg, task=task, model=model) from None
    else:
        content = data
    if auth:
        sent = build_headers(settings, url, content_type=content_type, accept=accept)
    else:
        sent = {"user-agent": USER_AGENT}
    if headers:
        sent.update(headers)
    limit = settings.max_binary_bytes if binary else settings.max_json_bytes
    return HFRequest(
        url,
        httpx2.Headers(sent),  # its repr masks the token (tracebacks that print locals)
        content,
        task=task,
        model=model,
        stream=stream,
        timeout=settings.timeout,
        max_body=limit,
        method=method,
    )


def decode_body(
    raw: RawResponse, request: HFRequest, *, want: str = "json", content_type: str | None = None
) -> Any:
    """Decode a 2xx body: JSON, or bytes for images/audio.

    ``content_type``: the response's, when the caller has read it already.

    Raises:
        ResponseFormatError: the body is not what the task expects.
    """
    if content_type is None:
        content_type = raw.headers.get("content-type", "")
    ctype = content_type.split(";")[0].strip().lower()
    if want == "bytes" or ctype.startswith(("image/", "audio/", "video/")):
        if ctype.startswith("application/json") and want == "bytes":
            # Some servers wrap binary answers in JSON (e.g. base64 images); let the task parse.
            return _loads(raw, request)
        return raw.content
    return _loads(raw, request)


def _loads(raw: RawResponse, request: HFRequest) -> Any:
    try:
        return json.loads(raw.content)
    except RecursionError:
        msg = f"the server answered {raw.status_code} with JSON nested too deeply to read"
        raise ResponseFormatError(
            msg, status_code=raw.status_code, task=request.task, model=request.model
        ) from None
    except ValueError:
        # Redacted before the cut; no unredacted local (a traceback may print its locals).
        snippet = excerpt(
            raw.content[:4096].decode("utf-8", errors="replace"), 80, secrets_of(request)
        )
        msg = f"the server answered {raw.status_code} with a body that is not JSON: {snippet!r}"
        raise ResponseFormatError(
            msg, status_code=raw.status_code, task=request.task, model=request.model
        ) from None


def _backoff(policy: RetryPolicy, attempt: int, rand: Callable[[], float]) -> float:
    # Full jitter: spreads retries of many clients hitting the same cold model.
    return rand() * min(policy.backoff_cap, policy.backoff_base * 2.0**attempt)


def _timeout(request: HFRequest, what: str, cause: str = "") -> HFTimeoutError:
    detail = f" ({cause})" if cause else ""
    msg = f"{what} did not come within the {request.timeout:g} s timeout{detail}"
    return HFTimeoutError(msg, **_labels(request))


def _labels(request: HFRequest) -> dict[str, Any]:
    return {"task": request.task, "model": request.model}


def transport_error(exc: httpx2.TransportError, request: HFRequest) -> tuple[APIError, bool]:
    """Map an httpx2 transport failure to our error, and whether retrying may help."""
    name = type(exc).__name__
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.PoolTimeout):
        return _timeout(request, "the connection", name), True
    if isinstance(exc, httpx2.TimeoutException):
        # A slow model stays slow: retrying a read timeout only doubles the wait.
        return _timeout(request, "the answer", name), False
    host = urlsplit(request.url).netloc.rpartition("@")[2]  # never userinfo
    cause = redact(f"{name}: {exc}" if str(exc) else name, secrets_of(request))
    error = HFConnectionError(
        f"connection to {host} failed ({cause})", host=host, cause=cause, **_labels(request)
    )
    return error, True


def retry_flow(
    request: HFRequest,
    policy: RetryPolicy,
    rand: Callable[[], float] = random.random,
) -> Generator[HFRequest | float, RawResponse | httpx2.TransportError | None, RawResponse]:
    """Decide, attempt by attempt, what to do; yields requests to send and delays to wait.

    Retries 503 loading (waits ``estimated_time``, then asks the server to hold the request),
    429 (``Retry-After`` or backoff), 502/504 and connection failures (backoff). Everything
    else is final. Returns the first 2xx response or raises the last typed error, also when
    the next wait would pass the call's deadline (:func:`time_left`).
    """
    waited = 0.0
    attempt = 0
    while True:
        outcome = yield request
        if isinstance(outcome, RawResponse):
            if outcome.status_code < 400:
                return outcome
            error: APIError = error_from_response(
                outcome.status_code,
                outcome.headers,
                outcome.content,
                task=request.task,
                model=request.model,
                secrets=secrets_of(request),
            )
            retryable = outcome.status_code in _RETRY_STATUSES
        else:
            assert outcome is not None
            error, retryable = transport_error(outcome, request)
        delay = _backoff(policy, attempt, rand)
        if isinstance(error, ModelLoadingError):
            # Server numbers are clamped: a negative one must not refund the wait budget.
            delay = max(0.0, min(error.estimated_time or delay, policy.max_loading_wait))
            # The server holds a request carrying this header until the model is up.
            headers = httpx2.Headers(request.headers)
            headers["x-wait-for-model"] = "true"
            request = replace(request, headers=headers)
        elif isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > policy.max_retry_after:
                retryable = False
            delay = max(0.0, error.retry_after)
        left = time_left()
        if (
            not retryable
            or attempt >= policy.max_retries
            or waited + delay > policy.max_total_wait
            or (left is not None and delay >= left)
        ):
            log.debug("giving up after %d attempt(s): %s", attempt + 1, type(error).__name__)
            raise error
        attempt += 1
        waited += delay
        log.debug(
            "retry %d/%d in %.2fs after %s",
            attempt,
            policy.max_retries,
            delay,
            type(error).__name__,
        )
        if delay > 0:
            yield delay


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


# A tool sends to the same few URLs all the time; parsing one is ~10 µs, so parse each once.
# httpx2.URL is immutable, so requests may share it.
_parsed_url = functools.lru_cache(maxsize=256)(httpx2.URL)


def _log_exchange(request: HFRequest, status: int, started: float) -> None:
    log.debug(
        "%s %s -> %d in %.3fs", request.method, request.url, status, time.perf_counter() - started
    )


def _exchange_sync(client: httpx2.Client, request: HFRequest) -> RawResponse:
    req = client.build_request(
        request.method, _parsed_url(request.url), headers=request.headers, content=request.content
    )
    started = time.perf_counter()
    resp = client.send(req, stream=True)  # bodies are read here, capped
    _log_exchange(request, resp.status_code, started)
    if request.stream and resp.status_code < 400:
        return RawResponse(resp.status_code, resp.headers, stream=resp, deadline=_deadline.get())
    try:
        content = _read_sync(resp, request)
    finally:
        resp.close()  # unread bytes are not drained: the connection is dropped
    return RawResponse(resp.status_code, resp.headers, content)


async def _exchange_async(client: httpx2.AsyncClient, request: HFRequest) -> RawResponse:
    req = client.build_request(
        request.method, _parsed_url(request.url), headers=request.headers, content=request.content
    )
    started = time.perf_counter()
    resp = await client.send(req, stream=True)
    _log_exchange(request, resp.status_code, started)
    if request.stream and resp.status_code < 400:
        return RawResponse(resp.status_code, resp.headers, stream=resp, deadline=_deadline.get())
    try:
        content = await _read_async(resp, request)
    finally:
        await resp.aclose()
    return RawResponse(resp.status_code, resp.headers, content)


Exchange = Callable[[httpx2.Client, HFRequest], RawResponse]
AsyncExchange = Callable[[httpx2.AsyncClient, HFRequest], Awaitable[RawResponse]]


def send_sync(
    client: httpx2.Client,
    request: HFRequest,
    policy: RetryPolicy,
    exchange: Exchange | None = None,
) -> RawResponse:
    """Drive :func:`retry_flow` with blocking I/O, all within ``request.timeout``.

    ``exchange``: how one attempt is sent and read (default: as it is, through ``client``;
    the pinned downloader of :mod:`hf_tools.media` passes its own).
    """
    with deadline(time.monotonic() + request.timeout), redacting(request):
        return _drive_sync(client, request, policy, exchange)


def _drive_sync(
    client: httpx2.Client, request: HFRequest, policy: RetryPolicy, exchange: Exchange | None
) -> RawResponse:
    flow = retry_flow(request, policy)
    step = next(flow)
    while True:
        outcome: RawResponse | httpx2.TransportError | None = None
        if isinstance(step, HFRequest):
            try:
                outcome = (exchange or _exchange_sync)(client, step)
            except httpx2.TransportError as exc:
                outcome = exc
        else:
            _sleep(step)
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            result: RawResponse = stop.value
            return result


async def send_async(
    client: httpx2.AsyncClient,
    request: HFRequest,
    policy: RetryPolicy,
    exchange: AsyncExchange | None = None,
) -> RawResponse:
    """Drive :func:`retry_flow` with asyncio I/O, all within ``request.timeout``."""
    with deadline(time.monotonic() + request.timeout), redacting(request):
        return await _drive_async(client, request, policy, exchange)


async def _drive_async(
    client: httpx2.AsyncClient,
    request: HFRequest,
    policy: RetryPolicy,
    exchange: AsyncExchange | None,
) -> RawResponse:
    flow = retry_flow(request, policy)
    step = next(flow)
    while True:
        outcome: RawResponse | httpx2.TransportError | None = None
        if isinstance(step, HFRequest):
            try:
                outcome = await (exchange or _exchange_async)(client, step)
            except httpx2.TransportError as exc:
                outcome = exc
        else:
            await _asleep(step)
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            result: RawResponse = stop.value
            return result
