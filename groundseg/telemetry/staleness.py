"""Staleness: a channel not refreshed within k expected periods is stale.

Pure and time-passed-in: the driver reports good samples with `observe`, asks
`next_deadline()` when to look again, and `expire(now)` returns the channels that just went
stale, once each, until a good sample revives them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["StalenessWatchdog"]


class StalenessWatchdog:
    def __init__(self, periods_s: npt.ArrayLike, *, stale_after_periods: float, now: float) -> None:
        self._limit = np.asarray(periods_s, dtype=np.float64) * stale_after_periods
        # A channel never seen is stale from `now + limit`: silence from the start is a fault.
        self._deadline = now + self._limit
        self._stale = np.zeros(len(self._limit), dtype=bool)

    def observe(self, channels: npt.NDArray[np.intp], now: float) -> None:
        """`channels` (local indices) were refreshed with good data at `now`."""
        self._deadline[channels] = now + self._limit[channels]
        self._stale[channels] = False

    def next_deadline(self) -> float:
        """When the earliest fresh channel would go stale (inf when all are stale)."""
        fresh = ~self._stale
        return float(self._deadline[fresh].min()) if fresh.any() else float("inf")

    def expire(self, now: float) -> npt.NDArray[np.intp]:
        """Channels that went stale by `now` (each reported once)."""
        newly = np.flatnonzero(~self._stale & (self._deadline <= now))
        self._stale[newly] = True
        return newly

    def mark_stale(self, channels: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        """Force channels stale now (link known lost); returns those not already stale."""
        newly = channels[~self._stale[channels]]
        self._stale[newly] = True
        return newly

    @property
    def stale(self) -> npt.NDArray[np.bool_]:
        return self._stale.copy()
