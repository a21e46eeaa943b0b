"""Media inputs: every accepted form, every refusal, sync and async; no real network."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from pytest_socket import SocketConnectBlockedError

import hf_tools.media as media
from hf_tools import MediaError, Settings
from hf_tools.media import aresolve_media, detect_mime, resolve_media

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
FLAC = b"fLaC" + b"\x00" * 24
WAV = b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 16


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.create(api_key="hf_x", allowed_roots=[tmp_path], max_media_bytes=1000)


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A fake internet: host -> address, URL -> response; both clients use it."""
    dns: dict[str, str] = {"img.example.com": "93.184.216.34", "inner.example.com": "10.0.0.7"}
    pages: dict[str, tuple[int, bytes, dict[str, str]]] = {}

    def getaddrinfo(host: str, port: int, *a: Any, **kw: Any) -> list[Any]:
        if host not in dns:
            raise socket.gaierror("unknown host")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (dns[host], port))]

    def handler(request: httpx2.Request) -> httpx2.Response:
        # The download connects to the checked address; the Host header names the page.
        url = request.url.copy_with(netloc=request.headers["host"].encode())
        assert dns.get(url.host, url.host) == request.url.host
        status, content, headers = pages.get(str(url), (404, b"", {}))
        return httpx2.Response(status, content=content, headers=headers)

    monkeypatch.setattr(media, "_getaddrinfo", getaddrinfo)
    monkeypatch.setattr(media, "_transport", httpx2.MockTransport(handler))
    monkeypatch.setattr(media, "_async_transport", httpx2.MockTransport(handler))
    return {"dns": dns, "pages": pages}


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"BM\x00\x00", "image/bmp"),
        (FLAC, "audio/flac"),
        (WAV, "audio/wav"),
        (b"ID3\x03", "audio/mpeg"),
        (b"OggS\x00", "audio/ogg"),
        (b"\x1a\x45\xdf\xa3", "audio/webm"),
        (b"hello", None),
    ],
)
def test_magic_bytes(data: bytes, mime: str | None) -> None:
    assert detect_mime(data) == mime


def test_bytes_base64_and_data_uri(settings: Settings) -> None:
    b64 = base64.b64encode(PNG).decode()
    for value in (
        PNG,
        b64,
        f"data:image/png;base64,{b64}",
        f"data:application/octet-stream;base64,{b64}",
        f"DATA:image/png;BASE64,{b64}",
    ):
        assert resolve_media(value, settings).mime == "image/png"


def test_long_base64_is_not_mistaken_for_a_path(settings: Settings) -> None:
    # Real images are far longer than a file name may be: the path check must not fail on them.
    big = Settings.create(api_key="hf_x", max_media_bytes=10_000)
    image = PNG + b"\x00" * 4000
    assert resolve_media(base64.b64encode(image).decode(), big).data == image


def test_path_inside_the_root(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "a.flac").write_bytes(FLAC)
    got = resolve_media(str(tmp_path / "a.flac"), settings)
    assert got.data == FLAC and got.mime == "audio/flac"


def test_paths_outside_the_root_are_refused(settings: Settings, tmp_path: Path) -> None:
    outside = tmp_path.parent / "outside.png"
    outside.write_bytes(PNG)
    (tmp_path / "link.png").symlink_to(outside)
    for value in (str(outside), str(tmp_path / ".." / "outside.png"), str(tmp_path / "link.png")):
        with pytest.raises(MediaError, match="outside the folders"):
            resolve_media(value, settings)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (b"just some text\n", "not a recognized image or audio"),
        (PNG * 100, "larger than"),
    ],
)
def test_unusable_files_are_refused(
    settings: Settings, tmp_path: Path, content: bytes, match: str
) -> None:
    path = tmp_path / "f.png"
    path.write_bytes(content)
    with pytest.raises(MediaError, match=match):
        resolve_media(str(path), settings)


def _no_file(path: object) -> str:
    return (
        f"file not found: {path} (or it is not a regular file, or it is outside the folders"
        " this tool may read)"
    )


@pytest.mark.parametrize("name", ["id_rsa.png", "id_rsa", "missing.png", "missing", ""])
def test_outside_the_root_never_tells_whether_a_file_exists(tmp_path: Path, name: str) -> None:
    allowed, secret = tmp_path / "allowed", tmp_path / "secrets"
    allowed.mkdir()
    secret.mkdir()
    (secret / "id_rsa.png").write_bytes(PNG)
    (secret / "id_rsa").write_bytes(b"key")
    settings = Settings.create(api_key="hf_x", allowed_roots=[allowed])
    with pytest.raises(MediaError) as refused:
        resolve_media(f"{secret}/{name}", settings)
    assert str(refused.value) == _no_file(f"{secret}/{name}")


def test_missing_not_a_file_and_outside_get_one_answer(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opened without waiting for a writer, then refused
    outside = tmp_path.parent / f"{tmp_path.name}-outside.png"
    outside.write_bytes(PNG)
    for path in (tmp_path / "nope.png", tmp_path / "folder", fifo, outside, "/proc/self/mem"):
        with pytest.raises(MediaError) as refused:
            resolve_media(str(path), settings)
        assert str(refused.value) == _no_file(path)
    with pytest.raises(MediaError, match="not a path, an http"):
        resolve_media("not+base64", settings)


def test_proc_files_inside_a_root_are_refused_not_raised() -> None:
    # /proc/self/mem is a "regular file" whose read fails (EIO): a refusal, not an OSError.
    procfs = Settings.create(api_key="hf_x", allowed_roots=["/proc"])
    with pytest.raises(MediaError, match="file not found: /proc/self/mem"):
        resolve_media("/proc/self/mem", procfs)
    with pytest.raises(MediaError, match="not a recognized image"):  # size 0 in stat: read capped
        resolve_media("/proc/self/status", procfs)


def test_a_symlink_swapped_in_after_the_check_is_not_followed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    real_resolve = Path.resolve

    def swap_then_resolve(path: Path, strict: bool = False) -> Path:
        # The race: the name passes the check, then becomes a link to an endless device.
        resolved = real_resolve(path, strict)
        image.unlink()
        image.symlink_to("/dev/zero")
        return resolved

    monkeypatch.setattr(Path, "resolve", swap_then_resolve)
    with pytest.raises(MediaError) as refused:
        resolve_media(str(image), settings)
    assert str(refused.value) == _no_file(image)


def test_a_file_growing_past_its_stat_size_is_read_with_the_cap(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The size fstat reports can be stale (the file grows, /proc says 0): the read is capped.
    big = tmp_path / "big.png"
    big.write_bytes(PNG * 1000)
    real_fstat = os.fstat

    def small_fstat(fd: int) -> Any:
        info = real_fstat(fd)
        return os.stat_result((info.st_mode, *info[1:6], 10, *info[7:]))

    monkeypatch.setattr(media.os, "fstat", small_fstat)
    with pytest.raises(MediaError, match="larger than 1000 bytes"):
        resolve_media(str(big), settings)


def test_the_default_root_is_refused_at_the_file_system_root(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir("/")
    default = Settings.create(api_key="hf_x")
    with pytest.raises(MediaError, match="local files are not accepted here: /etc/hostname"):
        resolve_media("/etc/hostname", default)
    assert "allowed_roots" in caplog.text
    anywhere = Settings.create(api_key="hf_x", allowed_roots=["/"])  # explicit: the caller's call
    with pytest.raises(MediaError, match="not a recognized image"):
        resolve_media("/etc/hostname", anywhere)


async def test_public_url_sync_and_async(settings: Settings, web: dict[str, Any]) -> None:
    web["pages"]["https://img.example.com/cat.png"] = (200, PNG, {})
    assert resolve_media("https://img.example.com/cat.png", settings).mime == "image/png"
    assert (await aresolve_media("https://img.example.com/cat.png", settings)).data == PNG


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://localhost.test/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.png",
        "http://inner.example.com/x.png",
    ],
)
async def test_private_urls_are_refused(settings: Settings, web: dict[str, Any], url: str) -> None:
    web["dns"]["localhost.test"] = "127.0.0.1"
    for resolve in (resolve_media,):
        with pytest.raises(MediaError, match="private, loopback or link-local"):
            resolve(url, settings)
    with pytest.raises(MediaError, match="private, loopback or link-local"):
        await aresolve_media(url, settings)


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0",
        "10.0.0.1",
        "100.64.0.1",  # carrier-grade NAT
        "100.100.100.200",  # Alibaba Cloud metadata (inside carrier-grade NAT)
        "127.0.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "192.0.0.1",
        "192.0.0.8",  # IETF protocol assignments: the whole /24 (Python's is_global misses it)
        "192.0.0.9",
        "192.0.0.171",
        "192.31.196.1",  # AS112
        "192.52.193.1",  # AMT
        "192.88.99.1",  # 6to4 relay anycast
        "192.175.48.1",  # AS112 direct delegation
        "::ffff:192.0.0.8",
        "2002:c000:8::",  # 6to4 of 192.0.0.8
        "64:ff9b::c000:8",  # NAT64 of 192.0.0.8
        "64:ff9b:1::1",  # local-use NAT64
        "100:0:0:1::1",  # dummy prefix
        "2001:1::1",  # PCP anycast
        "2001:3::1",  # AMT
        "2001:4:112::1",  # AS112-v6
        "2001:20::1",  # ORCHIDv2
        "2620:4f:8000::1",  # AS112 direct delegation
        "3fff::1",  # documentation (2024)
        "5f00::1",  # segment routing SIDs
        "::127.0.0.1",  # deprecated IPv4-compatible
        "192.0.2.1",
        "192.168.1.1",
        "198.18.0.1",
        "203.0.113.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:169.254.169.254",
        "::ffff:100.100.100.200",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::a64:1",  # NAT64 of 10.100.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "2002:6464:64c8::1",  # 6to4 of 100.100.100.200
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "100::1",
        "2001:db8::1",
        "fc00::1",
        "fd00:ec2::254",  # AWS IPv6 metadata
        "fe80::1",
        "fec0::1",
        "ff02::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert media._refused_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not media._refused_address(ipaddress.ip_address(address))


async def test_metadata_host_behind_a_name_is_refused(
    settings: Settings, web: dict[str, Any]
) -> None:
    web["dns"]["meta.example.com"] = "100.100.100.200"
    web["pages"]["http://meta.example.com/latest/meta-data"] = (200, PNG, {})
    with pytest.raises(MediaError, match="not a public address"):
        resolve_media("http://meta.example.com/latest/meta-data", settings)
    with pytest.raises(MediaError, match="not a public address"):
        await aresolve_media("http://meta.example.com/latest/meta-data", settings)


async def test_redirect_to_a_private_address_is_refused(
    settings: Settings, web: dict[str, Any]
) -> None:
    web["pages"]["https://img.example.com/r"] = (
        302,
        b"",
        {"location": "http://inner.example.com/secret.png"},
    )
    with pytest.raises(MediaError, match="private"):
        resolve_media("https://img.example.com/r", settings)
    with pytest.raises(MediaError, match="private"):
        await aresolve_media("https://img.example.com/r", settings)


def test_allow_private_urls(tmp_path: Path, web: dict[str, Any]) -> None:
    ok = Settings.create(api_key="hf_x", allowed_roots=[tmp_path], allow_private_urls=True)
    web["pages"]["http://inner.example.com/x.png"] = (200, PNG, {})
    assert resolve_media("http://inner.example.com/x.png", ok).mime == "image/png"


async def test_oversized_and_failed_downloads(settings: Settings, web: dict[str, Any]) -> None:
    web["pages"]["https://img.example.com/big.png"] = (200, PNG * 100, {})
    with pytest.raises(MediaError, match="larger than 1000"):
        resolve_media("https://img.example.com/big.png", settings)
    with pytest.raises(MediaError, match="larger than 1000"):
        await aresolve_media("https://img.example.com/big.png", settings)
    with pytest.raises(MediaError, match="HTTP 404"):
        resolve_media("https://img.example.com/missing.png", settings)
    with pytest.raises(MediaError, match="could not be resolved"):
        resolve_media("https://nowhere.example.org/x.png", settings)
    with pytest.raises(MediaError, match="only http"):
        resolve_media("ftp://img.example.com/x.png", settings)


class _Drip(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A body of 100 PNG bytes sent one byte every 20 ms: 2 s in all."""

    def __iter__(self) -> Iterator[bytes]:
        for byte in PNG * 3 + PNG[:4]:
            time.sleep(0.02)
            yield bytes([byte])

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for byte in PNG * 3 + PNG[:4]:
            await asyncio.sleep(0.02)
            yield bytes([byte])


async def test_a_slow_download_stops_at_the_timeout(
    tmp_path: Path, web: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, stream=_Drip())

    monkeypatch.setattr(media, "_transport", httpx2.MockTransport(handler))
    monkeypatch.setattr(media, "_async_transport", httpx2.MockTransport(handler))
    quick = Settings.create(api_key="hf_x", allowed_roots=[tmp_path], timeout=0.2)
    url = "https://img.example.com/slow.png"
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"did not finish within 0\.2 s: the URL is too slow"):
        resolve_media(url, quick)
    assert time.monotonic() - started < 1.0
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"did not finish within 0\.2 s: the URL is too slow"):
        await aresolve_media(url, quick)
    assert time.monotonic() - started < 1.0


async def test_the_timeout_covers_every_redirect_hop(
    tmp_path: Path, web: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each hop is quick on its own; only their sum passes the deadline.
    def handler(request: httpx2.Request) -> httpx2.Response:
        time.sleep(0.08)
        return httpx2.Response(302, headers={"location": f"{request.url}x"})

    async def ahandler(request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(0.08)
        return httpx2.Response(302, headers={"location": f"{request.url}x"})

    monkeypatch.setattr(media, "_transport", httpx2.MockTransport(handler))
    monkeypatch.setattr(media, "_async_transport", httpx2.MockTransport(ahandler))
    quick = Settings.create(api_key="hf_x", allowed_roots=[tmp_path], timeout=0.2)
    with pytest.raises(MediaError, match="too slow"):
        resolve_media("https://img.example.com/r", quick)
    with pytest.raises(MediaError, match="too slow"):
        await aresolve_media("https://img.example.com/r", quick)


def test_media_error_is_for_the_llm() -> None:
    err = MediaError("the input is empty")
    assert err.llm_fixable
    assert "allowed folders" in err.for_llm()


# ---- model-chosen text that cannot be a media reference: always a MediaError

BAD_TEXT = [
    "\x00",
    "tests/fixtures/image.png\x00.txt",
    "https://img.example.com/a\x00.png",
    "\ud800",
    "https://img.example.com/\udc80.png",
    "data:image/png;base64,\ud800AAAA",
    "http://x:abc/",
    "http://x:99999/",
    "http://x:0/",
    "http://[::1/",
    "http://[fe80::1%25eth0]/x.png",
    "http://.x/",
    "http://a..b/",
    f"http://{'a' * 64}.com/",
    f"http://{'a.' * 130}com/",
    "http:///x.png",
    "http://user:pw@img.example.com/x.png",
    "http://img.example.com\uff0f@127.0.0.1/",  # full-width slash: userinfo, refused
    "http://img\u3002example\u3002com/x.png",  # ideographic full stops
    "http://\uff11\uff12\uff17.0.0.1/x.png",  # full-width digits
    "\uff48ttp://img.example.com/x.png",
    "file:///etc/passwd",
    "HTTP://2130706433/x.png",  # 127.0.0.1 as one number
    "http://0x7f.1/x.png",
    "~no-such-user-here/x.png",
    "",
    "   ",
]


@pytest.mark.parametrize("text", BAD_TEXT, ids=ascii)
async def test_unreadable_text_is_a_media_error(
    settings: Settings, web: dict[str, Any], text: str
) -> None:
    web["dns"].update({"2130706433": "127.0.0.1", "0x7f.1": "127.0.0.1"})  # as inet_aton reads
    with pytest.raises(MediaError) as sync_error:
        resolve_media(text, settings)
    with pytest.raises(MediaError) as async_error:
        await aresolve_media(text, settings)
    # The message quotes the input: it must survive UTF-8 (a terminal, a JSON response).
    assert sync_error.value.for_llm().encode("utf-8")
    assert str(async_error.value) == str(sync_error.value)


@examples(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    text=st.tuples(
        st.sampled_from(["", "http://", "https://", "data:image/png;base64,", "/", "~", "./"]),
        st.text(st.characters(exclude_categories=()), max_size=40),
    ).map("".join)
)
def test_any_text_is_media_or_a_media_error(tmp_path: Path, web: dict[str, Any], text: str) -> None:
    one = Settings.create(api_key="hf_x", allowed_roots=[tmp_path], max_media_bytes=1000)
    try:
        resolve_media(text, one)
    except MediaError as exc:
        exc.for_llm().encode("utf-8")


@pytest.mark.parametrize("wrap", [False, True], ids=["plain", "wrapped"])
async def test_a_4mb_base64_image_is_decoded_in_linear_time(wrap: bool) -> None:
    # Path(text).resolve() on it took 66 s: the text must not reach the file system at all.
    # Random bytes: their base64 holds ~50,000 "/", each a path component to resolve.
    image = PNG + random.Random(0).randbytes(3 * 1024 * 1024)
    text = base64.b64encode(image).decode()
    if wrap:  # line-wrapped base64, as `base64` the tool writes it
        text = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    big = Settings.create(api_key="hf_x", max_media_bytes=4 * 1024 * 1024)
    started = time.monotonic()
    assert resolve_media(text, big).data == image
    assert (await aresolve_media(text, big)).data == image
    assert time.monotonic() - started < 1.0


def test_short_base64_and_paths_are_told_apart(settings: Settings, tmp_path: Path) -> None:
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(20)).decode()
    assert jpeg.startswith("/9j/")  # base64 that looks like an absolute path
    assert resolve_media(jpeg, settings).mime == "image/jpeg"
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat").write_bytes(PNG)  # a path made of base64 letters only
    assert resolve_media(str(tmp_path / "photos" / "cat"), settings).data == PNG


# ---- DNS rebinding: the connection goes to the address that was checked


async def test_the_download_connects_to_the_checked_address(
    settings: Settings, web: dict[str, Any]
) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.path == "/r":
            return httpx2.Response(302, headers={"location": "https://cdn.example.com/cat.png"})
        return httpx2.Response(200, content=PNG)

    web["dns"]["cdn.example.com"] = "2606:4700::6810:84e5"
    transport = httpx2.MockTransport(handler)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(media, "_transport", transport)
        patch.setattr(media, "_async_transport", transport)
        assert resolve_media("https://img.example.com:8443/r", settings).data == PNG
        assert (await aresolve_media("https://img.example.com:8443/r", settings)).data == PNG
    for first, second in (seen[:2], seen[2:]):
        assert str(first.url) == "https://93.184.216.34:8443/r"
        assert first.headers["host"] == "img.example.com:8443"
        assert first.extensions["sni_hostname"] == "img.example.com"  # TLS checks the name
        assert str(second.url) == "https://[2606:4700::6810:84e5]/cat.png"
        assert second.headers["host"] == "cdn.example.com"
        assert second.extensions["sni_hostname"] == "cdn.example.com"


@pytest.fixture
def loopback_png() -> Iterator[tuple[int, list[str]]]:
    """A server on 127.0.0.1 that serves PNG to anyone; yields (port, paths it served)."""
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.send_header("content-length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], served
    server.shutdown()
    server.server_close()
    thread.join(5)


PINNED = 'connect\\(\\) with host "93.184.216.34"'


@pytest.mark.allow_hosts(["127.0.0.1"])  # alone: with enable_socket it would allow every host
async def test_a_second_dns_answer_cannot_point_the_download_at_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopback_png: tuple[int, list[str]]
) -> None:
    # A rebinding resolver: a public address for the check, loopback for any later lookup.
    port, served = loopback_png
    answers: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host: str, *args: Any, **kw: Any) -> list[Any]:
        if host != "rebind.example.com":
            return real_getaddrinfo(host, *args, **kw)  # literals: the address itself
        answers.append("93.184.216.34" if not answers else "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[-1], port))]

    # The system resolver itself: the check and the HTTP client would both ask it.
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    strict = Settings.create(api_key="hf_x", allowed_roots=[tmp_path], timeout=2)
    url = f"http://rebind.example.com:{port}/x.png"
    # pytest-socket refuses (and warns about) every host but 127.0.0.1: the warning names
    # where the download connected. The refusal surfaces as itself (sync) or inside anyio's
    # exception group (async); only tests see it, so any exception will do here.
    with pytest.raises(SocketConnectBlockedError), pytest.warns(UserWarning, match=PINNED):
        resolve_media(url, strict)
    answers.clear()
    with pytest.raises(Exception), pytest.warns(UserWarning, match=PINNED):  # noqa: B017
        await aresolve_media(url, strict)
    assert answers == ["93.184.216.34"]  # one lookup: the checked one
    assert served == []  # loopback was never reached


async def test_async_file_reads_stay_off_the_event_loop(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    threads: list[int] = []
    real_open = os.open

    def recording_open(*args: Any, **kw: Any) -> int:
        threads.append(threading.get_ident())
        return real_open(*args, **kw)

    monkeypatch.setattr(media.os, "open", recording_open)
    assert (await aresolve_media(str(tmp_path / "a.png"), settings)).data == PNG
    assert threads and threading.get_ident() not in threads
