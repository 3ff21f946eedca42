"""Reading the journal: by record number (publishers catching up) or by time range (replay).

Closed segments are skipped by their index when they cannot hold what is asked for; the
segment being written is read up to its last complete record batch. Samples are decoded
a few hundred record batches at a time (each column joined and turned into numpy once,
every batch a slice of it): the journal's batches are small, and decoding them one by one
cost more than anything a replay does with them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from groundseg.journal.format import (
    EVENTS,
    INDEX_SUFFIX,
    SAMPLES,
    SegmentSummary,
    events_from_record_batch,
    sample_batch_from_record_batch,
    sample_run_from_record_batches,
)
from groundseg.journal.segments import read_segment
from groundseg.journal.writer import segments_of
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.events import Event
from groundseg.telemetry.run import SampleRun

__all__ = ["JournalReader"]

DECODE_TOGETHER = 512
"""Record batches decoded at once (about 40,000 samples of a pad's poll cycles)."""


class JournalReader:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def samples(
        self, *, from_record: int = 0, start_ns: int | None = None, end_ns: int | None = None
    ) -> Iterator[tuple[int, SampleBatch]]:
        """(record, batch) from `from_record` on, restricted to samples with start <= time < end."""
        for run in self.runs(from_record=from_record, start_ns=start_ns, end_ns=end_ns):
            yield from run.batches()

    def runs(
        self, *, from_record: int = 0, start_ns: int | None = None, end_ns: int | None = None
    ) -> Iterator[SampleRun]:
        """`samples` as runs of consecutive batches (up to DECODE_TOGETHER each), for work
        over many poll cycles at once."""
        for path in self._segments(SAMPLES, from_record, start_ns, end_ns):
            for chunk in _runs(read_segment(path), DECODE_TOGETHER):
                run = sample_run_from_record_batches(chunk)
                if from_record or start_ns is not None or end_ns is not None:
                    run = _within(run, from_record, start_ns, end_ns)
                if len(run):
                    yield run

    def channel_names(self) -> list[str]:
        """The channel ids the samples' `channel` column indexes (from the newest segment's
        schema: a journal explains itself without the pad file it was recorded with)."""
        for path in reversed(segments_of(self.directory, SAMPLES)):
            try:
                schema = pa.ipc.open_stream(pa.memory_map(str(path))).schema
            except (OSError, pa.ArrowInvalid):
                continue
            metadata = schema.metadata or {}
            return list(json.loads(metadata[b"groundseg.channels"]))
        return []

    def sample_count(self, *, start_ns: int | None = None, end_ns: int | None = None) -> int:
        """Samples in the closed segments that may overlap the range, from their indexes
        (an estimate for progress: the segment being written has no index yet)."""
        total = 0
        for path in segments_of(self.directory, SAMPLES):
            summary = _index(path)
            if summary is None:
                continue
            if start_ns is not None and summary.max_time_ns < start_ns:
                continue
            if end_ns is not None and summary.min_time_ns >= end_ns:
                continue
            total += summary.rows
        return total

    def time_span(self) -> tuple[int, int] | None:
        """The first and last sample times (ns), None for a journal without samples: from
        the indexes, and by reading the segment being written (it has no index yet)."""
        low: int | None = None
        high: int | None = None
        for path in segments_of(self.directory, SAMPLES):
            summary = _index(path)
            if summary is not None:
                spans = [(summary.min_time_ns, summary.max_time_ns)] if summary.rows else []
            else:
                spans = [
                    (int(run.time_ns.min()), int(run.time_ns.max()))
                    for chunk in _runs(read_segment(path), DECODE_TOGETHER)
                    if len(run := sample_run_from_record_batches(chunk))
                ]
            for first, last in spans:
                low = first if low is None else min(low, first)
                high = last if high is None else max(high, last)
        return None if low is None or high is None else (low, high)

    def last_sequences(self, *, segments: int = 3) -> dict[str, int]:
        """The last batch sequence number journaled for each source (from the newest
        segments), so a restarted controller continues each source's numbering."""
        last: dict[str, int] = {}
        for path in reversed(segments_of(self.directory, SAMPLES)[-segments:]):
            found: dict[str, int] = {}
            for record_batch in read_segment(path):
                if record_batch.num_rows:
                    _, batch = sample_batch_from_record_batch(record_batch)
                    found[batch.source] = max(found.get(batch.source, -1), batch.seq)
            for source, seq in found.items():
                last.setdefault(source, seq)
        return last

    def events(
        self, *, from_record: int = 0, start_ns: int | None = None, end_ns: int | None = None
    ) -> Iterator[tuple[int, Event]]:
        for path in self._segments(EVENTS, from_record, start_ns, end_ns):
            for record_batch in read_segment(path):
                rows = record_batch.num_rows
                # Skip what lies before the cursor undecoded: a catch-up starts mid-segment.
                if rows == 0 or record_batch.column(0)[rows - 1].as_py() < from_record:
                    continue
                for record, event in events_from_record_batch(record_batch):
                    if record < from_record:
                        continue
                    if (start_ns is not None and event.time_ns < start_ns) or (
                        end_ns is not None and event.time_ns >= end_ns
                    ):
                        continue
                    yield record, event

    def _segments(
        self, kind: str, from_record: int, start_ns: int | None, end_ns: int | None
    ) -> Iterator[Path]:
        for path in segments_of(self.directory, kind):
            summary = _index(path)
            if summary is not None:
                if summary.last_record < from_record:
                    continue
                if start_ns is not None and summary.max_time_ns < start_ns:
                    continue
                if end_ns is not None and summary.min_time_ns >= end_ns:
                    continue
            yield path


def _runs(record_batches: Iterator[pa.RecordBatch], size: int) -> Iterator[list[pa.RecordBatch]]:
    run: list[pa.RecordBatch] = []
    for record_batch in record_batches:
        run.append(record_batch)
        if len(run) == size:
            yield run
            run = []
    if run:
        yield run


def _within(
    run: SampleRun, from_record: int, start_ns: int | None, end_ns: int | None
) -> SampleRun:
    keep = np.repeat(run.record >= from_record, np.diff(run.bounds))
    if start_ns is not None:
        keep &= run.time_ns >= start_ns
    if end_ns is not None:
        keep &= run.time_ns < end_ns
    return run.where(keep)


def _index(path: Path) -> SegmentSummary | None:
    try:
        return SegmentSummary.from_json(path.with_name(path.name + INDEX_SUFFIX).read_text())
    except (OSError, ValueError):
        return None
