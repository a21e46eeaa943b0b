"""What the generating tasks (images, speech, image edits, video) share: files, sizes, types.

Their outputs hold bytes that never go into an LLM's content: ``save`` writes them to the
output directory under a content-addressed name (:mod:`hf_tools.artifacts`), and
``render`` says what was made, how big, and where it went.
"""

from __future__ import annotations

import struct
from pathlib import Path

from hf_tools.errors import ResponseFormatError

__all__ = [
    "kilobytes",
    "require_mime",
    "saved_to",
    "video_mime",
    "wav_seconds",
]


def kilobytes(data: bytes) -> str:
    """``25 KB`` (at least 1): the size an LLM reads."""
    return f"{max(1, round(len(data) / 1024)):,} KB"


def saved_to(path: Path | None) -> str:
    """``, saved to PATH`` once the tool wrote the file, else nothing."""
    return f", saved to {path}" if path else ""


def video_mime(data: bytes) -> str | None:
    """The MIME type of a video file from its first bytes (MP4/QuickTime, WebM, GIF), or None.

    Providers label videos ``application/octet-stream`` (fal), so the bytes decide.
    """
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"  # Matroska/WebM: the same magic as audio/webm, a video here
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"  # some video models answer an animated GIF
    return None


def wav_seconds(data: bytes) -> float | None:
    """The duration of a PCM WAV file from its header, or None when it is not one."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk == b"fmt " and pos + 20 <= len(data):
            byte_rate = struct.unpack("<I", data[pos + 16 : pos + 20])[0]
        elif chunk == b"data":
            # A streamed WAV says 0 or 0xFFFFFFFF here: what follows is the data.
            length = size if 0 < size < 0xFFFFFFFF else len(data) - pos - 8
            return length / byte_rate if byte_rate else None
        pos += 8 + size + (size & 1)
    return None


def require_mime(mime: str | None, kind: str, data: bytes, task: str) -> str:
    """``mime`` when it is of ``kind`` (``audio``, ``video``...); else a format error."""
    if mime is None or not mime.startswith(kind):
        msg = f"the server answered {len(data)} bytes that are not {kind}"
        raise ResponseFormatError(msg, task=task)
    return mime
