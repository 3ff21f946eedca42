"""The analyst's tools over a recorded journal.

- Replay through the monitors (the automation re-run): the shipped pad's monitors over a
  recording of its own channels in poll-cycle batches (every device at 10 Hz), against a
  naive replay handing the same monitors one sample at a time, in the same run.
- Replay re-published: `groundseg replay --fast` of a journal of the pad's poll cycles into
  Mosquitto, and `groundseg ingest --topic-pad` into InfluxDB 1.6, until every line is
  read back.
- The campaign report: a one-hour campaign of 2,000 channels at 10 Hz (72M samples, in
  batches of 200 channels), journaled, then `campaign_facts` and the HTML over it.

    python -m bench.analysis [--quick]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.backbone import ingest_process
from bench.harness import Result, median
from groundseg.clock import SystemClock
from groundseg.config import PadDefinition, load_pad
from groundseg.journal.reader import JournalReader
from groundseg.journal.writer import FsyncPolicy, JournalSettings, JournalWriter
from groundseg.quality import Quality
from groundseg.replay.facts import campaign_facts
from groundseg.replay.report import render_html
from groundseg.replay.rerun import Context, Rerunner
from groundseg.telemetry.batch import SampleBatch
from tests.services import InfluxDB1, Mosquitto

__all__ = ["run_analysis_benchmarks"]

PAD = "pads/baiterek.toml"
T0 = 1_800_000_000_000_000_000
PERIOD_NS = 100_000_000


def _pad_cycles(pad: PadDefinition, cycles: int) -> Iterator[SampleBatch]:
    """Every device's channels at 10 Hz, at a third of their valid range, with noise."""
    rng = np.random.default_rng(3)
    devices: dict[str, list[int]] = {}
    for channel in pad.channels:
        devices.setdefault(channel.device, []).append(channel.index)
    nominal = np.array(
        [
            0.0
            if c.states or c.valid_range is None
            else c.valid_range[0] + 0.3 * np.ptp(c.valid_range)
            for c in pad.channels
        ]
    )
    for n in range(cycles):
        for device, members in devices.items():
            index = np.array(members, dtype=np.uint32)
            yield SampleBatch.at(
                source=device,
                seq=n,
                time_ns=T0 + n * PERIOD_NS,
                channel=index,
                value=nominal[index] * (1 + 0.001 * rng.standard_normal(len(index))),
                quality=Quality.GOOD,
            )


def _journal(
    directory: Path, names: list[str], sources: list[str], batches: Iterator[SampleBatch]
) -> int:
    writer = JournalWriter(
        JournalSettings(directory=directory, fsync=FsyncPolicy(None)),
        pad="bench",
        channels=names,
        sources=sources,
        clock=SystemClock(),
    )
    writer.open()
    samples = 0
    try:
        for batch in batches:
            writer.append(batch)
            samples += len(batch)
    finally:
        writer.close()
    return samples


def _one_at_a_time(batches: list[SampleBatch]) -> Iterator[SampleBatch]:
    for batch in batches:
        for i in range(len(batch)):
            yield SampleBatch(
                source=batch.source,
                seq=batch.seq,
                channel=batch.channel[i : i + 1],
                time_ns=batch.time_ns[i : i + 1],
                value=batch.value[i : i + 1],
                quality=batch.quality[i : i + 1],
            )


def replay_through_monitors(cycles: int, rounds: int) -> Result:
    pad = load_pad(PAD)
    names = [c.id for c in pad.channels]
    counting = [Context(time_ns=T0, phase="lox_fast_fill", counting=True)]
    fast: list[float] = []
    naive: list[float] = []
    with tempfile.TemporaryDirectory() as directory:
        samples = _journal(Path(directory), names, list(pad.devices), _pad_cycles(pad, cycles))
        reader = JournalReader(Path(directory))
        # The naive replay on a tenth of the record (it is that slow), extrapolated per sample.
        head = [b for _, b in reader.samples()][: len(pad.devices) * max(cycles // 10, 1)]
        head_samples = sum(len(b) for b in head)
        for _ in range(rounds):
            started = time.perf_counter()
            runner = Rerunner(pad, names, counting)
            batches = 0
            for run in reader.runs():
                runner.take_run(run)
                batches += len(run)
            fast.append(samples / (time.perf_counter() - started))
            started = time.perf_counter()
            naive_runner = Rerunner(pad, names, counting)
            for one in _one_at_a_time(head):
                naive_runner.take(one)
            naive.append(head_samples / (time.perf_counter() - started))
    ratio = median(fast) / median(naive)
    return Result(
        name="Replay through the monitors (re-run), journal to decisions",
        value=median(fast) / 1e6,
        unit="M samples/s",
        target=">= 2M samples/s, >= 150x a per-sample replay",
        passed=median(fast) >= 2e6 and ratio >= 150,
        detail=f"the shipped pad's {len(names)} channels, every device at 10 Hz with noise, {samples:,} samples journaled, read back in runs and monitored (limits, votes, conditions, freshness, discrepancies): stretches where no rule could change taken in one step ({runner.skipped / batches:.0%} of the poll-cycle batches), the rest batch by batch, decisions identical (tests/unit/test_rerun_steady.py); median of {rounds}; the same monitors fed one sample at a time: {median(naive) / 1e3:.1f}k samples/s (ratio {ratio:.0f}x)",
        trials=tuple(round(v / 1e6, 3) for v in fast),
    )


def replay_into_the_database(cycles: int) -> Result:
    """`groundseg replay --fast` of a journal of the pad's own poll cycles into Mosquitto,
    `groundseg ingest --topic-pad` into InfluxDB 1.6, until every line is stored."""
    pad = load_pad(PAD)
    names = [c.id for c in pad.channels]
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        samples = _journal(root / "journal", names, list(pad.devices), _pad_cycles(pad, cycles))
        batches = cycles * len(pad.devices)
        with (
            Mosquitto.running(root / "mosquitto") as broker,
            InfluxDB1.running(root / "influx") as influx,
            ingest_process(root, broker, influx, extra=("--topic-pad", "baiterek-replay")),
        ):
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable, "-m", "groundseg", "replay",
                    "--journal", str(root / "journal"), "--pad", PAD,
                    "--fast", "--mqtt", f"127.0.0.1:{broker.port}",
                ],
                check=True, capture_output=True, timeout=1800,
            )  # fmt: skip
            replayed = time.perf_counter() - started
            deadline = time.monotonic() + 600
            while (rows := _lines(influx, pad)) < batches and time.monotonic() < deadline:
                time.sleep(0.1)  # polling another process's progress, under a deadline
            elapsed = time.perf_counter() - started
    rate = samples / elapsed
    return Result(
        name="Replay re-published into MQTT and the database, journal to InfluxDB read-back",
        value=rate / 1e3,
        unit="k samples/s",
        target=">= 250k samples/s",
        passed=rate >= 250e3 and rows == batches,
        detail=f"{samples:,} samples of the shipped pad in {batches:,} poll cycles (a device's channels each, about {samples // batches} samples), replayed as fast as possible and published joined into frames of about 1,000 samples; the replay process (start-up included) took {replayed:.1f} s ({samples / replayed / 1e3:.0f}k samples/s), everything was stored after {elapsed:.1f} s; {rows:,} of {batches:,} lines (one per poll cycle) read back",
    )


def _lines(influx: InfluxDB1, pad: PadDefinition) -> int:
    """Lines stored, one per replayed frame: per device, the count of its first channel
    (each of its frames carries all its channels). One series per device: a count over
    every field would cost the database more than the writes it is waiting for."""
    first: dict[str, str] = {}
    for channel in pad.channels:
        first.setdefault(channel.device, channel.id)
    counts = ", ".join(f'count("{name}")' for name in first.values())
    result = influx.query(f"SELECT {counts} FROM telemetry")  # noqa: S608  our own channel ids
    series = result["results"][0].get("series", [])
    return sum(int(v) for v in series[0]["values"][0][1:] if v is not None) if series else 0


def _wide_cycles(channels: int, per_batch: int, seconds: int) -> Iterator[SampleBatch]:
    rng = np.random.default_rng(9)
    sources = channels // per_batch
    for n in range(seconds * 10):
        for s in range(sources):
            index = np.arange(s * per_batch, (s + 1) * per_batch, dtype=np.uint32)
            yield SampleBatch.at(
                source=f"src{s:02d}",
                seq=n,
                time_ns=T0 + n * PERIOD_NS,
                channel=index,
                value=50.0 + rng.standard_normal(per_batch),
                quality=Quality.GOOD,
            )


def report_of_a_campaign(seconds: int) -> Result:
    channels, per_batch = 2000, 200
    pad = load_pad(PAD)
    names = [f"bench.channel.{n:04d}" for n in range(channels)]
    with tempfile.TemporaryDirectory() as directory:
        samples = _journal(
            Path(directory),
            names,
            [f"src{s:02d}" for s in range(channels // per_batch)],
            _wide_cycles(channels, per_batch, seconds),
        )
        reader = JournalReader(Path(directory))
        started = time.perf_counter()
        facts = campaign_facts(
            pad,
            reader.channel_names(),
            (b for _, b in reader.samples()),
            (e for _, e in reader.events()),
        )
        page = render_html(facts)
        elapsed = time.perf_counter() - started
    limit_s = 60.0 * seconds / 3600
    return Result(
        name="Report of a campaign, 2,000 channels at 10 Hz",
        value=elapsed,
        unit="s",
        target=f"one hour (72M samples) under 60 s{'' if seconds == 3600 else f' (here {seconds} s: under {limit_s:.1f} s)'}",
        passed=elapsed < limit_s and facts.samples == samples,
        detail=f"{samples:,} samples journaled in batches of {per_batch}, then read back and folded (extremes, quality, curves) and the HTML rendered ({len(page) / 1e3:.0f} kB); {samples / elapsed / 1e6:.1f}M samples/s",
    )


def run_analysis_benchmarks(*, quick: bool) -> list[Result]:
    return [
        replay_through_monitors(300 if quick else 3000, 1 if quick else 3),
        replay_into_the_database(500 if quick else 5000),
        report_of_a_campaign(300 if quick else 3600),
    ]


if __name__ == "__main__":
    for result in run_analysis_benchmarks(quick="--quick" in sys.argv):
        print(result)
