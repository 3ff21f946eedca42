"""Journal benchmarks: append and read throughput, on the machine's own disk."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.harness import Result, median
from groundseg.clock import SystemClock
from groundseg.journal.reader import JournalReader
from groundseg.journal.writer import FsyncPolicy, JournalSettings, JournalWriter
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch

__all__ = ["run_journal_benchmarks"]

CHANNELS = 2000


def _batches(count: int, size: int) -> list[SampleBatch]:
    rng = np.random.default_rng(1)
    return [
        SampleBatch.at(
            source=f"device{i % 4}",
            seq=i // 4,
            time_ns=1_800_000_000_000_000_000 + i * 1_000_000,
            channel=(np.arange(size, dtype=np.uint32) + i * size) % CHANNELS,
            value=rng.standard_normal(size),
            quality=Quality.GOOD,
        )
        for i in range(count)
    ]


def _trial(directory: Path, batches: list[SampleBatch], fsync: FsyncPolicy) -> tuple[float, float]:
    """(appended samples/s, read samples/s) for one fresh journal."""
    journal = JournalWriter(
        JournalSettings(directory=directory, fsync=fsync),
        pad="bench",
        channels=[str(i) for i in range(CHANNELS)],
        sources=[f"device{i}" for i in range(4)],
        clock=SystemClock(),
    )
    journal.open()
    samples = sum(len(b) for b in batches)
    start = time.perf_counter()
    for batch in batches:
        journal.append(batch)
    journal.close()
    appended = samples / (time.perf_counter() - start)
    start = time.perf_counter()
    read = sum(len(b) for _, b in JournalReader(directory).samples())
    elapsed = time.perf_counter() - start
    assert read == samples, f"read back {read} of {samples} samples"
    return appended, samples / elapsed


def run_journal_benchmarks(*, quick: bool) -> list[Result]:
    trials = 3 if quick else 5
    size = 150  # one PLC poll cycle: the smallest, so the hardest, batch the journal sees
    batches = _batches(2000 if quick else 6000, size)
    appends, reads = [], []
    for _ in range(trials):
        directory = Path(tempfile.mkdtemp(prefix="groundseg-bench-journal-"))
        try:
            appended, read = _trial(directory, batches, FsyncPolicy(0.2))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        appends.append(appended)
        reads.append(read)
    samples = len(batches) * size
    return [
        Result(
            name="Journal append",
            value=median(appends) / 1e6,
            unit="M samples/s",
            target=">= 2M samples/s",
            passed=median(appends) >= 2e6,
            detail=f"median of {trials} runs of {samples:,} samples in batches of {size}, fsync every 200 ms, Arrow IPC segments",
            trials=appends,
        ),
        Result(
            name="Journal read (whole journal, memory-mapped)",
            value=median(reads) / 1e6,
            unit="M samples/s",
            target=">= 5M samples/s",
            passed=median(reads) >= 5e6,
            detail=f"median of {trials} reads of the same journals back into sample batches, every sample counted",
            trials=reads,
        ),
    ]
