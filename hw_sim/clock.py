"""Simulated time: real time N times faster, and able to stand still.

Only the plant runs on this clock. Links (baud rates, heartbeats, sentence rates, reply
delays) keep real time, as the hardware would, whatever the simulation speed.
"""

from __future__ import annotations

import time

__all__ = ["SimClock"]


class SimClock:
    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"simulation speed must be positive, got {speed:g}")
        self.speed = speed
        self._sim_at_mark = 0.0
        self._real_at_mark = time.monotonic()
        self._paused = False

    def now(self) -> float:
        """Seconds of simulated time since the simulation started."""
        if self._paused:
            return self._sim_at_mark
        return self._sim_at_mark + (time.monotonic() - self._real_at_mark) * self.speed

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        if not self._paused:
            self._sim_at_mark = self.now()
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._real_at_mark = time.monotonic()
            self._paused = False

    def set_speed(self, speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"simulation speed must be positive, got {speed:g}")
        self._sim_at_mark = self.now()
        self._real_at_mark = time.monotonic()
        self.speed = speed
