"""Network hardening: rebinding, lookups and header reads inside the deadline, Hub data bounds.

Every server here is a loopback one, stopped by its fixture; names resolve through a fake
``socket.getaddrinfo`` (the resolver every lookup ends in) and the one public address they
may answer is refused at connect time, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import hf_tools.http
from hf_tools import AsyncHFClient, HFClient
from hf_tools.config import Settings
from hf_tools.errors import HFConnectionError, HFTimeoutError, MediaError, ResponseFormatError
from hf_tools.http import deadline
from hf_tools.media import aresolve_media, resolve_media
from hf_tools.providers import Call, JobFailedError
from hf_tools.routing import (
    MAX_MAPPING_ENTRIES,
    MappingCache,
    NoProviderError,
    ProviderMapping,
    is_plain_path,
    parse_mapping,
    resolve,
)

from .conftest import FIXTURES
from .test_hostile_http import HEADERS_DRIP, Drip

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

PUBLIC = "93.184.216.34"
PNG = (FIXTURES / "image.png").read_bytes()
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect


# ------------------------------------------------------------------------ loopback servers


class _Server:
    """A loopback HTTP server answering ``answer(method, path) -> (status, ctype, body)``."""

    def __init__(self, answer: Callable[[str, str], tuple[int, str, bytes]]) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                outer.hits.append(f"{self.command} {self.path}")
                status, ctype, body = answer(self.command, self.path)
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _reply

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def secret() -> Iterator[_Server]:
    """An internal service on loopback that must never be read through a result URL."""
    server = _Server(lambda method, path: (200, "image/png", PNG))
    yield server
    server.close()


@pytest.fixture
def api() -> Iterator[_Server]:
    """Hub and router in one: fal-ai serves every model; its answer names the result URL."""
    result = {"url": ""}

    def answer(method: str, path: str) -> tuple[int, str, bytes]:
        if path.startswith("/api/models/"):
            model = path.split("?")[0][len("/api/models/") :]
            mapping = [
                {"provider": "fal-ai", "providerId": "fal-ai/flux/schnell"}
                | {"status": "live", "task": "text-to-image"}
            ]
            body = {"id": model, "inferenceProviderMapping": mapping}
        else:
            body = {"images": [{"url": result["url"]}]}
        return 200, "application/json", json.dumps(body).encode()

    server = _Server(answer)
    server.result = result  # type: ignore[attr-defined]
    yield server
    server.close()


def _name(host: Any) -> str:
    """A host as getaddrinfo gets it: anyio passes it IDNA-encoded."""
    return host.decode("ascii") if isinstance(host, bytes) else str(host)


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """``{name: [answers]}``: each lookup of a name takes its next answer (the last repeats).

    The public address is refused at connect time: a pinned connection ends there, offline.
    """
    table: dict[str, list[str]] = {}
    looked: dict[str, int] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        name = _name(host)
        if name not in table:
            return _real_getaddrinfo(host, port, *args, **kw)
        answers = table[name]
        n = looked[name] = looked.get(name, 0) + 1
        address = answers[min(n, len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    def connect(sock: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[0] == PUBLIC:
            raise ConnectionRefusedError(111, "refused (the test's stand-in for the internet)")
        return _real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    table["__looked__"] = looked  # type: ignore[assignment]
    return table


def _fal_client(api: _Server, mode: str, **kw: Any) -> Any:
    url = f"http://127.0.0.1:{api.port}"
    options = {"api_key": "hf_x", "provider": "fal-ai", "router_url": url, "hub_url": url}
    options |= {"max_retries": 0, "timeout": 5.0, **kw}
    return HFClient(**options) if mode == "sync" else AsyncHFClient(**options)


def _run(client: Any, mode: str) -> Any:
    if mode == "sync":
        return client.run("text-to-image", prompt="a cat")
    return asyncio.run(client.run("text-to-image", prompt="a cat"))


# ------------------------------------------------------------------ 1. rebinding result URLs


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_result_url_that_rebinds_to_loopback_never_reaches_it(
    api: Any, secret: _Server, names: dict[str, list[str]], mode: str
) -> None:
    # Public when checked, loopback when looked up again (DNS rebinding, TTL 0).
    names["rebind.test"] = [PUBLIC, "127.0.0.1"]
    api.result["url"] = f"http://rebind.test:{secret.port}/output.txt"
    with pytest.raises(HFConnectionError):  # the checked (public) address refused us
        _run(_fal_client(api, mode), mode)
    assert secret.hits == []
    assert names["__looked__"]["rebind.test"] == 1  # type: ignore[index]  # resolved once


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_result_url_whose_name_resolves_to_loopback_is_the_jobs_failure(
    api: Any, secret: _Server, names: dict[str, list[str]], mode: str
) -> None:
    names["internal.test"] = ["127.0.0.1"]
    api.result["url"] = f"http://internal.test:{secret.port}/x.png?sig=abc"
    with pytest.raises(JobFailedError) as info:
        _run(_fal_client(api, mode), mode)
    assert str(info.value).startswith(
        f"fal-ai: the result file http://internal.test:{secret.port}/x.png was refused: the URL"
        " host internal.test is not a public address"
    )
    assert secret.hits == []


# ------------------------------------------------- 2. header reads inside the deadline (sync)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_media_url_dripping_its_headers_stops_at_the_deadline(mode: str) -> None:
    server = Drip(HEADERS_DRIP)  # one header byte every 0.1 s, for 10 s
    settings = Settings.create(api_key="hf_x", allow_private_urls=True, timeout=1.0)
    url = server.url.replace("/predict", "/cat.png")
    started = time.monotonic()
    try:
        with pytest.raises(MediaError, match="did not finish within 1 s"):
            if mode == "sync":
                resolve_media(url, settings)
            else:
                asyncio.run(aresolve_media(url, settings))
    finally:
        server.close()
    assert time.monotonic() - started < 1.0 + 1.5


# ----------------------------------------------------------- 9. name lookups in the deadline


@pytest.fixture
def slow_name(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """``slow.test`` takes 10 s to resolve (until the test ends: then its threads are freed)."""
    release = threading.Event()

    def getaddrinfo(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        if _name(host) == "slow.test":
            release.wait(10)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return _real_getaddrinfo(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield release
    release.set()


@pytest.mark.usefixtures("slow_name")
def test_a_slow_name_lookup_ends_at_the_deadline_sync() -> None:
    client = HFClient(api_key="hf_x", base_url="http://slow.test:9/hf", timeout=1.0, max_retries=0)
    started = time.monotonic()
    with pytest.raises(HFTimeoutError):
        client.run("text-classification", text="hi")
    assert time.monotonic() - started < 1.0 + 1.0
    settings = Settings.create(api_key="hf_x", allow_private_urls=True, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(MediaError, match="did not finish within 1 s"):
        resolve_media("http://slow.test/cat.png", settings)
    assert time.monotonic() - started < 1.0 + 1.0


@pytest.mark.usefixtures("slow_name")
async def test_slow_lookups_end_at_the_deadline_and_leave_the_loops_threads_free() -> None:
    client = AsyncHFClient(
        api_key="hf_x", base_url="http://slow.test:9/hf", timeout=1.0, max_retries=0
    )
    settings = Settings.create(api_key="hf_x", allow_private_urls=True, timeout=1.0)
    started = time.monotonic()
    calls = [client.run("text-classification", text="hi") for _ in range(10)]
    calls += [aresolve_media("http://slow.test/cat.png", settings) for _ in range(10)]
    running = asyncio.gather(*calls, return_exceptions=True)
    await asyncio.sleep(0.3)
    # The loop's own thread pool is not where lookups wait: other work still gets a thread.
    quick = time.monotonic()
    assert await asyncio.wait_for(asyncio.to_thread(lambda: 1), 5) == 1
    assert time.monotonic() - quick < 0.5
    outcomes = await running
    assert time.monotonic() - started < 1.0 + 1.5
    assert all(isinstance(o, HFTimeoutError | MediaError) for o in outcomes), outcomes
    await client.aclose()
    stuck = [t for t in threading.enumerate() if t.name.startswith("hf-tools-resolve")]
    assert len(stuck) <= hf_tools.http.RESOLVER_THREADS


# -------------------------------------------------------- 12. provider ids from the Hub


@pytest.mark.parametrize(
    "provider_id",
    ["org/name", "accounts/fireworks/models/x", "fal-ai/flux/dev", "owner/model:abc", "@cf/m/x"],
)
def test_plain_provider_ids_route(provider_id: str) -> None:
    mapping = [ProviderMapping("fal-ai", provider_id, "live", "text-to-image")]
    assert resolve(mapping, task="text-to-image", model="o/m").provider_model == provider_id


@pytest.mark.parametrize(
    "provider_id",
    ["../../x", "/../../etc/passwd", "a?x=1", "a#b", "a\x00b", "a//b", "a/./b", "x" * 300, ""],
)
@pytest.mark.parametrize("provider", ["auto", "fal-ai"])
def test_provider_ids_that_are_not_plain_paths_are_refused_naming_the_model(
    provider_id: str, provider: str
) -> None:
    assert not is_plain_path(provider_id)
    mapping = [ProviderMapping("fal-ai", provider_id, "live", "text-to-image")]
    with pytest.raises(NoProviderError, match="the Hub maps org/m on fal-ai to the provider"):
        resolve(mapping, task="text-to-image", model="org/m", provider=provider)


# ----------------------------------------------------------------- 13. the mapping cache


def _mapping_body(n: int) -> dict[str, Any]:
    entries = [
        {"provider": f"p{i}", "providerId": f"org/m{i}", "status": "live", "task": "t"}
        for i in range(n)
    ]
    return {"id": "org/m", "inferenceProviderMapping": entries}


def test_the_mapping_cache_is_bounded_by_size_not_only_entries() -> None:
    huge = _mapping_body(20_000)  # 512 of these once held 738 MB
    assert len(parse_mapping(huge)) == MAX_MAPPING_ENTRIES
    cache = MappingCache()
    for i in range(512):
        cache.get(f"https://hub/api/models/m{i}", lambda url: huge)
    held = sum(len(e.value) for e in cache._entries.values())
    assert held <= cache.max_entries and len(cache) == cache.max_entries // MAX_MAPPING_ENTRIES


def test_a_caller_waiting_on_another_lookup_keeps_its_own_deadline() -> None:
    cache, release = MappingCache(), threading.Event()

    def slow(url: str) -> Any:
        release.wait(5)
        return _mapping_body(1)

    leader = threading.Thread(target=cache.get, args=("https://hub/m", slow), daemon=True)
    leader.start()
    time.sleep(0.2)  # the leader's lookup is in flight
    started = time.monotonic()
    try:
        with deadline(time.monotonic() + 0.5), pytest.raises(HFTimeoutError, match="Hub lookup"):
            cache.get("https://hub/m", slow)
    finally:
        release.set()
        leader.join(5)
    assert time.monotonic() - started < 0.5 + 1.0


async def test_an_async_caller_waiting_on_another_lookup_keeps_its_own_deadline() -> None:
    cache, release = MappingCache(), asyncio.Event()

    async def slow(url: str) -> Any:
        await asyncio.wait_for(release.wait(), 5)
        return _mapping_body(1)

    leader = asyncio.ensure_future(cache.aget("https://hub/m", slow))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    asyncio.get_running_loop().call_later(3, release.set)  # the old wait ends here
    with deadline(time.monotonic() + 0.5), pytest.raises(HFTimeoutError, match="Hub lookup"):
        await cache.aget("https://hub/m", slow)
    assert time.monotonic() - started < 0.5 + 1.0
    release.set()
    assert len(await leader) == 1  # the leader's lookup went on, and was cached


@pytest.mark.parametrize(
    "path", ["/fal-ai/../../v1/x/status", "/fal-ai/./x", "/fal-ai//x", "/fal-ai/a%2F..%2Fb"]
)
def test_a_router_path_a_provider_handed_back_cannot_climb_to_another_route(path: str) -> None:
    call = Call(task="text-to-image", provider="fal-ai", model="fal-ai/flux/dev", args=None)  # type: ignore[arg-type]
    with pytest.raises(ResponseFormatError, match="not a plain path under the router"):
        call.get(f"https://router.huggingface.co{path}?_subdomain=queue")
    plain = call.get("https://router.huggingface.co/fal-ai/fal-ai/flux/requests/ab-12/status")
    assert plain.auth  # a plain router path still carries the token
