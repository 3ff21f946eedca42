"""The poll loop stops when cancelled, even if a library under it swallows the cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import Any

from groundseg.clock import SystemClock
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
