"""Adaptive concurrency and rate for a bulk run: AIMD on both, with a pause for Retry-After.

Every call takes a slot (:meth:`Throttle.acquire`) and gives it back (:meth:`Throttle.release`).
Two limits hold at once:

* concurrency: at most ``limit`` calls in flight; starts at the ceiling (``--concurrency``),
  halves on a 429/503, grows by ``1/limit`` per success (one slot per window of successes).
* rate: unpaced until the server first says 429; then calls are spaced at half the rate
  observed over the last second (or since the first call, early in the run). While calls
  succeed it climbs fast (+50 %/s) back to 90 % of the rate that was refused, then probes
  beyond it by 5 % of that rate per second; never above ``max_rps`` (the user's ceiling,
  paced from the start).

One congestion event cuts once: a 429 answering a call that started before the last cut
says nothing new (the same rule TCP applies to losses from an older window). A
``Retry-After`` pauses every call until it has passed.

With a ``budget`` (a :class:`~hf_tools.batch.shared_rate.SharedRate`: the Ray workers of one
job), each call also waits for a start slot of the job's whole ``max_rps``, and pauses are
reported to it, so they hold for every worker; concurrency and the AIMD rate stay local.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["Throttle"]

_WINDOW = 1.0  # seconds of call starts the observed rate is measured over
_MIN_RATE = 0.5  # requests/s: the rate never backs off below this
_MIN_SPAN = 0.05  # seconds: a rate is never measured over less
_GROWTH_SHARE = 0.05  # probing growth per second, as a share of the rate at the last cut
_RECOVER_SHARE = 0.9  # fast recovery climbs back to this share of the rate at the last cut
_RECOVERY = 0.5  # requests/s added per success while recovering: +50 % of the rate per second


class Budget(Protocol):
    """A rate shared beyond this process (see :class:`~hf_tools.batch.shared_rate.SharedRate`)."""

    async def permit(self) -> None:
        """Wait for this call's start slot."""

    def pause(self, seconds: float) -> None:
        """No call of the job starts for ``seconds``."""


class Throttle:
    """The slots calls take: concurrency and rate, cut on 429/503, grown on success."""

    def __init__(
        self,
        concurrency: int,
        max_rps: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        budget: Budget | None = None,
    ) -> None:
        """Start at ``concurrency`` calls in flight, paced at ``max_rps`` when given."""
        self.ceiling = concurrency
        self.limit = float(concurrency)
        self.max_rps = max_rps
        self.rate: float | None = max_rps
        self.in_flight = 0
        self.cuts = 0
        self._clock = clock
        self._budget = budget
        self._paused_until = 0.0
        self._next_start = 0.0
        self._last_cut = -math.inf
        self._growth = 1.0
        self._recover_to = 0.0
        self._starts: deque[float] = deque()
        self._freed = asyncio.Event()

    async def acquire(self) -> float:
        """Wait for a slot; returns the call's start time (pass it to :meth:`throttled`)."""
        while True:
            now = self._clock()
            delay = max(self._paused_until, self._next_start) - now
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            if self.in_flight >= max(1, int(self.limit)):
                self._freed.clear()
                await self._freed.wait()
                continue
            break
        self.in_flight += 1
        if self.rate is not None:
            # Catch up at most one interval: a late wake-up must not lower the rate.
            interval = 1.0 / self.rate
            self._next_start = max(now - interval, self._next_start) + interval
        started = now
        if self._budget is not None:
            try:
                await self._budget.permit()
            except BaseException:
                self.release()  # cancelled while waiting: the slot was never used
                raise
            started = self._clock()
        self._starts.append(started)
        while self._starts and self._starts[0] < started - _WINDOW:
            self._starts.popleft()
        return started

    def release(self) -> None:
        """Give the slot back."""
        self.in_flight -= 1
        self._freed.set()

    def succeeded(self) -> None:
        """Additive increase: a little more concurrency and rate after each success."""
        self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
        if self.rate is not None:
            if self.rate < self._recover_to:  # fast recovery: +50 %/s up to the last good rate
                grown = min(self._recover_to, self.rate + _RECOVERY)
            else:  # probing beyond it: + growth requests/s per second
                grown = self.rate + self._growth / self.rate
            self.rate = grown if self.max_rps is None else min(grown, self.max_rps)

    def throttled(self, started: float, retry_after: float | None) -> None:
        """Multiplicative decrease after a 429/503 answering a call started at ``started``."""
        now = self._clock()
        if retry_after is not None and retry_after > 0:
            self.pause(retry_after)
        if started < self._last_cut:
            return  # sent before the last cut: the same congestion event
        self._last_cut = now
        self.cuts += 1
        self.limit = max(1.0, self.limit / 2)
        observed = self._observed(now)
        current = observed if self.rate is None else min(self.rate, max(observed, _MIN_RATE))
        self.rate = max(_MIN_RATE, current / 2)
        self._recover_to = _RECOVER_SHARE * current
        self._growth = max(1.0, _GROWTH_SHARE * current)

    def _observed(self, now: float) -> float:
        """Requests/s started over the last second (or since the first start, if sooner)."""
        recent = [t for t in self._starts if t >= now - _WINDOW]
        if not recent:
            return _MIN_RATE
        return len(recent) / max(now - recent[0], _MIN_SPAN)

    def pause(self, seconds: float) -> None:
        """Hold every call (of the job, with a budget) for ``seconds``; the limits stay."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        if self._budget is not None:
            self._budget.pause(seconds)
