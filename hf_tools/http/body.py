"""Reading bodies under a cap counted after decompression, and within the call's deadline."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator

import httpx2

from hf_tools.errors import ResponseFormatError, ResponseTooLargeError
from hf_tools.http.deadlines import deadline, time_left
from hf_tools.http.request import HFRequest, RawResponse
from hf_tools.http.retry import _timeout, transport_error

# Of an error body only the start is read: enough for the message, never a flood.
ERROR_BODY_BYTES = 64 * 1024
# Decompression output step: one compressed chunk can inflate ~1000x, so inflate in slices.
_INFLATE_STEP = 64 * 1024


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
