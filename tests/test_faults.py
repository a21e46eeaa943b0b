"""Faults from a real server: a scripted HTTP server on 127.0.0.1, sync and async.

Each scenario must recover or end with the right typed error (or ToolException text) within a
bounded time, leave no connection checked out of the pool, and close the pool cleanly. The
server binds 127.0.0.1 only, on an ephemeral port, answers a bounded script and stops with the
test.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest

from hf_tools import (
    AsyncHFClient,
    AuthenticationError,
    HFChatModel,
    HFClient,
    HFConnectionError,
    HFTimeoutError,
    HuggingFaceToolkit,
    RateLimitError,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
)
from hf_tools.http import build_request, send_sync

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

OK = b'[{"label":"POSITIVE","score":0.99},{"label":"NEGATIVE","score":0.01}]'
LOADING = b'{"error":"Model m is currently loading","estimated_time":0.05}'
FAST = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_cap=0.05, max_loading_wait=0.1)


class Script:
    """What the server answers, one step per request; ``seen`` records request headers."""

    def __init__(self, steps: list[Any]) -> None:
        self.steps = list(steps)
        self.seen: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def next(self, headers: dict[str, str]) -> Any:
        with self.lock:
            self.seen.append(headers)
            return self.steps.pop(0) if self.steps else (500, {}, b"script exhausted")


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            step = script.next({k.lower(): v for k, v in self.headers.items()})
            if step == "reset":  # RST instead of an answer
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True
                return
            if isinstance(step, tuple) and step[0] == "slow":
                time.sleep(step[1])
                step = (200, {}, OK)
            if isinstance(step, tuple) and step[0] == "stream":
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                self.wfile.write(step[1])  # no content-length: the body ends when we close
                self.wfile.flush()
                if len(step) > 2:  # ("stream", body, seconds): then hang before closing
                    time.sleep(step[2])
                self.close_connection = True
                return
            status, headers, body = step
            self.send_response(status)
            self.send_header("content-type", headers.pop("content-type", "application/json"))
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server() -> Iterator[Any]:
    """Start a scripted server; yields ``run(steps) -> (url, script)``."""
    servers: list[ThreadingHTTPServer] = []

    def run(steps: list[Any]) -> tuple[str, Script]:
        script = Script(steps)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
        httpd.daemon_threads = True
        threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/predict", script

    yield run
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _nothing_checked_out(client: httpx2.Client | httpx2.AsyncClient) -> None:
    """No leak: no request holds a pooled connection; each one is idle or closed."""
    # httpcore2's pool offers no public view of what is in use; these are its own fields.
    pool = client._transport._pool  # type: ignore[union-attr]
    assert not pool._requests
    assert all(c.is_idle() or c.is_closed() for c in pool.connections)


def _clients(url: str, **kw: Any) -> tuple[HFClient, AsyncHFClient]:
    common = {"api_key": "hf_test", "base_url": url, "is_custom_endpoint": True, "retry": FAST}
    common.update(kw)
    return HFClient(**common), AsyncHFClient(**common)


async def _run_both(url: str, **kw: Any) -> list[Any]:
    """Run one call sync then one async; return results or raised errors."""
    sync, aio = _clients(url, **kw)
    pool = aio.http  # this loop's pool, to check it is closed at the end
    results: list[Any] = []
    for runner in ("sync", "async"):
        try:
            if runner == "sync":
                results.append(sync.run("text-classification", text="hi"))
            else:
                results.append(await aio.run("text-classification", text="hi"))
        except Exception as exc:
            results.append(exc)
    _nothing_checked_out(sync.http)
    _nothing_checked_out(pool)
    sync.close()
    await aio.aclose()
    assert sync.http.is_closed and pool.is_closed
    return results


@pytest.fixture(autouse=True)
def real_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the conftest's fake sleeps: these tests time real waits (all tiny)."""
    import hf_tools.http.send

    monkeypatch.setattr(hf_tools.http.send, "_sleep", time.sleep)
    monkeypatch.setattr(hf_tools.http.send, "_asleep", asyncio.sleep)


async def test_loading_then_success_asks_the_server_to_hold(server: Any) -> None:
    url, script = server([(503, {}, LOADING), (200, {}, OK), (503, {}, LOADING), (200, {}, OK)])
    results = await _run_both(url)
    assert all(r.labels[0].label == "POSITIVE" for r in results)
    assert [h.get("x-wait-for-model") for h in script.seen] == [None, "true", None, "true"]


@pytest.mark.parametrize("retry_after", [{"retry-after": "0"}, {}])
async def test_429_then_success(server: Any, retry_after: dict[str, str]) -> None:
    busy = (429, dict(retry_after), b'{"error":"Rate limit reached"}')
    url, script = server([busy, (200, {}, OK), (429, dict(retry_after), b"{}"), (200, {}, OK)])
    results = await _run_both(url)
    assert all(not isinstance(r, Exception) for r in results)
    assert len(script.seen) == 4


async def test_429_forever_is_a_rate_limit_error(server: Any) -> None:
    url, script = server([(429, {}, b'{"error":"Rate limit reached"}')] * 8)
    results = await _run_both(url)
    assert all(isinstance(r, RateLimitError) for r in results)
    assert len(script.seen) == 2 * (FAST.max_retries + 1)


async def test_500_is_final(server: Any) -> None:
    url, script = server([(500, {}, b'{"error":"unknown error"}')] * 2)
    results = await _run_both(url)
    assert all(isinstance(r, ServerError) and r.status_code == 500 for r in results)
    assert len(script.seen) == 2


async def test_502_and_504_are_retried(server: Any) -> None:
    url, _ = server([(502, {}, b"bad gateway"), (200, {}, OK), (504, {}, b""), (200, {}, OK)])
    assert all(not isinstance(r, Exception) for r in await _run_both(url))


async def test_connection_reset_is_retried_then_reported(server: Any) -> None:
    url, _ = server(["reset", (200, {}, OK)] + ["reset"] * 4)
    ok, failed = await _run_both(url)
    assert ok.labels[0].label == "POSITIVE"
    assert isinstance(failed, HFConnectionError)


async def test_slow_answer_times_out_within_bound(server: Any) -> None:
    url, script = server([("slow", 1.0), ("slow", 1.0)])
    started = time.monotonic()
    results = await _run_both(url, timeout=0.2)
    assert all(isinstance(r, HFTimeoutError) for r in results)
    assert time.monotonic() - started < 3.0  # two calls, no retry of a read timeout
    assert len(script.seen) == 2


async def test_malformed_json_is_a_response_format_error(server: Any) -> None:
    url, _ = server([(200, {}, b"[{not json"), (200, {}, b"<html>oops</html>")])
    results = await _run_both(url)
    assert all(isinstance(r, ResponseFormatError) for r in results)
    assert "not JSON" in str(results[0])


def test_tool_reports_faults_to_the_llm(server: Any) -> None:
    url, _ = server([(502, {}, b"")] * 4 + [(500, {}, b'{"error":"boom"}')])
    toolkit = HuggingFaceToolkit(
        api_key="hf_test", base_url=url, is_custom_endpoint=True, retry=FAST
    )
    tool = toolkit.get_tool("text_classification")
    call = {"name": tool.name, "args": {"text": "hi"}, "id": "1", "type": "tool_call"}
    first, second = tool.invoke(call), tool.invoke(call)
    assert first.status == second.status == "error"
    assert str(first.content).startswith("HTTP 502:")
    assert "try again later" in str(second.content)
    _nothing_checked_out(toolkit.client.http)
    toolkit.close()


def test_stream_cut_in_the_middle_is_readable_then_closed(server: Any) -> None:
    events = b'data: {"token":{"text":"one"}}\n\ndata: {"token":{"text":" two"}}\n\n'
    url, _ = server([("stream", events)])
    client = HFClient(api_key="hf_test", base_url=url, is_custom_endpoint=True)
    request = build_request(client.settings, url, json={"inputs": "x", "stream": True}, stream=True)
    raw = send_sync(client.http, request, FAST)
    assert raw.stream is not None
    lines = [line for line in raw.stream.iter_lines() if line]
    raw.stream.close()
    _nothing_checked_out(client.http)
    assert lines == ['data: {"token":{"text":"one"}}', 'data: {"token":{"text":" two"}}']
    client.close()
    assert client.http.is_closed


def test_error_status_on_a_stream_is_read_and_released(server: Any) -> None:
    url, _ = server([(422, {}, b'{"error":"Input validation error","error_type":"validation"}')])
    client = HFClient(api_key="hf_test", base_url=url, is_custom_endpoint=True)
    request = build_request(client.settings, url, json={"inputs": "x"}, stream=True)
    with pytest.raises(Exception, match="Input validation error") as info:
        send_sync(client.http, request, FAST)
    assert getattr(info.value, "status_code", None) == 422
    _nothing_checked_out(client.http)
    client.close()


def test_pool_is_reused_not_rebuilt(server: Any) -> None:
    url, script = server([(200, {}, OK)] * 3)
    client, _ = _clients(url)
    pool = client.http
    for _ in range(3):
        client.run("text-classification", text="hi")
    assert client.http is pool and isinstance(pool, httpx2.Client)
    assert len(script.seen) == 3
    client.close()


HALF_SSE = (
    b'data: {"choices":[{"index":0,"delta":{"content":"Deep"},"finish_reason":null}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":" learn'  # cut inside an event
)


async def test_chat_stream_cut_in_the_middle_raises_not_truncates(server: Any) -> None:
    url, script = server([("stream", HALF_SSE), ("stream", HALF_SSE)])
    llm = HFChatModel(endpoint_url=url, api_key="hf_test", retry=FAST, timeout=2.0)
    started = time.monotonic()
    seen: list[str] = []
    with pytest.raises(HFConnectionError, match="stream ended before"):
        seen.extend(str(c.content) for c in llm.stream("hi"))
    with pytest.raises(HFConnectionError, match="stream ended before"):
        async for chunk in llm.astream("hi"):
            seen.append(str(chunk.content))
    assert seen == ["Deep", "Deep"]  # what arrived was delivered, then the cut was reported
    assert time.monotonic() - started < 3.0
    assert len(script.seen) == 2 and script.seen[0]["accept"] == "text/event-stream"
    _nothing_checked_out(llm.http)
    _nothing_checked_out(llm.ahttp)
    llm.close()
    await llm.aclose()


async def test_chat_errors_and_retries_over_a_real_socket(server: Any) -> None:
    done = b'{"choices":[{"index":0,"message":{"content":"ok"},"finish_reason":"stop"}]}'
    url, script = server([(502, {}, b""), (200, {}, done), (401, {}, b'{"error":"bad token"}')])
    llm = HFChatModel(endpoint_url=url, api_key="hf_test", retry=FAST)
    assert (await llm.ainvoke("hi")).content == "ok"
    with pytest.raises(AuthenticationError, match="bad token"):
        llm.invoke("hi")
    assert len(script.seen) == 3
    assert script.seen[0]["authorization"] == "Bearer hf_test"  # explicit key goes anywhere
    _nothing_checked_out(llm.http)
    _nothing_checked_out(llm.ahttp)
    llm.close()
    await llm.aclose()


async def test_chat_stream_that_stalls_times_out_within_bound(server: Any) -> None:
    url, _ = server([("stream", HALF_SSE, 1.5), ("stream", HALF_SSE, 1.5)])
    llm = HFChatModel(endpoint_url=url, api_key="hf_test", retry=FAST, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(HFTimeoutError):
        list(llm.stream("hi"))
    with pytest.raises(HFTimeoutError):
        [c async for c in llm.astream("hi")]
    assert time.monotonic() - started < 2.0  # two read timeouts, not two full stalls
    _nothing_checked_out(llm.http)
    _nothing_checked_out(llm.ahttp)
    llm.close()
    await llm.aclose()


async def test_chat_stream_answered_with_plain_json_still_streams(server: Any) -> None:
    whole = (
        b'{"choices":[{"index":0,"message":{"content":null,"tool_calls":[{"id":0,'
        b'"function":{"name":"f","arguments":{"a":1}}}]},"finish_reason":"eos_token"}],'
        b'"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'
    )
    url, _ = server([(200, {}, whole), (200, {}, whole)])
    llm = HFChatModel(endpoint_url=url, api_key="hf_test", retry=FAST)
    for chunks in (list(llm.stream("hi")), [c async for c in llm.astream("hi")]):
        total = chunks[0]
        for chunk in chunks[1:]:  # langchain adds an empty closing chunk
            total += chunk
        assert total.tool_calls == [{"name": "f", "args": {"a": 1}, "id": "0", "type": "tool_call"}]
        assert total.usage_metadata == {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    _nothing_checked_out(llm.http)
    _nothing_checked_out(llm.ahttp)
    llm.close()
    await llm.aclose()


async def test_debug_logs_of_the_whole_stack_never_show_the_key(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Cassettes replay above the transport; here httpx2 and httpcore2 log a real exchange too.
    caplog.set_level(logging.DEBUG)
    secret = "hf_SecretFaultsToken0123456789"
    url, script = server([(503, {}, LOADING), (200, {}, OK), (401, {}, b'{"error":"bad"}')])
    results = await _run_both(url, api_key=secret)
    assert results[0].labels[0].label == "POSITIVE" and isinstance(results[1], Exception)
    assert script.seen[0]["authorization"] == f"Bearer {secret}"
    loggers = {r.name.split(".")[0] for r in caplog.records}
    assert {"hf_tools", "httpx2", "httpcore2"} <= loggers
    assert secret not in caplog.text
