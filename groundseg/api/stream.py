"""The live stream to consoles: latest values at display rate, events, state, alarms.

    bus ──samples (drop oldest)──> latest values ─┐
        ──events  (drop oldest)──> event log ─────┼─ tick (display rate) ─> one update,
    state, alarms, armings (asked each tick) ─────┘   serialised once ──> every client's
                                                                          bounded queue

The hub never waits for a client. Each client has a small queue of serialised updates;
when it is full the oldest update is dropped (and counted) and the client is marked for a
resync: its next message is a full snapshot, so a slow console catches up with the
present instead of replaying the past, and never slows the controller. Events it missed
stay in the event log (`GET /api/events?after=SEQ`). A client that limits itself to some
channels gets its own serialisation per tick (cached per distinct choice).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fnmatch
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.api.desk import Desk
from groundseg.api.history import History
from groundseg.cancellation import raise_if_cancelling
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.bus import Bus, Overflow
from groundseg.telemetry.events import Event
from groundseg.telemetry.latest import LatestValues

__all__ = ["EventLog", "StreamClient", "StreamHub", "StreamStatistics"]

CLIENT_QUEUE = 8
EVENT_LOG = 5000


class EventLog:
    """The last events, numbered in arrival order (the console's log and catch-up)."""

    def __init__(self, capacity: int = EVENT_LOG) -> None:
        self._events: collections.deque[tuple[int, dict[str, object]]] = collections.deque(
            maxlen=capacity
        )
        self.next_seq = 1

    def add(self, event: Event) -> dict[str, object]:
        entry: dict[str, object] = {
            "seq": self.next_seq,
            "time": event.time_ns / 1e9,
            "kind": event.kind,
            "source": event.source,
            "severity": event.severity.value,
            "message": event.message,
            "fields": dict(event.fields),
        }
        self._events.append((self.next_seq, entry))
        self.next_seq += 1
        return entry

    def after(self, seq: int, limit: int) -> list[dict[str, object]]:
        """Events numbered above `seq`, oldest first, at most `limit` (the newest ones)."""
        newer = [entry for number, entry in self._events if number > seq]
        return newer[-limit:] if limit > 0 else []


class StreamClient:
    """One console's queue. The hub fills it; the WebSocket handler drains it."""

    def __init__(
        self, name: str, *, channels: npt.NDArray[np.intp] | None, capacity: int, owner: str = ""
    ) -> None:
        self.name = name
        self.owner = owner
        self.channels = channels
        """Indices the client wants; None: all."""
        self.capacity = capacity
        self.resync = True
        """The next message must be a snapshot (new client, or updates were dropped)."""
        self.dropped = 0
        self._queue: collections.deque[str] = collections.deque()
        self._ready = asyncio.Event()

    def offer(self, message: str) -> None:
        if len(self._queue) >= self.capacity:
            self._queue.popleft()
            self.dropped += 1
            self.resync = True
        self._queue.append(message)
        self._ready.set()

    def replace(self, message: str) -> None:
        """A snapshot supersedes whatever was queued."""
        self._queue.clear()
        self._queue.append(message)
        self.resync = False
        self._ready.set()

    async def next(self) -> str:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    @property
    def key(self) -> tuple[int, ...] | None:
        return None if self.channels is None else tuple(int(c) for c in self.channels)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStatistics:
    clients: int
    ticks: int
    updates_dropped: int
    """Updates dropped from slow clients' queues (each followed by a snapshot)."""
    bus_dropped: int
    """Batches or events the hub's own bus subscriptions dropped under load."""


class StreamHub:
    def __init__(
        self,
        channel_ids: Sequence[str],
        *,
        bus: Bus,
        desk: Desk,
        rate_hz: float = 10.0,
        history: History | None = None,
        client_queue: int = CLIENT_QUEUE,
        now: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < rate_hz <= 100:
            raise ValueError(f"display rate must be in (0, 100] Hz, got {rate_hz!r}")
        self.channel_ids = list(channel_ids)
        self._index = {c: i for i, c in enumerate(self.channel_ids)}
        self.bus = bus
        self.desk = desk
        self.now = now
        """The displays' clock, in seconds since the epoch: the wall clock, or a replay's
        position in recorded time (history and messages are stamped with it)."""
        self.period_s = 1.0 / rate_hz
        self.history = history or History(len(self.channel_ids))
        self.client_queue = client_queue
        self.latest = LatestValues(len(self.channel_ids))
        self.events = EventLog()
        self._sent_time = self.latest.time_ns.copy()
        self._clients: dict[str, StreamClient] = {}
        self._names = 0
        self._seq = 0
        self._last_alarms = ""
        self._last_armings = ""
        self._pending_events: list[dict[str, object]] = []
        self._ticks = 0
        self._dropped = 0
        self._samples = bus.subscribe(
            "console-samples", capacity=4096, overflow=Overflow.DROP_OLDEST, events=False
        )
        self._event_feed = bus.subscribe(
            "console-events", capacity=10_000, overflow=Overflow.DROP_OLDEST, samples=False
        )

    # -- clients ---------------------------------------------------------------------------

    def select(self, patterns: Sequence[str]) -> npt.NDArray[np.intp]:
        """Channel indices matching any of the glob patterns."""
        chosen = [
            i
            for i, c in enumerate(self.channel_ids)
            if any(fnmatch.fnmatchcase(c, p) for p in patterns)
        ]
        return np.array(chosen, dtype=np.intp)

    def index(self, channel_id: str) -> int | None:
        return self._index.get(channel_id)

    def connect(
        self, channels: npt.NDArray[np.intp] | None = None, *, owner: str = ""
    ) -> StreamClient:
        self._names += 1
        client = StreamClient(
            f"console-{self._names}", channels=channels, capacity=self.client_queue, owner=owner
        )
        self._clients[client.name] = client
        client.replace(self._snapshot(client.channels))
        return client

    def choose(self, client: StreamClient, channels: npt.NDArray[np.intp] | None) -> None:
        client.channels = channels
        client.replace(self._snapshot(channels))

    def clients(self) -> list[StreamClient]:
        return list(self._clients.values())

    def disconnect(self, client: StreamClient) -> None:
        self._clients.pop(client.name, None)

    def reset(self, past: Sequence[Event] = ()) -> None:
        """Start afresh (a replay moved to another time): no values, no display history,
        an event log of `past` only; every client gets a new snapshot."""
        self.latest = LatestValues(len(self.channel_ids))
        self.history = History(len(self.channel_ids))
        self.events = EventLog()
        for event in past[-EVENT_LOG:]:
            self.events.add(event)
        self._sent_time = self.latest.time_ns.copy()
        self._pending_events = []
        while self._samples.get_nowait() is not None:
            pass
        while self._event_feed.get_nowait() is not None:
            pass
        for client in self._clients.values():
            client.resync = True

    def statistics(self) -> StreamStatistics:
        return StreamStatistics(
            clients=len(self._clients),
            ticks=self._ticks,
            updates_dropped=sum(c.dropped for c in self._clients.values()),
            bus_dropped=self._samples.statistics().dropped + self._event_feed.statistics().dropped,
        )

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Take the bus and send an update every display period, until cancelled."""
        try:
            due = time.monotonic()
            while True:
                timeout = max(0.0, due - time.monotonic())
                item = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        item = await self._samples.get()
                raise_if_cancelling()
                self._take(item)
                while (more := self._samples.get_nowait()) is not None:
                    self._take(more)
                while (event := self._event_feed.get_nowait()) is not None:
                    self._take(event)
                if time.monotonic() >= due:
                    self.tick()
                    due = max(due + self.period_s, time.monotonic())
        finally:
            self.bus.unsubscribe(self._samples)
            self.bus.unsubscribe(self._event_feed)

    def _take(self, item: object) -> None:
        if isinstance(item, SampleBatch):
            self.latest.update(item)
        elif isinstance(item, Event):
            self._pending_events.append(self.events.add(item))

    def tick(self) -> None:
        """One display period: one update to every client (a snapshot to those that need it)."""
        self._ticks += 1
        now = self.now()
        if self.history.due(now):
            self.history.record(now, self.latest.value, self.latest.quality)
        changed = np.flatnonzero(self.latest.time_ns != self._sent_time)
        self._sent_time[changed] = self.latest.time_ns[changed]
        events, self._pending_events = self._pending_events, []
        alarms = self.desk.alarms()
        armings = self.desk.armings()
        extra: dict[str, object] = {}
        alarms_text = json.dumps(alarms)
        if alarms_text != self._last_alarms:
            self._last_alarms = alarms_text
            extra["alarms"] = alarms
        armings_text = json.dumps(armings)
        if armings_text != self._last_armings:
            self._last_armings = armings_text
            extra["armings"] = armings
        self._seq += 1
        head = {"type": "update", "seq": self._seq, "time": now, "state": self.desk.state()}
        cache: dict[tuple[int, ...] | None, str] = {}
        for client in list(self._clients.values()):
            if client.resync:
                client.replace(self._snapshot(client.channels))
                continue
            key = client.key
            message = cache.get(key)
            if message is None:
                wanted = (
                    changed if client.channels is None else np.intersect1d(changed, client.channels)
                )
                message = cache[key] = json.dumps(
                    {**head, "values": self._values(wanted), "events": events, **extra}
                )
            client.offer(message)

    # -- messages --------------------------------------------------------------------------

    def _snapshot(self, channels: npt.NDArray[np.intp] | None) -> str:
        seen = np.flatnonzero(self.latest.time_ns != np.iinfo(np.int64).min)
        wanted = seen if channels is None else np.intersect1d(seen, channels)
        return json.dumps(
            {
                "type": "snapshot",
                "seq": self._seq,
                "time": self.now(),
                "state": self.desk.state(),
                "values": self._values(wanted),
                "alarms": self.desk.alarms(),
                "armings": self.desk.armings(),
                "events": self.events.after(0, 200),
            }
        )

    def _values(self, indices: npt.NDArray[np.intp]) -> dict[str, list[float | int | None]]:
        ids = self.channel_ids
        value = self.latest.value[indices].tolist()
        quality = self.latest.quality[indices].tolist()
        stamp = (self.latest.time_ns[indices] / 1e9).round(3).tolist()
        return {
            ids[i]: [None if math.isnan(v) else v, q, t]
            for i, v, q, t in zip(indices.tolist(), value, quality, stamp, strict=True)
        }
