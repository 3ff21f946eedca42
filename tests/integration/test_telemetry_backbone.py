"""The telemetry backbone as processes: controller (on hw_sim), Mosquitto, ingest, databases.

Every sample the drivers produce is in the controller's journal; these tests hold the
databases to the journal, through killed processes and a full disk.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from groundseg.config import PadDefinition
from groundseg.journal.reader import JournalReader
from tests.conftest import PAD_FILE
from tests.helpers import small_disk
from tests.services import InfluxDB1, Mosquitto, VictoriaMetrics

CHECKED = [
    "lox.s1.ullage_pressure.a",
    "gn2.supply.pressure.a",
    "umb.bus.voltage",
    "wx.wind.m10.gust",
]


class Service:
    """A groundseg process; the first stdout line is its JSON announcement."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "groundseg", "--log-level", "info", *args],
            stdout=subprocess.PIPE,
            stderr=log.open("ab"),
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(
                f"{args[0]} exited before announcing itself:\n{log.read_text()[-3000:]}"
            )
        self.announcement: dict[str, object] = json.loads(line)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(check: object, *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {what} within {within:g} s")
        time.sleep(0.2)  # polling other processes' progress, under a deadline


def controller(
    tmp_path: Path, broker: Mosquitto, state: Path | None = None, *, extra: list[str] | None = None
) -> Service:
    return Service(
        [
            "controller",
            "--pad",
            str(PAD_FILE),
            "--sim",
            "--speed",
            "5",
            "--mqtt",
            f"127.0.0.1:{broker.port}",
            "--state-dir",
            str(state or tmp_path / "state"),
            *(extra or []),
        ],
        tmp_path / "controller.log",
    )


def ingest(
    tmp_path: Path, broker: Mosquitto, sinks: list[str], *, extra: list[str] | None = None
) -> Service:
    return Service(
        [
            "ingest",
            "--pad",
            str(PAD_FILE),
            "--mqtt",
            f"127.0.0.1:{broker.port}",
            "--spool",
            str(tmp_path / "spool"),
            "--retry-max-s",
            "0.5",
            *sinks,
            *(extra or []),
        ],
        tmp_path / "ingest.log",
    )


Sample = tuple[int, int, float | None]
"""(time, quality, value; None for a value that is not a number)."""


def journal_samples(state: Path, pad: PadDefinition) -> dict[str, list[Sample]]:
    """Every journaled sample of the checked channels."""
    wanted = {pad.channel(c).index: c for c in CHECKED}
    found: dict[str, list[Sample]] = {c: [] for c in CHECKED}
    for _, batch in JournalReader(state / "journal").samples():
        for index, channel in wanted.items():
            for i in np.flatnonzero(batch.channel == index):
                value = float(batch.value[i])
                found[channel].append(
                    (
                        int(batch.time_ns[i]),
                        int(batch.quality[i]),
                        value if np.isfinite(value) else None,
                    )
                )
    return {c: sorted(v, key=lambda s: s[:2]) for c, v in found.items()}


def influx_samples(influx: InfluxDB1) -> dict[str, list[Sample]]:
    """The same, read back; a sample without a quality field is GOOD (docs/influx.md)."""
    found = {}
    for channel in CHECKED:
        result = influx.query(f'SELECT "{channel}", "{channel}_quality" FROM telemetry')
        series = result["results"][0].get("series", [])
        found[channel] = sorted(
            ((int(t), int(q or 0), v) for s in series for t, v, q in s["values"]),
            key=lambda s: s[:2],
        )
    return found


def assert_database_holds_the_journal(
    state: Path, pad: PadDefinition, influx: InfluxDB1, *, within: float = 60.0
) -> None:
    expected = journal_samples(state, pad)
    assert all(len(v) > 3 for v in expected.values()), {c: len(v) for c, v in expected.items()}
    deadline = time.monotonic() + within
    while True:
        stored = influx_samples(influx)
        if stored == expected:
            return
        if time.monotonic() > deadline:
            missing = {c: len(set(expected[c]) - set(stored[c])) for c in CHECKED}
            extra = {c: len(set(stored[c]) - set(expected[c])) for c in CHECKED}
            raise AssertionError(
                f"database differs from the journal: missing {missing}, extra {extra}"
            )
        time.sleep(0.5)  # waiting for another process to drain, under a deadline


def test_every_sample_the_drivers_produce_is_stored_exactly_once(
    tmp_path: Path, pad: PadDefinition, broker: Mosquitto, influx: InfluxDB1
) -> None:
    with VictoriaMetrics.running(tmp_path / "vm") as vm:
        consumer = ingest(tmp_path, broker, ["--influx-v1", influx.url, "--influx-v2", vm.url])
        try:
            _stream_and_check(tmp_path, pad, broker, influx, vm)
        finally:
            consumer.stop()


def _stream_and_check(
    tmp_path: Path, pad: PadDefinition, broker: Mosquitto, influx: InfluxDB1, vm: VictoriaMetrics
) -> None:
    """Stream until the journal holds 200 samples, then hold both databases to it."""
    producer = controller(tmp_path, broker)
    try:
        wait_until(
            lambda: sum(len(v) for v in journal_samples(tmp_path / "state", pad).values()) > 200,
            within=30,
            what="telemetry flowing",
        )
        retained = subprocess.run(
            [
                "mosquitto_sub",
                "-p",
                str(broker.port),
                "-t",
                "groundseg/baiterek/latest/#",
                "--retained-only",
                "-C",
                "20",
                "-W",
                "5",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()
    finally:
        producer.stop()
    assert_database_holds_the_journal(tmp_path / "state", pad, influx)
    journaled = sorted(
        (t // 1_000_000, v)
        for t, _, v in journal_samples(tmp_path / "state", pad)["umb.bus.voltage"]
        if v is not None
    )

    def exported() -> list[tuple[int, float]]:
        return sorted(
            pair
            for s in vm.export('{__name__="telemetry_umb.bus.voltage"}')
            for pair in zip(s["timestamps"], s["values"], strict=True)
        )

    wait_until(
        lambda: exported() == journaled,
        within=30,
        what="VictoriaMetrics to hold every journaled sample",
    )
    assert len(retained) == 20
    document = json.loads(retained[0])
    assert set(document) >= {"channel", "value", "unit", "quality", "time", "t_ns"}
    assert pad.has_channel(document["channel"])


def journal_grows(state: Path, pad: PadDefinition, *, beyond: int) -> None:
    wait_until(
        lambda: len(journal_samples(state, pad)["umb.bus.voltage"]) > beyond,
        within=30,
        what=f"more than {beyond} voltage samples journaled",
    )


def journal_end(state: Path) -> int:
    """The record number the next journaled batch would get."""
    return max((record for record, _ in JournalReader(state / "journal").samples()), default=-1) + 1


def confirmed_up_to(state: Path) -> int:
    """The controller's saved cursor: every record below it is confirmed stored."""
    return int(json.loads((state / "publisher-cursor.json").read_text())["next_record"])


def test_a_clean_stop_waits_until_every_journaled_record_is_stored(
    tmp_path: Path, pad: PadDefinition, broker: Mosquitto, influx: InfluxDB1
) -> None:
    consumer = ingest(tmp_path, broker, ["--influx-v1", influx.url])
    try:
        producer = controller(tmp_path, broker)
        journal_grows(tmp_path / "state", pad, beyond=20)
        producer.stop()
        assert producer.process.returncode == 0, producer.log.read_text()[-3000:]
        assert confirmed_up_to(tmp_path / "state") == journal_end(tmp_path / "state")
        assert_database_holds_the_journal(tmp_path / "state", pad, influx)
    finally:
        consumer.stop()


def test_a_stop_without_an_ingest_ends_after_its_drain_time_and_keeps_the_rest(
    tmp_path: Path, pad: PadDefinition, broker: Mosquitto
) -> None:
    producer = controller(tmp_path, broker, extra=["--drain-s", "1"])
    journal_grows(tmp_path / "state", pad, beyond=10)
    producer.stop()
    assert producer.process.returncode == 0, "ended by itself, not killed"
    unconfirmed = journal_end(tmp_path / "state") - confirmed_up_to(tmp_path / "state")
    assert unconfirmed > 0, "nothing can be confirmed without an ingest"
    assert f"records={unconfirmed}" in producer.log.read_text()


def test_a_killed_ingest_restarts_and_nothing_is_missing(
    tmp_path: Path, pad: PadDefinition, broker: Mosquitto, influx: InfluxDB1
) -> None:
    consumer = ingest(tmp_path, broker, ["--influx-v1", influx.url])
    producer = controller(tmp_path, broker)
    try:
        wait_until(
            lambda: len(influx_samples(influx)["umb.bus.voltage"]) > 20,
            within=30,
            what="rows in the database",
        )
        consumer.kill()
        journaled = len(journal_samples(tmp_path / "state", pad)["umb.bus.voltage"])
        wait_until(
            lambda: (
                len(journal_samples(tmp_path / "state", pad)["umb.bus.voltage"]) > journaled + 10
            ),
            within=30,
            what="telemetry to keep coming while no ingest runs",
        )
        consumer = ingest(tmp_path, broker, ["--influx-v1", influx.url])
        stored = len(influx_samples(influx)["umb.bus.voltage"])
        wait_until(
            lambda: len(influx_samples(influx)["umb.bus.voltage"]) > stored,
            within=30,
            what="the restarted ingest to store rows",
        )
    finally:
        producer.stop()
    try:
        assert_database_holds_the_journal(tmp_path / "state", pad, influx)
    finally:
        consumer.stop()


def test_a_killed_controller_resumes_its_journal_and_never_reuses_a_sequence_number(
    tmp_path: Path, pad: PadDefinition, broker: Mosquitto, influx: InfluxDB1
) -> None:
    consumer = ingest(tmp_path, broker, ["--influx-v1", influx.url])
    try:
        producer = controller(tmp_path, broker)
        journal_grows(tmp_path / "state", pad, beyond=20)
        producer.kill()
        before = list(JournalReader(tmp_path / "state" / "journal").samples())
        producer = controller(tmp_path, broker)
        wait_until(
            lambda: (
                len(list(JournalReader(tmp_path / "state" / "journal").samples()))
                > len(before) + 50
            ),
            within=30,
            what="journaling resumed",
        )
        producer.stop()
        after = list(JournalReader(tmp_path / "state" / "journal").samples())
        records = [r for r, _ in after]
        assert records == list(range(len(after))), "record numbers continue without a gap"
        assert all(a[1].seq == b[1].seq for a, b in zip(before, after, strict=False)), (
            "earlier data is intact"
        )
        for source in pad.devices:
            seqs = [b.seq for _, b in after if b.source == source]
            assert seqs == sorted(set(seqs)), f"{source}: a sequence number was used twice"
        assert_database_holds_the_journal(tmp_path / "state", pad, influx)
    finally:
        consumer.stop()


def test_a_full_journal_disk_raises_an_alarm_and_live_telemetry_continues(
    tmp_path: Path, pad: PadDefinition, broker: Mosquitto, influx: InfluxDB1
) -> None:
    with small_disk(tmp_path / "small-disk", "2m") as state:
        _fill_the_journal_disk(tmp_path, state, broker, influx)


def _fill_the_journal_disk(
    tmp_path: Path, state: Path, broker: Mosquitto, influx: InfluxDB1
) -> None:
    events = subprocess.Popen(
        [
            "mosquitto_sub",
            "-p",
            str(broker.port),
            "-t",
            "groundseg/baiterek/events/journal.failed",
            "-C",
            "1",
            "-q",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    consumer = ingest(tmp_path, broker, ["--influx-v1", influx.url])
    producer = controller(tmp_path, broker, state=state)
    try:
        alarm = json.loads(events.communicate(timeout=60)[0])
        assert alarm["severity"] == "alarm"
        assert "not archived" in alarm["message"]
        assert producer.process.poll() is None, "the controller is still running"
        rows = len(influx_samples(influx)["umb.bus.voltage"])
        wait_until(
            lambda: len(influx_samples(influx)["umb.bus.voltage"]) > rows + 10,
            within=30,
            what="telemetry still reaching the database",
        )
        wait_until(
            lambda: (
                json.loads(
                    subprocess.run(
                        [
                            "mosquitto_sub",
                            "-p",
                            str(broker.port),
                            "-t",
                            "groundseg/baiterek/latest/umb.bus.voltage",
                            "-C",
                            "1",
                            "-W",
                            "10",
                        ],
                        capture_output=True,
                        text=True,
                        check=False,
                    ).stdout
                    or "{}"
                ).get("archived")
                is False
            ),
            within=20,
            what="latest values flagged as not archived",
        )
    finally:
        producer.stop()
        consumer.stop()
        events.kill()
