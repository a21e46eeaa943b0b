"""image-segmentation: regions of an image, each with a label and a mask (kept out of content)."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat
from pydantic.json_schema import SkipJsonSchema

from hf_tools.artifacts import Base64Bytes, save_output
from hf_tools.errors import ResponseFormatError
from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
    binary_payload,
    expect_list,
    fmt_score,
    snippet,
    wire_parameters,
)
from hf_tools.tasks._parameters import ImageSegmentationParameters, ImageSegmentationPythonOnly
from hf_tools.tasks.image_classification import IMAGE_FIELD

_TASK = "image-segmentation"


class ImageSegmentationInput(ToolInput, ImageSegmentationPythonOnly):
    """Arguments of the image_segmentation tool."""

    image: MediaRef = IMAGE_FIELD
    threshold: float | None = Field(default=None, ge=0, le=1, description="Min score to keep.")
    # Only models with several kinds of segmentation read it: Python-only, off the schema.
    subtask: SkipJsonSchema[Literal["panoptic", "instance", "semantic"] | None] = None


class Segment(BaseModel):
    """One region: label, score, its mask as PNG bytes and the share of the image it covers."""

    model_config = ConfigDict(extra="allow")

    label: str
    score: FiniteFloat | None = None
    mask: Base64Bytes = Field(repr=False)
    coverage: float | None = Field(default=None, description="Share of mask pixels set, 0-1.")
    path: Path | None = None


class ImageSegmentationOutput(BaseModel):
    """Segments, best first; ``save`` writes the masks as PNG files."""

    model_config = ConfigDict(extra="allow")

    segments: list[Segment]

    def save(self, directory: Path) -> list[Path]:
        """Write the binary parts under content-addressed names (:mod:`hf_tools.artifacts`)."""
        return save_output(self, directory)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_MASK_PIXELS = 4096 * 4096
"""Masks whose header declares more pixels get no coverage (their bytes are still kept)."""
RESPONSE_WORK = 250_000_000
"""Work units (about 1 ns each) one response may spend on coverage; masks past it get none.

About a quarter of a second: real masks cost 5-40 M units each (512 px to 1024 px a side)."""
# Units per pixel, by PNG row filter: None and Up rows are decoded by whole-row integer
# operations, Sub by C iterators, Average and Paeth one pixel at a time in Python.
_ROW_COST = {0: 2, 1: 20, 2: 8, 3: 150, 4: 300}


@dataclass
class CoverageBudget:
    """What is left of one response's :data:`RESPONSE_WORK`, shared by its masks."""

    units: int = RESPONSE_WORK

    def spend(self, units: int) -> bool:
        """Take ``units`` if they are left; False (and nothing taken) otherwise."""
        if units > self.units:
            return False
        self.units -= units
        return True


def _gray8_header(png: bytes) -> tuple[int, int, int] | None:
    """(width, height, end of IHDR) of a non-interlaced 8-bit grayscale PNG, else None."""
    if not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR" or len(png) < 33:
        return None
    width, height, depth, color, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", png[16:29]
    )
    if (depth, color, compression, filtering, interlace) != (8, 0, 0, 0, 0):
        return None  # only 8-bit grayscale, not interlaced: what the service sends
    return width, height, 33


def _idat(png: bytes, pos: int) -> bytes:
    """The IDAT chunks' data joined (bounded by the PNG's own length)."""
    parts = []
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        if kind == b"IDAT":
            parts.append(png[pos + 8 : pos + 8 + length])
        elif kind == b"IEND":
            break
        pos += 12 + length
    return b"".join(parts)


def _inflate(data: bytes, size: int) -> bytes | None:
    """Exactly ``size`` bytes of zlib data, never more (a bomb stops there); None if short."""
    try:
        raw = zlib.decompressobj().decompress(data, size)
    except zlib.error:
        return None
    return raw if len(raw) == size else None


class _Lanes:
    """Byte-wise arithmetic mod 256 on a whole scanline held as one integer (no carries).

    Keeps None, Sub and Up rows out of per-pixel Python: a few big-integer operations a row.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.low7 = int.from_bytes(b"\x7f" * width, "little")
        self.high = self.low7 << 1 & ~self.low7  # bit 7 of every byte
        self.full = (1 << 8 * width) - 1

    def add(self, x: int, y: int) -> int:
        """Each byte of ``x + y`` mod 256."""
        return ((x & self.low7) + (y & self.low7)) ^ ((x ^ y) & self.high)

    def up(self, line: bytes, prev: bytes) -> bytes:
        """Undo the Up filter: add the row above."""
        x = self.add(int.from_bytes(line, "little"), int.from_bytes(prev, "little"))
        return x.to_bytes(self.width, "little")

    def sub(self, line: bytes) -> bytes:
        """Undo the Sub filter: running sums mod 256, by doubling (log2(width) steps)."""
        x, shift = int.from_bytes(line, "little"), 8
        while shift < 8 * self.width:
            x = self.add(x, x << shift & self.full)
            shift *= 2
        return x.to_bytes(self.width, "little")


def _average(line: bytes, prev: bytes) -> bytes:
    out = bytearray(len(line))
    left = 0
    for x, (v, up) in enumerate(zip(line, prev, strict=True)):
        left = out[x] = (v + ((left + up) >> 1)) & 255
    return bytes(out)


def _paeth(line: bytes, prev: bytes) -> bytes:
    out = bytearray(len(line))
    left = upleft = 0
    for x, (v, up) in enumerate(zip(line, prev, strict=True)):
        pa, pb, pc = abs(up - upleft), abs(left - upleft), abs(left + up - 2 * upleft)
        pred = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
        left = out[x] = (v + pred) & 255
        upleft = up
    return bytes(out)


def _unfilter(kind: int, line: bytes, prev: bytes, lanes: _Lanes) -> bytes | None:
    """One scanline with its PNG filter undone; None for an unknown filter type."""
    if kind == 0:
        return line
    if kind == 1 or (kind == 4 and not any(prev)):  # Paeth over a blank row is Sub
        return lanes.sub(line)
    if kind == 2:
        return lanes.up(line, prev)
    if kind == 3:
        return _average(line, prev)
    if kind == 4:
        return _paeth(line, prev)
    return None


def mask_coverage(png: bytes, budget: CoverageBudget | None = None) -> float | None:
    """Share of non-zero pixels of an 8-bit grayscale PNG mask, or None when unknown.

    None for other PNG kinds, malformed data (short IDAT, bad filter), a header declaring over
    :data:`MAX_MASK_PIXELS`, or when ``budget`` (one response's, shared) is spent. Memory is
    bounded by the declared size: the data is never inflated past it.
    """
    header = _gray8_header(png)
    if header is None:
        return None
    width, height, pos = header
    if not 0 < width * height <= MAX_MASK_PIXELS:
        return None
    budget = budget or CoverageBudget()
    row = width + 1
    if not budget.spend(row * height):
        return None
    raw = _inflate(_idat(png, pos), row * height)
    if raw is None:
        return None
    lanes = _Lanes(width)
    prev, lit = bytes(width), 0
    for start in range(0, len(raw), row):
        kind = raw[start]
        if not budget.spend(_ROW_COST.get(kind, 0) * width):
            return None
        line = _unfilter(kind, raw[start + 1 : start + row], prev, lanes)
        if line is None:
            return None
        lit += width - line.count(0)
        prev = line
    return lit / (width * height)


def build(args: ImageSegmentationInput, media: Mapping[str, Media]) -> Payload:
    """Raw image bytes, or base64 JSON with ``{"threshold", "subtask"}``."""
    return binary_payload(media["image"], wire_parameters(ImageSegmentationParameters, args))


def _segment(item: Any, budget: CoverageBudget) -> Segment:
    if not isinstance(item, Mapping) or not isinstance(item.get("mask"), str):
        msg = f"expected a segment {{label, score, mask: base64 PNG}}, got {snippet(item)}"
        raise ResponseFormatError(msg, task=_TASK)
    mask = base64.b64decode(item["mask"].split(",")[-1], validate=True)  # data: URI tolerated
    extra = {k: v for k, v in item.items() if k not in Segment.model_fields}
    return Segment(
        label=str(item["label"]),
        score=item.get("score"),
        mask=mask,
        coverage=mask_coverage(mask, budget),
        **extra,  # unknown fields are kept, as everywhere
    )


def parse(data: Any, args: ImageSegmentationInput) -> ImageSegmentationOutput:
    """``[{score, label, mask: base64 PNG}]``; masks decoded to bytes, coverage within budget."""
    budget = CoverageBudget()  # one per response: many masks cannot add up to a long stall
    items = expect_list(data, _TASK, "a list of segments")
    segments = [_segment(item, budget) for item in items]
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
    task=_TASK,
    description=(
        "Split an image into labelled regions. "
        "Returns each label, score and area share; masks are in the artifact."
    ),
    input_model=ImageSegmentationInput,
    output_model=ImageSegmentationOutput,
    render=render,
    default_model="facebook/detr-resnet-50-panoptic",
    serving=(("hf-inference", "facebook/detr-resnet-50-panoptic"),),
    family="vision",
    example={"image": "tests/fixtures/image.png"},
    media_fields=("image",),
    hf_inference=HFInferenceWire(build, parse, parse_in_thread=True),
)
