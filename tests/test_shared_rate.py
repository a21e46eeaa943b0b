"""The rate budget a Ray job's workers share, without Ray: the budget in-process.

Two :class:`Throttle` objects stand for two workers; their leases go straight to one
:class:`RateBudget` (on Ray, an actor call). The Ray run itself: ``tests/test_batch_ray.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from hf_tools.batch import shared_rate
from hf_tools.batch.shared_rate import RateBudget, SharedRate
from hf_tools.batch.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_spaces_every_lease_at_the_jobs_rate_and_saves_no_idle_time() -> None:
    clock = Clock()
    budget = RateBudget(10, clock=clock)
    first, second = budget.lease(3), budget.lease(2)  # two workers, one after the other
    assert first == pytest.approx([0.0, 0.1, 0.2]) and second == pytest.approx([0.3, 0.4])
    clock.now += 5.0  # a lull: its slots are not saved up for a burst
    assert budget.lease(2) == pytest.approx([0.0, 0.1])


def test_a_reported_pause_holds_every_later_lease() -> None:
    clock = Clock()
    budget = RateBudget(10, clock=clock)
    budget.pause(2.0)
    assert budget.lease(2) == pytest.approx([2.0, 2.1])
    with pytest.raises(ValueError, match="above 0"):
        RateBudget(0)


def _worker(budget: RateBudget, max_rps: float) -> Throttle:
    async def lease(count: int) -> list[float]:
        await asyncio.sleep(0.002)  # a round trip
        return budget.lease(count)

    return Throttle(8, max_rps, budget=SharedRate(max_rps, lease, budget.pause))


async def _calls(throttle: Throttle, seconds: float, starts: list[float]) -> None:
    async def one() -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            starts.append(await throttle.acquire())
            await asyncio.sleep(0.005)  # the call
            throttle.release()
            throttle.succeeded()

    await asyncio.gather(*(one() for _ in range(8)))


async def test_two_workers_share_max_rps_instead_of_each_taking_it() -> None:
    budget = RateBudget(40)
    starts: list[float] = []
    await asyncio.gather(*(_calls(_worker(budget, 40), 1.5, starts) for _ in range(2)))
    starts.sort()
    rate = (len(starts) - 1) / (starts[-1] - starts[0])
    # Each worker alone would go at 40/s (80/s together); the job's budget holds them at 40.
    assert 25 < rate <= 40 * 1.15, rate


async def test_a_retry_after_one_worker_is_told_pauses_the_other() -> None:
    budget = RateBudget(20)
    told, other = _worker(budget, 20), _worker(budget, 20)
    started = await told.acquire()
    told.release()
    told.throttled(started, 0.5)  # a 429 with Retry-After: 0.5
    before = time.monotonic()
    await asyncio.wait_for(other.acquire(), 5)
    assert time.monotonic() - before >= 0.45


async def test_a_failed_lease_turns_the_worker_to_local_throttling_with_a_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_rate, "FIRST_TIMEOUT", 0.2)
    asked: list[int] = []

    async def hangs(count: int) -> list[float]:
        asked.append(count)
        await asyncio.sleep(3600)  # a budget that never answers
        return []

    rate = SharedRate(20, hangs, lambda seconds: None)
    before = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=shared_rate.__name__):
        await asyncio.wait_for(rate.permit(), 5)
    assert time.monotonic() - before < 1.0 and rate.failed
    assert "throttles on its own" in caplog.text
    await asyncio.wait_for(rate.permit(), 1)  # no second lease: local from now on
    assert asked == [4]


async def test_slots_got_too_late_are_dropped_not_sent_in_a_burst() -> None:
    clock = Clock()
    budget = RateBudget(10, clock=clock)
    leases: list[int] = []

    async def lease(count: int) -> list[float]:
        leases.append(count)
        return budget.lease(count)

    rate = SharedRate(10, lease, budget.pause, clock=clock)
    await rate.permit()  # slot 0 of [0.0, 0.1]: at once
    clock.now += 1.0  # the worker was busy: its slot at 0.1 is long past
    await rate.permit()
    assert leases == [2, 2]  # the stale slot was dropped and a fresh lease taken
