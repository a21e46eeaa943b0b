"""image-segmentation: regions of an image, each with a label and a mask (kept out of content)."""

from __future__ import annotations

import base64
import binascii
import re
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.errors import ResponseFormatError
from hf_tools.tasks._base import (
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
    binary_payload,
    expect_list,
    fmt_score,
)
from hf_tools.tasks.image_classification import IMAGE_FIELD


class ImageSegmentationInput(ToolInput):
    """Arguments of the image_segmentation tool."""

    image: MediaRef = IMAGE_FIELD
    threshold: float | None = Field(default=None, ge=0, le=1, description="Min score to keep.")
    subtask: Literal["panoptic", "instance", "semantic"] | None = Field(
        default=None, description="For models with several kinds."
    )


class Segment(BaseModel):
    """One region: label, score, its mask as PNG bytes and the share of the image it covers."""

    model_config = ConfigDict(extra="allow")

    label: str
    score: float | None = None
    mask: bytes = Field(repr=False)
    coverage: float | None = Field(default=None, description="Share of mask pixels set, 0-1.")
    path: Path | None = None


class ImageSegmentationOutput(BaseModel):
    """Segments, best first; ``save`` writes the masks as PNG files."""

    model_config = ConfigDict(extra="allow")

    segments: list[Segment]

    def save(self, directory: Path) -> list[Path]:
        """Write each mask to ``directory`` and remember where."""
        paths = []
        for i, seg in enumerate(self.segments):
            name = re.sub(r"[^A-Za-z0-9_-]+", "_", seg.label)[:40] or "mask"
            seg.path = directory / f"mask_{i:02d}_{name}.png"
            seg.path.write_bytes(seg.mask)
            paths.append(seg.path)
        return paths


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def mask_coverage(png: bytes) -> float | None:
    """Share of non-zero pixels of an 8-bit grayscale PNG mask; None for other PNG kinds."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos, idat, header = 8, bytearray(), None
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        chunk = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    if header is None or header[2:5] != (8, 0, 0) or header[6] != 0:
        return None  # only 8-bit grayscale, not interlaced: what the service sends
    width, height = header[0], header[1]
    try:
        raw = zlib.decompress(bytes(idat))
    except zlib.error:
        return None
    prev, lit = bytearray(width), 0
    for row in range(height):
        start = row * (width + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + width])
        for x in range(width):
            left = line[x - 1] if x else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + prev[x]) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + prev[x]) // 2) & 0xFF
            elif kind == 4:
                line[x] = (line[x] + _paeth(left, prev[x], prev[x - 1] if x else 0)) & 0xFF
        lit += width - line.count(0)
        prev = line
    return lit / (width * height) if width and height else None


def build(args: ImageSegmentationInput, media: Mapping[str, Media]) -> Payload:
    """Raw image bytes, or base64 JSON with ``{"threshold", "subtask"}``."""
    params = {
        k: v for k, v in (("threshold", args.threshold), ("subtask", args.subtask)) if v is not None
    }
    return binary_payload(media["image"], params)


def parse(data: Any, args: ImageSegmentationInput) -> ImageSegmentationOutput:
    """``[{score, label, mask: base64 PNG}]``; masks decoded to bytes."""
    segments = []
    for item in expect_list(data, "image-segmentation", "a list of segments"):
        try:
            mask_text = str(item["mask"]).split(",")[-1]  # tolerate a data: URI prefix
            mask = base64.b64decode(mask_text, validate=True)
            extra = {k: v for k, v in item.items() if k not in Segment.model_fields}
            segments.append(
                Segment(
                    label=str(item["label"]),
                    score=item.get("score"),
                    mask=mask,
                    coverage=mask_coverage(mask),
                    **extra,  # unknown fields are kept, as everywhere
                )
            )
        except (KeyError, TypeError, binascii.Error, ValueError) as exc:
            msg = f"unexpected segment format ({type(exc).__name__})"
            raise ResponseFormatError(msg, task="image-segmentation") from None
    segments.sort(key=lambda s: s.score or 0.0, reverse=True)
    return ImageSegmentationOutput(segments=segments)


def render(out: ImageSegmentationOutput) -> str:
    """``LABEL_199 0.9151, covers 43.2% [saved: path]`` per segment; never the mask bytes."""
    if not out.segments:
        return "no segments found"
    lines = []
    for s in out.segments:
        score = fmt_score(s.score) if s.score is not None else "n/a"
        cover = f", covers {s.coverage:.1%}" if s.coverage is not None else ""
        saved = f", mask saved to {s.path}" if s.path else ""
        lines.append(f"{s.label} {score}{cover}{saved}")
    return "\n".join(lines) + "\n(masks are PNG images in the artifact)"


SPEC = TaskSpec(
    task="image-segmentation",
    description=(
        "Split an image into labelled regions. "
        "Returns each label, score and area share; masks are in the artifact."
    ),
    input_model=ImageSegmentationInput,
    output_model=ImageSegmentationOutput,
    build=build,
    parse=parse,
    render=render,
    default_model="facebook/detr-resnet-50-panoptic",
    example={"image": "tests/fixtures/image.png"},
    media_fields=("image",),
)
