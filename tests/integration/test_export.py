"""Export of a recorded count to CSV and Parquet: every journaled sample of the chosen
channels, once, with its quality; nothing written when interrupted or misasked."""

from __future__ import annotations

import csv
import datetime
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from groundseg.clock import ManualClock
from groundseg.errors import ConfigError
from groundseg.journal.reader import JournalReader
from groundseg.journal.writer import JournalSettings, JournalWriter
from groundseg.quality import Quality
from groundseg.replay.export import export_samples
from groundseg.telemetry.batch import SampleBatch
from tests.integration.recording import Recording

CHANNELS = ["ker.s1.ullage_pressure.*", "umb.bus.voltage"]


def number(value: float | str | None) -> float | None:
    """A value to compare: None for no reading (journaled as NaN, exported empty or null;
    NaN equals nothing, itself included)."""
    if value is None or value == "":
        return None
    number = float(value)
    return None if math.isnan(number) else number


def by_time_and_channel(row: tuple[int, str, float | None, str]) -> tuple[int, str]:
    """One sample per channel per time: the order never needs the value (which may be
    None)."""
    return row[0], row[1]


def journaled(recording: Recording) -> list[tuple[int, str, float | None, str]]:
    """(time, channel, value, quality) of every journaled sample of the exported channels."""
    reader = JournalReader(recording.journal)
    names = reader.channel_names()
    wanted = {i for i, n in enumerate(names) if n.startswith("ker.s1.ullage_pressure.")}
    wanted.add(names.index("umb.bus.voltage"))
    rows = [
        (
            int(batch.time_ns[i]),
            names[batch.channel[i]],
            number(batch.value[i]),
            Quality(int(batch.quality[i])).name,
        )
        for _, batch in reader.samples()
        for i in np.flatnonzero(np.isin(batch.channel, list(wanted)))
    ]
    return sorted(rows, key=by_time_and_channel)


def test_parquet_holds_every_sample_of_the_chosen_channels(
    recording: Recording, tmp_path: Path
) -> None:
    out = tmp_path / "ker.parquet"
    summary = export_samples(recording.journal, out, channels=CHANNELS, file_format="parquet")
    table = pq.read_table(out)
    rows = sorted(
        zip(
            table.column("time").cast("int64").to_pylist(),
            table.column("channel").cast("string").to_pylist(),
            [number(v) for v in table.column("value").to_pylist()],
            table.column("quality").cast("string").to_pylist(),
            strict=True,
        ),
        key=by_time_and_channel,
    )
    expected = journaled(recording)
    assert len(expected) > 30
    assert rows == expected
    assert summary.rows == len(expected)
    assert any(
        q == "GOOD" and v is not None and v >= 3.2
        for _, c, v, q in rows
        if c.startswith("ker.s1.ull")
    )


def test_csv_from_the_command_line_with_a_time_range(recording: Recording, tmp_path: Path) -> None:
    expected = journaled(recording)
    middle = expected[len(expected) // 2][0]
    start = datetime.datetime.fromtimestamp(middle // 1_000_000_000, tz=datetime.UTC)
    out = tmp_path / "late.csv"
    subprocess.run(
        [
            sys.executable, "-m", "groundseg", "export",
            "--journal", str(recording.journal),
            "--from", start.isoformat(),
            *(arg for pattern in CHANNELS for arg in ("--channels", pattern)),
            "--out", str(out),
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    begin = int(start.timestamp()) * 1_000_000_000
    late = [row for row in expected if row[0] >= begin]
    assert len(rows) == len(late) > 0
    first = rows[0]
    assert set(first) == {"time", "channel", "value", "quality", "source"}
    assert first["time"].endswith("Z")
    assert Counter((r["channel"], number(r["value"]), r["quality"]) for r in rows) == Counter(
        (c, v, q) for _, c, v, q in late
    )


def test_a_pattern_matching_nothing_is_refused_and_nothing_is_written(
    recording: Recording, tmp_path: Path
) -> None:
    out = tmp_path / "none.csv"
    with pytest.raises(ConfigError, match=r"lox\.s9\.\*"):
        export_samples(recording.journal, out, channels=["lox.s9.*"])
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_export_leaves_no_file(recording: Recording, tmp_path: Path) -> None:
    out = tmp_path / "cut.parquet"

    def interrupt(rows: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_samples(recording.journal, out, file_format="parquet", progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_an_export_can_start_at_a_t_time(recording: Recording, tmp_path: Path) -> None:
    started = next(e for e in recording.events if e.kind == "countdown.started")
    out = tmp_path / "counting.csv"
    subprocess.run(
        [
            sys.executable, "-m", "groundseg", "export",
            "--journal", str(recording.journal), "--at-t", "T-06:00:00",
            "--channels", "umb.bus.voltage", "--out", str(out),
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with out.open(newline="") as handle:
        times = [row["time"] for row in csv.DictReader(handle)]
    expected = [row for row in journaled(recording) if row[1] == "umb.bus.voltage"]
    assert len(times) == len([r for r in expected if r[0] >= started.time_ns]) > 0
    refused = subprocess.run(
        [
            sys.executable, "-m", "groundseg", "export",
            "--journal", str(recording.journal), "--at-t", "T-00:00:10",
            "--out", str(tmp_path / "never.csv"),
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "a T-time the recorded clock read while running" in refused.stderr


def test_a_sample_without_a_reading_is_an_empty_cell_and_a_null(tmp_path: Path) -> None:
    """Journaled as NaN with its quality; exported as no value (not the text "nan")."""
    journal = JournalWriter(
        JournalSettings(directory=tmp_path / "journal"),
        pad="testpad",
        channels=["plc.watchdog", "umb.bus.voltage"],
        sources=["plc"],
        clock=ManualClock(),
    )
    journal.open()
    journal.append(
        SampleBatch.at(
            source="plc",
            seq=0,
            time_ns=1_800_000_000_000_000_000,
            channel=np.array([0, 1], dtype=np.uint32),
            value=np.array([7.0, np.nan]),
            quality=np.array([Quality.GOOD, Quality.INVALID], dtype=np.uint8),
        )
    )
    journal.close()
    export_samples(tmp_path / "journal", tmp_path / "out.csv")
    with (tmp_path / "out.csv").open(newline="") as handle:
        cells = [(r["channel"], r["value"], r["quality"]) for r in csv.DictReader(handle)]
    assert cells == [("plc.watchdog", "7", "GOOD"), ("umb.bus.voltage", "", "INVALID")]
    export_samples(tmp_path / "journal", tmp_path / "out.parquet", file_format="parquet")
    assert pq.read_table(tmp_path / "out.parquet").column("value").to_pylist() == [7.0, None]
