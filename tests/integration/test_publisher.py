"""The telemetry publisher against a real Mosquitto: frames, read-back after an outage, birth and death."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import numpy as np

from groundseg.clock import SystemClock
from groundseg.codecs.frames import decode_frame
from groundseg.journal.writer import JournalSettings, JournalWriter
from groundseg.mqtt.connection import MqttSettings
from groundseg.mqtt.publisher import TelemetryPublisher
from groundseg.mqtt.topics import Topics
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch
from tests.helpers import eventually, in_background
from tests.integration import rig
from tests.services import Mosquitto

TOPICS = Topics("testpad")


def batch(seq: int) -> SampleBatch:
    return SampleBatch.at(
        source="plc",
        seq=seq,
        time_ns=1_800_000_000_000_000_000 + seq,
        channel=np.arange(4, dtype=np.uint32),
        value=np.full(4, float(seq)),
        quality=Quality.GOOD,
    )


def journal(directory: Path) -> JournalWriter:
    writer = JournalWriter(
        JournalSettings(directory=directory),
        pad="testpad",
        channels=["a", "b", "c", "d"],
        sources=["plc"],
        clock=SystemClock(),
    )
    writer.open()
    return writer


@contextlib.asynccontextmanager
async def collector(
    broker: Mosquitto, *, persistent: bool = False
) -> AsyncIterator[dict[int, SampleBatch]]:
    """Every frame published on the telemetry topics, by record number."""
    frames: dict[int, SampleBatch] = {}

    async def collect() -> None:
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, identifier="collector", clean_session=not persistent
        ) as client:
            await client.subscribe(TOPICS.all_telemetry, qos=1)
            ready.set()
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                frame = decode_frame(message.payload)
                frames[frame.record] = frame.batch

    ready = asyncio.Event()
    async with in_background(collect()):
        await asyncio.wait_for(ready.wait(), 10)
        yield frames


@contextlib.asynccontextmanager
async def running(publisher: TelemetryPublisher) -> AsyncIterator[None]:
    async with in_background(publisher.run()):
        yield


def publisher_for(
    writer: JournalWriter, broker_port: int, tmp_path: Path, *, live_capacity: int = 4096
) -> TelemetryPublisher:
    return rig.publisher_for(
        writer,
        MqttSettings(port=broker_port),
        tmp_path,
        confirm="broker",
        topics=TOPICS,
        live_capacity=live_capacity,
    )


async def test_every_journaled_batch_is_published_once_as_a_frame(
    broker: Mosquitto, tmp_path: Path
) -> None:
    writer = journal(tmp_path / "journal")
    publisher = publisher_for(writer, broker.port, tmp_path)
    async with collector(broker) as frames, running(publisher):
        for seq in range(200):
            batch_ = batch(seq)
            publisher.offer(writer.append(batch_), batch_)
        await eventually(
            lambda: len(frames) == 200, within=10.0, what="200 frames", seen=lambda: len(frames)
        )
        await eventually(
            lambda: publisher.statistics().durable == 200, within=10.0, what="all 200 confirmed"
        )
    assert all(frames[r].seq == r and np.all(frames[r].value == r) for r in range(200))
    assert publisher.statistics().durable == 200
    assert json.loads((tmp_path / "cursor.json").read_text()) == {"next_record": 200}


async def test_batches_journaled_while_the_broker_was_down_are_read_back_and_sent(
    broker: Mosquitto, tmp_path: Path
) -> None:
    writer = journal(tmp_path / "journal")
    async with collector(broker, persistent=True):
        pass  # leaves a persistent session, so the broker keeps what arrives for it
    broker.stop()
    # A small hand-over queue overflows during the outage: the rest must come from the journal.
    publisher = publisher_for(writer, broker.port, tmp_path, live_capacity=8)
    async with running(publisher):
        for seq in range(50):
            batch_ = batch(seq)
            publisher.offer(writer.append(batch_), batch_)
            await asyncio.sleep(0)  # let the publisher try (and fail) to connect meanwhile
        await eventually(
            lambda: publisher.statistics().reconnects > 0,
            within=5.0,
            what="failed connection attempts",
        )
        broker.start()
        async with collector(broker, persistent=True) as frames:
            for seq in range(50, 60):
                batch_ = batch(seq)
                publisher.offer(writer.append(batch_), batch_)
            await eventually(
                lambda: set(frames) >= set(range(60)),
                within=15.0,
                what="all 60 frames",
                seen=lambda: sorted(set(range(60)) - set(frames)),
            )
    assert publisher.statistics().read_back >= 40


async def test_a_restarted_publisher_resumes_from_its_cursor(
    broker: Mosquitto, tmp_path: Path
) -> None:
    writer = journal(tmp_path / "journal")
    async with collector(broker) as frames:
        first = publisher_for(writer, broker.port, tmp_path)
        async with running(first):
            for seq in range(30):
                batch_ = batch(seq)
                first.offer(writer.append(batch_), batch_)
            await eventually(
                lambda: first.statistics().durable == 30, within=10.0, what="30 confirmed"
            )
        for seq in range(30, 40):
            writer.append(batch(seq))  # journaled while no publisher ran
        second = publisher_for(writer, broker.port, tmp_path)
        assert second.durable == 30
        async with running(second):
            await eventually(
                lambda: set(frames) >= set(range(40)),
                within=10.0,
                what="records 30-39 sent by the new publisher",
            )


async def test_birth_and_death_are_retained_state_messages(
    broker: Mosquitto, tmp_path: Path
) -> None:
    writer = journal(tmp_path / "journal")
    publisher = publisher_for(writer, broker.port, tmp_path)
    topic = TOPICS.state("controller")

    def retained() -> dict[str, str]:
        out = subprocess.run(
            [
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                str(broker.port),
                "-t",
                topic,
                "-C",
                "1",
                "-W",
                "3",
                "--retained-only",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return dict(json.loads(out.stdout)) if out.stdout.strip() else {}

    async with running(publisher):
        await eventually(lambda: publisher.statistics().connected, within=10.0, what="connected")
        await eventually(
            lambda: retained().get("state") == "online", within=10.0, what="retained birth message"
        )
    assert retained().get("state") == "offline", "a clean stop leaves a retained offline state"
