"""Latest values and events over MQTT, for dashboards and third-party tools.

- Each channel's latest value as a retained JSON message on `latest/<channel id>`, at most
  `rate_hz` times a second per channel, so mosquitto_sub, Node-RED or Grafana's MQTT data
  source see the current pad state the moment they subscribe. Fed by a live bus
  subscription that drops its oldest batches when behind: only the latest value matters.
- The countdown's state (T- and L-clock, hold reason, phase, step) as retained JSON on
  `countdown/state` whenever it changes, checked at the same rate.
- Events as JSON on `events/<kind>`, QoS 1, in journal order through a cursor: handed over
  live as they are journaled, and read back from the journal only to catch up (after a
  broker outage or a restart), so an event raised during an outage is sent when the
  broker returns. (Reading every new event back from its segment cost a scan of the whole
  segment per event, which grew with the count and held up the controller's loop.)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import aiomqtt
import numpy as np
import structlog

from groundseg.cancellation import cancellations, raise_if_cancelled_since, raise_if_cancelling
from groundseg.config import PadDefinition
from groundseg.drivers.backoff import Backoff
from groundseg.files import replace_file
from groundseg.journal.reader import JournalReader
from groundseg.mqtt.connection import MqttSettings, make_client
from groundseg.mqtt.topics import Topics
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.bus import Subscription
from groundseg.telemetry.events import Event
from groundseg.telemetry.latest import LatestValues

__all__ = ["LivePublisher", "event_json", "latest_json"]

log = structlog.get_logger("groundseg.live")

EVENTS_LIVE = 10_000
"""Journaled events held for hand-over; beyond that they are read back from the journal."""
CURSOR_SAVE_S = 0.5


def latest_json(
    pad: PadDefinition,
    channel_index: int,
    value: float,
    time_ns: int,
    quality: int,
    *,
    archived: bool = True,
) -> str:
    channel = pad.channels[channel_index]
    stamp = datetime.datetime.fromtimestamp(time_ns / 1e9, tz=datetime.UTC)
    document: dict[str, object] = {
        "channel": channel.id,
        "value": value if math.isfinite(value) else None,
        "unit": channel.unit,
        "quality": Quality(quality).name,
        "time": stamp.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "t_ns": time_ns,
    }
    if channel.states and math.isfinite(value):
        document["state"] = channel.format_value(value)
    if not archived:
        document["archived"] = False
    return json.dumps(document)


def event_json(record: int, event: Event) -> str:
    return json.dumps(
        {
            "record": record,
            "kind": event.kind,
            "source": event.source,
            "severity": str(event.severity),
            "message": event.message,
            "fields": dict(event.fields),
            "t_ns": event.time_ns,
        }
    )


class LivePublisher:
    def __init__(
        self,
        *,
        settings: MqttSettings,
        topics: Topics,
        pad: PadDefinition,
        samples: Subscription,
        journal: JournalReader,
        client_id: str,
        event_cursor_file: Path,
        rate_hz: float = 1.0,
        countdown: Callable[[], Mapping[str, object]] | None = None,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.pad = pad
        self.samples = samples
        self.journal = journal
        self.client_id = client_id
        self.period_s = 1.0 / rate_hz
        self.latest = LatestValues(len(pad.channels))
        self._sent_updates = np.zeros(len(pad.channels), dtype=np.int64)
        self._unarchived = np.zeros(len(pad.channels), dtype=bool)
        self.event_cursor_file = event_cursor_file
        self.event_next = self._load_event_cursor()
        self._events_waiting = asyncio.Event()
        self._unjournaled: collections.deque[Event] = collections.deque(maxlen=100)
        self._journaled: collections.deque[tuple[int, Event]] = collections.deque(
            maxlen=EVENTS_LIVE
        )
        self._cursor_saved = (self.event_next, time.monotonic())
        self.latest_messages = 0
        self.events_sent = 0
        self.countdown = countdown
        self._countdown_sent = ""

    def _load_event_cursor(self) -> int:
        try:
            return int(json.loads(self.event_cursor_file.read_text())["next_record"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def _save_event_cursor(self) -> None:
        try:
            replace_file(self.event_cursor_file, json.dumps({"next_record": self.event_next}))
        except OSError as exc:
            # A stale cursor only means a restart sends some events again.
            log.warning("event cursor not saved", reason=exc.strerror)

    def alarm(self, event: Event) -> None:
        """An event that could not be journaled: sent live, ahead of the journaled ones."""
        self._unjournaled.append(event)
        self._events_waiting.set()

    def notify_event(self, record: int, event: Event) -> None:
        """An event was journaled as `record`; never blocks (overflow is read back)."""
        self._journaled.append((record, event))
        self._events_waiting.set()

    def set_archived(self, batch: SampleBatch, *, archived: bool) -> None:
        """Whether these values reached the journal (not when the disk is full): their
        latest-value messages say so."""
        self._unarchived[batch.channel] = not archived

    async def run(self) -> None:
        backoff = Backoff(initial_s=0.1, cap_s=2.0)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._take_samples(), name="live-samples")
            while True:
                before = cancellations()
                try:
                    async with make_client(
                        self.settings, client_id=f"{self.client_id}-live"
                    ) as client:
                        # A stop that arrived while connecting may have been swallowed.
                        raise_if_cancelled_since(before)
                        backoff.reset()
                        async with asyncio.TaskGroup() as session:
                            session.create_task(self._publish_latest(client), name="live-latest")
                            session.create_task(self._publish_events(client), name="live-events")
                except* aiomqtt.MqttError as failures:
                    log.warning("live publishing paused", reason=str(failures.exceptions[0]))
                await asyncio.sleep(backoff.next_delay())

    async def _take_samples(self) -> None:
        while True:
            item = await self.samples.get()
            if isinstance(item, SampleBatch):
                self.latest.update(item)

    async def _publish_latest(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            snapshot = self.latest.snapshot()
            changed = np.flatnonzero(snapshot.updates != self._sent_updates)
            for index in changed.tolist():
                payload = latest_json(
                    self.pad,
                    index,
                    float(snapshot.value[index]),
                    int(snapshot.time_ns[index]),
                    int(snapshot.quality[index]),
                    archived=not bool(self._unarchived[index]),
                )
                await client.publish(
                    self.topics.latest(self.pad.channels[index].id), payload, qos=0, retain=True
                )
                raise_if_cancelling()  # aiomqtt publishes through 3.11's wait_for
                self.latest_messages += 1
            self._sent_updates = snapshot.updates
            if self.countdown is not None:
                state = json.dumps(self.countdown(), sort_keys=True)
                if state != self._countdown_sent:
                    await client.publish(self.topics.countdown_state, state, qos=1, retain=True)
                    raise_if_cancelling()
                    self._countdown_sent = state

    async def _publish_events(self, client: aiomqtt.Client) -> None:
        try:
            await self._send_events(client)
        finally:
            self._save_event_cursor()

    async def _send_events(self, client: aiomqtt.Client) -> None:
        while True:
            while self._unjournaled:
                event = self._unjournaled[0]
                await client.publish(self.topics.event(event.kind), event_json(-1, event), qos=1)
                raise_if_cancelling()
                self._unjournaled.popleft()
                self.events_sent += 1
            for record, event in self._next_events():
                await client.publish(
                    self.topics.event(event.kind), event_json(record, event), qos=1
                )
                raise_if_cancelling()
                self.event_next = record + 1
                self.events_sent += 1
            self._save_event_cursor_now_and_then()
            self._events_waiting.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CURSOR_SAVE_S):
                    await self._events_waiting.wait()

    def _next_events(self) -> Iterator[tuple[int, Event]]:
        """From the cursor on: live while the hand-over holds the next record, else from
        the journal up to where the hand-over starts. The caller moves the cursor."""
        journaled = self._journaled
        while journaled and journaled[0][0] < self.event_next:
            journaled.popleft()
        if journaled and journaled[0][0] == self.event_next:
            while journaled and journaled[0][0] == self.event_next:
                yield journaled.popleft()
            return
        end = journaled[0][0] if journaled else None
        for record, event in self.journal.events(from_record=self.event_next):
            if end is not None and record >= end:
                return
            yield record, event

    def _save_event_cursor_now_and_then(self) -> None:
        """At most every CURSOR_SAVE_S: a restart resends at most that much (QoS 1 is at
        least once anyway), and a burst of events costs one file replace, not one each."""
        saved, at = self._cursor_saved
        now = time.monotonic()
        if self.event_next != saved and now - at >= CURSOR_SAVE_S:
            self._save_event_cursor()
            self._cursor_saved = (self.event_next, now)
