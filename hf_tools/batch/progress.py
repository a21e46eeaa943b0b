"""Counters of a bulk run and how they are shown: a live line on a terminal, plain lines else."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = ["Progress", "Stats"]


@dataclass
class Stats:
    """What a run has done so far."""

    total: int | None = None
    done: int = 0
    failed: int = 0
    skipped: int = 0
    rerun: int = 0
    retried: int = 0
    throttled: int = 0
    requests: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        """Time since the run started."""
        return time.monotonic() - self.started

    def line(self) -> str:
        """``1234/10000 rows  412.3 rows/s  3 errors  5 retries  ETA 0:00:21``."""
        finished = self.done + self.failed
        rate = finished / self.seconds if self.seconds > 0 else 0.0
        of = f"/{self.total - self.skipped}" if self.total is not None else ""
        text = (
            f"{finished}{of} rows  {rate:.1f} rows/s  {self.failed} errors  {self.retried} retries"
        )
        if self.total is not None and rate > 0:
            left = max(0, self.total - self.skipped - finished) / rate
            text += f"  ETA {_clock(left)}"
        return text

    def summary(self) -> str:
        """The final line: done, failed, skipped, failed rows run again (if any), retried, time."""
        rerun = f", rerun {self.rerun} (failed before)" if self.rerun else ""
        return (
            f"done {self.done}, failed {self.failed}{rerun}, skipped {self.skipped} (already in"
            f" the output), retried {self.retried} ({self.throttled} rate-limited), in"
            f" {self.seconds:.2f} s"
        )


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class Progress:
    """Shows :class:`Stats` on ``stream`` until stopped: one live line, or a line per interval."""

    def __init__(self, stats: Stats, stream: TextIO, *, interval: float | None = None) -> None:
        self.stats = stats
        self.stream = stream
        self.live = _isatty(stream)
        self.interval = interval if interval is not None else (0.5 if self.live else 10.0)

    async def run(self) -> None:
        """Print until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            self.show()

    def show(self) -> None:
        """One update."""
        if self.live:
            self.stream.write("\r" + self.stats.line() + "\x1b[K")
        else:
            self.stream.write(self.stats.line() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """The last update and the summary."""
        if self.live:
            self.stream.write("\r" + self.stats.line() + "\x1b[K\n")
        self.stream.write(self.stats.summary() + "\n")
        self.stream.flush()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
