"""Samples travel in batches: numpy columns, one batch per device poll cycle.

Per-sample Python objects do not scale to hundreds of thousands of samples per second, so a
batch is four equal-length columns plus the source that produced it and its sequence number,
which lets every hop downstream detect gaps and duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.quality import Quality

__all__ = ["CHANNEL_DTYPE", "QUALITY_DTYPE", "SampleBatch"]

CHANNEL_DTYPE = np.dtype(np.uint32)
QUALITY_DTYPE = np.dtype(np.uint8)


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleBatch:
    """One poll cycle's samples from one source.

    `channel` holds indices into the pad definition's channel table.
    """

    source: str
    seq: int
    channel: npt.NDArray[np.uint32]
    time_ns: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        n = len(self.channel)
        if not (len(self.time_ns) == len(self.value) == len(self.quality) == n):
            raise ValueError(
                f"batch from {self.source!r}: columns differ in length "
                f"(channel {n}, time {len(self.time_ns)}, value {len(self.value)}, "
                f"quality {len(self.quality)})"
            )
        if self.seq < 0:
            raise ValueError(f"batch from {self.source!r}: negative sequence number {self.seq}")

    def __len__(self) -> int:
        return len(self.channel)

    @classmethod
    def at(
        cls,
        *,
        source: str,
        seq: int,
        time_ns: int,
        channel: npt.NDArray[np.uint32],
        value: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8] | Quality,
    ) -> SampleBatch:
        """A batch whose samples share one timestamp (and, optionally, one quality)."""
        n = len(channel)
        if isinstance(quality, Quality):
            quality_column = np.full(n, int(quality), dtype=QUALITY_DTYPE)
        else:
            quality_column = quality
        return cls(
            source=source,
            seq=seq,
            channel=channel,
            time_ns=np.full(n, time_ns, dtype=np.int64),
            value=value,
            quality=quality_column,
        )
