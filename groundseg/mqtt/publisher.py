"""The telemetry publisher: journal records out to MQTT, resent until they are stored.

Every batch is journaled first and handed over with its record number. The publisher sends
records in order from a send cursor: live ones as they arrive, older ones (after an outage,
or when the live hand-over queue overflowed) read back from the journal. Nothing counts as
delivered until an ingest instance reports it stored (its `ack` topic); after any reconnect
the send cursor rewinds to the first record not confirmed, and records the broker lost
silently (holes in the confirmations) are resent. So a broker outage, a broker restart
that loses its queue, or an ingest crash costs latency, never data; the ingest drops the
duplicates this causes. Without an ingest (`confirm="broker"`), the broker's PUBACK is
the confirmation.

The durable cursor (first record not yet confirmed) is saved to a file, so a restarted
controller resends from there, and the journal keeps every segment from there on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiomqtt
import structlog

from groundseg.cancellation import cancellations, raise_if_cancelled_since
from groundseg.clock import Clock
from groundseg.codecs.frames import NOT_ARCHIVED, encode_frame
from groundseg.drivers.backoff import Backoff
from groundseg.files import replace_file
from groundseg.journal.reader import JournalReader
from groundseg.journal.writer import JournalWriter
from groundseg.mqtt.acks import IntervalSet
from groundseg.mqtt.connection import MqttSettings, make_client
from groundseg.mqtt.topics import Topics
from groundseg.telemetry.batch import SampleBatch

__all__ = ["PublisherStatistics", "TelemetryPublisher"]

log = structlog.get_logger("groundseg.publisher")


@dataclass(frozen=True, slots=True, kw_only=True)
class PublisherStatistics:
    connected: bool
    send_next: int
    durable: int
    """First record not yet confirmed stored; everything below it is."""
    frames_sent: int
    frames_resent: int
    read_back: int
    """Records read back from the journal rather than handed over live."""
    live_dropped: int
    reconnects: int


class TelemetryPublisher:
    def __init__(
        self,
        *,
        settings: MqttSettings,
        topics: Topics,
        journal: JournalWriter,
        client_id: str,
        cursor_file: Path,
        clock: Clock,
        confirm: Literal["ingest", "broker"] = "ingest",
        window: int = 48,
        live_capacity: int = 4096,
        resend_after_s: float = 2.0,
        resend_max_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.journal = journal
        self.reader = JournalReader(journal.settings.directory)
        self.client_id = client_id
        self.cursor_file = cursor_file
        self.clock = clock
        self.confirm = confirm
        self.window = window
        """Frames awaiting their PUBACK at once (aiomqtt warns about more than 50 pending)."""
        self.resend_after_s = resend_after_s
        self.resend_max_s = resend_max_s
        """Longest wait between resend rounds while an ingest takes none of them (its spool
        full, say): each such round doubles the wait, so a stuck ingest is not flooded."""
        self._resend_wait = resend_after_s
        self._resend_not_before = float("-inf")
        self._last_resend_count = 0
        self._live: collections.deque[tuple[int, SampleBatch]] = collections.deque(
            maxlen=live_capacity
        )
        self._live_dropped = 0
        self._unarchived: collections.deque[SampleBatch] = collections.deque(maxlen=live_capacity)
        self._arrived = asyncio.Event()
        self._confirmed = asyncio.Event()
        self._stored = IntervalSet()
        self.durable = self._load_cursor()
        self.send_next = self.durable
        self._checkpoints: collections.deque[tuple[float, int]] = collections.deque(maxlen=256)
        """(time, send cursor) every half second: which records were sent long enough ago."""
        self._resend: collections.deque[tuple[int, int]] = collections.deque()
        self._last_ack = float("-inf")
        self._connected = False
        self._frames_sent = 0
        self._frames_resent = 0
        self._read_back = 0
        self._reconnects = 0
        self._highest_sent = self.durable - 1
        self.journal.keep_from = self.durable

    # -- hand-over from the journal task ---------------------------------------------------

    def offer_unarchived(self, batch: SampleBatch) -> None:
        """A batch the journal could not take (disk full): sent live, once, flagged so."""
        self._unarchived.append(batch)
        self._arrived.set()

    def offer(self, record: int, batch: SampleBatch) -> None:
        """A batch was journaled as `record`; never blocks (overflow is read back later)."""
        if len(self._live) == self._live.maxlen:
            self._live_dropped += 1
        self._live.append((record, batch))
        self._arrived.set()

    # -- cursor ------------------------------------------------------------------------------

    def _load_cursor(self) -> int:
        try:
            return int(json.loads(self.cursor_file.read_text())["next_record"])
        except (OSError, ValueError, KeyError, TypeError):
            first = next(iter(self.reader.samples()), None)
            return first[0] if first is not None else self.journal.next_sample_record

    def _save_cursor(self) -> None:
        replace_file(self.cursor_file, json.dumps({"next_record": self.durable}))

    def _advance_durable(self) -> None:
        durable = self._stored.contiguous_from(self.durable) + 1
        if durable > self.durable:
            self.durable = durable
            self._stored.forget_below(durable)
            self.journal.keep_from = durable
            self._confirmed.set()

    async def all_confirmed(self) -> None:
        """Until every record journaled so far is confirmed (stored by an ingest, or taken by
        the broker with `confirm="broker"`): a stopping controller waits here, within its
        drain time, so that a clean stop leaves the archive complete without a restart."""
        while self.durable < self.journal.next_sample_record:
            self._confirmed.clear()
            await self._confirmed.wait()

    # -- running -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, publish, reconnect after any failure; runs until cancelled."""
        backoff = Backoff(initial_s=0.1, cap_s=2.0)
        will = aiomqtt.Will(
            self.topics.state(self.client_id), json.dumps({"state": "offline"}), qos=1, retain=True
        )
        while True:
            before = cancellations()
            try:
                async with make_client(
                    self.settings, client_id=self.client_id, will=will
                ) as client:
                    self._connected = True
                    backoff.reset()
                    await self._session(client, before)
            except* aiomqtt.MqttError as failures:
                if self._connected:
                    log.warning("broker connection lost", reason=str(failures.exceptions[0]))
                self._reconnects += 1
            finally:
                self._connected = False
                with contextlib.suppress(OSError):
                    self._save_cursor()
            await asyncio.sleep(backoff.next_delay())

    async def _session(self, client: aiomqtt.Client, before: int) -> None:
        log.info(
            "broker connected",
            host=self.settings.host,
            port=self.settings.port,
            resend_from=self.durable,
        )
        await client.publish(
            self.topics.state(self.client_id),
            json.dumps({"state": "online", "client": self.client_id}),
            qos=1,
            retain=True,
        )
        if self.confirm == "ingest":
            await client.subscribe(self.topics.all_ingest_acks, qos=1)
        # A stop that arrived while connecting may have been swallowed by the library.
        raise_if_cancelled_since(before)
        # Whatever was sent but not confirmed may be lost with the old connection or broker.
        self.send_next = self.durable
        self._resend.clear()
        self._checkpoints.clear()
        in_flight = asyncio.Semaphore(self.window)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._send(client, tasks, in_flight), name="publisher-send")
                if self.confirm == "ingest":
                    tasks.create_task(self._confirmations(client), name="publisher-acks")
                tasks.create_task(self._housekeeping(), name="publisher-cursor")
        except asyncio.CancelledError:
            # A clean stop says so itself; the last will only speaks for a crash.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await client.publish(
                        self.topics.state(self.client_id),
                        json.dumps({"state": "offline", "client": self.client_id}),
                        qos=1,
                        retain=True,
                    )
            raise

    async def _send(
        self, client: aiomqtt.Client, tasks: asyncio.TaskGroup, in_flight: asyncio.Semaphore
    ) -> None:
        while True:
            for record, batch in self._next_batches():
                await in_flight.acquire()
                tasks.create_task(
                    self._publish(client, record, batch, in_flight), name=f"publish-{record}"
                )
            self._arrived.clear()
            if not self._has_pending():
                await self._arrived.wait()

    def _has_pending(self) -> bool:
        return (
            bool(self._unarchived)
            or bool(self._resend)
            or self.send_next < self.journal.next_sample_record
        )

    def _next_batches(self) -> Iterator[tuple[int, SampleBatch]]:
        """Unarchived live batches first (they exist nowhere else), then holes to fill, then
        records from the send cursor on: live when they are next, else read back from the
        journal."""
        while self._unarchived:
            yield NOT_ARCHIVED, self._unarchived.popleft()
        while self._resend:
            first, last = self._resend.popleft()
            for record, batch in self.reader.samples(from_record=first):
                if record > last:
                    break
                self._read_back += 1
                yield record, batch
        while self._live and self._live[0][0] < self.send_next:
            self._live.popleft()
        if self._live and self._live[0][0] == self.send_next:
            while self._live and self._live[0][0] == self.send_next:
                record, batch = self._live.popleft()
                self.send_next = record + 1
                yield record, batch
            return
        end = self._live[0][0] if self._live else self.journal.next_sample_record
        for record, batch in self.reader.samples(from_record=self.send_next):
            if record >= end:
                break
            self._read_back += 1
            self.send_next = record + 1
            yield record, batch

    async def _publish(
        self, client: aiomqtt.Client, record: int, batch: SampleBatch, in_flight: asyncio.Semaphore
    ) -> None:
        try:
            if record == NOT_ARCHIVED:
                await client.publish(
                    self.topics.telemetry(batch.source), encode_frame(batch, record=record), qos=0
                )
                return
            if record <= self._highest_sent:
                self._frames_resent += 1
            self._highest_sent = max(self._highest_sent, record)
            await client.publish(
                self.topics.telemetry(batch.source), encode_frame(batch, record=record), qos=1
            )
            self._frames_sent += 1
            if self.confirm == "broker":
                self._stored.add(record)
                self._advance_durable()
        finally:
            in_flight.release()

    async def _confirmations(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                payload = (
                    json.loads(bytes(message.payload).decode())
                    if isinstance(message.payload, bytes | bytearray)
                    else {}
                )
                self._stored.update(
                    [(int(first), int(last)) for first, last in payload.get("stored", [])]
                )
            except (ValueError, TypeError, AttributeError):
                log.warning("unreadable ingest acknowledgement", topic=str(message.topic))
                continue
            self._last_ack = time.monotonic()
            self._advance_durable()

    async def _housekeeping(self) -> None:
        """Save the cursor, and resend what the broker lost without saying so: records sent
        longer than `resend_after_s` ago that a live ingest (one that acknowledged lately;
        it does so every half second) has still not confirmed."""
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            self._checkpoints.append((now, self.send_next))
            with contextlib.suppress(OSError):
                self._save_cursor()
            ingest_alive = now - self._last_ack < max(4 * self.resend_after_s, 2.0)
            if self.confirm != "ingest" or not ingest_alive:
                continue
            sent_long_ago = max(
                (cursor for at, cursor in self._checkpoints if now - at >= self.resend_after_s),
                default=self.durable,
            )
            holes = self._stored.holes(self.durable, sent_long_ago)
            if not holes:
                self._last_resend_count = 0
                self._resend_wait = self.resend_after_s
            elif not self._resend and now >= self._resend_not_before:
                count = sum(b - a + 1 for a, b in holes)
                if count >= self._last_resend_count > 0:
                    self._resend_wait = min(2 * self._resend_wait, self.resend_max_s)
                else:
                    self._resend_wait = self.resend_after_s
                self._last_resend_count = count
                self._resend_not_before = now + self._resend_wait
                log.info(
                    "resending records the broker lost",
                    holes=holes[:5],
                    count=count,
                    next_round_after_s=self._resend_wait,
                )
                self._resend.extend(holes)
                # Not again until these, too, have had time to be confirmed.
                self._checkpoints.clear()
                self._arrived.set()

    def statistics(self) -> PublisherStatistics:
        return PublisherStatistics(
            connected=self._connected,
            send_next=self.send_next,
            durable=self.durable,
            frames_sent=self._frames_sent,
            frames_resent=self._frames_resent,
            read_back=self._read_back,
            live_dropped=self._live_dropped,
            reconnects=self._reconnects,
        )
