"""Telemetry backbone benchmarks: end to end, the ingest alone, and naive baselines.

Mosquitto, InfluxDB 1.6 and VictoriaMetrics run from Debian's packages on this machine;
the ingest runs as its own process (as deployed), the controller side (journal and
publisher) in this one. Sample values are quantised as real sensor readings are (a 16-bit
register times its scale), not random doubles with 17 significant digits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import numpy as np
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api import WriteOptions

from bench.harness import Result
from groundseg.clock import SystemClock
from groundseg.codecs.frames import encode_frame
from groundseg.journal.writer import JournalSettings, JournalWriter
from groundseg.mqtt.connection import MqttSettings
from groundseg.mqtt.publisher import TelemetryPublisher
from groundseg.mqtt.topics import Topics
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch
from tests.helpers import in_background
from tests.services import InfluxDB1, Mosquitto, VictoriaMetrics

__all__ = ["ingest_process", "produce", "run_backbone_benchmarks", "stored_rows"]

PAD = "pads/baiterek.toml"
TOPICS = Topics("baiterek")
CHANNELS = 1000
SOURCES = 20
T0 = 1_780_000_000_000_000_000


def _values(rng: np.random.Generator) -> np.ndarray:
    return np.round(rng.standard_normal(CHANNELS) * 1000) / 1000


def _batch(number: int, values: np.ndarray) -> SampleBatch:
    return SampleBatch.at(
        source=f"dev{number % SOURCES}",
        seq=number // SOURCES,
        time_ns=T0 + number * 1_000_000,
        channel=np.arange(CHANNELS, dtype=np.uint32),
        value=values,
        quality=Quality.GOOD,
    )


@contextlib.contextmanager
def ingest_process(
    directory: Path, broker: Mosquitto, influx: InfluxDB1, *, extra: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "groundseg",
            "--log-level",
            "info",
            "ingest",
            "--pad",
            PAD,
            "--mqtt",
            f"127.0.0.1:{broker.port}",
            "--spool",
            str(directory / "spool"),
            "--influx-v1",
            influx.url,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=(directory / "ingest.log").open("a"),
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _logged(log: Path, text: str, *, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while text not in log.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{log.name} never said {text!r}")
        time.sleep(0.05)  # polling another process's log, under a deadline


def stored_rows(influx: InfluxDB1) -> int:
    result = influx.query('SELECT count("channel_999") FROM telemetry')
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


async def produce(
    directory: Path, broker_port: int, *, rate: float, seconds: float
) -> tuple[int, float]:
    """The controller side at a steady offered load: batches journaled, then published.
    Returns (batches produced, perf_counter at the start)."""
    journal = JournalWriter(
        JournalSettings(directory=directory / "journal"),
        pad="Baiterek",
        channels=[f"c{i}" for i in range(CHANNELS)],
        sources=[f"dev{i}" for i in range(SOURCES)],
        clock=SystemClock(),
    )
    journal.open()
    publisher = TelemetryPublisher(
        settings=MqttSettings(port=broker_port),
        topics=TOPICS,
        journal=journal,
        client_id="bench",
        cursor_file=directory / "cursor.json",
        clock=SystemClock(),
    )
    try:
        async with in_background(publisher.run()):
            while not publisher.statistics().connected:
                await asyncio.sleep(0.05)
            values = _values(np.random.default_rng(1))
            period = CHANNELS / rate
            start = time.perf_counter()
            produced = 0
            while time.perf_counter() - start < seconds:
                batch = _batch(produced, values)
                publisher.offer(journal.append(batch), batch)
                produced += 1
                await asyncio.sleep(max(start + produced * period - time.perf_counter(), 0.0))
            # Until the ingest has confirmed everything: a stopped publisher sends nothing.
            deadline = time.perf_counter() + 120
            while publisher.durable < produced and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
    finally:
        journal.close()
    return produced, start


async def end_to_end(directory: Path, *, rate: float, seconds: float) -> tuple[float, int, int]:
    """(sustained samples/s, batches produced, rows stored) for an offered load."""
    with (
        Mosquitto.running(directory / "mosquitto") as broker,
        InfluxDB1.running(directory / "influx") as influx,
        ingest_process(directory, broker, influx),
    ):
        produced, start = await produce(directory, broker.port, rate=rate, seconds=seconds)
        deadline = time.perf_counter() + 120
        while (stored := stored_rows(influx)) < produced and time.perf_counter() < deadline:
            await asyncio.sleep(0.25)
        elapsed = time.perf_counter() - start
    return stored * CHANNELS / elapsed, produced, stored


async def naive(directory: Path, *, seconds: float) -> float:
    """One aiomqtt publish and one influxdb-client Point per sample, into VictoriaMetrics."""
    with (
        Mosquitto.running(directory / "mosquitto-naive") as broker,
        VictoriaMetrics.running(directory / "vm") as vm,
    ):
        received = 0
        client = InfluxDBClient(url=vm.url, token="", org="bench")
        writer = client.write_api(write_options=WriteOptions(batch_size=1000, flush_interval=100))

        async def subscribe(ready: asyncio.Event) -> None:
            nonlocal received
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="naive-sub") as sub:
                await sub.subscribe("naive/#", qos=1)
                ready.set()
                async for message in sub.messages:
                    doc = json.loads(bytes(message.payload))
                    writer.write(
                        bucket="bench",
                        record=Point("naive")
                        .tag("source", doc["source"])
                        .field(doc["channel"], doc["value"])
                        .time(doc["t"]),
                    )
                    received += 1

        ready = asyncio.Event()
        async with (
            in_background(subscribe(ready)),
            aiomqtt.Client("127.0.0.1", broker.port, identifier="naive-pub") as pub,
        ):
            await ready.wait()
            values = _values(np.random.default_rng(2))
            start = time.perf_counter()
            sent = 0
            while time.perf_counter() - start < seconds:
                for i in range(100):
                    await pub.publish(
                        "naive/dev0",
                        json.dumps(
                            {
                                "source": "dev0",
                                "channel": f"c{i}",
                                "value": float(values[i]),
                                "t": T0 + sent,
                            }
                        ),
                        qos=1,
                    )
                    sent += 1
            while received < sent and time.perf_counter() - start < seconds * 3:
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - start
        writer.close()
        client.close()
        return received / elapsed


async def ingest_alone(directory: Path, *, frames: int) -> float:
    """Frames queued at the broker for an offline ingest, then drained into InfluxDB 1.6."""
    with (
        Mosquitto.running(directory / "mosquitto-ingest") as broker,
        InfluxDB1.running(directory / "influx-ingest") as influx,
    ):
        with ingest_process(directory, broker, influx):
            _logged(directory / "ingest.log", "subscribed")  # its session now exists
        values = _values(np.random.default_rng(3))
        payloads = [encode_frame(_batch(n, values), record=n) for n in range(frames)]
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-prefill") as client:
            for n, payload in enumerate(payloads):
                await client.publish(TOPICS.telemetry(f"dev{n % SOURCES}"), payload, qos=1)
        with ingest_process(directory, broker, influx):
            start = time.perf_counter()  # from the moment the ingest is up, not its start-up
            while stored_rows(influx) < frames and time.perf_counter() - start < 300:
                await asyncio.sleep(0.5)  # each count costs the database a scan: not too often
            elapsed = time.perf_counter() - start
        return frames * CHANNELS / elapsed


async def points_baseline(directory: Path, *, samples: int) -> float:
    """influxdb-client's batching writer fed one Point per sample, into VictoriaMetrics."""
    with VictoriaMetrics.running(directory / "vm-points") as vm:
        client = InfluxDBClient(url=vm.url, token="", org="bench")
        writer = client.write_api(write_options=WriteOptions(batch_size=5000, flush_interval=100))
        values = _values(np.random.default_rng(4)).tolist()
        start = time.perf_counter()
        for n in range(samples):
            writer.write(
                bucket="bench",
                record=Point("telemetry")
                .tag("source", f"dev{n // CHANNELS % SOURCES}")
                .field(f"c{n % CHANNELS}", values[n % CHANNELS])
                .time(T0 + n // CHANNELS),
            )
        writer.close()
        elapsed = time.perf_counter() - start
        client.close()
        return samples / elapsed


async def run_backbone_benchmarks(*, quick: bool) -> list[Result]:
    seconds = 10.0 if quick else 60.0
    with tempfile.TemporaryDirectory(prefix="groundseg-bench-") as temporary:
        directory = Path(temporary)
        ours, produced, stored = await end_to_end(directory / "e2e", rate=300_000, seconds=seconds)
        baseline = await naive(directory / "naive", seconds=5.0)
        alone = await ingest_alone(directory / "ingest", frames=3000 if quick else 8000)
        points = await points_baseline(directory / "points", samples=300_000)
    lost = produced - stored
    return [
        Result(
            name="End to end: journal, MQTT, ingest, InfluxDB 1.6 (read back)",
            value=ours / 1000,
            unit="k samples/s",
            target=">= 250k samples/s sustained, zero loss",
            passed=ours >= 250_000 and lost == 0,
            detail=f"300k samples/s offered for {seconds:g} s in {SOURCES} sources x {CHANNELS} channels; {produced} batches produced, {stored} rows read back ({lost} missing)",
        ),
        Result(
            name="End to end / naive pipeline (one publish and one Point per sample)",
            value=ours / baseline,
            unit="x",
            target=">= 30x",
            passed=ours / baseline >= 30,
            detail=f"naive: {baseline:,.0f} samples/s through aiomqtt and influxdb-client into VictoriaMetrics (it cannot write to InfluxDB 1.6)",
        ),
        Result(
            name="Ingest alone: queued MQTT frames into InfluxDB 1.6",
            value=alone / 1000,
            unit="k values/s",
            target=">= 500k values/s",
            passed=alone >= 500_000,
            detail="frames of 1000 samples queued at the broker for the ingest's persistent session, then drained by one ingest process",
        ),
        Result(
            name="Ingest alone / influxdb-client batching writer fed Points",
            value=alone / points,
            unit="x",
            target=">= 8x",
            passed=alone / points >= 8,
            detail=f"Points baseline: {points:,.0f} values/s (batches of 5000, into VictoriaMetrics)",
        ),
    ]
