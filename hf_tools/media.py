"""Image and audio inputs: path, http(s) URL, data URI, base64 text or bytes -> (bytes, MIME).

The type is detected from magic bytes, never trusted from a name or a header. Safe by default:
local paths only inside the allowed roots, URLs only to public addresses (every redirect hop
re-checked), downloads capped in size and in time (``settings.timeout`` for the whole download,
every hop and chunk included). Refusals raise
:class:`~hf_tools.errors.MediaError`, whose message tells an LLM what to pass instead.

Known limit: a host is resolved for the check and again by the HTTP client, so a DNS server
that answers differently the second time (rebinding) is not stopped here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import socket
import struct
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2

from hf_tools.config import Settings
from hf_tools.errors import MediaError
from hf_tools.http import client_options
from hf_tools.tasks._base import Media

__all__ = ["Media", "aresolve_media", "detect_mime", "image_size", "resolve_media"]

_MAX_REDIRECTS = 5
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"\x1a\x45\xdf\xa3", "audio/webm"),
)
# Tests swap these in; production uses the real resolver and transport.
_getaddrinfo = socket.getaddrinfo
_transport: httpx2.BaseTransport | None = None
_async_transport: httpx2.AsyncBaseTransport | None = None


def detect_mime(data: bytes) -> str | None:
    """The MIME type of an image/audio file from its first bytes, or None."""
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # MPEG audio frame sync, no ID3 tag
    return None


# JPEG start-of-frame markers carry the size; C4/C8/CC share the range but are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a PNG or JPEG header without decoding; None otherwise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0x01, 0xFF) or 0xD0 <= marker <= 0xD9:  # no length field
            pos += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


def _checked(data: bytes, settings: Settings, what: str) -> Media:
    if not data:
        msg = f"the {what} is empty"
        raise MediaError(msg)
    if len(data) > settings.max_media_bytes:
        msg = f"the {what} is {len(data)} bytes; the limit is {settings.max_media_bytes}"
        raise MediaError(msg)
    mime = detect_mime(data)
    if mime is None:
        msg = f"the {what} is not a recognized image or audio file (PNG, JPEG, GIF, WebP, BMP, "
        msg += "FLAC, WAV, MP3, OGG, WebM)"
        raise MediaError(msg)
    return Media(data, mime)


def _decode_base64(text: str) -> bytes | None:
    if text.startswith("data:"):
        header, _, body = text.partition(",")
        if ";base64" not in header:
            msg = "data URIs must be base64 encoded (data:<mime>;base64,...)"
            raise MediaError(msg)
        text = body
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _looks_like_path(text: str, path: Path) -> bool:
    """Whether ``text`` names a file rather than holding base64, judged from the text alone."""
    if len(text) >= 1024 or "\n" in text:
        return False
    # Base64 has no dots, so a suffix settles it; "/" also occurs in base64, so decode to tell.
    return bool(path.suffix) or (len(path.parts) > 1 and _decode_base64(text) is None)


def _read_path(text: str, settings: Settings) -> Media | None:
    """Read a local file inside the allowed roots; None when ``text`` is not a path."""
    path = Path(text).expanduser()
    try:
        real = path.resolve()  # follows symlinks: a link out of the roots is refused too
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop on Python 3.10
        return None
    roots = settings.media_roots()
    if not any(real.is_relative_to(root) for root in roots):
        # Decided before touching the file, so the answer never tells whether it exists.
        if _looks_like_path(text, path):
            msg = (
                f"the path {text} is outside the folders this tool may read"
                if roots
                else f"local files are not accepted here: {text}"
            )
            raise MediaError(msg)
        return None
    try:
        exists = real.exists()
    except OSError:  # e.g. a name too long for the file system: base64 text, not a path
        return None
    if not exists:
        if _looks_like_path(text, path):
            msg = f"file not found: {text}"
            raise MediaError(msg)
        return None
    if not real.is_file():
        msg = f"{text} is not a file"
        raise MediaError(msg)
    if real.stat().st_size > settings.max_media_bytes:
        msg = f"the file {text} is larger than {settings.max_media_bytes} bytes"
        raise MediaError(msg)
    return _checked(real.read_bytes(), settings, f"file {text}")


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # is_global alone lets multicast (and IPv6 site-local) through on some Python versions.
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


def _refused_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``ip`` is not a public internet address, an IPv4 inside IPv6 judged too."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _not_public(ip)
    # Mapped and NAT64 addresses are only a translation of the IPv4 inside: judge that alone.
    if ip.ipv4_mapped is not None:
        return _not_public(ip.ipv4_mapped)
    if ip in _NAT64:
        return _not_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    # 6to4 and Teredo tunnel to the IPv4 inside: the wrapper and it must both be public.
    embedded = [ip.sixtofour] if ip.sixtofour is not None else []
    embedded += list(ip.teredo or ())
    return _not_public(ip) or any(_not_public(v4) for v4 in embedded)


def _check_addresses(host: str, addresses: list[str], settings: Settings) -> None:
    if settings.allow_private_urls:
        return
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if _refused_address(ip):
            msg = f"the URL host {host} is not a public address (private, loopback or link-local, "
            msg += "or another reserved range)"
            raise MediaError(msg)


def _split(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = f"only http(s) URLs are accepted, got {url[:80]}"
        raise MediaError(msg)
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _check_url(url: str, settings: Settings) -> None:
    host, port = _split(url)
    try:
        infos = _getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        msg = f"the URL host {host} could not be resolved"
        raise MediaError(msg) from None
    _check_addresses(host, [str(info[4][0]) for info in infos], settings)


async def _acheck_url(url: str, settings: Settings) -> None:
    host, port = _split(url)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.run_in_executor(
            None, lambda: _getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        )
    except OSError:
        msg = f"the URL host {host} could not be resolved"
        raise MediaError(msg) from None
    _check_addresses(host, [str(info[4][0]) for info in infos], settings)


def _too_large(settings: Settings) -> MediaError:
    return MediaError(f"the download is larger than {settings.max_media_bytes} bytes")


def _too_slow(settings: Settings) -> MediaError:
    msg = f"the download did not finish within {settings.timeout:g} s: the URL is too slow;"
    return MediaError(msg + " try another URL or a smaller file")


def _remaining(deadline: float, settings: Settings) -> float:
    """Seconds left before ``deadline``; MediaError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _too_slow(settings)
    return left


def _next_hop(url: str, response: httpx2.Response) -> str | None:
    if response.is_redirect and "location" in response.headers:
        return urljoin(url, response.headers["location"])
    if response.status_code >= 400:
        msg = f"the URL answered HTTP {response.status_code}"
        raise MediaError(msg)
    return None


def _download(url: str, settings: Settings) -> bytes:
    """GET ``url`` following checked redirects, all within ``settings.timeout`` in total.

    A read timeout is fixed per request, so a stall right before the deadline can overrun it by
    up to one read timeout; a slow trickle of data stops at the first chunk past it.
    """
    deadline = time.monotonic() + settings.timeout
    # trust_env=False: no proxy from the environment between the address check and the host.
    with httpx2.Client(**client_options(settings.timeout, _transport), trust_env=False) as client:
        for _ in range(_MAX_REDIRECTS + 1):
            _check_url(url, settings)
            timeout = _remaining(deadline, settings)
            with client.stream("GET", url, timeout=timeout) as response:
                hop = _next_hop(url, response)
                if hop is None:
                    data = bytearray()
                    for chunk in response.iter_bytes():
                        _remaining(deadline, settings)
                        data += chunk
                        if len(data) > settings.max_media_bytes:
                            raise _too_large(settings)
                    return bytes(data)
            url = hop
    msg = f"more than {_MAX_REDIRECTS} redirects"
    raise MediaError(msg)


async def _adownload(url: str, settings: Settings) -> bytes:
    options = client_options(settings.timeout, _async_transport)
    async with httpx2.AsyncClient(**options, trust_env=False) as client:
        for _ in range(_MAX_REDIRECTS + 1):
            await _acheck_url(url, settings)
            async with client.stream("GET", url) as response:
                hop = _next_hop(url, response)
                if hop is None:
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > settings.max_media_bytes:
                            raise _too_large(settings)
                    return bytes(data)
            url = hop
    msg = f"more than {_MAX_REDIRECTS} redirects"
    raise MediaError(msg)


def _download_error(exc: Exception) -> MediaError:
    return MediaError(f"the URL could not be downloaded ({type(exc).__name__})")


def _local(value: Any, settings: Settings) -> Media | None:
    """Everything that needs no network: bytes, data URIs, paths, base64."""
    if isinstance(value, bytes | bytearray | memoryview):
        return _checked(bytes(value), settings, "input")
    text = str(value).strip()
    if text.startswith(("http://", "https://")):
        return None
    if "://" in text[:16]:
        _split(text)  # another scheme: refused with the URL message
    if not text.startswith("data:"):
        from_path = _read_path(text, settings)
        if from_path is not None:
            return from_path
    data = _decode_base64(text)
    if data is None:
        msg = "the input is not a path, an http(s) URL, a data URI or base64 text"
        raise MediaError(msg)
    return _checked(data, settings, "input")


def resolve_media(value: str | bytes, settings: Settings) -> Media:
    """Turn one media reference into bytes and a MIME type (blocking I/O for paths/URLs).

    Raises:
        MediaError: refused or unusable input; nothing has been sent to the model.
    """
    media = _local(value, settings)
    if media is not None:
        return media
    url = str(value).strip()
    try:
        return _checked(_download(url, settings), settings, "download")
    except httpx2.TimeoutException:
        raise _too_slow(settings) from None
    except httpx2.HTTPError as exc:
        raise _download_error(exc) from None


async def aresolve_media(value: str | bytes, settings: Settings) -> Media:
    """Async twin of :func:`resolve_media` (local files are small reads, done inline)."""
    media = _local(value, settings)
    if media is not None:
        return media
    url = str(value).strip()
    try:
        # Cancelling the whole coroutine holds every hop, chunk and stall to one deadline.
        data = await asyncio.wait_for(_adownload(url, settings), settings.timeout)
    except (TimeoutError, httpx2.TimeoutException):
        raise _too_slow(settings) from None
    except httpx2.HTTPError as exc:
        raise _download_error(exc) from None
    return _checked(data, settings, "download")
