"""Appending to the journal: record numbers, rotation, fsync policy, retention, recovery.

Opening a journal recovers it: the newest segment of each kind has any torn tail cut off
(a crash loses at most the batch being written), gets its index, and stays closed; new
records go to a fresh segment and continue the record numbers where they stopped, so a
number is never used twice. Retention removes the oldest closed segments beyond the size
or age limits, but never one holding records a reader still needs (`keep_from`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import structlog

from groundseg.clock import Clock
from groundseg.journal.format import (
    EVENTS,
    INDEX_SUFFIX,
    SAMPLES,
    SUFFIX,
    SegmentSummary,
    event_record_batch,
    events_schema,
    sample_record_batch,
    samples_schema,
    segment_name,
    segment_record,
)
from groundseg.journal.segments import SegmentFile, recover, summarise
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.events import Event

__all__ = ["FsyncPolicy", "JournalSettings", "JournalStatistics", "JournalWriter", "segments_of"]

log = structlog.get_logger("groundseg.journal")


@dataclass(frozen=True, slots=True)
class FsyncPolicy:
    """When appended data is forced to disk: every append, at most every `interval_s`, or
    never (the OS decides; a process crash still loses nothing the OS was given)."""

    interval_s: float | None

    @classmethod
    def parse(cls, text: str) -> FsyncPolicy:
        if text == "always":
            return cls(0.0)
        if text == "never":
            return cls(None)
        try:
            milliseconds = float(text.removesuffix("ms"))
        except ValueError:
            raise ValueError(
                f"fsync policy {text!r}: expected always, never or an interval such as 200ms"
            ) from None
        if milliseconds < 0:
            raise ValueError(f"fsync interval {text!r} must not be negative")
        return cls(milliseconds / 1000.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalSettings:
    directory: Path
    fsync: FsyncPolicy = FsyncPolicy(0.2)
    segment_bytes: int = 64 * 1024 * 1024
    segment_seconds: float = 3600.0
    retention_bytes: int | None = None
    retention_seconds: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalStatistics:
    next_sample_record: int
    next_event_record: int
    samples: int
    bytes_written: int
    segments: int
    torn_bytes_cut: int
    removed_segments: int


class _Series:
    """The segments of one kind (samples or events) and the one being written."""

    def __init__(self, directory: Path, kind: str) -> None:
        self.directory = directory
        self.kind = kind
        self.active: SegmentFile | None = None
        self.opened_at = 0.0
        self.next_record = 0
        self.torn_bytes = 0

    def recover(self) -> None:
        paths = segments_of(self.directory, self.kind)
        if not paths:
            return
        newest = paths[-1]
        self.torn_bytes = recover(newest)
        if self.torn_bytes:
            log.warning("journal tail cut", segment=newest.name, bytes=self.torn_bytes)
        summary = _summary(newest) or summarise(newest)
        self.next_record = summary.last_record + 1 if summary else segment_record(newest)
        if summary is None and newest.stat().st_size == 0:
            newest.unlink()

    def segment(self, schema: pa.Schema, now: float) -> SegmentFile:
        if self.active is None:
            self.active = SegmentFile(
                self.directory / segment_name(self.kind, self.next_record), schema
            )
            self.opened_at = now
        return self.active

    def rotate(self) -> None:
        if self.active is not None:
            self.active.close()
            self.active = None


class JournalWriter:
    def __init__(
        self,
        settings: JournalSettings,
        *,
        pad: str,
        channels: Sequence[str],
        sources: Sequence[str],
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.pad = pad
        self.channels = list(channels)
        self.sources = list(sources)
        self.clock = clock
        self._samples = _Series(settings.directory, SAMPLES)
        self._events = _Series(settings.directory, EVENTS)
        self._set_schemas()
        self._last_sync = clock.monotonic()
        self._appended = 0
        self._removed = 0
        self.keep_from: int | None = None
        """Retention never removes a segment holding a sample record at or above this (the
        oldest record a reader such as the publisher has not consumed); None: no reader."""

    def _set_schemas(self) -> None:
        self._samples_schema = samples_schema(
            pad=self.pad, channels=self.channels, sources=self.sources
        )
        self._events_schema = events_schema(pad=self.pad)
        self._source_dictionary = pa.array(self.sources, type=pa.string())
        self._source_index = {s: i for i, s in enumerate(self.sources)}

    def open(self) -> None:
        self.settings.directory.mkdir(parents=True, exist_ok=True)
        self._samples.recover()
        self._events.recover()
        log.info(
            "journal open",
            directory=str(self.settings.directory),
            next_sample_record=self._samples.next_record,
        )

    def close(self) -> None:
        for series in (self._samples, self._events):
            if series.active is not None:
                if self.settings.fsync.interval_s is not None:
                    series.active.sync()
                series.rotate()

    @property
    def next_sample_record(self) -> int:
        return self._samples.next_record

    def append(self, batch: SampleBatch) -> int:
        """Journal a sample batch; returns its record number."""
        if batch.source not in self._source_index:
            self.sources.append(batch.source)
            self._samples.rotate()  # a new source needs a segment whose schema names it
            self._set_schemas()
        now = self.clock.monotonic()
        segment = self._before_append(self._samples, self._samples_schema, now)
        record = self._samples.next_record
        record_batch = sample_record_batch(
            self._samples_schema,
            self._source_dictionary,
            self._source_index[batch.source],
            record,
            batch,
        )
        times = batch.time_ns
        low, high = (int(times.min()), int(times.max())) if len(times) else (0, 0)
        segment.append(record_batch, record=record, min_time_ns=low, max_time_ns=high)
        self._samples.next_record = record + 1
        self._appended += len(batch)
        self._after_append(segment, now)
        return record

    def append_event(self, event: Event) -> int:
        now = self.clock.monotonic()
        segment = self._before_append(self._events, self._events_schema, now)
        record = self._events.next_record
        segment.append(
            event_record_batch(self._events_schema, record, event),
            record=record,
            min_time_ns=event.time_ns,
            max_time_ns=event.time_ns,
        )
        self._events.next_record = record + 1
        self._after_append(segment, now)
        return record

    def _before_append(self, series: _Series, schema: pa.Schema, now: float) -> SegmentFile:
        active = series.active
        if active is not None and (
            active.bytes >= self.settings.segment_bytes
            or now - series.opened_at >= self.settings.segment_seconds
        ):
            series.rotate()
            self.apply_retention()
        return series.segment(schema, now)

    def _after_append(self, segment: SegmentFile, now: float) -> None:
        interval = self.settings.fsync.interval_s
        if interval is not None and now - self._last_sync >= interval:
            segment.sync()
            self._last_sync = now

    def sync(self) -> None:
        """Force everything appended so far to disk."""
        for series in (self._samples, self._events):
            if series.active is not None:
                series.active.sync()
        self._last_sync = self.clock.monotonic()

    def apply_retention(self) -> int:
        """Remove the oldest closed segments beyond the limits; returns how many went."""
        limit_bytes, limit_age = self.settings.retention_bytes, self.settings.retention_seconds
        if limit_bytes is None and limit_age is None:
            return 0
        removed = 0
        oldest_allowed = (
            self.clock.time_ns() - int(limit_age * 1e9) if limit_age is not None else None
        )
        for kind, series in ((SAMPLES, self._samples), (EVENTS, self._events)):
            closed = [
                p
                for p in segments_of(self.settings.directory, kind)
                if series.active is None or p != series.active.path
            ]
            summaries = [(p, _summary(p)) for p in closed]
            total = sum(s.bytes for _, s in summaries if s) + (
                series.active.bytes if series.active else 0
            )
            for path, summary in summaries:
                if summary is None:
                    continue
                if (
                    kind == SAMPLES
                    and self.keep_from is not None
                    and summary.last_record >= self.keep_from
                ):
                    break  # a reader still needs it, and everything after it
                too_big = limit_bytes is not None and total > limit_bytes
                too_old = oldest_allowed is not None and summary.max_time_ns < oldest_allowed
                if not (too_big or too_old):
                    break
                path.unlink()
                path.with_name(path.name + INDEX_SUFFIX).unlink(missing_ok=True)
                total -= summary.bytes
                removed += 1
                log.info(
                    "journal segment removed",
                    segment=path.name,
                    reason="size" if too_big else "age",
                )
        self._removed += removed
        return removed

    def statistics(self) -> JournalStatistics:
        directory = self.settings.directory
        paths = segments_of(directory, SAMPLES) + segments_of(directory, EVENTS)
        return JournalStatistics(
            next_sample_record=self._samples.next_record,
            next_event_record=self._events.next_record,
            samples=self._appended,
            bytes_written=sum(p.stat().st_size for p in paths),
            segments=len(paths),
            torn_bytes_cut=self._samples.torn_bytes + self._events.torn_bytes,
            removed_segments=self._removed,
        )


def segments_of(directory: Path, kind: str) -> list[Path]:
    """A kind's segment files, oldest first."""
    return sorted(directory.glob(f"{kind}-*{SUFFIX}"), key=segment_record)


def _summary(path: Path) -> SegmentSummary | None:
    index = path.with_name(path.name + INDEX_SUFFIX)
    try:
        return SegmentSummary.from_json(index.read_text())
    except (OSError, ValueError, json.JSONDecodeError):
        return None
