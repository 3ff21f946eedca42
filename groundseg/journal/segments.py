"""Segment files: appending whole messages, and finding where a torn one begins.

Each append is serialised in memory first and handed to the OS in one `write`, so a
SIGKILL leaves either the whole record batch or none of it; a crash of the machine can
still tear the last one, which `recover` cuts off. Cutting at the end of the last complete
message never touches earlier data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import structlog

from groundseg.files import replace_file
from groundseg.journal.format import INDEX_SUFFIX, SegmentSummary, segment_record

__all__ = ["SegmentFile", "read_segment", "recover", "summarise"]

log = structlog.get_logger("groundseg.journal")


class _Collector:
    """A file-like sink for pyarrow's stream writer that keeps what it is given."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes | memoryview) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class SegmentFile:
    """One segment being written: an Arrow IPC stream, one OS write per record batch."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._collector = _Collector()
        self._writer = pa.ipc.new_stream(self._collector, schema)
        self.bytes = 0
        self.rows = 0
        self.first_record = segment_record(path)
        self.last_record = self.first_record - 1
        self.min_time_ns = 2**63 - 1
        self.max_time_ns = -(2**63)

    def append(
        self, record_batch: pa.RecordBatch, *, record: int, min_time_ns: int, max_time_ns: int
    ) -> None:
        self._writer.write_batch(record_batch)
        data = self._collector.take()
        written = os.write(self._fd, data)
        if written != len(data):
            # A short write means the disk filled mid-message: cut it so the file stays valid.
            os.ftruncate(self._fd, self.bytes)
            raise OSError(
                28, "short write: no space left for the whole record batch", str(self.path)
            )
        self.bytes += written
        self.rows += record_batch.num_rows
        self.last_record = record
        self.min_time_ns = min(self.min_time_ns, min_time_ns)
        self.max_time_ns = max(self.max_time_ns, max_time_ns)

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self, *, write_index: bool = True) -> SegmentSummary | None:
        """Close the file; a segment that holds records gets its index written."""
        os.close(self._fd)
        if self.last_record < self.first_record:
            return None
        summary = self.summary()
        if write_index:
            _write_index(self.path, summary)
        return summary

    def summary(self) -> SegmentSummary:
        return SegmentSummary(
            first_record=self.first_record,
            last_record=self.last_record,
            rows=self.rows,
            min_time_ns=self.min_time_ns,
            max_time_ns=self.max_time_ns,
            bytes=self.bytes,
        )


def _write_index(path: Path, summary: SegmentSummary) -> None:
    """The index only lets readers skip a segment; on a full disk the segment goes without."""
    try:
        replace_file(path.with_name(path.name + INDEX_SUFFIX), summary.to_json())
    except OSError as exc:
        log.warning("journal segment index not written", segment=path.name, reason=exc.strerror)


def read_segment(path: Path) -> Iterator[pa.RecordBatch]:
    """Every complete record batch of a segment, stopping quietly at a torn or growing tail."""
    try:
        source = pa.memory_map(str(path))
        reader = pa.ipc.open_stream(source)
    except (OSError, pa.ArrowInvalid):
        return  # empty, or not even a complete schema yet
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return
        except (OSError, pa.ArrowInvalid):
            return


def recover(path: Path) -> int:
    """Cut a torn tail off a segment; returns the bytes removed (0 for a clean file)."""
    size = path.stat().st_size
    good = 0
    source = pa.memory_map(str(path))
    try:
        reader = pa.ipc.MessageReader.open_stream(source)
        while True:
            reader.read_next_message()
            good = source.tell()
    except StopIteration:
        good = source.tell()
    except (OSError, pa.ArrowInvalid):
        pass
    finally:
        source.close()
    if good < size:
        os.truncate(path, good)
    return size - good


def summarise(path: Path) -> SegmentSummary | None:
    """Build (and write) the index of a segment that was never closed cleanly."""
    first = last = None
    rows, low, high = 0, 2**63 - 1, -(2**63)
    for batch in read_segment(path):
        if batch.num_rows == 0:
            continue
        records = batch.column("record")
        times = batch.column("time").cast(pa.int64())
        first = int(records[0].as_py()) if first is None else first
        last = int(records[-1].as_py())
        rows += batch.num_rows
        low = min(low, int(pc.min(times).as_py()))
        high = max(high, int(pc.max(times).as_py()))
    if first is None or last is None:
        return None
    summary = SegmentSummary(
        first_record=first,
        last_record=last,
        rows=rows,
        min_time_ns=low,
        max_time_ns=high,
        bytes=path.stat().st_size,
    )
    _write_index(path, summary)
    return summary
