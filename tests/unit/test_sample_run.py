"""A run of batches as joined columns gives back the batches it was made of."""

from __future__ import annotations

import numpy as np
import pytest

from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.run import SampleRun


def batch(source: str, seq: int, channels: list[int], at: int) -> SampleBatch:
    return SampleBatch.at(
        source=source,
        seq=seq,
        time_ns=at,
        channel=np.array(channels, dtype=np.uint32),
        value=np.array(channels, dtype=np.float64) * 10 + seq,
        quality=Quality.GOOD,
    )


BATCHES = [
    batch("plc", 1, [0, 1, 2], 100),
    batch("gas", 7, [5], 105),
    batch("plc", 2, [], 200),
    batch("plc", 3, [0, 1, 2], 300),
]


def same(a: SampleBatch, b: SampleBatch) -> bool:
    return (a.source, a.seq) == (b.source, b.seq) and all(
        np.array_equal(getattr(a, c), getattr(b, c))
        for c in ("channel", "time_ns", "value", "quality")
    )


def test_a_run_gives_back_its_batches_in_order_without_the_empty_ones() -> None:
    run = SampleRun.of(BATCHES, records=[10, 11, 12, 13])
    assert len(run) == 3
    assert run.samples == 7
    out = list(run.batches())
    assert [record for record, _ in out] == [10, 11, 13]
    assert all(
        same(a, b) for (_, a), b in zip(out, [BATCHES[0], BATCHES[1], BATCHES[3]], strict=True)
    )
    assert run.starts_ns().tolist() == [100, 105, 300]


def test_a_slice_is_the_batches_between() -> None:
    run = SampleRun.of(BATCHES).slice(1, 3)
    assert [b.seq for _, b in run.batches()] == [7, 3]
    assert same(run.batch(1), BATCHES[3])


def test_where_drops_samples_and_the_batches_left_empty_and_renumbers() -> None:
    run = SampleRun.of(BATCHES)
    keep = run.channel != 5
    kept = run.where(keep, (run.channel + 100).astype(np.uint32))
    assert [b.seq for _, b in kept.batches()] == [1, 3]
    assert kept.batch(0).channel.tolist() == [100, 101, 102]
    assert run.where(np.ones(run.samples, dtype=bool)) is run


def test_grouped_makes_runs_of_the_size_asked() -> None:
    runs = list(SampleRun.grouped(iter(BATCHES), 2))
    assert [len(r) for r in runs] == [2, 1]


def test_inconsistent_columns_are_refused() -> None:
    run = SampleRun.of(BATCHES)
    with pytest.raises(ValueError, match="no batch empty"):
        SampleRun(
            sources=run.sources,
            source=run.source,
            seq=run.seq,
            record=run.record,
            bounds=np.array([0, 3, 3, 7]),
            channel=run.channel,
            time_ns=run.time_ns,
            value=run.value,
            quality=run.quality,
        )
