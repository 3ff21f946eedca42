"""The latest value of every channel, for displays: one row per channel, numpy columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.quality import Quality
from groundseg.telemetry.batch import QUALITY_DTYPE, SampleBatch

__all__ = ["LatestSnapshot", "LatestValues"]

NEVER = np.iinfo(np.int64).min


@dataclass(frozen=True, slots=True)
class LatestSnapshot:
    value: npt.NDArray[np.float64]
    time_ns: npt.NDArray[np.int64]
    quality: npt.NDArray[np.uint8]
    updates: npt.NDArray[np.int64]

    def seen(self) -> npt.NDArray[np.bool_]:
        seen: npt.NDArray[np.bool_] = self.time_ns != NEVER
        return seen


class LatestValues:
    def __init__(self, channels: int) -> None:
        self.value = np.full(channels, np.nan)
        self.time_ns = np.full(channels, NEVER, dtype=np.int64)
        self.quality = np.full(channels, Quality.STALE, dtype=QUALITY_DTYPE)
        self.updates = np.zeros(channels, dtype=np.int64)

    def update(self, batch: SampleBatch) -> None:
        """Take a batch; within it, the last sample of a channel wins, and `updates` counts
        the batches a channel appeared in."""
        channel = batch.channel
        self.value[channel] = batch.value
        self.time_ns[channel] = batch.time_ns
        self.quality[channel] = batch.quality
        self.updates[channel] += 1

    def snapshot(self) -> LatestSnapshot:
        return LatestSnapshot(
            self.value.copy(), self.time_ns.copy(), self.quality.copy(), self.updates.copy()
        )
