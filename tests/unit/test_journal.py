"""The journal: append and read back, record numbers, crash recovery, rotation, retention."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from groundseg.clock import ManualClock
from groundseg.journal.format import EVENTS, SAMPLES
from groundseg.journal.reader import JournalReader
from groundseg.journal.writer import FsyncPolicy, JournalSettings, JournalWriter, segments_of
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.events import Event, Severity

CHANNELS = [f"ch.{i}" for i in range(8)]
T0 = 1_800_000_000_000_000_000


def batch(source: str, seq: int, *, n: int = 8, t: int | None = None) -> SampleBatch:
    time_ns = T0 + seq * 100_000_000 if t is None else t
    return SampleBatch.at(
        source=source,
        seq=seq,
        time_ns=time_ns,
        channel=np.arange(n, dtype=np.uint32) % len(CHANNELS),
        value=np.arange(n, dtype=np.float64) + seq,
        quality=Quality.GOOD,
    )


def writer(directory: Path, clock: ManualClock | None = None, **settings: object) -> JournalWriter:
    journal = JournalWriter(
        JournalSettings(directory=directory, **settings),  # type: ignore[arg-type]
        pad="Test pad",
        channels=CHANNELS,
        sources=["plc", "gas_panel"],
        clock=clock or ManualClock(),
    )
    journal.open()
    return journal


def same(a: SampleBatch, b: SampleBatch) -> bool:
    return (
        a.source == b.source
        and a.seq == b.seq
        and np.array_equal(a.channel, b.channel)
        and np.array_equal(a.time_ns, b.time_ns)
        and np.array_equal(a.value, b.value)
        and np.array_equal(a.quality, b.quality)
    )


def test_batches_and_events_read_back_exactly_with_record_numbers(tmp_path: Path) -> None:
    journal = writer(tmp_path)
    written = [batch("plc" if i % 2 else "gas_panel", i) for i in range(20)]
    records = [journal.append(b) for b in written]
    event = Event(
        kind="link.lost",
        source="plc",
        time_ns=T0 + 5,
        severity=Severity.WARNING,
        message="silent",
        fields={"timeouts": 3},
    )
    assert journal.append_event(event) == 0
    journal.close()
    assert records == list(range(20))
    read = list(JournalReader(tmp_path).samples())
    assert [r for r, _ in read] == records
    assert all(same(a, b) for (_, a), b in zip(read, written, strict=True))
    assert list(JournalReader(tmp_path).events()) == [(0, event)]


def test_record_numbers_continue_after_reopening_and_are_never_reused(tmp_path: Path) -> None:
    journal = writer(tmp_path)
    for i in range(5):
        journal.append(batch("plc", i))
    journal.close()
    journal = writer(tmp_path)
    assert journal.append(batch("plc", 5)) == 5
    journal.close()
    assert [r for r, _ in JournalReader(tmp_path).samples()] == [0, 1, 2, 3, 4, 5]
    assert len(segments_of(tmp_path, SAMPLES)) == 2, "a reopened journal writes a fresh segment"


def test_a_torn_tail_is_cut_and_earlier_data_is_intact(tmp_path: Path) -> None:
    journal = writer(tmp_path, fsync=FsyncPolicy(None))
    written = [batch("plc", i) for i in range(10)]
    for b in written:
        journal.append(b)
    segment = segments_of(tmp_path, SAMPLES)[-1]
    size = segment.stat().st_size
    os.truncate(segment, size - 37)  # a crash tore the last record batch
    reopened = writer(tmp_path)
    assert reopened.statistics().torn_bytes_cut > 0
    assert reopened.next_sample_record == 9, (
        "the torn record's number is reused only because nothing of it survives"
    )
    read = list(JournalReader(tmp_path).samples())
    assert [r for r, _ in read] == list(range(9))
    assert all(same(a, b) for (_, a), b in zip(read, written, strict=False))
    with pa.ipc.open_stream(pa.memory_map(str(segment))) as stream:
        assert stream.read_all().num_rows == 9 * 8, "the cut segment is a valid Arrow stream"


def test_a_killed_writer_loses_at_most_the_batch_being_written(tmp_path: Path) -> None:
    """SIGKILL a process appending as fast as it can; everything before the tail survives."""
    script = textwrap.dedent(
        f"""
        import sys, numpy as np
        from pathlib import Path
        from groundseg.clock import SystemClock
        from groundseg.journal.writer import FsyncPolicy, JournalSettings, JournalWriter
        from groundseg.logs import configure_logging
        from groundseg.quality import Quality
        from groundseg.telemetry.batch import SampleBatch
        journal = JournalWriter(JournalSettings(directory=Path({str(tmp_path)!r}), fsync=FsyncPolicy(None), segment_bytes=200_000),
                                pad="p", channels=[str(i) for i in range(64)], sources=["plc"], clock=SystemClock())
        configure_logging("warning")
        journal.open()
        seq = 0
        while True:
            journal.append(SampleBatch.at(source="plc", seq=seq, time_ns=10**18 + seq, channel=np.arange(64, dtype=np.uint32),
                                          value=np.full(64, float(seq)), quality=Quality.GOOD))
            seq += 1
            if seq == 300:
                print("running", flush=True)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "running"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    reopened = JournalWriter(
        JournalSettings(directory=tmp_path),
        pad="p",
        channels=[str(i) for i in range(64)],
        sources=["plc"],
        clock=ManualClock(),
    )
    reopened.open()
    read = list(JournalReader(tmp_path).samples())
    assert len(read) >= 300
    assert [r for r, _ in read] == list(range(len(read))), "no gap, no corruption before the tail"
    assert all(b.seq == r and np.all(b.value == r) for r, b in read)
    assert reopened.next_sample_record == len(read)
    assert len(segments_of(tmp_path, SAMPLES)) > 1, "the writer rotated segments while it ran"


def test_segments_rotate_by_size_and_age(tmp_path: Path) -> None:
    clock = ManualClock()
    journal = writer(tmp_path, clock, segment_bytes=4000, segment_seconds=10.0)
    for i in range(30):
        journal.append(batch("plc", i))
    by_size = len(segments_of(tmp_path, SAMPLES))
    assert by_size > 3
    clock.advance(11.0)
    journal.append(batch("plc", 30))
    assert len(segments_of(tmp_path, SAMPLES)) == by_size + 1
    journal.close()
    assert [r for r, _ in JournalReader(tmp_path).samples()] == list(range(31))


def test_retention_removes_the_oldest_but_never_what_a_reader_still_needs(tmp_path: Path) -> None:
    journal = writer(tmp_path, segment_bytes=3000, retention_bytes=9000)
    journal.keep_from = 10
    for i in range(60):
        journal.append(batch("plc", i))
    records = [r for r, _ in JournalReader(tmp_path).samples()]
    assert records[0] <= 10, "records from keep_from on are all still there"
    assert records == list(range(records[0], 60))
    journal.keep_from = 60
    journal.apply_retention()
    total = sum(p.stat().st_size for p in segments_of(tmp_path, SAMPLES))
    assert total <= 9000 + 3000 * 2
    assert [r for r, _ in JournalReader(tmp_path).samples()][-1] == 59


def test_retention_by_age(tmp_path: Path) -> None:
    clock = ManualClock(wall_start_ns=T0)
    journal = writer(tmp_path, clock, segment_bytes=3000, retention_seconds=60.0)
    for i in range(20):
        journal.append(batch("plc", i, t=T0 + i))
    clock.advance(120.0)
    for i in range(20, 40):
        journal.append(batch("plc", i, t=clock.time_ns()))
    records = [r for r, _ in JournalReader(tmp_path).samples()]
    assert records[0] > 0, "segments older than the retention age are gone"
    assert records[-1] == 39


def test_the_reader_iterates_a_time_range(tmp_path: Path) -> None:
    journal = writer(tmp_path, segment_bytes=3000)
    for i in range(50):
        journal.append(batch("plc", i))
    journal.close()
    start, end = T0 + 10 * 100_000_000, T0 + 20 * 100_000_000
    read = list(JournalReader(tmp_path).samples(start_ns=start, end_ns=end))
    assert [b.seq for _, b in read] == list(range(10, 20))
    assert all(((b.time_ns >= start) & (b.time_ns < end)).all() for _, b in read)


def test_a_new_source_gets_a_segment_that_names_it(tmp_path: Path) -> None:
    journal = writer(tmp_path)
    journal.append(batch("plc", 0))
    journal.append(batch("ingest", 1))
    journal.close()
    assert [b.source for _, b in JournalReader(tmp_path).samples()] == ["plc", "ingest"]


def test_segments_are_plain_arrow_streams_that_name_their_channels(tmp_path: Path) -> None:
    """An analyst opens a segment with pyarrow alone and knows what each column means."""
    journal = writer(tmp_path)
    journal.append(batch("plc", 0))
    journal.close()
    with pa.ipc.open_stream(str(segments_of(tmp_path, SAMPLES)[0])) as stream:
        table = stream.read_all()
    assert table.column_names == ["record", "source", "seq", "channel", "time", "value", "quality"]
    assert table.schema.metadata[b"groundseg.channels"].decode().startswith('["ch.0"')
    assert str(table.column("time").type) == "timestamp[ns, tz=UTC]"
    assert segments_of(tmp_path, EVENTS) == []


@pytest.mark.parametrize(
    ("text", "interval"), [("always", 0.0), ("never", None), ("200ms", 0.2), ("50", 0.05)]
)
def test_fsync_policies_parse(text: str, interval: float | None) -> None:
    assert FsyncPolicy.parse(text).interval_s == interval


def test_a_bad_fsync_policy_says_what_it_expects() -> None:
    with pytest.raises(ValueError, match="expected always, never or an interval"):
        FsyncPolicy.parse("sometimes")
