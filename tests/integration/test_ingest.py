"""Journal, publisher, Mosquitto, ingest, database: every sample stored once, through outages."""

from __future__ import annotations

import asyncio
from pathlib import Path

from groundseg.ingest.service import COMMIT_FRAMES, IngestService, IngestSettings
from groundseg.ingest.sinks import InfluxV1Sink, InfluxV2Sink
from groundseg.ingest.spool import Spool
from groundseg.mqtt.connection import MqttSettings, make_client
from tests.helpers import eventually, in_background, small_disk
from tests.integration.rig import (
    CHANNELS,
    T0,
    TOPICS,
    EventLog,
    Pipeline,
    all_stored,
    assert_exactly,
    count_rows,
    ingest,
    pipeline,
    rows_stored,
)
from tests.services import InfluxDB1, Mosquitto, VictoriaMetrics


async def test_every_sample_reaches_influxdb_and_victoriametrics_once(
    tmp_path: Path, broker: Mosquitto, influx: InfluxDB1
) -> None:
    with VictoriaMetrics.running(tmp_path / "vm") as vm:
        line = pipeline(tmp_path, broker)
        service = ingest(
            tmp_path,
            broker,
            [InfluxV1Sink(influx.url, influx.database), InfluxV2Sink(vm.url, bucket="groundseg")],
        )
        async with (
            in_background(service.run(), "ingest"),
            in_background(line.publisher.run(), "publisher"),
        ):
            line.produce("plc", range(300))
            line.produce("gas_panel", range(100))
            await all_stored(line, influx, 400, what="in InfluxDB")
        assert_exactly(influx, {"plc": 300, "gas_panel": 100})
        series = {
            str(s["metric"]["__name__"]) + "/" + str(s["metric"]["source"]): s
            for s in vm.export('{__name__="telemetry_ch.0"}')
        }
        assert series["telemetry_ch.0/plc"]["values"] == [float(s) for s in range(300)]
        assert series["telemetry_ch.0/plc"]["timestamps"] == [
            (T0 + s * 10_000_000) // 1_000_000 for s in range(300)
        ]
        assert len(series["telemetry_ch.0/gas_panel"]["values"]) == 100


BROKER_OUTAGE_S = 30.0


async def produce_steadily(
    line: Pipeline, source: str, *, first: int, rate_hz: float, for_s: float
) -> int:
    """Batches at a steady rate for a while, as drivers would; returns the next seq."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    seq = first
    while (elapsed := loop.time() - start) < for_s:
        due = first + int(elapsed * rate_hz) + 1
        line.produce(source, range(seq, due))
        seq = due
        await asyncio.sleep(0.05)  # pacing the load, not waiting for anything
    return seq


async def test_a_broker_killed_under_load_loses_nothing(
    tmp_path: Path, broker: Mosquitto, influx: InfluxDB1
) -> None:
    line = pipeline(tmp_path, broker)
    service = ingest(tmp_path, broker, [InfluxV1Sink(influx.url, influx.database)])
    async with (
        in_background(service.run(), "ingest"),
        in_background(line.publisher.run(), "publisher"),
    ):
        line.produce("plc", range(200))
        await eventually(lambda: count_rows(influx) >= 50, within=20.0, what="data flowing")
        broker.kill()  # SIGKILL: the broker's queued messages die with it
        produced = await produce_steadily(
            line, "plc", first=200, rate_hz=100, for_s=BROKER_OUTAGE_S
        )
        broker.start()
        line.produce("plc", range(produced, produced + 100))
        total = produced + 100
        await rows_stored(
            influx, total, within=60.0, what=f"all {total} rows after the broker came back"
        )
    assert_exactly(influx, {"plc": total})


async def test_the_database_away_longer_than_the_retry_budget_loses_nothing(
    tmp_path: Path, broker: Mosquitto, influx: InfluxDB1
) -> None:
    line = pipeline(tmp_path, broker)
    service = ingest(
        tmp_path,
        broker,
        [InfluxV1Sink(influx.url, influx.database, timeout_s=1.0)],
        retry_max_s=0.3,
    )
    health = EventLog(broker, TOPICS.ingest_health("ingest-1"))
    async with (
        in_background(health.listen(), "health"),
        in_background(service.run(), "ingest"),
        in_background(line.publisher.run(), "publisher"),
    ):
        line.produce("plc", range(100))
        await eventually(lambda: count_rows(influx) == 100, within=20.0, what="the first 100 rows")
        influx.stop()
        line.produce("plc", range(100, 600))
        peak_in_memory = 0

        def note_memory() -> bool:
            nonlocal peak_in_memory
            peak_in_memory = max(peak_in_memory, service.frames_in_memory)
            return False

        await eventually(
            lambda: service.stats.write_failures >= 5,
            within=20.0,
            what="several failed writes (the retry budget spent)",
            seen=lambda: (service.stats, service.spool.statistics()),
        )
        assert not service.stats.database_up
        assert service.spool.statistics().pending_records > 0, "the spool holds the backlog"
        await eventually(
            lambda: note_memory() or line.publisher.statistics().durable == 600,
            within=10.0,
            what="spooled frames confirmed while the database is away",
        )
        # At least the 500 (a resend under load can spool a frame twice; delivery drops it).
        assert service.spool.statistics().pending_records >= 500, "the backlog is on disk"
        assert peak_in_memory <= COMMIT_FRAMES, "memory holds one commit group at most"
        await eventually(
            lambda: any(
                not h["database_up"] and h["spool_pending_frames"] >= 500 and h["lag_s"] > 0
                for h in health.events
            ),
            within=10.0,
            what="operators told over MQTT: database down, backlog and lag",
            seen=lambda: health.events[-1:],
        )
        influx.start()
        await rows_stored(influx, 600, within=60.0, what="all 600 rows after the database returned")
        await eventually(
            lambda: service.spool.statistics().pending_records == 0,
            within=10.0,
            what="the spool drained",
        )
        await eventually(
            lambda: (
                bool(health.events)
                and health.events[-1]["database_up"]
                and health.events[-1]["spool_pending_frames"] == 0
                and health.events[-1]["lag_s"] == 0
            ),
            within=10.0,
            what="health back to normal",
            seen=lambda: health.events[-1:],
        )
    assert_exactly(influx, {"plc": 600})


async def test_two_ingest_instances_on_a_shared_subscription_store_every_sample_once(
    tmp_path: Path, broker: Mosquitto, influx: InfluxDB1
) -> None:
    line = pipeline(tmp_path, broker)
    sink = InfluxV1Sink(influx.url, influx.database)
    first = ingest(tmp_path, broker, [sink], instance="ingest-a", shared="ingest")
    second = ingest(
        tmp_path,
        broker,
        [InfluxV1Sink(influx.url, influx.database)],
        instance="ingest-b",
        shared="ingest",
    )
    async with (
        in_background(first.run(), "ingest-a"),
        in_background(second.run(), "ingest-b"),
        in_background(line.publisher.run(), "publisher"),
    ):
        # Both subscribed before the load starts (else the first takes it all).
        await eventually(
            lambda: first.subscribed.is_set() and second.subscribed.is_set(),
            within=10.0,
            what="both instances subscribed",
        )
        line.produce("plc", range(400))
        await all_stored(line, influx, 400, what="stored")
    assert first.stats.frames > 0
    assert second.stats.frames > 0, "the load was split"
    assert_exactly(influx, {"plc": 400})


async def test_a_full_spool_disk_raises_an_alarm_holds_frames_back_and_loses_nothing(
    tmp_path: Path, broker: Mosquitto, influx: InfluxDB1
) -> None:
    """Database away, spool disk full: an alarm, no crash; frames wait upstream, none lost."""
    line = pipeline(tmp_path, broker)
    events = EventLog(broker)
    kinds = events.kinds
    with small_disk(tmp_path / "small-disk", "256k") as disk:
        service = IngestService(
            mqtt=MqttSettings(port=broker.port),
            topics=TOPICS,
            spool=Spool(disk / "spool", sync_every=0),
            sinks=[InfluxV1Sink(influx.url, influx.database, timeout_s=1.0)],
            channels=CHANNELS,
            settings=IngestSettings(retry_max_s=0.3, dead_letter=tmp_path / "dead.lp"),
        )
        try:
            async with (
                in_background(events.listen(), "events"),
                in_background(service.run(), "ingest"),
                in_background(line.publisher.run(), "publisher"),
            ):
                influx.stop()
                line.produce("plc", range(3000))
                await eventually(
                    lambda: "ingest.spool_full" in kinds(),
                    within=30.0,
                    what="the spool-full alarm",
                    seen=lambda: (service.stats, service.spool.statistics()),
                )
                alarm = events.first("ingest.spool_full")
                assert alarm["severity"] == "alarm"
                assert alarm["source"] == "ingest-1"
                assert service.health()["spool_full"] is True
                assert line.publisher.statistics().durable < 3000, "some frames wait upstream"
                influx.start()
                await rows_stored(
                    influx, 3000, within=90.0, what="all 3000 rows once the database returned"
                )
                await eventually(
                    lambda: "ingest.spool_resumed" in kinds(),
                    within=10.0,
                    what="the spool taking frames again",
                )
        finally:
            service.spool.close()
    assert_exactly(influx, {"plc": 3000})


async def test_refused_lines_and_bad_frames_go_to_the_dead_letter_file_with_an_alarm(
    tmp_path: Path, broker: Mosquitto, influx: InfluxDB1
) -> None:
    """Nothing is dropped silently: what the database refuses and what cannot be decoded
    is kept, and said aloud; delivery goes on."""
    # ch.3 already stored as an integer: InfluxDB refuses float values for it (HTTP 400).
    InfluxV1Sink(influx.url, influx.database).write(f"telemetry,pad=testpad,source=x ch.3=1i {T0}")
    line = pipeline(tmp_path, broker)
    events = EventLog(broker)
    service = ingest(tmp_path, broker, [InfluxV1Sink(influx.url, influx.database)])
    async with (
        in_background(events.listen(), "events"),
        in_background(service.run(), "ingest"),
        in_background(line.publisher.run(), "publisher"),
    ):
        await eventually(service.subscribed.is_set, within=10.0, what="the ingest subscribed")
        line.produce("plc", range(5))
        await eventually(
            lambda: "ingest.dead_letter" in events.kinds(),
            within=20.0,
            what="the dead-letter alarm",
            seen=lambda: service.stats,
        )
        async with make_client(MqttSettings(port=broker.port), client_id="rogue") as rogue:
            await rogue.publish(TOPICS.telemetry("plc"), b"not a frame at all", qos=1)
        await eventually(
            lambda: "ingest.bad_frame" in events.kinds(),
            within=20.0,
            what="the bad-frame warning",
        )
        await eventually(
            lambda: service.spool.statistics().pending_records == 0,
            within=10.0,
            what="delivery to go on past the refused lines",
        )
    assert events.first("ingest.dead_letter")["severity"] == "alarm"
    assert events.first("ingest.bad_frame")["severity"] == "warning"
    kept = (tmp_path / "dead-ingest-1.lp").read_text()
    assert "field type conflict" in kept
    assert kept.count("telemetry,pad=testpad,source=plc ") == 5, "every refused line is kept"
    assert b"not a frame at all".hex() in kept
    assert service.stats.dead_letters == 2
