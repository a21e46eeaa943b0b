"""Image and audio inputs: path, http(s) URL, data URI, base64 text or bytes -> (bytes, MIME).

The type is detected from magic bytes, never trusted from a name or a header. Safe by default:
local paths only inside the allowed roots, URLs only to public addresses (every redirect hop
re-checked), downloads capped in size and in time (``settings.timeout`` for the whole download,
every hop and chunk included). Every refusal, and every text that cannot be read as a media
reference at all, raises :class:`~hf_tools.errors.MediaError`, whose message tells an LLM what
to pass instead.

What a text is (URL, data URI, base64 or path) is decided from the text alone, in linear time,
before any file-system work. A file is opened once and judged by the opened descriptor, so it
cannot be swapped between the check and the read. A URL's host is resolved once, checked, and
the connection goes to that checked address (Host header and TLS name kept), so a DNS answer
that changes between the check and the connection (rebinding) is not followed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import logging
import os
import re
import stat
from collections.abc import Callable, Generator, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin

import httpx2

from hf_tools.config import RetryPolicy, Settings
from hf_tools.errors import (
    APIError,
    HFTimeoutError,
    MediaError,
    ResponseTooLargeError,
    excerpt,
)
from hf_tools.http import (
    USER_AGENT,
    HFRequest,
    RawResponse,
    aread_body,
    aresolve,
    async_pool,
    read_body,
    resolve,
    send_async,
    send_sync,
    sync_pool,
    time_left,
)
from hf_tools.mime import detect_mime, image_size
from hf_tools.tasks._base import Media

__all__ = [
    "Media",
    "acheck_url",
    "afetch",
    "aresolve_media",
    "check_url",
    "detect_mime",
    "fetch",
    "image_size",
    "resolve_media",
]

log = logging.getLogger(__name__)

_MAX_REDIRECTS = 5
# Longer than any path the OS accepts (Linux PATH_MAX): such a text can only be base64.
_PATH_MAX = 4096
# Async callers decode base64 longer than this in a thread, off the event loop.
_INLINE_DECODE = 64 * 1024
# Tests swap these in; None: the real resolver (looked up when called) and transport.
_getaddrinfo: Callable[..., list[Any]] | None = None
_transport: httpx2.BaseTransport | None = None
_async_transport: httpx2.AsyncBaseTransport | None = None


def _shown(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` and escaped where unprintable: safe inside any message.

    A lone surrogate or a control character copied into a message would break whoever encodes
    it next (a terminal, a JSON response), far from here.
    """
    cut = excerpt(text, limit + 1)  # the key redacted before the cut (a result URL's ?sig=)
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in cut)


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


# ---- what a text is: decided from the text alone, in linear time

Kind = Literal["url", "data", "base64", "path"]
_BASE64_ALPHABET = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _refuse_unreadable_text(text: str) -> None:
    """MediaError for text no file system, URL parser or decoder can take (NUL, surrogates)."""
    if "\x00" in text:
        msg = "the input contains a NUL character (\\x00); pass the path, URL or base64 as is"
        raise MediaError(msg)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        msg = "the input contains a lone surrogate, which is not valid Unicode text"
        raise MediaError(msg) from None


def _kind(text: str) -> Kind:
    """Whether ``text`` is a URL, a data URI, base64 or a path: no I/O, linear time.

    Base64 has no dots, dashes, spaces or tildes, so any of them makes a path; pure base64
    alphabet is a path only with a "/" in it and no image/audio inside (JPEG base64 starts
    with "/9j/"), and only when short enough to be a path at all.
    """
    head = text[:16].lower()
    if head.startswith(("http://", "https://")):
        return "url"
    if head.startswith("data:"):
        return "data"
    if "://" in head:
        msg = f"only http(s) URLs are accepted, got {_shown(text)}"
        raise MediaError(msg)
    if len(text) > _PATH_MAX or "\n" in text or "\r" in text:
        return "base64"
    if _BASE64_ALPHABET.fullmatch(text) is None:
        return "path"
    if "/" not in text:
        return "base64"
    data = _decode_base64(text)
    return "base64" if data is not None and detect_mime(data) is not None else "path"


def _decode_base64(text: str) -> bytes | None:
    if text[:5].lower() == "data:":
        header, _, body = text.partition(",")
        if ";base64" not in header.lower():
            msg = "data URIs must be base64 encoded (data:<mime>;base64,...)"
            raise MediaError(msg)
        text = body
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _from_base64(text: str, settings: Settings) -> Media:
    data = _decode_base64(text)
    if data is None:
        msg = "the input is not a path, an http(s) URL, a data URI or base64 text"
        raise MediaError(msg)
    return _checked(data, settings, "input")


# ---- local files: one open, judged by the descriptor, read with the cap

# O_NOFOLLOW: the last component was resolved already, a symlink there now is a swap.
# O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused once open).
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def _no_file(text: str) -> MediaError:
    # One answer for missing, not a regular file and outside: it never tells what exists.
    msg = f"file not found: {_shown(text)} (or it is not a regular file, or it is outside the "
    return MediaError(msg + "folders this tool may read)")


def _roots(settings: Settings) -> tuple[Path, ...]:
    """The folders files may come from; () when none, or when the default would be ``/``."""
    try:
        roots = settings.media_roots()
    except OSError:  # the working directory was removed
        return ()
    if settings.allowed_roots is None and roots[0] == Path(roots[0].anchor):
        # The default is meant as "this project's folder"; at "/" it would be every file.
        log.warning("working directory is %s: local media refused; set allowed_roots", roots[0])
        return ()
    return roots


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _opened_inside(fd: int, roots: tuple[Path, ...]) -> bool:
    """Whether the file behind ``fd`` is inside ``roots``, per the kernel (Linux /proc)."""
    try:
        where = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc: the O_NOFOLLOW open of the checked path stands
        return True
    return _inside(Path(where), roots)


def _read_capped(fd: int, cap: int) -> bytes | None:
    """Up to ``cap`` bytes of ``fd``; None when there are more (sizes can lie: /proc, growth)."""
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, min(1 << 20, cap + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            return None
    return b"".join(chunks)


def _read_file(text: str, settings: Settings) -> Media:
    """Read a local file inside the allowed roots (blocking: async callers use a thread)."""
    roots = _roots(settings)
    if not roots:
        msg = f"local files are not accepted here: {_shown(text)}"
        raise MediaError(msg)
    try:
        # resolve() follows symlinks: a link out of the roots is refused too.
        real = Path(text).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # RuntimeError: no home, or a loop on 3.10
        raise _no_file(text) from None
    if not _inside(real, roots):
        raise _no_file(text)
    cap = settings.max_media_bytes
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError:
        raise _no_file(text) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not _opened_inside(fd, roots):
            raise _no_file(text)
        data = _read_capped(fd, cap) if info.st_size <= cap else None
    except OSError:  # e.g. /proc/self/mem: a "regular file" that refuses to be read
        raise _no_file(text) from None
    finally:
        os.close(fd)
    if data is None:
        msg = f"the file {_shown(text)} is larger than {cap} bytes"
        raise MediaError(msg)
    return _checked(data, settings, f"file {_shown(text)}")


# ---- URLs: parsed once, the host resolved once, the connection pinned to the checked address

# The IANA special-purpose address registries (iana-ipv4-special-registry and
# iana-ipv6-special-registry, 2025), every entry, plus multicast: nothing in them is a place
# to download an image from. Translation prefixes (IPv4-mapped, NAT64 64:ff9b::/96, 6to4)
# are judged by the IPv4 address inside instead, in _refused_address.
_SPECIAL_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.31.196.0/24",
        "192.52.193.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "192.175.48.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
    )
)
_SPECIAL_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",
        "::1/128",
        "::/96",  # deprecated IPv4-compatible addresses
        "64:ff9b:1::/48",
        "100::/64",
        "100:0:0:1::/64",
        "2001::/23",  # IETF protocol assignments: Teredo, benchmarking, AMT, AS112, ORCHID...
        "2001:db8::/32",
        "2620:4f:8000::/48",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",  # deprecated site-local
        "ff00::/8",
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _special(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    table: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    table = _SPECIAL_V4 if isinstance(ip, ipaddress.IPv4Address) else _SPECIAL_V6
    # Python's own flags as well: they also cover the unassigned (reserved) IPv6 space.
    return any(ip in net for net in table) or ip.is_reserved or not ip.is_global


def _refused_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``ip`` is not a public internet address, an IPv4 inside IPv6 judged too."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _special(ip)
    # Mapped, NAT64 and 6to4 addresses only carry an IPv4 address: judge that one.
    if ip.ipv4_mapped is not None:
        return _special(ip.ipv4_mapped)
    if ip in _NAT64:
        return _special(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        return _special(ip.sixtofour)
    return _special(ip)


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _bad_url(url: str, why: str) -> MediaError:
    return MediaError(f"the URL {_shown(url)} {why}")


def _host_of(url: httpx2.URL, text: str) -> str:
    """The URL's host, ASCII (IDNA) and well formed: a DNS name or an IP literal."""
    host = url.raw_host.decode("ascii")
    if ":" in host:  # httpx2 keeps IPv6 literals without their brackets
        if "%" in host:
            raise _bad_url(text, "has an IPv6 zone id; use a public address or host name")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _bad_url(text, "has an invalid IPv6 address") from None
        return host
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not host or len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _bad_url(text, "has no valid host name (labels of 1-63 letters, digits or '-')")
    return host


def _parse_url(text: str) -> tuple[httpx2.URL, str, int]:
    r"""(URL, ASCII host, port) of an http(s) URL, or a MediaError saying what is wrong.

    The URL is parsed once, here, and that parse is both checked and fetched: no second
    parser may read the host differently (full-width dots, "@", "\" tricks).
    """
    try:
        url = httpx2.URL(text)
    except (httpx2.InvalidURL, ValueError):  # bad port, bracket, IDNA label, NFKC form...
        raise _bad_url(text, "is not a valid http(s) URL") from None
    if url.scheme not in ("http", "https"):
        msg = f"only http(s) URLs are accepted, got {_shown(text)}"
        raise MediaError(msg)
    if url.userinfo:
        raise _bad_url(text, "carries a user name or password; pass a URL without them")
    port = url.port if url.port is not None else (443 if url.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise _bad_url(text, "has a port outside 1-65535")
    return url, _host_of(url, text), port


def _lookup(host: str, port: int, wait: float) -> list[str]:
    """Addresses of ``host``, within ``wait`` s and the call's deadline (a capped thread).

    Raises:
        MediaError: the name has no address.
        httpx2.ConnectTimeout: the lookup took too long (a timeout like any other).
    """
    try:
        return resolve(host, port, wait, _getaddrinfo)
    except TimeoutError as exc:
        raise httpx2.ConnectTimeout(str(exc)) from None
    except OSError:
        msg = f"the URL host {host} could not be resolved"
        raise MediaError(msg) from None


async def _alookup(host: str, port: int, wait: float) -> list[str]:
    """:func:`_lookup` without blocking the event loop."""
    try:
        return await aresolve(host, port, wait, _getaddrinfo)
    except TimeoutError as exc:
        raise httpx2.ConnectTimeout(str(exc)) from None
    except OSError:
        msg = f"the URL host {host} could not be resolved"
        raise MediaError(msg) from None


def _pinned_address(host: str, addresses: list[str], settings: Settings) -> str:
    """The address to connect to: the first, once every one of them passed the check."""
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not settings.allow_private_urls and _refused_address(ip):
            msg = f"the URL host {host} is not a public address (private, loopback or link-local, "
            msg += "or another reserved range)"
            raise MediaError(msg)
    return addresses[0].split("%")[0]


_Target = tuple[httpx2.URL, str, str]  # (URL as written, its ASCII host, the checked address)


def _target(text: str, settings: Settings) -> _Target:
    url, host, port = _parse_url(text)
    return url, host, _pinned_address(host, _lookup(host, port, settings.timeout), settings)


async def _atarget(text: str, settings: Settings) -> _Target:
    url, host, port = _parse_url(text)
    addresses = await _alookup(host, port, settings.timeout)
    return url, host, _pinned_address(host, addresses, settings)


def check_url(text: str, settings: Settings) -> None:
    """Refuse a URL whose host does not resolve to public addresses (``MediaError``).

    The check alone: a fetch must go through :func:`fetch`, which connects to the address
    it checked.
    """
    _target(text, settings)


async def acheck_url(text: str, settings: Settings) -> None:
    """:func:`check_url`, the lookup awaited off the event loop."""
    await _atarget(text, settings)


# ---- the one downloader: every URL a user passes or a server hands back is fetched here


def _pinned_request(
    client: httpx2.Client | httpx2.AsyncClient, target: _Target, request: HFRequest
) -> httpx2.Request:
    """``request`` sent to the checked address, the host kept as Host header and TLS name."""
    url, host, address = target
    headers = httpx2.Headers(request.headers)
    headers["host"] = url.netloc.decode("ascii")
    return client.build_request(
        request.method,
        url.copy_with(host=address),
        headers=headers,
        content=request.content,
        timeout=request.timeout,
        extensions={"sni_hostname": host} if url.scheme == "https" else {},
    )


def _hops(request: HFRequest, follow: bool) -> Generator[HFRequest, httpx2.Response, None]:
    """The requests of one fetch: ``request``, then, with ``follow``, each redirect's GET.

    The driver sends each hop to its own checked address and sends back the response; the
    flow ends at the first response that is not a redirect to follow.
    """
    for _ in range(_MAX_REDIRECTS + 1):
        response = yield request
        if not (follow and response.is_redirect and "location" in response.headers):
            return
        location = urljoin(request.url, response.headers["location"])
        request = replace(request, url=location, method="GET", content=b"")
        left = time_left()
        if left is not None and left <= 0:  # a hop may be quick, the chain must not be long
            msg = "the deadline passed during the redirects"
            raise httpx2.ConnectTimeout(msg)
    msg = f"more than {_MAX_REDIRECTS} redirects"
    raise MediaError(msg)


def _pinned_exchange(
    settings: Settings, follow: bool, client: httpx2.Client, request: HFRequest
) -> RawResponse:
    """One attempt of :func:`fetch` with blocking I/O: every hop resolved, checked, pinned."""
    hops = _hops(request, follow)
    hop = next(hops)
    while True:
        response = client.send(
            _pinned_request(client, _target(hop.url, settings), hop), stream=True
        )
        try:
            hop = hops.send(response)
        except StopIteration:
            break
        except BaseException:
            response.close()
            raise
        response.close()
    try:
        return RawResponse(response.status_code, response.headers, read_body(response, request))
    finally:
        response.close()


async def _apinned_exchange(
    settings: Settings, follow: bool, client: httpx2.AsyncClient, request: HFRequest
) -> RawResponse:
    """The asyncio twin of :func:`_pinned_exchange`."""
    hops = _hops(request, follow)
    hop = next(hops)
    while True:
        target = await _atarget(hop.url, settings)
        response = await client.send(_pinned_request(client, target, hop), stream=True)
        try:
            hop = hops.send(response)
        except StopIteration:
            break
        except BaseException:
            await response.aclose()
            raise
        await response.aclose()
    try:
        return RawResponse(
            response.status_code, response.headers, await aread_body(response, request)
        )
    finally:
        await response.aclose()


def fetch(
    request: HFRequest,
    settings: Settings,
    *,
    follow: bool,
    policy: RetryPolicy | None = None,
    transport: httpx2.BaseTransport | None = None,
) -> RawResponse:
    """Send ``request`` to a URL nobody vouches for (a user's, or one a server handed back).

    The host is resolved once, inside the call's deadline (:func:`hf_tools.http.resolve`);
    every address must be public (unless ``allow_private_urls``); the connection goes to the
    checked address, Host header and TLS name (SNI) kept; with ``follow`` each redirect hop
    is checked the same way (at most 5), without it a 3xx is the answer. The body is capped
    by ``request.max_body``, every read is bounded by the deadline, no proxy is used, and no
    connection is shared with another host. Retries as ``policy`` says (default
    ``settings.retry``); errors as :func:`hf_tools.http.send_sync` raises them. ``transport``:
    the one a caller gave its client, if any (the request still names the checked address).

    Raises:
        MediaError: the URL is malformed, its host does not resolve or is not public, or it
            redirects more than 5 times.
    """
    exchange = partial(_pinned_exchange, settings, follow)
    with sync_pool(settings.timeout, transport or _transport, trust_env=False) as client:
        return send_sync(client, request, policy or settings.retry, exchange)


async def afetch(
    request: HFRequest,
    settings: Settings,
    *,
    follow: bool,
    policy: RetryPolicy | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> RawResponse:
    """The asyncio twin of :func:`fetch`."""
    exchange = partial(_apinned_exchange, settings, follow)
    sends = transport or _async_transport
    async with async_pool(settings.timeout, sends, trust_env=False) as client:
        return await send_async(client, request, policy or settings.retry, exchange)


# A media input is fetched once: a failure is the user's URL, not a hiccup to wait out.
_ONE_ATTEMPT = RetryPolicy(max_retries=0)


def _media_request(url: str, settings: Settings) -> HFRequest:
    return HFRequest(
        url,
        httpx2.Headers({"user-agent": USER_AGENT}),
        b"",
        timeout=settings.timeout,
        max_body=settings.max_media_bytes,
        method="GET",
    )


def _too_large(settings: Settings) -> MediaError:
    return MediaError(f"the download is larger than {settings.max_media_bytes} bytes")


def _too_slow(settings: Settings) -> MediaError:
    msg = f"the download did not finish within {settings.timeout:g} s: the URL is too slow;"
    return MediaError(msg + " try another URL or a smaller file")


def _downloaded(raw: RawResponse, settings: Settings) -> Media:
    if raw.status_code >= 300:  # a redirect with no Location
        msg = f"the URL answered HTTP {raw.status_code}"
        raise MediaError(msg)
    return _checked(raw.content, settings, "download")


def _download_error(exc: APIError, settings: Settings) -> MediaError:
    """What a failed media download tells the LLM (never the provider error classes)."""
    if isinstance(exc, HFTimeoutError):
        return _too_slow(settings)
    if isinstance(exc, ResponseTooLargeError):
        return _too_large(settings)
    if exc.status_code is not None:
        return MediaError(f"the URL answered HTTP {exc.status_code}")
    return MediaError(f"the URL could not be downloaded ({exc.message})")


def _text_of(value: Any) -> str:
    text = str(value).strip()
    _refuse_unreadable_text(text)
    if not text:
        msg = "the input is empty: pass a path, an http(s) URL, a data URI or base64 text"
        raise MediaError(msg)
    return text


def _local(text: str, kind: Kind, settings: Settings) -> Media:
    """Everything that needs no network: data URIs, base64 and paths (blocking for paths)."""
    return _read_file(text, settings) if kind == "path" else _from_base64(text, settings)


def resolve_media(value: str | bytes, settings: Settings) -> Media:
    """Turn one media reference into bytes and a MIME type (blocking I/O for paths/URLs).

    Raises:
        MediaError: refused or unusable input; nothing has been sent to the model.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return _checked(bytes(value), settings, "input")
    text = _text_of(value)
    kind = _kind(text)
    if kind != "url":
        return _local(text, kind, settings)
    try:
        raw = fetch(_media_request(text, settings), settings, follow=True, policy=_ONE_ATTEMPT)
    except APIError as exc:
        raise _download_error(exc, settings) from None
    return _downloaded(raw, settings)


async def aresolve_media(value: str | bytes, settings: Settings) -> Media:
    """Async twin of :func:`resolve_media`; file reads and long decodes run in a thread."""
    if isinstance(value, bytes | bytearray | memoryview):
        return _checked(bytes(value), settings, "input")
    text = _text_of(value)
    kind = _kind(text)
    if kind != "url":
        if kind == "path" or len(text) > _INLINE_DECODE:
            return await asyncio.to_thread(_local, text, kind, settings)
        return _local(text, kind, settings)
    request = _media_request(text, settings)
    try:
        raw = await afetch(request, settings, follow=True, policy=_ONE_ATTEMPT)
    except APIError as exc:
        raise _download_error(exc, settings) from None
    return _downloaded(raw, settings)
