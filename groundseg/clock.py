"""One clock for everything: real time on the pad, scaled time in tests and demos.

`monotonic()` drives timers and deadlines and never jumps; `time_ns()` stamps samples with
wall time. A scaled clock runs both N times faster than real time from the moment it is
created, so a simulated countdown and the physics behind it can run in seconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "ScaledClock", "SystemClock"]


class Clock(Protocol):
    """Where every component gets its time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; for timers and deadlines."""
        ...

    def time_ns(self) -> int:
        """Wall-clock time in nanoseconds since the epoch; for timestamps."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once `monotonic()` has reached `deadline`."""
        ...


class SystemClock:
    """Real time."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time_ns(self) -> int:
        return time.time_ns()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class ScaledClock:
    """Time that runs `speed` times faster than real time, starting from now."""

    def __init__(self, speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.speed = speed
        self._real_origin = time.monotonic()
        self._first_origin = self._real_origin
        self._wall_origin_ns = time.time_ns()

        self._scaled_origin = self._real_origin

    def monotonic(self) -> float:
        return self._scaled_origin + (time.monotonic() - self._real_origin) * self.speed

    def time_ns(self) -> int:
        scaled = self.monotonic() - self._first_origin
        return self._wall_origin_ns + int(scaled * 1e9)

    def set_speed(self, speed: float) -> None:
        """Run at another speed from now on; time stays continuous (a bench slows a count
        down for its terminal minutes, as the simulator does its plant)."""
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self._scaled_origin = self.monotonic()
        self._real_origin = time.monotonic()
        self.speed = speed

    async def sleep_until(self, deadline: float) -> None:
        delay = (deadline - self.monotonic()) / self.speed
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """Time that moves only when a test advances it; for pure-logic tests."""

    def __init__(
        self, start: float = 1000.0, wall_start_ns: int = 1_800_000_000_000_000_000
    ) -> None:
        self._now = start
        self._start = start
        self._wall_start_ns = wall_start_ns
        self._moved = asyncio.Event()

    def monotonic(self) -> float:
        return self._now

    def time_ns(self) -> int:
        return self._wall_start_ns + int((self._now - self._start) * 1e9)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a manual clock only moves forwards")
        self._now += seconds
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def sleep_until(self, deadline: float) -> None:
        while self._now < deadline:
            await self._moved.wait()
