"""Hostile or broken servers: bodies past their cap, drips, deep JSON, leaks, echoed tokens.

Servers here are in process (httpx2.MockTransport) or a raw socket on 127.0.0.1 that answers
a bounded script in daemon threads and stops with the test. Memory is measured with
tracemalloc, time with a monotonic clock, sockets by counting /proc/self/fd.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import threading
import time
import traceback
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import pytest
from langchain_core.messages import ToolMessage
from pydantic import ValidationError

import hf_tools.http.send
from hf_tools import (
    AsyncHFClient,
    AuthenticationError,
    ConfigurationError,
    HFChatModel,
    HFClient,
    HFTimeoutError,
    HuggingFaceToolkit,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
)
from hf_tools.errors import ResponseTooLargeError, parse_retry_after
from hf_tools.http import HFRequest, RawResponse, retry_flow

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

MB = 1024 * 1024
OK = b'[{"label":"POSITIVE","score":0.99}]'
CHAT_OK = b'{"choices":[{"index":0,"message":{"content":"ok"},"finish_reason":"stop"}]}'
KEY = "sk-endpoint-4f1c9e7b2a"  # not shaped like an hf_ token: only exact scrubbing finds it


def _gzip_zeros(size: int, step: int = MB) -> bytes:
    """``size`` zero bytes gzipped (~1000x smaller), built without holding them."""
    z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    chunk = b"\0" * step
    parts = [z.compress(chunk) for _ in range(size // step)]
    return b"".join([*parts, z.flush()])


BOMB = _gzip_zeros(50 * MB)  # ~50 KB on the wire


class _Chunks(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A response body that arrives in pieces (never read whole by httpx2); records close."""

    def __init__(self, data: bytes, size: int = 16 * 1024) -> None:
        self.data, self.size, self.closed = data, size, False

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.data), self.size):
            yield self.data[i : i + self.size]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self:
            yield piece

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def _bomb_transport(status: int, bodies: list[_Chunks], ctype: str = "application/json") -> Any:
    def handler(request: httpx2.Request) -> httpx2.Response:
        bodies.append(_Chunks(BOMB))
        headers = {"content-encoding": "gzip", "content-type": ctype}
        return httpx2.Response(status, headers=headers, stream=bodies[-1])

    return httpx2.MockTransport(handler)


def _peak(run: Callable[[], Any]) -> tuple[Any, int]:
    """What ``run`` returned or raised, and the peak of memory it allocated."""
    tracemalloc.start()
    try:
        try:
            result: Any = run()
        except Exception as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


COMMON: dict[str, Any] = {"api_key": "hf_test", "base_url": "http://127.0.0.1:9/predict"}


@pytest.mark.parametrize("status", [200, 500])
def test_a_gzip_bomb_is_cut_at_the_cap_with_bounded_memory(status: int) -> None:
    bodies: list[_Chunks] = []
    client = HFClient(
        **COMMON,
        is_custom_endpoint=True,
        max_json_bytes=MB,
        max_retries=0,
        transport=_bomb_transport(status, bodies),
    )
    error, peak = _peak(lambda: client.run("text-classification", text="hi"))
    if status == 200:
        assert isinstance(error, ResponseTooLargeError) and error.limit == MB
        assert "larger than the 1,048,576-byte limit" in str(error)
        assert "smaller" in error.for_llm()
    else:  # the error path reads 64 KB for the message, not 50 MB
        assert isinstance(error, ServerError) and error.status_code == 500
    assert peak < 8 * MB, peak  # the body inflates to 50 MB
    assert bodies[0].closed  # released, not drained


async def test_a_gzip_bomb_is_cut_async() -> None:
    bodies: list[_Chunks] = []
    client = AsyncHFClient(
        **COMMON, is_custom_endpoint=True, max_json_bytes=MB, transport=_bomb_transport(200, bodies)
    )
    tracemalloc.start()
    with pytest.raises(ResponseTooLargeError):
        await client.run("text-classification", text="hi")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * MB and bodies[0].closed
    await client.aclose()


def _chat_served(transport: Any, **kw: Any) -> HFChatModel:
    from hf_tools.client import LoopPools

    llm = HFChatModel(endpoint_url="http://127.0.0.1:9", api_key="hf_test", **kw)
    llm._http = httpx2.Client(transport=transport)
    llm._pools = LoopPools(10, transport=transport)
    return llm


@pytest.mark.parametrize("ctype", ["application/json", "text/event-stream"])
async def test_chat_bodies_and_streams_are_capped(ctype: str) -> None:
    bodies: list[_Chunks] = []
    llm = _chat_served(_bomb_transport(200, bodies, ctype), max_json_bytes=MB)
    calls: list[Callable[[], Any]] = [lambda: llm.invoke("hi"), lambda: list(llm.stream("hi"))]
    for run in calls:
        error, peak = _peak(run)
        assert isinstance(error, ResponseTooLargeError), error
        assert peak < 8 * MB
    with pytest.raises(ResponseTooLargeError):
        [c async for c in llm.astream("hi")]
    assert all(b.closed for b in bodies)


DEEP = b"[" * 100_000 + b"]" * 100_000


async def test_json_nested_100000_deep_is_a_response_format_error() -> None:
    transport = httpx2.MockTransport(lambda r: httpx2.Response(200, content=DEEP))
    with pytest.raises(ResponseFormatError, match="nested too deeply"):
        HFClient(**COMMON, is_custom_endpoint=True, transport=transport).run(
            "text-classification", text="hi"
        )
    llm = _chat_served(transport)
    with pytest.raises(ResponseFormatError):
        llm.invoke("hi")
    sse = b"data: " + DEEP + b"\n\n"
    events = httpx2.MockTransport(
        lambda r: httpx2.Response(200, content=sse, headers={"content-type": "text/event-stream"})
    )
    with pytest.raises(ResponseFormatError, match="not JSON"):
        list(_chat_served(events).stream("hi"))
    for body in (DEEP, b'{"error":' * 950 + b'"x"' + b"}" * 950):  # unparsable, or too deep to walk
        failing = httpx2.MockTransport(lambda r, body=body: httpx2.Response(500, content=body))
        with pytest.raises(ServerError):  # an error body is only a message, whatever its depth
            HFClient(**COMMON, is_custom_endpoint=True, transport=failing).run(
                "text-classification", text="hi"
            )


def test_body_caps_flow_from_every_entry_point() -> None:
    caps: dict[str, Any] = {
        "max_media_bytes": 1000,
        "max_json_bytes": 2000,
        "max_binary_bytes": 3000,
    }
    toolkit = HuggingFaceToolkit(api_key="hf_x", provider="hf-inference", **caps)
    for client in (toolkit.client, toolkit.async_client, HFClient(api_key="hf_x", **caps)):
        assert {k: getattr(client.settings, k) for k in caps} == caps
    assert HFChatModel(model="a/b", api_key="hf_x", max_json_bytes=5)._settings.max_json_bytes == 5
    client = toolkit.client
    from hf_tools.tasks import get_spec

    image = get_spec("text-to-image")
    inputs = client.validate(image, {"prompt": "a cat"})
    request = client.prepare(image, inputs, {}, "org/m")
    assert request.max_body == 3000  # a binary answer gets the binary cap
    text = get_spec("text-classification")
    assert client.prepare(text, client.validate(text, {"text": "x"}), {}, "org/m").max_body == 2000
    with pytest.raises(ConfigurationError, match="max_json_bytes must be a positive int"):
        HFClient(api_key="hf_x", max_json_bytes=0)
    with pytest.raises(ValidationError):
        HuggingFaceToolkit(api_key="hf_x", max_binary_bytes="lots")


# ------------------------------------------------------------------------------ deadlines


class Drip:
    """A raw-socket server on 127.0.0.1: every connection gets ``answer(conn)``."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/predict"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            try:
                _read_request(conn)
                self.answer(conn)
            except OSError:  # the client hung up: what these tests want
                pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            raise ConnectionResetError  # the client closed the connection
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    while len(body) < length:
        body += conn.recv(65536)


def _drip(head: bytes, body: bytes = b"", every: float = 0.1, limit: float = 10.0) -> Any:
    """Send ``head`` then ``body`` one byte every ``every`` s (stops after ``limit`` s)."""

    def answer(conn: socket.socket) -> None:
        conn.sendall(head)
        ends = time.monotonic() + limit
        for byte in body:
            if time.monotonic() > ends:
                return
            conn.sendall(bytes([byte]))
            time.sleep(every)

    return answer


HEADERS_DRIP = _drip(b"", b"HTTP/1.1 200 OK\r\n" + b"x-slow: " + b"a" * 500 + b"\r\n\r\n")
BODY_DRIP = _drip(
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n",
    b" " * 400,
)


@pytest.fixture
def real_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf_tools.http.send, "_sleep", time.sleep)
    monkeypatch.setattr(hf_tools.http.send, "_asleep", asyncio.sleep)


@pytest.mark.usefixtures("real_sleeps")
@pytest.mark.parametrize("answer", [HEADERS_DRIP, BODY_DRIP], ids=["headers", "body"])
async def test_a_dripping_server_cannot_stretch_a_call(answer: Any) -> None:
    server = Drip(answer)
    kw: dict[str, Any] = {"api_key": "hf_t", "base_url": server.url, "is_custom_endpoint": True}
    sync, aio = (
        HFClient(**kw, timeout=1, max_retries=2),
        AsyncHFClient(**kw, timeout=1, max_retries=2),
    )
    try:
        for run in (lambda: sync.run("text-classification", text="hi"), None):
            started = time.monotonic()
            with pytest.raises(HFTimeoutError, match="1 s timeout"):
                if run is not None:
                    run()
                else:
                    await aio.run("text-classification", text="hi")
            assert time.monotonic() - started < 2.0
    finally:
        sync.close()
        await aio.aclose()
        server.close()


@pytest.mark.usefixtures("real_sleeps")
async def test_a_dripping_chat_stream_ends_at_the_deadline() -> None:
    event = b'data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
    server = Drip(_drip(head, event * 200, every=0.002))  # an event every ~0.15 s
    llm = HFChatModel(endpoint_url=server.url, api_key="hf_t", timeout=1, max_retries=2)
    try:
        started = time.monotonic()
        with pytest.raises(HFTimeoutError):
            list(llm.stream("hi"))
        with pytest.raises(HFTimeoutError):
            [c async for c in llm.astream("hi")]
        assert time.monotonic() - started < 4.0  # two calls of 1 s; each would run ~20 s
    finally:
        await llm.aclose()
        server.close()


@pytest.mark.usefixtures("real_sleeps")
async def test_retry_waits_stop_at_the_deadline() -> None:
    bad = b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n"
    server = Drip(lambda conn: conn.sendall(bad))
    # 2 s timeouts and 1.2 s waits: headroom for a loaded machine (a 1 s timeout once ran out
    # while connecting), while 5 waits (6 s a call) would still break the bound below.
    slow = RetryPolicy(max_retries=5, backoff_base=1.2, backoff_cap=1.2)
    kw: dict[str, Any] = {
        "api_key": "hf_t",
        "base_url": server.url,
        "is_custom_endpoint": True,
        "retry": slow,
    }
    sync, aio = HFClient(**kw, timeout=2), AsyncHFClient(**kw, timeout=2)
    try:
        started = time.monotonic()
        with pytest.raises(ServerError):
            sync.run("text-classification", text="hi")
        with pytest.raises(ServerError):
            await aio.run("text-classification", text="hi")
        assert time.monotonic() - started < 5  # 5 retries of up to 1.2 s would be 12 s
    finally:
        sync.close()
        await aio.aclose()
        server.close()


@pytest.mark.parametrize("value", ["-5", "nan", "-inf", "inf", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_retry_after_that_is_no_wait_is_no_hint(value: str) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (429, {"retry-after": "-3"}, b"{}"),
        (429, {"retry-after": "NaN"}, b"{}"),
        (503, {}, b'{"error":"loading","estimated_time":-10}'),
        (503, {}, b'{"error":"loading","estimated_time":NaN}'),
    ],
)
def test_bad_server_waits_fall_back_to_backoff(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    request = HFRequest("https://x/m", {}, b"{}")
    flow = retry_flow(request, RetryPolicy(max_retries=3, backoff_base=1.0), rand=lambda: 1.0)
    step = next(flow)
    waits = []
    for _ in range(3):
        assert isinstance(step, HFRequest)
        step = flow.send(RawResponse(status, httpx2.Headers(headers), body))
        assert isinstance(step, float)
        waits.append(step)
        step = flow.send(None)
    assert waits == [1.0, 2.0, 4.0]  # the backoff, never back-to-back attempts
    assert all(math.isfinite(w) for w in waits)


# --------------------------------------------------------------------------------- sockets


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class _Ok:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 that answers every request with ``body``."""

    def __init__(self, body: bytes) -> None:
        reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
        self.reply = reply + str(len(body)).encode() + b"\r\n\r\n" + body
        self.server = Drip(self._answer)

    def _answer(self, conn: socket.socket) -> None:
        conn.sendall(self.reply)
        conn.settimeout(5)
        while True:  # keep-alive: serve until the client closes the connection
            _read_request(conn)
            conn.sendall(self.reply)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_500_event_loops_leave_no_pools_or_sockets_behind() -> None:
    ok, chat = _Ok(OK), _Ok(CHAT_OK)
    toolkit = HuggingFaceToolkit(api_key="hf_t", base_url=ok.server.url, is_custom_endpoint=True)
    tool = toolkit.get_tool("text_classification")
    llm = HFChatModel(endpoint_url=chat.server.url, api_key="hf_t")
    try:
        for runner in (lambda: tool.ainvoke({"text": "hi"}), lambda: llm.ainvoke("hi")):
            asyncio.run(runner())  # the first loop may open what stays (the selector, ...)
            before = _fds()
            for _ in range(500):
                asyncio.run(runner())
            time.sleep(0.1)  # the server's side of the last sockets closes in its threads
            assert _fds() - before < 10
        assert len(toolkit.async_client._pools) == 0 and len(llm._pools) == 0
    finally:
        toolkit.close()
        llm.close()
        ok.server.close()
        chat.server.close()


def test_close_frees_the_pools_of_every_loop() -> None:
    ok = _Ok(OK)
    toolkit = HuggingFaceToolkit(api_key="hf_t", base_url=ok.server.url, is_custom_endpoint=True)
    tool = toolkit.get_tool("text_classification")
    loop = asyncio.new_event_loop()  # a loop that stays open: only close() can free its pool
    pools: list[httpx2.AsyncClient] = []

    async def call() -> None:
        await tool.ainvoke({"text": "hi"})
        pools.append(toolkit.async_client.http)

    try:
        loop.run_until_complete(call())
        with toolkit:
            tool.invoke({"text": "hi"})
        assert pools[0].is_closed and toolkit.client.http.is_closed
        assert len(toolkit.async_client._pools) == 0
    finally:
        loop.close()
        ok.server.close()


async def test_context_managers_close_sync_and_async() -> None:
    ok = _Ok(OK)
    kw: dict[str, Any] = {"api_key": "hf_t", "base_url": ok.server.url, "is_custom_endpoint": True}
    try:
        async with AsyncHFClient(**kw) as aio, HFClient(**kw) as sync:
            await aio.run("text-classification", text="hi")
            sync.run("text-classification", text="hi")
            pool = aio.http
        assert pool.is_closed and sync.http.is_closed
        async with HuggingFaceToolkit(**kw) as toolkit:
            await toolkit.get_tool("text_classification").ainvoke({"text": "hi"})
            pool = toolkit.async_client.http
        assert pool.is_closed
        async with HFChatModel(endpoint_url=ok.server.url, api_key="hf_t") as llm:
            pool = llm.ahttp
        assert pool.is_closed
    finally:
        ok.server.close()


def test_sync_context_managers_of_the_chat_model_and_async_client() -> None:
    chat = _Ok(CHAT_OK)
    try:
        with HFChatModel(endpoint_url=chat.server.url, api_key="hf_t") as llm:
            assert llm.invoke("hi").content == "ok"
            loop = asyncio.new_event_loop()
            loop.run_until_complete(llm.ainvoke("hi"))
            pool = loop.run_until_complete(_current(llm))
        assert llm.http.is_closed is False  # a new pool on demand; the old one was closed
        assert pool.is_closed
        loop.close()
    finally:
        chat.server.close()


async def _current(llm: HFChatModel) -> httpx2.AsyncClient:
    return llm.ahttp


# --------------------------------------------------------------------------------- secrets


def _echo(status: int, key: str) -> Any:
    body = f'{{"error":"invalid token {key} for this endpoint"}}'.encode()
    return httpx2.MockTransport(lambda r: httpx2.Response(status, content=body))


def _traceback(exc: BaseException) -> str:
    """The traceback with every frame's locals, the frames of hf_tools only (not the test's)."""
    trace = traceback.TracebackException.from_exception(exc, capture_locals=True)
    ours = [f for f in trace.stack if f"{os.sep}hf_tools{os.sep}" in f.filename]
    assert ours, "the traceback must go through hf_tools"
    return "".join(traceback.StackSummary.from_list(ours).format())


@pytest.mark.parametrize("key", [KEY, "hf_EchoedToken0123456789abcdef"])
def test_an_echoed_key_never_reaches_the_model_or_the_error(key: str) -> None:
    toolkit = HuggingFaceToolkit(api_key=key, base_url=COMMON["base_url"], is_custom_endpoint=True)
    toolkit.client._http = httpx2.Client(transport=_echo(400, key))
    tool = toolkit.get_tool("text_classification")
    message = tool.invoke(
        {"name": tool.name, "args": {"text": "hi"}, "id": "1", "type": "tool_call"}
    )
    assert isinstance(message, ToolMessage) and message.status == "error"
    assert "invalid token [redacted]" in str(message.content)
    assert key not in str(message.content)

    client = HFClient(api_key=key, **{k: v for k, v in COMMON.items() if k != "api_key"})
    client._http = httpx2.Client(transport=_echo(401, key))
    with pytest.raises(AuthenticationError) as info:
        client.run("text-classification", text="hi")
    assert key not in str(info.value) and key not in repr(info.value.args)
    assert key not in _traceback(info.value)


def test_an_echoed_key_in_a_2xx_body_is_cut_too() -> None:
    body = f"<html>bad gateway page for {KEY}</html>".encode()
    client = HFClient(api_key=KEY, base_url=COMMON["base_url"], is_custom_endpoint=True)
    client._http = httpx2.Client(
        transport=httpx2.MockTransport(lambda r: httpx2.Response(200, content=body))
    )
    with pytest.raises(ResponseFormatError) as info:
        client.run("text-classification", text="hi")
    assert KEY not in str(info.value) and KEY not in _traceback(info.value)
    llm = _chat_served(
        httpx2.MockTransport(
            lambda r: httpx2.Response(200, content=b'{"error":"' + KEY.encode() + b'"}')
        )
    )
    llm._settings = HFChatModel(endpoint_url="http://127.0.0.1:9", api_key=KEY)._settings
    with pytest.raises(ServerError) as chat_info:
        llm.invoke("hi")
    assert KEY not in str(chat_info.value)
