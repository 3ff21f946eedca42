"""The bus: fan-out to bounded queues, each with its declared overflow policy."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from groundseg.errors import SubscriberStuck
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.bus import Bus, Overflow
from groundseg.telemetry.events import Event, Severity


def batch(seq: int) -> SampleBatch:
    return SampleBatch.at(
        source="plc",
        seq=seq,
        time_ns=1_800_000_000_000_000_000 + seq,
        channel=np.array([1, 2], dtype=np.uint32),
        value=np.array([1.0, 2.0]),
        quality=Quality.GOOD,
    )


def event(n: int = 0) -> Event:
    return Event(
        kind="link.lost",
        source="plc",
        time_ns=1_800_000_000_000_000_000 + n,
        severity=Severity.WARNING,
    )


async def test_every_subscriber_gets_every_item_in_order() -> None:
    bus = Bus()
    journal = bus.subscribe("journal", capacity=10, overflow=Overflow.FAULT)
    view = bus.subscribe("view", capacity=10, overflow=Overflow.DROP_OLDEST)
    for seq in range(5):
        bus.publish(batch(seq))
    for subscription in (journal, view):
        got = [await subscription.get() for _ in range(5)]
        assert [b.seq for b in got if isinstance(b, SampleBatch)] == [0, 1, 2, 3, 4]


def test_a_live_view_drops_its_oldest_and_counts_them() -> None:
    bus = Bus()
    view = bus.subscribe("view", capacity=3, overflow=Overflow.DROP_OLDEST)
    for seq in range(10):
        bus.publish(batch(seq))
    stats = view.statistics()
    assert (stats.depth, stats.dropped, stats.high_water, stats.faulted) == (3, 7, 3, False)
    kept = [view.get_nowait() for _ in range(3)]
    assert [b.seq for b in kept if isinstance(b, SampleBatch)] == [7, 8, 9]


def test_a_stuck_journal_is_a_raised_fault_and_others_still_get_the_item() -> None:
    bus = Bus()
    journal = bus.subscribe("journal", capacity=2, overflow=Overflow.FAULT)
    view = bus.subscribe("view", capacity=100, overflow=Overflow.DROP_OLDEST)
    bus.publish(batch(0))
    bus.publish(batch(1))
    with pytest.raises(SubscriberStuck, match=r"journal \(capacity 2\)") as stuck:
        bus.publish(batch(2))
    assert stuck.value.names == ("journal",)
    assert journal.statistics().faulted
    assert journal.statistics().depth == 2, "nothing already queued was dropped"
    assert view.statistics().depth == 3, "the other subscriber still got the item"


async def test_subscribers_choose_samples_events_or_both() -> None:
    bus = Bus()
    samples_only = bus.subscribe("monitors", capacity=10, overflow=Overflow.FAULT, events=False)
    events_only = bus.subscribe("log", capacity=10, overflow=Overflow.FAULT, samples=False)
    bus.publish(batch(0))
    bus.publish(event())
    assert isinstance(await samples_only.get(), SampleBatch)
    assert samples_only.get_nowait() is None
    assert isinstance(await events_only.get(), Event)
    assert events_only.get_nowait() is None


async def test_a_waiting_subscriber_wakes_when_an_item_arrives() -> None:
    bus = Bus()
    subscription = bus.subscribe("view", capacity=4, overflow=Overflow.DROP_OLDEST)
    waiter = asyncio.create_task(subscription.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    bus.publish(event(1))
    async with asyncio.timeout(1.0):
        got = await waiter
    assert isinstance(got, Event)


async def test_emptied_waits_until_the_subscriber_has_taken_everything_queued() -> None:
    bus = Bus()
    journal = bus.subscribe("journal", capacity=10, overflow=Overflow.FAULT)
    async with asyncio.timeout(1.0):
        await journal.emptied()  # nothing queued yet
    for seq in range(3):
        bus.publish(batch(seq))
    emptied = asyncio.create_task(journal.emptied())
    taken = [journal.get_nowait(), await journal.get()]
    await asyncio.sleep(0)
    assert not emptied.done(), f"one item is still queued after {len(taken)} taken"
    await journal.get()
    async with asyncio.timeout(1.0):
        await emptied


def test_events_validate_on_construction() -> None:
    with pytest.raises(ValueError, match="dotted lowercase"):
        Event(kind="Link Lost", source="plc", time_ns=1)
    with pytest.raises(ValueError, match="source is required"):
        Event(kind="link.lost", source="", time_ns=1)
    with pytest.raises(TypeError, match="unsupported type"):
        Event(kind="link.lost", source="plc", time_ns=1, fields={"x": [1]})  # type: ignore[dict-item]


def test_duplicate_subscription_names_are_refused() -> None:
    bus = Bus()
    bus.subscribe("journal", capacity=1, overflow=Overflow.FAULT)
    with pytest.raises(ValueError, match="already exists"):
        bus.subscribe("journal", capacity=1, overflow=Overflow.FAULT)
