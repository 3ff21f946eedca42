"""Display history: every channel's value at a fixed rate over the last while, for plots.

A ring of rows (one per period, one column per channel) in numpy: recording a row is one
copy, reading a channel's history one strided slice. Untrusted values (stale, invalid)
are stored as NaN, so a plot shows a gap where the data could not be trusted; replayed
values are drawn (a replay's console plots the record). The journal
is the record; this is what a console needs to draw a plot the moment it is opened.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from groundseg.quality import USABLE, Quality

__all__ = ["History"]

_DRAWN = USABLE.copy()
_DRAWN[Quality.REPLAYED] = True


class History:
    def __init__(self, channels: int, *, period_s: float = 1.0, span_s: float = 3600.0) -> None:
        if period_s <= 0 or span_s < period_s:
            raise ValueError(f"history needs 0 < period <= span, got {period_s}, {span_s}")
        self.period_s = period_s
        rows = int(span_s / period_s)
        self._time = np.full(rows, np.nan)
        self._value = np.full((rows, channels), np.nan)
        self._next = 0
        self._count = 0
        self._due = 0.0

    def due(self, now_unix: float) -> bool:
        return now_unix >= self._due

    def record(
        self,
        now_unix: float,
        value: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
    ) -> None:
        row = self._next
        self._time[row] = now_unix
        self._value[row] = np.where(_DRAWN[quality], value, np.nan)
        self._next = (row + 1) % len(self._time)
        self._count = min(self._count + 1, len(self._time))
        self._due = now_unix + self.period_s

    def channel(
        self, index: int, *, seconds: float, now_unix: float
    ) -> tuple[list[float], list[float | None]]:
        """(times, values) of one channel over the last `seconds`, oldest first."""
        order = (np.arange(self._count) + self._next - self._count) % len(self._time)
        times = self._time[order]
        keep = times >= now_unix - seconds
        values = self._value[order[keep], index]
        return (
            [round(float(t), 3) for t in times[keep]],
            [None if np.isnan(v) else float(v) for v in values],
        )
