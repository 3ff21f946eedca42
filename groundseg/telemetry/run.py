"""A run of consecutive batches as joined columns: the unit of bulk work over a recording.

A journal holds one record batch per poll cycle; turning each into its own `SampleBatch`
costs more than everything an analysis does with it. A `SampleRun` keeps a few hundred of
them as four joined columns plus, per batch, where it starts and which source, sequence
number and journal record it was. Code that works over many cycles at once (the re-run's
steady stretches) reads the columns; code that works a batch at a time asks for `batches()`,
which are views, not copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.telemetry.batch import SampleBatch

__all__ = ["SampleRun"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRun:
    sources: tuple[str, ...]
    """Source names; `source` indexes them."""
    source: npt.NDArray[np.intp]
    seq: npt.NDArray[np.int64]
    record: npt.NDArray[np.int64]
    """Per batch: its source, sequence number and journal record (0 outside a journal)."""
    bounds: npt.NDArray[np.intp]
    """Where each batch starts in the columns, and where the last one ends."""
    channel: npt.NDArray[np.uint32]
    time_ns: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        batches = len(self.source)
        if not len(self.seq) == len(self.record) == batches == len(self.bounds) - 1:
            raise ValueError(
                f"sample run: {batches} sources, {len(self.seq)} sequence numbers,"
                f" {len(self.record)} records and {len(self.bounds)} bounds"
            )
        rows = len(self.channel)
        if not len(self.time_ns) == len(self.value) == len(self.quality) == rows:
            raise ValueError("sample run: columns differ in length")
        if self.bounds[0] != 0 or self.bounds[-1] != rows or (np.diff(self.bounds) <= 0).any():
            raise ValueError(
                "sample run: batch bounds must rise from 0 to the rows, no batch empty"
            )

    def __len__(self) -> int:
        """Batches in the run."""
        return len(self.source)

    @property
    def samples(self) -> int:
        return len(self.channel)

    @classmethod
    def of(cls, batches: Sequence[SampleBatch], records: Sequence[int] | None = None) -> SampleRun:
        """A run of these batches (empty ones left out)."""
        kept = [(k, b) for k, b in enumerate(batches) if len(b)]
        names = tuple(dict.fromkeys(b.source for _, b in kept))
        number = {name: k for k, name in enumerate(names)}
        sizes = [len(b) for _, b in kept]
        return cls(
            sources=names,
            source=np.array([number[b.source] for _, b in kept], dtype=np.intp),
            seq=np.array([b.seq for _, b in kept], dtype=np.int64),
            record=np.array(
                [records[k] if records is not None else 0 for k, _ in kept], dtype=np.int64
            ),
            bounds=np.concatenate([[0], np.cumsum(sizes, dtype=np.intp)]).astype(np.intp),
            channel=_joined([b.channel for _, b in kept], np.uint32),
            time_ns=_joined([b.time_ns for _, b in kept], np.int64),
            value=_joined([b.value for _, b in kept], np.float64),
            quality=_joined([b.quality for _, b in kept], np.uint8),
        )

    @classmethod
    def grouped(cls, batches: Iterable[SampleBatch], size: int) -> Iterator[SampleRun]:
        """Batches in runs of `size` (the last one shorter)."""
        held: list[SampleBatch] = []
        for batch in batches:
            held.append(batch)
            if len(held) == size:
                yield cls.of(held)
                held = []
        if held:
            yield cls.of(held)

    def batch(self, k: int) -> SampleBatch:
        start, end = int(self.bounds[k]), int(self.bounds[k + 1])
        return SampleBatch(
            source=self.sources[int(self.source[k])],
            seq=int(self.seq[k]),
            channel=self.channel[start:end],
            time_ns=self.time_ns[start:end],
            value=self.value[start:end],
            quality=self.quality[start:end],
        )

    def batches(self) -> Iterator[tuple[int, SampleBatch]]:
        """(record, batch) for each batch, in order."""
        for k in range(len(self)):
            yield int(self.record[k]), self.batch(k)

    def starts_ns(self) -> npt.NDArray[np.int64]:
        """Each batch's earliest sample time."""
        return np.minimum.reduceat(self.time_ns, self.bounds[:-1])

    def slice(self, first: int, end: int) -> SampleRun:
        """Batches `first` up to (not including) `end`."""
        low, high = int(self.bounds[first]), int(self.bounds[end])
        return SampleRun(
            sources=self.sources,
            source=self.source[first:end],
            seq=self.seq[first:end],
            record=self.record[first:end],
            bounds=self.bounds[first : end + 1] - low,
            channel=self.channel[low:high],
            time_ns=self.time_ns[low:high],
            value=self.value[low:high],
            quality=self.quality[low:high],
        )

    def where(
        self, keep: npt.NDArray[np.bool_], channel: npt.NDArray[np.uint32] | None = None
    ) -> SampleRun:
        """The samples kept (optionally with their channels renumbered); batches left
        with none are dropped."""
        if (keep.all() and channel is None) or len(self) == 0:
            return self
        sizes = np.add.reduceat(keep.astype(np.intp), self.bounds[:-1])
        left = sizes > 0
        renumbered = self.channel if channel is None else channel
        return SampleRun(
            sources=self.sources,
            source=self.source[left],
            seq=self.seq[left],
            record=self.record[left],
            bounds=np.concatenate([[0], np.cumsum(sizes[left])]).astype(np.intp),
            channel=renumbered[keep],
            time_ns=self.time_ns[keep],
            value=self.value[keep],
            quality=self.quality[keep],
        )


def _joined(columns: list[npt.NDArray[np.generic]], dtype: type) -> npt.NDArray:  # type: ignore[type-arg]
    return np.concatenate(columns).astype(dtype, copy=False) if columns else np.empty(0, dtype)
