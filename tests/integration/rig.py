"""A telemetry backbone on a test bench: journal and publisher in this process, ingest
services, a Mosquitto and databases of the test's own; helpers to count what was stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from groundseg.clock import SystemClock
from groundseg.ingest.service import IngestService, IngestSettings
from groundseg.ingest.sinks import Sink
from groundseg.ingest.spool import Spool
from groundseg.journal.writer import JournalSettings, JournalWriter
from groundseg.mqtt.connection import MqttSettings, make_client
from groundseg.mqtt.publisher import TelemetryPublisher
from groundseg.mqtt.topics import Topics
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch
from tests.helpers import eventually
from tests.services import InfluxDB1, Mosquitto

TOPICS = Topics("testpad")
CHANNELS = [f"ch.{i}" for i in range(16)]
T0 = 1_780_000_000_000_000_000


def batch(source: str, seq: int) -> SampleBatch:
    return SampleBatch.at(
        source=source,
        seq=seq,
        time_ns=T0 + seq * 10_000_000,
        channel=np.arange(len(CHANNELS), dtype=np.uint32),
        value=np.arange(len(CHANNELS), dtype=np.float64) + seq,
        quality=Quality.GOOD,
    )


@dataclass
class Pipeline:
    journal: JournalWriter
    publisher: TelemetryPublisher

    def produce(self, source: str, seqs: range) -> None:
        for seq in seqs:
            item = batch(source, seq)
            self.publisher.offer(self.journal.append(item), item)


def connection(
    tmp_path: Path, broker: Mosquitto, *, user: str | None = None, protocol: int = 5
) -> MqttSettings:
    """How a service reaches `broker`: on a secure broker, over TLS as `user`, whose
    password comes from a file (as deployed: never on a command line)."""
    if broker.ca_file is None or user is None:
        return MqttSettings(port=broker.port, protocol=protocol)
    password_file = tmp_path / f"{user}.password"
    password_file.write_text(broker.passwords[user] + "\n")
    return MqttSettings(
        port=broker.port,
        protocol=protocol,
        tls=True,
        ca_file=broker.ca_file,
        username=user,
        password_file=password_file,
    )


def pipeline(tmp_path: Path, broker: Mosquitto, *, mqtt: MqttSettings | None = None) -> Pipeline:
    journal = JournalWriter(
        JournalSettings(directory=tmp_path / "journal"),
        pad="testpad",
        channels=CHANNELS,
        sources=["plc", "gas_panel"],
        clock=SystemClock(),
    )
    journal.open()
    publisher = publisher_for(journal, mqtt or MqttSettings(port=broker.port), tmp_path)
    return Pipeline(journal, publisher)


def publisher_for(
    journal: JournalWriter,
    mqtt: MqttSettings,
    tmp_path: Path,
    *,
    confirm: Literal["ingest", "broker"] = "ingest",
    topics: Topics = TOPICS,
    live_capacity: int = 4096,
) -> TelemetryPublisher:
    """The controller's publisher, resending after a second (at most every four) for tests."""
    return TelemetryPublisher(
        settings=mqtt,
        topics=topics,
        journal=journal,
        client_id="controller",
        cursor_file=tmp_path / "cursor.json",
        clock=SystemClock(),
        confirm=confirm,
        live_capacity=live_capacity,
        resend_after_s=1.0,
        resend_max_s=4.0,
    )


def ingest(
    tmp_path: Path,
    broker: Mosquitto,
    sinks: list[Sink],
    *,
    instance: str = "ingest-1",
    shared: str | None = None,
    retry_max_s: float = 0.5,
    mqtt: MqttSettings | None = None,
) -> IngestService:
    return IngestService(
        mqtt=mqtt or MqttSettings(port=broker.port),
        topics=TOPICS,
        spool=Spool(tmp_path / f"spool-{instance}", sync_every=0),
        sinks=sinks,
        channels=CHANNELS,
        settings=IngestSettings(
            instance=instance,
            shared_group=shared,
            retry_max_s=retry_max_s,
            dead_letter=tmp_path / f"dead-{instance}.lp",
        ),
    )


def stored_rows(influx: InfluxDB1) -> dict[str, list[list[object]]]:
    result = influx.query('SELECT "ch.0", "ch.15" FROM telemetry GROUP BY "source"')
    series = result["results"][0].get("series", [])
    return {s["tags"]["source"]: s["values"] for s in series}


def count_rows(influx: InfluxDB1) -> int:
    return sum(len(rows) for rows in stored_rows(influx).values())


async def rows_stored(influx: InfluxDB1, rows: int, *, within: float, what: str) -> None:
    await eventually(
        lambda: count_rows(influx) == rows,
        within=within,
        what=what,
        seen=lambda: count_rows(influx),
    )


async def all_stored(line: Pipeline, influx: InfluxDB1, rows: int, *, what: str) -> None:
    """`rows` rows in the database, and the publisher told every one is stored."""
    await rows_stored(influx, rows, within=30.0, what=f"{rows} rows {what}")
    await eventually(
        lambda: line.publisher.statistics().durable == rows,
        within=10.0,
        what=f"acknowledgements for all {rows} to reach the publisher",
    )


def assert_exactly(influx: InfluxDB1, expected: dict[str, int]) -> None:
    rows = stored_rows(influx)
    for source, n in expected.items():
        got = rows.get(source, [])
        assert [r[0] for r in got] == [T0 + s * 10_000_000 for s in range(n)], (
            f"{source}: missing or extra rows"
        )
        assert [r[1] for r in got] == [float(s) for s in range(n)]
        assert [r[2] for r in got] == [15.0 + s for s in range(n)]


class EventLog:
    """Every JSON message on a topic filter (the events topics unless told), as it comes."""

    def __init__(self, broker: Mosquitto, topic: str = TOPICS.event("#")) -> None:
        self.broker = broker
        self.topic = topic
        self.events: list[dict[str, Any]] = []

    async def listen(self) -> None:
        settings = MqttSettings(port=self.broker.port)
        async with make_client(settings, client_id=f"test-log-{id(self)}") as client:
            await client.subscribe(self.topic, qos=1)
            async for message in client.messages:
                # One at a time as they come (a comprehension would wait for the last).
                self.events.append(json.loads(bytes(message.payload)))

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.events]

    def first(self, kind: str) -> dict[str, Any]:
        return self.events[self.kinds().index(kind)]
