"""Playing recorded telemetry back: as fast as possible, at N times real time, or a batch
at a time; every batch flagged as replayed.

A replayed sample that was GOOD becomes REPLAYED (never usable by an interlock: see
`groundseg.quality`); one that was STALE or INVALID stays so, so a display still shows
what was wrong at the time. Pacing follows the recorded sample times on the player's
clock (the one clock of DESIGN section 3), so a test's fake clock or a bench's scaled one
replays just as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import numpy as np

from groundseg.clock import Clock
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch

__all__ = ["Coalescer", "Pacing", "flagged", "play"]


@dataclass(frozen=True, slots=True)
class Pacing:
    speed: float | None = 1.0
    """Recorded seconds per second of the clock; None: as fast as possible."""
    step: asyncio.Queue[int] | None = None
    """Step by step: each number put here releases that many batches."""

    def __post_init__(self) -> None:
        if self.speed is not None and not self.speed > 0:
            raise ValueError(f"replay speed must be positive, got {self.speed}")


_GOOD = np.uint8(Quality.GOOD)
_REPLAYED = np.uint8(Quality.REPLAYED)
YIELD_EVERY = 64
"""As fast as possible, the player lets the loop's other tasks run every this many batches
(every batch, the loop's own turn cost more than the batch)."""


def flagged(batch: SampleBatch) -> SampleBatch:
    """The batch as replayed: GOOD becomes REPLAYED, every other quality stays."""
    return SampleBatch(
        source=batch.source,
        seq=batch.seq,
        channel=batch.channel,
        time_ns=batch.time_ns,
        value=batch.value,
        quality=np.where(batch.quality == _GOOD, _REPLAYED, batch.quality),
    )


async def play(
    batches: Iterable[SampleBatch],
    deliver: Callable[[SampleBatch], Awaitable[None]],
    *,
    pacing: Pacing,
    clock: Clock,
) -> int:
    """Deliver every batch, flagged, when its recorded time comes; returns the samples."""
    first_ns: int | None = None
    started = clock.monotonic()
    released = 0
    delivered = 0
    samples = 0
    for batch in batches:
        if len(batch) == 0:
            continue
        at_ns = int(batch.time_ns.min())
        if first_ns is None:
            first_ns = at_ns
        if pacing.step is not None:
            while released == 0:
                released = await pacing.step.get()
            released -= 1
        elif pacing.speed is not None:
            await clock.sleep_until(started + (at_ns - first_ns) / 1e9 / pacing.speed)
        elif delivered % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # as fast as possible, but others still run
        delivered += 1
        await deliver(flagged(batch))
        samples += len(batch)
    return samples


class Coalescer:
    """Consecutive batches of one source joined into frames of about `samples` samples
    (each sample keeps its own time): a replay as fast as possible would otherwise send a
    frame per poll cycle, and the broker and the ingest pay per frame, not per sample."""

    def __init__(self, samples: int) -> None:
        self.samples = samples
        self._held: dict[str, list[SampleBatch]] = {}
        self._sizes: dict[str, int] = {}

    def add(self, batch: SampleBatch) -> SampleBatch | None:
        """A joined batch once this source holds enough, else None."""
        held = self._held.setdefault(batch.source, [])
        held.append(batch)
        self._sizes[batch.source] = self._sizes.get(batch.source, 0) + len(batch)
        if self._sizes[batch.source] < self.samples:
            return None
        return self._take(batch.source)

    def rest(self) -> list[SampleBatch]:
        """Whatever is held, joined per source."""
        return [self._take(source) for source in list(self._held) if self._held[source]]

    def _take(self, source: str) -> SampleBatch:
        held = self._held.pop(source)
        self._sizes[source] = 0
        if len(held) == 1:
            return held[0]
        return SampleBatch(
            source=source,
            seq=held[0].seq,
            channel=np.concatenate([b.channel for b in held]),
            time_ns=np.concatenate([b.time_ns for b in held]),
            value=np.concatenate([b.value for b in held]),
            quality=np.concatenate([b.quality for b in held]),
        )
