"""One job's rate budget shared by many processes (the Ray workers of one job).

:class:`RateBudget` is the budget itself: it hands out start times ("slots") spaced at
``1/max_rps`` for the whole job, none before a ``Retry-After`` pause reported by any worker
has passed. On Ray it runs as one small actor (:mod:`hf_tools.batch.on_ray`); it keeps no
clock of the caller's, so its answers are offsets from its own "now" (machines' clocks
differ).

:class:`SharedRate` is a worker's side: it leases slots a few at a time (a fifth of a
second's worth, so each call is not an actor round trip), waits for each call's slot, drops
slots it got too late to use (using them late would send in bursts), and reports pauses.
Every lease is bounded by a timeout; a lease that fails or times out turns the worker to
local throttling for the rest of its life, with a warning: a dead budget never stops a job.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["RateBudget", "SharedRate"]

_log = logging.getLogger(__name__)

LEASE_SECONDS = 0.2
"""A lease holds this many seconds' worth of slots (at least 1, at most :data:`LEASE_MAX`)."""
LEASE_MAX = 64
GRACE = 0.05
"""Seconds a slot may be used after its time; a later one is dropped, not sent in a burst."""
FIRST_TIMEOUT = 60.0
"""Seconds the first lease may take (the budget's process may still be starting)."""
TIMEOUT = 5.0
"""Seconds any later lease may take."""


class RateBudget:
    """Slots at ``max_rps`` for the whole job, none inside a reported pause."""

    def __init__(self, max_rps: float, clock: Callable[[], float] = time.monotonic) -> None:
        """Hand out ``max_rps`` slots a second."""
        if not max_rps > 0:
            msg = f"max_rps must be above 0, got {max_rps}"
            raise ValueError(msg)
        self.interval = 1.0 / max_rps
        self._clock = clock
        self._next = -math.inf
        self._paused_until = -math.inf

    def lease(self, count: int) -> list[float]:
        """The next ``count`` slots, as seconds from now, in order."""
        now = self._clock()
        # Idle time is not saved up: a slot is never earlier than now (no burst after a lull).
        first = max(now, self._next, self._paused_until)
        slots = [first + i * self.interval for i in range(max(1, count))]
        self._next = slots[-1] + self.interval
        return [slot - now for slot in slots]

    def pause(self, seconds: float) -> None:
        """No slot starts for ``seconds`` (a worker was told ``Retry-After``)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)


class SharedRate:
    """A worker's side of a :class:`RateBudget`: leased slots, waited for one per call."""

    def __init__(
        self,
        max_rps: float,
        lease: Callable[[int], Awaitable[list[float]]],
        report_pause: Callable[[float], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``lease(n)`` asks the budget for ``n`` slots; ``report_pause`` tells it a pause."""
        self.batch = max(1, min(LEASE_MAX, math.ceil(max_rps * LEASE_SECONDS)))
        self.failed = False
        self._lease = lease
        self._report_pause = report_pause
        self._clock = clock
        self._slots: deque[float] = deque()
        self._leasing = asyncio.Lock()
        self._leases = 0

    async def permit(self) -> None:
        """Wait for this call's slot (at once when the budget failed: local throttling)."""
        while not self.failed:
            now = self._clock()
            while self._slots and self._slots[0] < now - GRACE:
                self._slots.popleft()  # too late to use: sending it now would be a burst
            if self._slots:
                delay = self._slots.popleft() - now
                if delay > 0:
                    await asyncio.sleep(delay)
                return
            async with self._leasing:
                if not self._slots:  # another call may have leased while this one waited
                    await self._refill()

    async def _refill(self) -> None:
        timeout = FIRST_TIMEOUT if self._leases == 0 else TIMEOUT
        try:
            offsets = await asyncio.wait_for(self._lease(self.batch), timeout)
        except Exception as exc:  # any failure of the budget (timeout, dead actor): go on locally
            self._fail(exc)
            return
        self._leases += 1
        received = self._clock()
        self._slots.extend(received + offset for offset in offsets)

    def pause(self, seconds: float) -> None:
        """Tell the budget: no call of the job starts for ``seconds``."""
        if self.failed:
            return
        try:
            self._report_pause(seconds)
        except Exception as exc:  # any failure of the budget: go on locally
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.failed = True
        self._slots.clear()
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _log.warning(
            "the job's shared rate budget did not answer (%s): this worker throttles on its"
            " own from now on, so max_rps holds per worker, not for the whole job",
            why,
        )
