"""The poll loop stops when cancelled, even if a library under it swallows the cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from types import SimpleNamespace
from typing import Any

from groundseg.clock import ManualClock, SystemClock
from groundseg.drivers.base import poll_on_schedule


def _core() -> Any:
    connected = asyncio.Event()
    connected.set()
    return SimpleNamespace(
        connected=connected,
        lateness=SimpleNamespace(record=lambda _: None),
        counters=SimpleNamespace(cycles=0, overruns=0),
    )


async def test_a_cancellation_lost_inside_a_cycle_still_stops_the_loop() -> None:
    """As Python 3.11's wait_for does when the reply and the cancellation arrive together."""
    started = asyncio.Event()

    async def swallowing_cycle() -> None:
        started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)

    core = _core()
    loop = asyncio.create_task(poll_on_schedule(SystemClock(), 0.01, swallowing_cycle, core))
    await started.wait()
    loop.cancel()
    await asyncio.wait({loop}, timeout=5.0)  # waits without cancelling it again
    finished = loop.done()
    if not finished:  # leave nothing running behind a failed test
        loop.cancel()
    assert finished, "the poll loop went on after its cancellation was swallowed"
    assert loop.cancelled()
    assert core.counters.cycles == 0, "the cycle that lost the cancellation is not counted"


async def test_cycles_run_on_schedule_until_cancelled() -> None:
    core = _core()
    ran = asyncio.Event()

    async def cycle() -> None:
        if core.counters.cycles >= 3:
            ran.set()

    loop = asyncio.create_task(poll_on_schedule(SystemClock(), 0.01, cycle, core))
    async with asyncio.timeout(5.0):
        await ran.wait()
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop
    assert core.counters.cycles >= 3


async def test_a_cycle_that_overran_is_followed_at_once_and_counted() -> None:
    """Waiting for the next slot would age the data by another period; the schedule goes on
    from the late start."""
    clock = ManualClock()
    core = _core()
    starts: list[float] = []
    durations = iter([0.0, 0.15, 0.0, 0.0])
    ran = asyncio.Event()

    async def cycle() -> None:
        starts.append(clock.monotonic())
        took = next(durations, None)
        if took is None:
            ran.set()
            await asyncio.Event().wait()  # the cycles under test are done
        elif took:
            clock.advance(took)

    loop = asyncio.create_task(poll_on_schedule(clock, 0.1, cycle, core))
    for _ in range(20):  # time moves in half periods, once the loop has done what it can
        for _ in range(10):
            await asyncio.sleep(0)
        if ran.is_set():
            break
        clock.advance(0.05)
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(starts)]
    assert gaps == [0.1, 0.15, 0.1, 0.1], gaps
    assert core.counters.overruns == 1
