"""`groundseg ingest`: telemetry frames from MQTT into the database, losing nothing.

    broker --QoS 1, persistent session--> receive --append--> spool --> deliver --> database
                                            |  ack to the broker only after the append
                                            +--> stored record ranges --> ack topic --> publisher

A frame is acknowledged to the broker only once it is in the spool, so a killed ingest
loses nothing the broker still had; the stored record ranges, published on the ack topic,
let the controller resend whatever the broker lost. Delivery reads the spool in order,
drops duplicates by (source, seq), notes gaps, writes large batches of wide lines, and
retries with backoff (honouring Retry-After) for as long as the database is away: the
spool, not memory, holds the backlog. Lines the database refuses as malformed go to a
dead-letter file with an alarm. Health and lag are published for operators.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import structlog

from groundseg.codecs.frames import NOT_ARCHIVED, decode_frame
from groundseg.drivers.backoff import Backoff
from groundseg.errors import ProtocolError
from groundseg.ingest.lines import LineBuilder
from groundseg.ingest.sinks import Sink, SinkError
from groundseg.ingest.spool import Position, Spool, SpoolFull
from groundseg.mqtt.acks import IntervalSet
from groundseg.mqtt.connection import MqttSettings, make_client
from groundseg.mqtt.live import event_json
from groundseg.mqtt.topics import Topics
from groundseg.telemetry.events import Event, Severity

__all__ = ["IngestService", "IngestSettings", "IngestStatistics"]

log = structlog.get_logger("groundseg.ingest")

COMMIT_FRAMES = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestSettings:
    instance: str = "ingest-1"
    shared_group: str | None = None
    """MQTT 5 shared subscription group: instances in one group split the frames."""
    lines_per_write: int = 5000
    bytes_per_write: int = 8_000_000
    """Body size a write stays under (InfluxDB 1.x refuses more than 25 MB by default)."""
    every_quality: bool = False
    """Write `<channel>_quality` for GOOD samples too (by default only for the others)."""
    parallel_writes: int = 2
    """Connections one batch is split across, so the database parses on several cores."""
    flush_s: float = 0.05
    retry_max_s: float = 30.0
    report_s: float = 0.5
    commit_s: float = 0.01
    """Longest a received frame waits for the spool's fsync before it is acknowledged."""
    dead_letter: Path = Path("dead-letter.lp")


@dataclass(slots=True)
class IngestStatistics:
    frames: int = 0
    samples: int = 0
    duplicates: int = 0
    bad_frames: int = 0
    written_lines: int = 0
    write_failures: int = 0
    dead_letters: int = 0
    gaps: dict[str, int] = field(default_factory=dict)
    database_up: bool = True
    spool_full: bool = False
    last_error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Write:
    """One write's lines and what they stand for in the spool."""

    lines: list[str]
    taken: list[tuple[str, int, int]]
    """(source, seq, samples) of each frame in it, stored once the write succeeds."""
    keys: frozenset[tuple[str, int]]
    used: int
    """Spool frames it covers (duplicates and bad frames included)."""
    end: Position
    """The spool position after its last frame."""
    newest_ns: int


class IngestService:
    def __init__(
        self,
        *,
        mqtt: MqttSettings,
        topics: Topics,
        spool: Spool,
        sinks: Sequence[Sink],
        channels: Sequence[str],
        settings: IngestSettings,
    ) -> None:
        self.mqtt = mqtt
        self.topics = topics
        self.spool = spool
        self.sinks = list(sinks)
        self.settings = settings
        self.lines = LineBuilder(
            pad=topics.pad, channels=channels, every_quality=settings.every_quality
        )
        self.stats = IngestStatistics()
        self._stored = IntervalSet()
        self._seen: dict[str, IntervalSet] = {}
        self._spooled = asyncio.Event()
        self.subscribed = asyncio.Event()
        self._writers: concurrent.futures.ThreadPoolExecutor | None = None
        self._events: collections.deque[Event] = collections.deque(maxlen=100)
        self._events_waiting = asyncio.Event()
        """Set while connected and subscribed to the telemetry topics."""
        self._uncommitted: list[tuple[int, int, int]] = []
        """(MQTT message id, QoS, journal record) appended to the spool, not yet synced."""
        self._newest_stored_ns = 0
        """Time of the newest sample the database has: the ingest's lag is now minus this."""

    async def run(self) -> None:
        # Writes run on threads of their own, as many as the parallel writes: each thread
        # keeps a malloc arena of a write's size, so a bounded pool is bounded memory.
        self._writers = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.settings.parallel_writes, thread_name_prefix="ingest-write"
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._receive_forever(), name="ingest-receive")
                tasks.create_task(self._deliver_forever(), name="ingest-deliver")
        finally:
            self._writers.shutdown(wait=False, cancel_futures=True)

    # -- receiving -------------------------------------------------------------------------

    async def _receive_forever(self) -> None:
        backoff = Backoff(initial_s=0.1, cap_s=2.0)
        client_id = f"groundseg-{self.topics.pad}-{self.settings.instance}"
        while True:
            client = make_client(self.mqtt, client_id=client_id, persistent=True)
            # Acknowledge only after the frame is in the spool (paho's manual acks; aiomqtt
            # does not expose the switch, so it is set on the paho client it wraps).
            client._client.manual_ack_set(True)
            try:
                async with client:
                    backoff.reset()
                    topic = self.topics.all_telemetry
                    if self.settings.shared_group:
                        topic = f"$share/{self.settings.shared_group}/{topic}"
                    await client.subscribe(topic, qos=1)
                    self.subscribed.set()
                    log.info("subscribed", topic=topic, instance=self.settings.instance)
                    self._uncommitted = []  # unacknowledged frames are redelivered after a reconnect
                    async with asyncio.TaskGroup() as tasks:
                        tasks.create_task(self._report(client), name="ingest-report")
                        tasks.create_task(self._publish_events(client), name="ingest-events")
                        tasks.create_task(self._commit_regularly(client), name="ingest-commit")
                        async for message in client.messages:
                            await self._take(client, message)
            except* aiomqtt.MqttError as failures:
                log.warning("broker connection lost", reason=str(failures.exceptions[0]))
            self.subscribed.clear()
            await asyncio.sleep(backoff.next_delay())

    async def _take(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        payload = message.payload
        try:
            frame = decode_frame(bytes(payload))
        except ProtocolError as exc:
            self.stats.bad_frames += 1
            self.stats.last_error = f"bad frame on {message.topic}: {exc}"
            # Kept whole, in hex, for whoever investigates the sender.
            self._dead_letter(f"# bad frame on {message.topic}: {exc}\n# {bytes(payload).hex()}")
            self._raise_event(
                "ingest.bad_frame",
                Severity.WARNING,
                f"{self.settings.instance}: undecodable frame on {message.topic} ({exc});"
                f" kept in {self.settings.dead_letter}",
            )
            client._client.ack(message.mid, message.qos)
            return
        while True:
            try:
                self.spool.append(bytes(payload))
                break
            except SpoolFull as exc:
                if not self.stats.spool_full:
                    self.stats.spool_full = True
                    log.error(
                        "spool full: not taking frames until the database drains it",
                        reason=str(exc),
                    )
                    self._raise_event(
                        "ingest.spool_full",
                        Severity.ALARM,
                        f"{self.settings.instance}: spool full ({exc}); frames wait at the "
                        "broker and in the controller's journal",
                    )
                self.stats.last_error = str(exc)
                await asyncio.sleep(0.2)  # the frame stays unacknowledged at the broker meanwhile
        if self.stats.spool_full:
            self.stats.spool_full = False
            log.info("spool taking frames again")
            self._raise_event(
                "ingest.spool_resumed",
                Severity.INFO,
                f"{self.settings.instance}: spool taking frames again",
            )
        self._uncommitted.append((message.mid, message.qos, frame.record))
        if len(self._uncommitted) >= COMMIT_FRAMES:
            await self._commit(client)

    async def _commit(self, client: aiomqtt.Client) -> None:
        """Sync the spool once for every frame taken since the last time (group commit),
        then acknowledge them to the broker and report them stored."""
        if not self._uncommitted:
            return
        taken, self._uncommitted = self._uncommitted, []
        try:
            await asyncio.to_thread(self.spool.sync)
        except OSError as exc:
            # Not known to be on disk: not acknowledged; the sync is tried again next time.
            self._uncommitted = taken + self._uncommitted
            self.stats.last_error = f"spool sync failed: {exc.strerror}"
            log.error("spool sync failed; frames stay unacknowledged", reason=exc.strerror)
            return
        for mid, qos, record in taken:
            client._client.ack(mid, qos)
            if record != NOT_ARCHIVED:
                self._stored.add(record)
        self.stats.frames += len(taken)
        self._spooled.set()

    async def _commit_regularly(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(self.settings.commit_s)
            await self._commit(client)

    async def _report(self, client: aiomqtt.Client) -> None:
        """Stored record ranges for the publisher; health and lag for operators."""
        while True:
            await asyncio.sleep(self.settings.report_s)
            # Sent even when nothing is new: it also tells the publisher this instance lives.
            ack = {
                "instance": self.settings.instance,
                "stored": [list(i) for i in self._stored.intervals],
            }
            await client.publish(
                self.topics.ingest_ack(self.settings.instance), json.dumps(ack), qos=1
            )
            await client.publish(
                self.topics.ingest_health(self.settings.instance),
                json.dumps(self.health()),
                qos=0,
                retain=True,
            )

    @property
    def frames_in_memory(self) -> int:
        """Frames held in memory, taken but not yet acknowledged: a backlog, however long,
        is in the spool, never here."""
        return len(self._uncommitted)

    def health(self) -> dict[str, object]:
        spool = self.spool.statistics()
        lag_s = (
            (time.time_ns() - self._newest_stored_ns) / 1e9
            if self._newest_stored_ns and spool.pending_records
            else 0.0
        )
        return {
            "instance": self.settings.instance,
            "database_up": self.stats.database_up,
            "spool_full": self.stats.spool_full,
            "spool_pending_frames": spool.pending_records,
            "spool_pending_bytes": spool.pending_bytes,
            "frames_in_memory": self.frames_in_memory,
            "lag_s": round(lag_s, 3),
            "frames": self.stats.frames,
            "samples": self.stats.samples,
            "duplicates": self.stats.duplicates,
            "gaps": sum(self.stats.gaps.values()),
            "bad_frames": self.stats.bad_frames,
            "dead_letters": self.stats.dead_letters,
            "last_error": self.stats.last_error,
        }

    # -- delivering ------------------------------------------------------------------------

    async def _deliver_forever(self) -> None:
        backoff = Backoff(initial_s=0.2, cap_s=self.settings.retry_max_s)
        write: _Write | None = None
        while True:
            if write is None:
                write = self._next_write(self.spool.read, frozenset(), backlog_only=False)
            if write is None:
                self._spooled.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._spooled.wait()
                continue
            # While the database parses one write, the next one's lines are made (a backlog
            # only: a trickle is better gathered into one larger write).
            outcome, following = await asyncio.gather(
                self._write_all(write.lines),
                self._next_write_soon(write),
                return_exceptions=True,
            )
            if isinstance(following, BaseException):
                raise following
            if isinstance(outcome, SinkError):
                self.stats.write_failures += 1
                self.stats.last_error = str(outcome)
                if not outcome.permanent:
                    if self.stats.database_up:
                        log.warning(
                            "database unavailable; the spool holds the backlog",
                            reason=str(outcome),
                        )
                    self.stats.database_up = False
                    await asyncio.sleep(outcome.retry_after_s or backoff.next_delay())
                    continue  # the same write again, whole
                log.error(
                    "database refused lines; kept in the dead-letter file", reason=str(outcome)
                )
                self._dead_letter(f"# {outcome}\n" + "\n".join(write.lines))
                self._raise_event(
                    "ingest.dead_letter",
                    Severity.ALARM,
                    f"{self.settings.instance}: the database refused {len(write.lines)} lines"
                    f" ({outcome}); kept in {self.settings.dead_letter}",
                )
            elif isinstance(outcome, BaseException):
                raise outcome
            if not self.stats.database_up:
                log.info("database back", backlog_frames=self.spool.statistics().pending_records)
            self.stats.database_up = True
            self._newest_stored_ns = max(self._newest_stored_ns, write.newest_ns)
            self._stored_in_database(write.taken)
            backoff.reset()
            self.spool.delivered(write.end, write.used)
            self.stats.written_lines += len(write.lines)
            write = following
            if write is None:
                await asyncio.sleep(self.settings.flush_s)  # let a larger batch gather

    async def _next_write_soon(self, current: _Write) -> _Write | None:
        await asyncio.sleep(0)  # the current write is on its way first
        return self._next_write(current.end, current.keys, backlog_only=True)

    def _next_write(
        self, after: Position, in_flight: frozenset[tuple[str, int]], *, backlog_only: bool
    ) -> _Write | None:
        """The next write: the frames after `after`, less those of the write in flight.
        With `backlog_only`, None unless they fill a write."""
        limit = self.settings.lines_per_write
        # Frames are about a third the size of their lines: this fills one write.
        budget = self.settings.bytes_per_write // 3
        pending = self.spool.pending(limit, max_bytes=budget, after=after)
        if not pending:
            return None
        if backlog_only and len(pending) < limit and sum(len(p) for _, p in pending) < budget:
            return None
        return self._lines(pending, in_flight)

    async def _write_all(self, lines: list[str]) -> None:
        """Every sink gets every line; a batch is split across parallel connections (the
        database overwrites what a retry sends twice, so a partial failure is harmless)."""
        if not lines:
            return
        parts = max(1, min(self.settings.parallel_writes, len(lines)))
        size = -(-len(lines) // parts)
        bodies = ["\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]
        assert self._writers is not None, "writes happen inside run()"
        loop = asyncio.get_running_loop()
        for sink in self.sinks:
            outcomes = await asyncio.gather(
                *(loop.run_in_executor(self._writers, sink.write, body) for body in bodies),
                return_exceptions=True,
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome

    def _lines(
        self, pending: list[tuple[Position, bytes]], in_flight: frozenset[tuple[str, int]]
    ) -> _Write:
        """Lines for the frames not stored before (nor in the write in flight), up to the
        write's byte budget. A frame taken counts as stored only once the write succeeds
        (a failed write is retried whole)."""
        lines: list[str] = []
        taken: list[tuple[str, int, int]] = []
        keys: set[tuple[str, int]] = set()
        newest_ns = 0
        size = 0
        used = 0
        for _, payload in pending:
            if size >= self.settings.bytes_per_write:
                break
            used += 1
            try:
                frame = decode_frame(payload)
            except ProtocolError:
                continue  # checked on receipt; a spool record is intact by its CRC
            batch = frame.batch
            seen = self._seen.get(batch.source)
            key = (batch.source, batch.seq)
            if (
                key in keys
                or key in in_flight
                or (seen is not None and any(a <= batch.seq <= b for a, b in seen.intervals))
            ):
                self.stats.duplicates += 1
                continue
            keys.add(key)
            taken.append((batch.source, batch.seq, len(batch)))
            if len(batch):
                newest_ns = max(newest_ns, int(batch.time_ns.max()))
            new = self.lines.lines(batch)
            size += sum(len(line) + 1 for line in new)
            lines.extend(new)
        return _Write(
            lines=lines,
            taken=taken,
            keys=frozenset(keys),
            used=used,
            end=pending[used - 1][0],
            newest_ns=newest_ns,
        )

    def _stored_in_database(self, taken: list[tuple[str, int, int]]) -> None:
        for source, seq, samples in taken:
            seen = self._seen.setdefault(source, IntervalSet())
            seen.add(seq)
            self.stats.samples += samples
        for source, seen in self._seen.items():
            if seen.intervals:
                self.stats.gaps[source] = sum(
                    b - a + 1 for a, b in seen.holes(seen.intervals[0][0], seen.intervals[-1][1])
                )

    def _raise_event(self, kind: str, severity: Severity, message: str) -> None:
        """Queue an event for the events topic; sent as soon as the broker connection allows
        (the ingest keeps no journal of its own: its events are live only, record -1)."""
        self._events.append(
            Event(
                kind=kind,
                source=self.settings.instance,
                time_ns=time.time_ns(),
                severity=severity,
                message=message,
            )
        )
        self._events_waiting.set()

    async def _publish_events(self, client: aiomqtt.Client) -> None:
        while True:
            await self._events_waiting.wait()
            self._events_waiting.clear()
            while self._events:
                event = self._events[0]
                await client.publish(self.topics.event(event.kind), event_json(-1, event), qos=1)
                self._events.popleft()

    def _dead_letter(self, text: str) -> None:
        self.stats.dead_letters += 1
        try:
            with self.settings.dead_letter.open("a", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as exc:
            log.error(
                "dead-letter file cannot be written; the refused lines follow",
                reason=exc.strerror,
                lines=text[:4000],
            )
