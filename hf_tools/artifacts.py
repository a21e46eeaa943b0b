"""JSON-safe outputs and their binary parts, the same for every host.

One rule for bytes: an output model's binary field is :data:`Base64Bytes` — ``bytes`` in
Python, standard base64 text (RFC 4648, no line breaks) in JSON, decoded back on validation —
so every ``<Task>Output`` round-trips ``model_dump_json()`` -> ``model_validate_json()``
unchanged, and goes into JSONL, MCP structured content, checkpointers and traces.

:func:`binary_parts` finds the binary pieces of any output (generated images, masks, audio,
video) as :class:`BinaryPart` (bytes, MIME type, suggested name); :func:`save_part` writes one
under a content-addressed name (``<kind>_<sha256[:16]>.<ext>``): the same bytes get the same
name, different bytes never overwrite a file an earlier answer points at.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    PlainSerializer,
    SerializationInfo,
    WithJsonSchema,
)

from hf_tools.mime import EXTENSIONS, detect_mime, extension

__all__ = [
    "OCTET_STREAM",
    "Base64Bytes",
    "BinaryPart",
    "binary_parts",
    "content_name",
    "save_output",
    "save_part",
    "summary",
]

OCTET_STREAM = "application/octet-stream"


def _from_json(value: Any) -> Any:
    # JSON carries bytes as base64 text; Python callers pass bytes, kept as they are.
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            msg = "expected base64 text for binary data"
            raise ValueError(msg) from exc
    return value


_SUMMARY = "hf_tools.binary_summary"


def _to_json(value: bytes, info: SerializationInfo) -> str:
    context = info.context
    if isinstance(context, dict) and context.get(_SUMMARY):
        return f"<{len(value)} bytes>"
    return base64.b64encode(value).decode("ascii")


Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_from_json),
    PlainSerializer(_to_json, return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
"""Bytes that travel as base64 text in JSON: the one rule every output's binary field uses."""


def summary(output: BaseModel) -> dict[str, Any]:
    """The output's JSON form with each binary field as ``"<N bytes>"``: for people to read."""
    return output.model_dump(mode="json", context={_SUMMARY: True})


def content_name(kind: str, data: bytes, mime: str) -> str:
    """``<kind>_<sha256[:16]>.<ext>``: the file name of ``data`` (same bytes, same name)."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    return f"{kind}_{digest}.{extension(mime)}"


@dataclass(frozen=True, slots=True)
class BinaryPart:
    """One binary piece of an output.

    Attributes:
        data: the bytes.
        mime: their MIME type, from their signature (a declared ``mime`` field when the bytes
            say nothing); ``application/octet-stream`` when unknown.
        name: the suggested, content-addressed file name (:func:`content_name`).
        kind: what it is, the output field holding it (``image``, ``mask``, ``audio``...).
    """

    data: bytes
    mime: str
    name: str
    kind: str

    def __repr__(self) -> str:
        return f"BinaryPart(name={self.name!r}, mime={self.mime!r}, bytes={len(self.data)})"


def _mime(data: bytes, declared: object) -> str:
    sniffed = detect_mime(data)
    if sniffed is not None:
        return sniffed
    return declared if isinstance(declared, str) and declared in EXTENSIONS else OCTET_STREAM


def _walk(model: BaseModel) -> Iterator[tuple[BaseModel, str, BinaryPart]]:
    declared = getattr(model, "mime", None)
    for field, value in model:  # declared fields, then extra ones
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, bytes | bytearray) and item:
                data = bytes(item)
                mime = _mime(data, declared)
                yield model, field, BinaryPart(data, mime, content_name(field, data, mime), field)
            elif isinstance(item, BaseModel):
                yield from _walk(item)


def _saved(output: Any) -> list[BinaryPart]:
    """The parts of an output that keeps its bytes where no field shows them: its ``save``."""
    with tempfile.TemporaryDirectory(prefix="hf-tools-artifact-") as folder:
        parts = []
        for path in output.save(Path(folder)):
            data = Path(path).read_bytes()
            mime = _mime(data, None)
            kind = mime.partition("/")[0] if mime != OCTET_STREAM else "file"
            parts.append(BinaryPart(data, mime, content_name(kind, data, mime), kind))
        return parts


def binary_parts(output: Any) -> list[BinaryPart]:
    """The binary parts of an output (a tool's artifact), in order; [] when it has none.

    Read from the output's bytes fields (the field's name is the part's kind, the bytes'
    signature its type; a declared ``mime`` field counts only when the signature says
    nothing, and only for the image, audio and video types of :data:`hf_tools.mime.EXTENSIONS`).
    An output with a ``save`` method and no bytes fields is saved to a temporary folder
    and read back.
    """
    if not isinstance(output, BaseModel):
        return []
    parts = [part for _, _, part in _walk(output)]
    if not parts and callable(getattr(output, "save", None)):
        # A copy: save() may record paths on the output, and this folder is gone afterwards.
        return _saved(output.model_copy(deep=True))
    return parts


def save_part(part: BinaryPart, directory: Path) -> Path:
    """Write ``part`` to ``directory`` under its content-addressed name; return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / part.name
    path.write_bytes(part.data)
    return path


def save_output(output: BaseModel, directory: Path) -> list[Path]:
    """Write every binary part of ``output``; a model with a ``path`` field records it there.

    The rendered text then says where each file went (``saved to PATH``).
    """
    paths = []
    for owner, _field, part in list(_walk(output)):
        path = save_part(part, directory)
        if "path" in type(owner).model_fields:
            owner.path = path  # type: ignore[attr-defined]
        paths.append(path)
    return paths
