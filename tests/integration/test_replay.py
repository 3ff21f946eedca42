"""Replay of a recorded count: from the journal and from InfluxDB alike, flagged as
replayed, into Mosquitto under the replay's own topics, through the monitors."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from pathlib import Path

import aiomqtt
import httpx
import numpy as np
import pytest

from groundseg.codecs.frames import decode_frame
from groundseg.ingest.lines import LineBuilder
from groundseg.journal.reader import JournalReader
from groundseg.mqtt.topics import Topics, pad_slug
from groundseg.quality import Quality
from groundseg.replay.player import flagged
from groundseg.replay.sources import InfluxV1Source, JournalSource, VictoriaMetricsSource
from groundseg.telemetry.batch import SampleBatch
from tests.helpers import eventually, in_background
from tests.integration.recording import RULE, Recording
from tests.integration.test_telemetry_backbone import ingest, wait_until
from tests.services import InfluxDB1, Mosquitto, VictoriaMetrics

Sample = tuple[int, str, str, float | None, int]


def samples(batches: list[SampleBatch], names: list[str]) -> list[Sample]:
    """(time, source, channel, value or None for not a number, quality), sorted."""
    return sorted(
        (
            int(batch.time_ns[i]),
            batch.source,
            names[batch.channel[i]],
            None if math.isnan(v := float(batch.value[i])) else v,
            int(batch.quality[i]),
        )
        for batch in batches
        for i in range(len(batch))
    )


def stored_in(influx: InfluxDB1, recording: Recording) -> None:
    """The recording written as the ingest writes it (docs/influx.md)."""
    builder = LineBuilder(
        pad=pad_slug(recording.pad.name), channels=JournalReader(recording.journal).channel_names()
    )
    lines = [
        line for _, b in JournalReader(recording.journal).samples() for line in builder.lines(b)
    ]
    answer = httpx.post(
        f"{influx.url}/write",
        params={"db": influx.database, "precision": "ns"},
        content="\n".join(lines).encode(),
        timeout=60,
    )
    assert answer.status_code == 204, answer.text


def test_a_journal_replay_and_an_influxdb_replay_give_the_same_samples(
    recording: Recording, influx: InfluxDB1
) -> None:
    stored_in(influx, recording)
    journal = JournalSource(recording.journal)
    database = InfluxV1Source(
        url=influx.url,
        database=influx.database,
        pad=pad_slug(recording.pad.name),
        channel_names=journal.channel_names,
        window_s=0.5,  # several windows even for this short record
    )
    from_journal = samples(list(journal.batches(None, None)), journal.channel_names)
    from_database = samples(list(database.batches(None, None)), journal.channel_names)
    assert len(from_journal) > 1000
    assert from_database == from_journal
    middle = from_journal[len(from_journal) // 2][0]
    late = samples(list(database.batches(middle, None)), journal.channel_names)
    assert late == [s for s in from_journal if s[0] >= middle]


@pytest.mark.parametrize("replayed", [False, True], ids=["recorded", "replayed"])
def test_a_victoria_metrics_replay_gives_the_journal_s_samples_to_the_millisecond(
    recording: Recording, tmp_path: Path, replayed: bool
) -> None:
    """And an archive of a replay (its lines marked `_replayed`) gives them REPLAYED."""
    journal = JournalSource(recording.journal)
    with VictoriaMetrics.running(tmp_path / "vm") as vm:
        builder = LineBuilder(pad=pad_slug(recording.pad.name), channels=journal.channel_names)
        batches = [flagged(b) if replayed else b for b in journal.batches(None, None)]
        lines = [line for b in batches for line in builder.lines(b)]
        answer = httpx.post(f"{vm.url}/write", content="\n".join(lines).encode(), timeout=60)
        assert answer.status_code == 204, answer.text
        httpx.get(f"{vm.url}/internal/force_flush", timeout=30)
        database = VictoriaMetricsSource(
            url=vm.url,
            pad=pad_slug(recording.pad.name),
            channel_names=journal.channel_names,
            window_s=0.5,
        )
        expected: list[Sample] = [
            (t // 1_000_000 * 1_000_000, source, channel, value, quality)
            for t, source, channel, value, quality in samples(batches, journal.channel_names)
        ]
        if replayed:
            assert {e[4] for e in expected} >= {Quality.REPLAYED}
            assert Quality.GOOD not in {e[4] for e in expected}

        # VictoriaMetrics keeps one sample per series and millisecond (a serial stream can
        # deliver two sentences of a channel within one): any of them may be the one kept.
        candidates: dict[tuple[int, str, str], list[tuple[float | None, int]]] = {}
        for t, source, channel, value, quality in expected:
            candidates.setdefault((t, source, channel), []).append((value, quality))

        def close(got: float | None, want: float | None) -> bool:
            """VictoriaMetrics keeps 12 significant digits of a value: equal to 1e-11."""
            return got == want or (
                got is not None and want is not None and math.isclose(got, want, rel_tol=1e-11)
            )

        def same() -> bool:
            got = samples(list(database.batches(None, None)), journal.channel_names)
            return len(got) == len(candidates) and all(
                any(
                    close(value, want) and quality == wanted
                    for want, wanted in candidates.get((t, source, channel), [])
                )
                for t, source, channel, value, quality in got
            )

        wait_until(same, within=30, what="VictoriaMetrics to give back every sample")


async def test_a_replay_into_mosquitto_sends_every_sample_flagged_and_never_as_live(
    recording: Recording, broker: Mosquitto
) -> None:
    batches = [b for _, b in JournalReader(recording.journal).samples()]
    recorded = sum(len(b) for b in batches)
    good = sum(int(np.count_nonzero(b.quality == Quality.GOOD)) for b in batches)
    replayed = Topics(f"{pad_slug(recording.pad.name)}-replay")
    received: list[SampleBatch] = []
    live: list[str] = []
    ready = asyncio.Event()

    async def listen() -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="analyst") as client:
            await client.subscribe("groundseg/#", qos=1)
            ready.set()
            async for message in client.messages:
                if message.topic.matches(replayed.all_telemetry):
                    assert isinstance(message.payload, bytes)
                    received.append(decode_frame(message.payload).batch)
                else:
                    live.append(str(message.topic))

    async with in_background(listen()):
        await asyncio.wait_for(ready.wait(), 10)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "groundseg", "replay",
            "--journal", str(recording.journal), "--pad", str(recording.pad.source),
            "--fast", "--mqtt", f"127.0.0.1:{broker.port}",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err.decode()
        assert f"{recorded} samples replayed" in out.decode()
        await eventually(
            lambda: sum(len(b) for b in received) >= recorded,
            within=20.0,
            what="every replayed sample at the subscriber",
        )
    assert sum(len(b) for b in received) == recorded
    qualities = np.concatenate([b.quality for b in received])
    assert Quality.GOOD not in qualities, "every GOOD sample went out as REPLAYED"
    assert np.count_nonzero(qualities == Quality.REPLAYED) == good
    assert not [t for t in live if "/telemetry/" in t], "nothing on the live pad's topics"


def test_a_replay_through_the_monitors_decides_the_recorded_hold(recording: Recording) -> None:
    shown = subprocess.run(
        [
            sys.executable, "-m", "groundseg", "replay",
            "--journal", str(recording.journal), "--pad", str(recording.pad.source),
            "--speed", "20", "--monitors",
        ],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert f"TRIP {RULE} (hold)" in shown.stdout
    assert f"clear {RULE} (hold)" in shown.stdout


def test_replay_needs_exactly_one_source(recording: Recording, tmp_path: Path) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "groundseg", "replay", "--pad", str(recording.pad.source)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 2
    assert "one of --journal, --influx-v1 or --victoria-metrics" in shown.stderr


def test_a_replay_archived_by_an_ingest_lands_under_its_own_pad_tag(
    recording: Recording, broker: Mosquitto, influx: InfluxDB1, tmp_path: Path
) -> None:
    frames = [b for _, b in JournalReader(recording.journal).samples()]
    replay_tag = f"{pad_slug(recording.pad.name)}-replay"
    consumer = ingest(
        tmp_path, broker, ["--influx-v1", influx.url], extra=["--topic-pad", replay_tag]
    )
    try:
        subprocess.run(
            [
                sys.executable, "-m", "groundseg", "replay",
                "--journal", str(recording.journal), "--pad", str(recording.pad.source),
                "--fast", "--mqtt", f"127.0.0.1:{broker.port}",
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

        def stored() -> list[Sample]:
            database = InfluxV1Source(
                url=influx.url,
                database=influx.database,
                pad=replay_tag,
                channel_names=[c.id for c in recording.pad.channels],
            )
            return samples(list(database.batches(None, None)), database.channel_names)

        names = JournalReader(recording.journal).channel_names()
        expected = [
            (t, s, c, v, Quality.REPLAYED if q == Quality.GOOD else q)
            for t, s, c, v, q in samples(frames, names)
        ]
        wait_until(lambda: stored() == expected, within=60, what="the replay archived")
    finally:
        consumer.stop()
    live = influx.query(
        f"SELECT count(*) FROM telemetry WHERE pad = '{pad_slug(recording.pad.name)}'"
    )
    assert "series" not in live["results"][0], "nothing stored under the live pad's tag"
