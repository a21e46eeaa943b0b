"""The binary parts (images, masks, audio) of a tool's output, as bytes and a content type.

The outputs with binary parts (``hf_tools.tasks._base.SavesFiles``) keep them as ``bytes``
fields (``TextToImageOutput.image``, each ``Segment.mask``), so they are read from memory:
the field's name says what a part is, the bytes' signature its type (a declared ``mime``
field is used only when the signature says nothing, and only for images, audio and video).
An output that keeps its bytes elsewhere is saved to a temporary folder and read back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hf_tools.mime import EXTENSIONS, detect_mime
from hf_tools.mime import extension as mime_extension
from hf_tools.tasks._base import SavesFiles

__all__ = ["OCTET_STREAM", "Part", "binary_parts", "extension"]

OCTET_STREAM = "application/octet-stream"
# Content types a browser may render inline: raster images, audio, video (never SVG or HTML,
# which can run script; nor QuickTime, which most browsers do not play).
_INLINE = frozenset(EXTENSIONS) - {"video/quicktime"}


@dataclass(frozen=True)
class Part:
    """One binary part: what it is (``image``, ``mask``, ``audio``...), its type, its bytes."""

    kind: str
    content_type: str
    data: bytes


def extension(content_type: str) -> str:
    """The file extension of a content type this module gives (``bin`` for anything else)."""
    return mime_extension(content_type) if content_type in _INLINE else "bin"


def _content_type(data: bytes, declared: object) -> str:
    sniffed = detect_mime(data)
    if sniffed is not None:
        return sniffed
    return declared if isinstance(declared, str) and declared in _INLINE else OCTET_STREAM


def _walk(model: BaseModel) -> Iterator[Part]:
    declared = getattr(model, "mime", None)
    for name, value in model:  # declared fields, then extra ones
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, bytes | bytearray) and item:
                yield Part(name, _content_type(bytes(item), declared), bytes(item))
            elif isinstance(item, BaseModel):
                yield from _walk(item)


def _saved(output: SavesFiles) -> list[Part]:
    with tempfile.TemporaryDirectory(prefix="hf-tools-artifact-") as folder:
        paths = output.save(Path(folder))
        parts = []
        for path in paths:
            data = path.read_bytes()
            content_type = _content_type(data, None)
            parts.append(Part(content_type.partition("/")[0] or "file", content_type, data))
        return parts


def binary_parts(output: Any) -> list[Part]:
    """The binary parts of a tool's output (artifact), in order; [] when it has none."""
    if not isinstance(output, BaseModel):
        return []
    parts = list(_walk(output))
    if not parts and isinstance(output, SavesFiles):
        # A copy: save() records paths on the output, and this folder is gone afterwards.
        return _saved(output.model_copy(deep=True))
    return parts
