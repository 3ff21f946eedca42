"""A recording on the console: the replay's `Desk`, and the feed that plays it.

The console attaches to a replay as it does to a live pad: the same stream, plots, event
log, alarm board and permissives, from the record. The feed puts the recorded batches
(flagged REPLAYED) and the recorded events on a bus of its own at the pace the playhead
sets; the console's controls pause, play, change speed, step and seek.

What the header shows (state, T-time, hold reason, phase, step) and the alarm board come
from the recorded events as they stood at the playhead's position (`recorded`). The rules
acting and the permissives are the monitors' over the recorded values (a re-run with the
recorded context, as `groundseg rerun` makes), so they show what the operators saw.

Nothing here has a gate: a replay commands nothing.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence

import structlog

from groundseg.api.views import permissives_view, step_awaited
from groundseg.clock import Clock
from groundseg.config import PadDefinition
from groundseg.replay.player import flagged
from groundseg.replay.playhead import Playhead
from groundseg.replay.recorded import RecordedAlarms, RecordedCount
from groundseg.replay.rerun import Rerunner, contexts_from_events, renumbering
from groundseg.replay.sources import ReplaySource
from groundseg.sequencer.machine import StepStatus
from groundseg.sequencer.plan import LaunchPlan, Step, compile_plan
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.bus import Bus
from groundseg.telemetry.events import Event

__all__ = ["LEAD_IN_NS", "ReplayDesk"]

log = structlog.get_logger("groundseg.replay")

JSON = dict[str, object]
READ_AHEAD = 256
"""Batches read from the source at a time, in a thread (a database answers slowly)."""
LEAD_IN_NS = 5_000_000_000
"""Recorded time played at once before where a replay starts or seeks to: the displays
and the monitors start full (every channel's last value, every vote's members), not blank
and failed, as the operators' consoles were at that moment."""


class ReplayDesk:
    def __init__(
        self,
        pad: PadDefinition,
        source: ReplaySource,
        *,
        bus: Bus,
        clock: Clock,
        span: tuple[int, int],
        speed: float = 1.0,
        paused: bool = False,
        stale_periods: float = 3.0,
    ) -> None:
        self.pad = pad
        self.plan: LaunchPlan = compile_plan(pad)
        self.source = source
        self.bus = bus
        self.clock = clock
        self.stale_periods = stale_periods
        self.events: list[Event] = sorted(source.events(None, None), key=lambda e: e.time_ns)
        self._event_times = [e.time_ns for e in self.events]
        self.count = RecordedCount(self.events)
        self.board = RecordedAlarms(self.events)
        self._contexts = contexts_from_events(self.events)
        self.playhead = Playhead(*span, now_s=clock.monotonic(), speed=speed, paused=paused)
        self.restarted: Callable[[Sequence[Event]], None] = lambda past: None
        """Called when playing starts afresh (first, and after every seek) with the events
        recorded before the position: the console's hub starts over with them."""
        self.samples = 0
        self._renumbered = renumbering(source.channel_names, pad)
        """Recorded numbering -> this pad's (the console names channels by the pad's)."""
        self._rerunner = self._fresh_rerunner()
        self._steps = 0
        self._changed = asyncio.Event()

    # -- Desk ------------------------------------------------------------------------------

    def position_ns(self) -> int:
        return self.playhead.position(self.clock.monotonic())

    def now_unix(self) -> float:
        """The displays' clock: the playhead, in seconds since the epoch."""
        return self.position_ns() / 1e9

    def state(self) -> JSON:
        now_s = self.clock.monotonic()
        at = self.playhead.position(now_s)
        recorded = self.count.state(at)
        step = self._next_step(recorded)
        return {
            **recorded,
            "acting": self._rerunner.monitor.acting_holds(),
            "reconciled": True,
            "unacknowledged_alarms": self.board.unacknowledged(at),
            "next_step": None
            if step is None
            else {"id": step.id, "at_t_s": step.at_t_s, "description": step.description},
            "armings": [],
            "replay": self.playhead.view(now_s).as_json(),
        }

    def alarms(self) -> list[JSON]:
        return self.board.at(self.position_ns())

    def armings(self) -> list[JSON]:
        return []

    def permissives(self) -> JSON:
        at = self.position_ns()
        step = self._next_step(self.count.state(at))
        return permissives_view(self.plan, step, self._rerunner.monitor, at)

    def _next_step(self, recorded: JSON) -> Step | None:
        steps = self.plan.steps
        step = next((s for s in steps if s.id == recorded["step"]), None)
        if step is None:  # nothing under way yet: the first step, before a count only
            first = steps[0] if steps and recorded["state"] == "ready" else None
            return step_awaited(steps, first, StepStatus.PENDING)
        return step_awaited(steps, step, StepStatus(str(recorded["step_status"])))

    # -- the controls ----------------------------------------------------------------------

    def pause(self) -> None:
        self.playhead.pause(self.clock.monotonic())
        self._changed.set()

    def play(self) -> None:
        self.playhead.play(self.clock.monotonic())
        self._changed.set()

    def set_speed(self, speed: float) -> None:
        self.playhead.set_speed(speed, self.clock.monotonic())
        self._changed.set()

    def seek(self, time_ns: int) -> None:
        self.playhead.seek(time_ns, self.clock.monotonic())
        self._start_over(time_ns)
        self._changed.set()

    def step(self, batches: int = 1) -> None:
        """While paused: release the next `batches` poll cycles."""
        self._steps += max(0, batches)
        self._changed.set()

    # -- playing ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Play from the playhead, again after every seek, until cancelled."""
        self._start_over(self.position_ns())
        while True:
            generation = self.playhead.generation
            start = self.position_ns()
            log.info("replay playing", position_ns=start, speed=self.playhead.speed)
            lead_in = max(self.playhead.first_ns, start - LEAD_IN_NS)
            batches = self.source.batches(lead_in, self.playhead.last_ns + 1)
            first_event = bisect.bisect_left(self._event_times, start)
            try:
                rest = await self._play(batches, generation, start, first_event)
            finally:
                # A database source holds a connection until its generator is closed.
                close = getattr(batches, "close", None)
                if close is not None:
                    close()
            if rest is None:
                continue  # a seek: start over from there
            self._publish_events(rest, len(self.events))
            while self.playhead.generation == generation:
                await self._wait_for_change(None)

    def _start_over(self, start: int) -> None:
        """Displays and monitors afresh at `start` (at once: a console asking for its
        history right after a seek gets the new position's)."""
        self._rerunner = self._fresh_rerunner()
        self._steps = 0
        self.restarted(self.events[: bisect.bisect_left(self._event_times, start)])

    async def _play(
        self, batches: Iterator[SampleBatch], generation: int, start: int, next_event: int
    ) -> int | None:
        """Every batch at its time (those of the lead-in before `start` at once); the index
        of the next event when the record ends, None when a seek cut it short."""
        while True:
            chunk = await asyncio.to_thread(_read, batches, READ_AHEAD)
            if not chunk:
                return next_event
            # Recorded batches (recorded quality) go to the monitors; the bus gets them
            # flagged, in the pad's numbering.
            for batch in chunk:
                at = int(batch.time_ns.min())
                if at < start:
                    if self.playhead.generation != generation:
                        return None
                elif not await self._reach(at, generation):
                    return None
                upto = bisect.bisect_right(self._event_times, at)
                self._publish_events(next_event, upto)
                next_event = max(next_event, upto)
                ours = self._renumbered(batch)
                if ours is not None:
                    self.bus.publish(flagged(ours))
                self._rerunner.take(batch)
                self.samples += len(batch)

    async def _reach(self, time_ns: int, generation: int) -> bool:
        """Wait until the playhead reaches `time_ns` (or a step releases the batch); False
        if a seek came first."""
        while self.playhead.generation == generation:
            now_s = self.clock.monotonic()
            if self.playhead.paused and self._steps > 0:
                self._steps -= 1
                self.playhead.stepped_to(time_ns, now_s)
                return True
            wait = self.playhead.wait_s(time_ns, now_s)
            if wait is not None and wait <= 0:
                return True
            await self._wait_for_change(wait)
        return False

    async def _wait_for_change(self, timeout_s: float | None) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._changed.wait()

    def _publish_events(self, start: int, end: int) -> None:
        for event in itertools.islice(self.events, start, end):
            self.bus.publish(event)

    def _fresh_rerunner(self) -> Rerunner:
        return Rerunner(
            self.pad,
            self.source.channel_names,
            self._contexts,
            stale_periods=self.stale_periods,
        )


def _read(batches: Iterator[SampleBatch], count: int) -> list[SampleBatch]:
    return [b for b in itertools.islice(batches, count) if len(b)]
