"""The pool's idle-connection check: answered by our socket wrapper, and still right.

httpcore2 asks every idle connection "has the server closed you?" twice per request; through
anyio that answer cost 7-11 µs each, a tenth of a call's CPU with 64 calls in flight. The
deadline streams of ``hf_tools.http`` answer it from the socket they keep.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from httpcore2._backends import anyio as anyio_backend
from httpcore2._backends import sync as sync_backend

from hf_tools.http import POOL_LIMITS, async_pool, sync_pool
from hf_tools.http.backend import _AsyncDeadlineBackend, _DeadlineBackend
from hf_tools.http.idle import _idle_probe, _IdleProbe
from hf_tools.http.pool import _guard

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

BODY = b'{"ok": true}'


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    close_after_answer = False  # close each connection after its answer, with no notice
    delay = 0.0
    connections = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the server closes
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.server.delay:
            threading.Event().wait(self.server.delay)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
        self.wfile.flush()
        # No "connection: close" header: the client learns of the close from the socket only.
        self.close_connection = self.server.close_after_answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _tls_contexts(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and a client one."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    names = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [openssl, "req", "-x509", *new_key, *files, *names],
        check=True,
        capture_output=True,
        timeout=30,
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


@pytest.fixture(params=["tcp", "tls"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[_Server, str, Any]]:
    """A loopback server; yields it, its URL and the client's TLS context (or None)."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    scheme, client_ctx = "http", None
    if request.param == "tls":
        contexts = _tls_contexts(tmp_path)
        if contexts is None:
            pytest.skip("no openssl to make a certificate")
        httpd.socket = contexts[0].wrap_socket(httpd.socket, server_side=True)
        scheme, client_ctx = "https", contexts[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield httpd, f"{scheme}://127.0.0.1:{httpd.server_address[1]}/predict", client_ctx
    finally:
        httpd.shutdown()
        httpd.server_close()


def _pool(tls: ssl.SSLContext | None, *, sync: bool) -> Any:
    """The pool hf-tools sends with (its deadline streams), trusting ``tls`` if given."""
    if tls is None:
        return sync_pool(10) if sync else async_pool(10)
    kinds: tuple[Any, Any, Any] = (
        (httpx2.HTTPTransport, _DeadlineBackend, httpx2.Client)
        if sync
        else (httpx2.AsyncHTTPTransport, _AsyncDeadlineBackend, httpx2.AsyncClient)
    )
    transport = kinds[0](verify=tls, limits=POOL_LIMITS)
    _guard(transport, kinds[1])
    return kinds[2](transport=transport, timeout=10)


@pytest.fixture
def slow_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts httpcore2's own readability checks (the anyio and the sync backends')."""
    counted: list[int] = []
    for module in (anyio_backend, sync_backend):
        real = module.is_socket_readable

        def counting(sock: Any, real: Callable[[Any], bool] = real) -> bool:
            counted.append(1)
            return real(sock)

        monkeypatch.setattr(module, "is_socket_readable", counting)
    return counted


@pytest.fixture
def fast_checks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The answers our wrapper gave."""
    answers: list[bool] = []
    real = _IdleProbe.readable

    def recording(self: _IdleProbe) -> bool:
        answers.append(real(self))
        return answers[-1]

    monkeypatch.setattr(_IdleProbe, "readable", recording)
    return answers


async def test_idle_checks_are_answered_by_the_wrapper_async(
    served: tuple[_Server, str, Any], slow_checks: list[int], fast_checks: list[bool]
) -> None:
    httpd, url, tls = served
    httpd.delay = 0.005  # calls overlap, so connections sit idle while others are sent
    async with _pool(tls, sync=False) as client:
        for _ in range(3):
            answers = await asyncio.wait_for(
                asyncio.gather(*(client.post(url, content=b"x") for _ in range(8))), 30
            )
            assert all(a.status_code == 200 for a in answers)
    assert fast_checks and not any(fast_checks)  # checked, and found open
    assert slow_checks == []  # never the anyio path (the old ~10 µs one)


def test_idle_checks_are_answered_by_the_wrapper_sync(
    served: tuple[_Server, str, Any], slow_checks: list[int], fast_checks: list[bool]
) -> None:
    _, url, tls = served
    with _pool(tls, sync=True) as client:
        for _ in range(5):
            assert client.post(url, content=b"x").status_code == 200
    assert fast_checks and not any(fast_checks)
    assert slow_checks == []


async def test_a_connection_the_server_closed_is_not_reused_async(
    served: tuple[_Server, str, Any], fast_checks: list[bool]
) -> None:
    httpd, url, tls = served
    httpd.close_after_answer = True
    async with _pool(tls, sync=False) as client:
        for _ in range(3):
            answer = await asyncio.wait_for(client.post(url, content=b"x"), 30)
            assert answer.status_code == 200
            await asyncio.sleep(0.1)  # the server's close reaches the client's socket
    assert httpd.connections == 3  # each call found the old connection closed, opened one
    assert True in fast_checks


def test_a_connection_the_server_closed_is_not_reused_sync(
    served: tuple[_Server, str, Any], fast_checks: list[bool]
) -> None:
    httpd, url, tls = served
    httpd.close_after_answer = True
    with _pool(tls, sync=True) as client:
        for _ in range(3):
            assert client.post(url, content=b"x").status_code == 200
            threading.Event().wait(0.1)
    assert httpd.connections == 3
    assert True in fast_checks


async def test_bytes_held_above_the_socket_count_as_readable(
    served: tuple[_Server, str, Any],
) -> None:
    # A TLS record (a close_notify) or a chunk already read off the socket is gone from the
    # kernel's view: the probe must see where anyio and OpenSSL keep it.
    _, url, tls = served
    async with _pool(tls, sync=False) as client:
        assert (await client.post(url, content=b"x")).status_code == 200
        pool: Any = client._transport._pool
        (connection,) = pool.connections
        stream = connection._connection._network_stream
        probe = _idle_probe(stream._inner)
        assert probe is not None and not probe.readable()
        anyio_stream = stream._inner._stream
        socket_stream = anyio_stream if tls is None else anyio_stream.transport_stream
        socket_stream._protocol.read_event.set()  # a chunk (or the end) waits in the queue
        assert probe.readable()
        socket_stream._protocol.read_event.clear()
        if tls is not None:
            anyio_stream._read_bio.write(b"\x15\x03\x03")  # the start of an alert record
            assert probe.readable()
