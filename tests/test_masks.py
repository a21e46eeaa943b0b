"""Segmentation masks: coverage is exact for real masks and bounded for hostile ones.

A mask is a PNG the server sends; the coverage (share of pixels set) is decoded from it. The
work is bounded by the size the header declares, by a budget per response, and malformed PNGs
give "coverage unknown" (None), never an exception. Each hostile case is timed and its memory
measured with tracemalloc.
"""

from __future__ import annotations

import base64
import os
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_tools import REGISTRY, AsyncHFClient
from hf_tools.tasks import image_segmentation
from hf_tools.tasks.image_segmentation import CoverageBudget, mask_coverage

SPEC = REGISTRY["image-segmentation"]
INPUTS = SPEC.input_model.model_validate(SPEC.example)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, idat: bytes, *, color: int = 0) -> bytes:
    """An 8-bit PNG with the given header size and already compressed IDAT data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def reference_coverage(raw: bytes, width: int, height: int) -> float:
    """The PNG spec's unfiltering, pixel by pixel (the decoder this module replaced)."""
    prev, lit = bytearray(width), 0
    for row in range(height):
        start = row * (width + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + width])
        for x in range(width):
            left, upleft = (line[x - 1], prev[x - 1]) if x else (0, 0)
            predictor = [0, left, prev[x], (left + prev[x]) // 2, _paeth(left, prev[x], upleft)]
            line[x] = (line[x] + predictor[kind]) & 0xFF
        lit += width - line.count(0)
        prev = line
    return lit / (width * height)


def bounded(seconds: float, megabytes: float | None, work: Callable[[], Any]) -> Any:
    """``work()``, failing if it takes over ``seconds`` or allocates over ``megabytes``.

    Memory is measured in a second run (tracemalloc slows every allocation down), and only when
    ``megabytes`` is given: pixel-by-pixel work under tracemalloc takes seconds.
    """
    start = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - start
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    if megabytes is not None:
        tracemalloc.start()
        try:
            assert work() == result
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < megabytes * 1e6, f"peak {peak / 1e6:.1f} MB"
    return result


def _rows(width: int, kinds: list[int], values: Callable[[int], bytes]) -> bytes:
    return b"".join(bytes([kind]) + values(width) for kind in kinds)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 40),
    data=st.data(),
)
def test_coverage_matches_the_png_spec_for_every_filter(width: int, data: Any) -> None:
    kinds = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=12), label="filters")
    pixel = st.sampled_from([0, 0, 1, 128, 255]) | st.integers(0, 255)
    raw = b"".join(
        bytes([kind, *data.draw(st.lists(pixel, min_size=width, max_size=width))]) for kind in kinds
    )
    mask = png(width, len(kinds), zlib.compress(raw))
    assert mask_coverage(mask) == reference_coverage(raw, width, len(kinds))


def test_real_masks_keep_their_coverage() -> None:
    # The recorded answer's masks mix None, Sub, Up and Paeth rows.
    from .test_response_shapes import _templates

    (body,) = _templates("image-segmentation")
    out = SPEC.hf_inference.parse(body, INPUTS)
    assert [round(s.coverage or 0, 4) for s in out.segments] == [0.5076, 0.4924]


def test_a_forged_width_is_refused_without_allocating() -> None:
    mask = png(2**31 - 1, 2**31 - 1, zlib.compress(b"\x00" * 100))
    assert bounded(0.1, 1, lambda: mask_coverage(mask)) is None


def test_a_width_within_the_limit_but_a_short_idat_is_unknown() -> None:
    # 4096 x 4096 declared, 10 rows sent: the old decoder raised IndexError.
    mask = png(4096, 4096, zlib.compress(b"\x00" * 4097 * 10))
    assert bounded(0.5, 20, lambda: mask_coverage(mask)) is None


@pytest.mark.parametrize(
    "idat",
    [
        zlib.compress(b"\x00\xff\xff"),  # one row of two, short
        zlib.compress(b"\x07\xff\xff" * 2),  # filter type 7 does not exist
        zlib.compress(b"\x00\xff\xff" * 2)[:-6],  # the zlib stream is cut
        b"not zlib at all",
    ],
    ids=["short", "bad-filter", "cut-stream", "not-zlib"],
)
def test_malformed_masks_are_unknown_and_the_segment_is_kept(idat: bytes) -> None:
    mask = png(2, 2, idat)
    assert mask_coverage(mask) is None
    segment = {"label": "a", "score": 0.5, "mask": base64.b64encode(mask).decode()}
    out = SPEC.hf_inference.parse([segment], INPUTS)
    assert out.segments[0].coverage is None and out.segments[0].mask == mask
    assert SPEC.render(out).startswith("a 0.5000\n")  # no "covers": unknown


def test_a_truncated_header_chunk_is_unknown() -> None:
    mask = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + b"\x00\x00\x00\x02"
    assert mask_coverage(mask) is None


def _bomb(megabytes: int) -> bytes:
    """zlib data that inflates to ``megabytes`` MiB of zeros (made without holding them)."""
    packer, block = zlib.compressobj(9), bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()


def test_a_zlib_bomb_is_inflated_only_to_the_declared_size() -> None:
    # 64 MiB behind a 1024 x 1024 header (1 MiB of pixels): the old decoder inflated it all.
    mask = png(1024, 1024, _bomb(64))
    assert len(mask) < 100_000
    # The declared rows are there, all blank.
    assert bounded(1, 8, lambda: mask_coverage(mask)) == 0.0


def test_a_mask_of_slow_rows_stops_at_the_budget() -> None:
    # Paeth rows over non-blank rows are decoded pixel by pixel: 4 M of them would take
    # seconds. The first row is None (not blank), every other is Paeth.
    width = 2048
    raw = b"\x00" + os.urandom(width) + _rows(width, [4] * (width - 1), os.urandom)
    mask = png(width, width, zlib.compress(raw, 1))
    assert bounded(1, None, lambda: mask_coverage(mask)) is None


def test_many_masks_share_one_budget_per_response() -> None:
    # 20 masks of 512 x 512 Paeth rows: each fits the budget alone, together they would not.
    width = 512
    raw = b"\x00" + os.urandom(width) + _rows(width, [4] * (width - 1), os.urandom)
    mask = base64.b64encode(png(width, width, zlib.compress(raw, 1))).decode()
    body = [{"label": f"s{i}", "score": 0.5, "mask": mask} for i in range(20)]
    out = bounded(1, None, lambda: SPEC.hf_inference.parse(body, INPUTS))
    known = [s.coverage for s in out.segments if s.coverage is not None]
    assert 0 < len(known) < 20  # the first masks got a coverage, the rest "unknown"
    assert all(s.mask.startswith(b"\x89PNG") for s in out.segments)  # every mask kept


async def test_the_async_client_decodes_masks_off_the_event_loop(
    token: str, cassette: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    real = image_segmentation.mask_coverage

    def spy(png: bytes, budget: CoverageBudget | None = None) -> float | None:
        threads.append(threading.current_thread())
        return real(png, budget)

    monkeypatch.setattr(image_segmentation, "mask_coverage", spy)
    with cassette("image-segmentation/success"):
        out = await AsyncHFClient(api_key=token).run("image-segmentation", image=_image())
    assert len(out.segments) == 2
    assert threads and all(t is not threading.main_thread() for t in threads)


def _image() -> bytes:
    from .conftest import FIXTURES

    return (FIXTURES / "image.png").read_bytes()
