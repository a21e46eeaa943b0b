"""Image and audio inputs: path, http(s) URL, data URI, base64 text or bytes -> (bytes, MIME).

The type is detected from magic bytes, never trusted from a name. Refusals raise
:class:`~hf_tools.errors.MediaError`, whose message tells an LLM what to pass instead.
"""

from __future__ import annotations

import base64
import binascii

from hf_tools.config import Settings
from hf_tools.errors import MediaError
from hf_tools.tasks._base import Media

__all__ = ["Media", "aresolve_media", "detect_mime", "resolve_media"]

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"fLaC", 0, "audio/flac"),
    (b"OggS", 0, "audio/ogg"),
    (b"ID3", 0, "audio/mpeg"),
    (b"\x1a\x45\xdf\xa3", 0, "audio/webm"),
)


def detect_mime(data: bytes) -> str | None:
    """The MIME type of an image/audio file from its first bytes, or None."""
    for magic, offset, mime in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "audio/mpeg"
    return None


def _from_bytes(data: bytes, settings: Settings, what: str) -> Media:
    if not data:
        msg = f"the {what} is empty"
        raise MediaError(msg)
    if len(data) > settings.max_media_bytes:
        msg = f"the {what} is {len(data)} bytes; the limit is {settings.max_media_bytes}"
        raise MediaError(msg)
    mime = detect_mime(data)
    if mime is None:
        msg = f"the {what} is not a recognized image or audio file"
        raise MediaError(msg)
    return Media(data, mime)


def _decode_text(value: str) -> bytes | None:
    text = value.strip()
    if text.startswith("data:"):
        header, _, body = text.partition(",")
        if ";base64" not in header:
            msg = "data URIs must be base64 encoded (data:<mime>;base64,...)"
            raise MediaError(msg)
        text = body
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def resolve_media(value: str | bytes, settings: Settings) -> Media:
    """Turn one media reference into bytes and a MIME type (blocking I/O for paths/URLs).

    Raises:
        MediaError: the input is empty, too large, unreadable or not image/audio.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return _from_bytes(bytes(value), settings, "input")
    data = _decode_text(value)
    if data is None:
        msg = "the input is not base64 text or a data URI"
        raise MediaError(msg)
    return _from_bytes(data, settings, "input")


async def aresolve_media(value: str | bytes, settings: Settings) -> Media:
    """Async twin of :func:`resolve_media`."""
    return resolve_media(value, settings)
