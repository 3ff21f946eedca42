"""The bus: in-process fan-out of sample batches and events to bounded subscriber queues.

Publishing never blocks and never waits for a subscriber. Each subscription declares what
happens when its queue is full:

- `DROP_OLDEST`, for live views: the oldest item goes, and is counted;
- `FAULT`, for the journal and the monitors, which must see everything: the subscription is
  marked faulted and `publish` raises `SubscriberStuck` (after delivering to everyone else),
  so the fault is raised and shown rather than hidden as a silent gap.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum

from groundseg.errors import SubscriberStuck
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.events import Event

__all__ = ["Bus", "BusItem", "Overflow", "Subscription", "SubscriptionStatistics"]

BusItem = SampleBatch | Event


class Overflow(StrEnum):
    DROP_OLDEST = "drop_oldest"
    FAULT = "fault"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionStatistics:
    name: str
    overflow: Overflow
    capacity: int
    depth: int
    high_water: int
    delivered: int
    dropped: int
    faulted: bool


class Subscription:
    """One subscriber's bounded queue; iterate it, or `get()` items one at a time."""

    def __init__(
        self, name: str, *, capacity: int, overflow: Overflow, samples: bool, events: bool
    ) -> None:
        if capacity < 1:
            raise ValueError(f"subscription {name!r}: capacity must be at least 1")
        self.name = name
        self.capacity = capacity
        self.overflow = overflow
        self.wants_samples = samples
        self.wants_events = events
        self._queue: collections.deque[BusItem] = collections.deque()
        self._waiter: asyncio.Event = asyncio.Event()
        self._emptied = asyncio.Event()
        self._emptied.set()
        self._high_water = 0
        self._delivered = 0
        self._dropped = 0
        self.faulted = False

    def offer(self, item: BusItem) -> bool:
        """Queue an item; False when a FAULT subscription is full (nothing is dropped)."""
        if len(self._queue) >= self.capacity:
            if self.overflow is Overflow.FAULT:
                self.faulted = True
                return False
            self._queue.popleft()
            self._dropped += 1
        self._queue.append(item)
        self._high_water = max(self._high_water, len(self._queue))
        self._waiter.set()
        self._emptied.clear()
        return True

    def get_nowait(self) -> BusItem | None:
        if not self._queue:
            return None
        return self._take()

    async def get(self) -> BusItem:
        while not self._queue:
            self._waiter.clear()
            await self._waiter.wait()
        return self._take()

    def _take(self) -> BusItem:
        self._delivered += 1
        item = self._queue.popleft()
        if not self._queue:
            self._emptied.set()
        return item

    async def emptied(self) -> None:
        """Until the subscriber has taken everything queued so far."""
        await self._emptied.wait()

    async def __aiter__(self) -> AsyncIterator[BusItem]:
        while True:
            yield await self.get()

    def statistics(self) -> SubscriptionStatistics:
        return SubscriptionStatistics(
            name=self.name,
            overflow=self.overflow,
            capacity=self.capacity,
            depth=len(self._queue),
            high_water=self._high_water,
            delivered=self._delivered,
            dropped=self._dropped,
            faulted=self.faulted,
        )


class Bus:
    def __init__(self) -> None:
        self._subscriptions: dict[str, Subscription] = {}

    def subscribe(
        self,
        name: str,
        *,
        capacity: int,
        overflow: Overflow,
        samples: bool = True,
        events: bool = True,
    ) -> Subscription:
        if name in self._subscriptions:
            raise ValueError(f"a subscription named {name!r} already exists")
        subscription = Subscription(
            name, capacity=capacity, overflow=overflow, samples=samples, events=events
        )
        self._subscriptions[name] = subscription
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.pop(subscription.name, None)

    def publish(self, item: BusItem) -> None:
        """Deliver to every subscription that wants it; raise if one that must not drop is full."""
        is_samples = isinstance(item, SampleBatch)
        stuck = [
            subscription
            for subscription in self._subscriptions.values()
            if (subscription.wants_samples if is_samples else subscription.wants_events)
            and not subscription.offer(item)
        ]
        if stuck:
            raise SubscriberStuck([s.name for s in stuck], [s.capacity for s in stuck])

    def statistics(self) -> list[SubscriptionStatistics]:
        return [s.statistics() for s in self._subscriptions.values()]
