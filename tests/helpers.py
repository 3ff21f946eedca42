"""Test helpers: await a condition under a deadline, and drivers running against a pad.

Tests never sleep to synchronise; they wait for the condition they need, with a deadline
that fails the test with a message saying what was expected and what was seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Coroutine,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundseg.clock import SystemClock
from groundseg.config import PadDefinition
from groundseg.drivers.base import Driver
from groundseg.drivers.factory import build_drivers, with_endpoints
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.latest import LatestValues

__all__ = ["DriverRig", "eventually", "in_background", "run_drivers", "small_disk"]


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (mount's syntax: "2m") at `path`: a disk that fills in seconds."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=True)


async def eventually(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]],
    *,
    within: float,
    what: str,
    seen: Callable[[], object] | None = None,
    interval: float = 0.01,
) -> float:
    """Wait until `check()` holds; returns the seconds it took, or fails naming `what`."""
    start = time.monotonic()
    deadline = start + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            detail = f"; saw {seen()!r}" if seen is not None else ""
            raise AssertionError(f"expected {what} within {within:g} s{detail}")
        await asyncio.sleep(interval)


@dataclass
class DriverRig:
    """Drivers polling a pad, and everything they emitted."""

    pad: PadDefinition
    drivers: Mapping[str, Driver]
    latest: LatestValues
    batches: list[SampleBatch] = field(default_factory=list)

    def sink(self, batch: SampleBatch) -> None:
        self.batches.append(batch)
        self.latest.update(batch)

    def value(self, channel_id: str) -> float:
        return float(self.latest.value[self.pad.channel(channel_id).index])

    def quality(self, channel_id: str) -> Quality:
        return Quality(int(self.latest.quality[self.pad.channel(channel_id).index]))

    def updates(self, channel_id: str) -> int:
        return int(self.latest.updates[self.pad.channel(channel_id).index])

    async def wait_quality(
        self, channel_ids: Collection[str], quality: Quality, *, within: float
    ) -> float:
        return await eventually(
            lambda: all(self.quality(c) is quality for c in channel_ids),
            within=within,
            what=f"{', '.join(sorted(channel_ids))} {quality.name}",
            seen=lambda: {c: self.quality(c).name for c in channel_ids},
        )

    async def wait_updates(self, channel_id: str, more_than: int, *, within: float) -> float:
        return await eventually(
            lambda: self.updates(channel_id) > more_than,
            within=within,
            what=f"a new sample of {channel_id}",
            seen=lambda: self.updates(channel_id),
        )


@contextlib.asynccontextmanager
async def in_background(
    coroutine: Coroutine[Any, Any, None], name: str | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    """Run `coroutine` as a task until the block ends; then cancel it and wait for it."""
    task = asyncio.create_task(coroutine, name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def run_drivers(
    pad: PadDefinition,
    endpoints: Mapping[str, str],
    *,
    only: Collection[str] | None = None,
    connect_within: float = 10.0,
) -> AsyncIterator[DriverRig]:
    """Drivers for `pad` (at `endpoints`) running in the background until the block ends."""
    pad = with_endpoints(pad, {d: e for d, e in endpoints.items() if only is None or d in only})
    rig = DriverRig(pad, {}, LatestValues(len(pad.channels)))
    drivers = build_drivers(pad, rig.sink, SystemClock(), only=only)
    rig.drivers = drivers

    async def run_all() -> None:
        async with asyncio.TaskGroup() as tasks:
            for device_id, driver in drivers.items():
                tasks.create_task(driver.run(), name=f"driver-{device_id}")

    async with in_background(run_all(), name="drivers"):
        async with asyncio.timeout(connect_within):
            await asyncio.gather(*(d.wait_connected() for d in drivers.values()))
        yield rig
