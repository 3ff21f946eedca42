"""Events over MQTT against a real Mosquitto: handed over live as they are journaled, read
back from the journal to catch up, in journal order, resumed from the cursor."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt

from groundseg.config import PadDefinition
from groundseg.journal.reader import JournalReader
from groundseg.journal.writer import JournalWriter
from groundseg.mqtt.connection import MqttSettings
from groundseg.mqtt.live import LivePublisher
from groundseg.telemetry.bus import Bus, Overflow
from groundseg.telemetry.events import Event, Severity
from tests.helpers import eventually, in_background
from tests.integration.test_publisher import TOPICS, journal
from tests.services import Mosquitto


def event(n: int) -> Event:
    return Event(
        kind="link.lost" if n % 2 else "link.up",
        source="plc",
        time_ns=1_800_000_000_000_000_000 + n,
        severity=Severity.WARNING if n % 2 else Severity.INFO,
        message=f"event {n}",
    )


def live_publisher(
    pad: PadDefinition, writer: JournalWriter, broker: Mosquitto, tmp_path: Path
) -> LivePublisher:
    return LivePublisher(
        settings=MqttSettings(port=broker.port),
        topics=TOPICS,
        pad=pad,
        samples=Bus().subscribe("live", capacity=10, overflow=Overflow.DROP_OLDEST),
        journal=JournalReader(writer.settings.directory),
        client_id="controller",
        event_cursor_file=tmp_path / "event-cursor.json",
    )


@contextlib.asynccontextmanager
async def events_seen(broker: Mosquitto) -> AsyncIterator[list[tuple[int, str]]]:
    """(record, message) of every event published, in arrival order."""
    seen: list[tuple[int, str]] = []
    ready = asyncio.Event()

    async def collect() -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="events") as client:
            await client.subscribe(f"{TOPICS.base}/events/#", qos=1)
            ready.set()
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                document = json.loads(message.payload)
                seen.append((document["record"], document["message"]))

    async with in_background(collect()):
        await asyncio.wait_for(ready.wait(), 10)
        yield seen


def running(publisher: LivePublisher) -> contextlib.AbstractAsyncContextManager[object]:
    return in_background(publisher.run())


def journaled(writer: JournalWriter, publisher: LivePublisher | None, numbers: range) -> None:
    for n in numbers:
        record = writer.append_event(event(n))
        if publisher is not None:
            publisher.notify_event(record, event(n))


async def test_events_go_out_once_in_journal_order_read_back_or_handed_over(
    pad: PadDefinition, broker: Mosquitto, tmp_path: Path
) -> None:
    writer = journal(tmp_path / "journal")
    publisher = live_publisher(pad, writer, broker, tmp_path)
    # Journaled before the publisher ran (a restart, an outage): only the journal has them.
    journaled(writer, None, range(5))
    async with events_seen(broker) as seen, running(publisher):
        journaled(writer, publisher, range(5, 60))
        await eventually(lambda: len(seen) >= 60, within=20.0, what="60 events")
        assert seen == [(n, f"event {n}") for n in range(60)]
        assert publisher.events_sent == 60


async def test_a_hand_over_gap_is_filled_from_the_journal(
    pad: PadDefinition, broker: Mosquitto, tmp_path: Path
) -> None:
    writer = journal(tmp_path / "journal")
    publisher = live_publisher(pad, writer, broker, tmp_path)
    async with events_seen(broker) as seen, running(publisher):
        journaled(writer, publisher, range(3))
        await eventually(lambda: len(seen) == 3, within=20.0, what="the first 3 events")
        journaled(writer, None, range(3, 8))  # never handed over: a gap in the live queue
        journaled(writer, publisher, range(8, 12))
        await eventually(lambda: len(seen) >= 12, within=20.0, what="12 events")
        assert [record for record, _ in seen] == list(range(12))


async def test_a_restarted_publisher_resumes_from_its_event_cursor(
    pad: PadDefinition, broker: Mosquitto, tmp_path: Path
) -> None:
    writer = journal(tmp_path / "journal")
    first = live_publisher(pad, writer, broker, tmp_path)
    async with events_seen(broker) as seen:
        async with running(first):
            journaled(writer, first, range(10))
            await eventually(lambda: len(seen) == 10, within=20.0, what="10 events")
        journaled(writer, None, range(10, 13))  # while no publisher ran
        second = live_publisher(pad, writer, broker, tmp_path)
        assert second.event_next == 10, "the stopped publisher saved where it was"
        async with running(second):
            await eventually(lambda: len(seen) == 13, within=20.0, what="3 more events")
    assert [record for record, _ in seen] == list(range(13)), "none sent twice, none missed"
