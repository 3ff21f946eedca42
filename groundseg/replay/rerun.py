"""The automation re-run: the monitors over recorded telemetry, with any pad definition.

What would the automation have done with these limits? The recorded samples go through a
fresh `Monitor` built from the pad definition given (the one flown, or one with changed
limits, votes or rules) in recorded time, with the sequence's context (phase, count under
way) replayed from the recorded events, so every redline arms and disarms when it did.
Each finding is a `Decision`; `differences` lists what one re-run decided that another
did not.

Recorded channels are matched to the definition by id, so a definition that adds, drops
or reorders channels still runs (a channel it does not know is ignored). Recorded quality
is kept: a value that was stale when recorded is stale here too. Nothing here touches the
bus or the gate, so a re-run can never drive a live command.

Pure: batches and events in, decisions out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.config import PadDefinition
from groundseg.sequencer.monitor import Finding, Monitor
from groundseg.sequencer.plan import compile_plan
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.events import Event
from groundseg.telemetry.run import SampleRun

__all__ = [
    "Context",
    "Decision",
    "Difference",
    "Rerunner",
    "contexts_from_events",
    "differences",
    "renumbering",
    "rerun",
]

TICK_NS = 100_000_000
"""How often recorded time is offered to the time-based rules (`for`, staleness, valve
windows): the live runner's own tick."""

BLOCK = 512
"""Batches tried together for a steady stretch (the journal decodes as many at once)."""
SMALLEST_BLOCK = 8
"""Below this, a block that is not steady is taken batch by batch."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    time_ns: int
    rule: str
    active: bool
    """True: the rule started acting (a trip); False: it stopped (a clear)."""
    reaction: str
    message: str
    t_s: float | None = None
    """The T-time a countdown decision was made at (the re-run's own count)."""

    @classmethod
    def of(cls, finding: Finding) -> Decision:
        return cls(
            time_ns=finding.time_ns,
            rule=finding.rule,
            active=finding.active,
            reaction=finding.reaction,
            message=finding.message,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """From `time_ns` on, the sequence was in `phase` and a count was (not) under way."""

    time_ns: int
    phase: str | None
    counting: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Difference:
    decision: Decision
    only_in: str
    """Which re-run made it: "baseline" or "changed"."""


_STARTS = {"countdown.started"}
_ENDS = {"countdown.t0", "countdown.scrubbed", "countdown.aborted"}
"""The count is over (TERMINAL states): redlines armed only while counting disarm."""


def contexts_from_events(events: Iterable[Event]) -> list[Context]:
    """The sequence's context over time, from the recorded countdown and phase events."""
    phase: str | None = None
    counting = False
    out: list[Context] = []
    for event in sorted(events, key=lambda e: e.time_ns):
        if event.kind == "sequence.phase":
            named = event.fields.get("phase")
            phase = str(named) if named is not None else event.message.removeprefix("phase ")
        elif event.kind in _STARTS:
            counting = True
        elif event.kind in _ENDS:
            counting = False
            phase = None
        else:
            continue
        out.append(Context(time_ns=event.time_ns, phase=phase, counting=counting))
    return out


class Rerunner:
    """The re-run as a stream: batches in, decisions out (a replay's monitors use it)."""

    def __init__(
        self,
        pad: PadDefinition,
        recorded_channels: Sequence[str],
        contexts: Sequence[Context],
        *,
        stale_periods: float = 3.0,
        tick_ns: int = TICK_NS,
    ) -> None:
        self.monitor = Monitor(pad, compile_plan(pad), stale_periods=stale_periods)
        self._renumbered = renumbering(recorded_channels, pad)
        self._remap = _remap(pad, recorded_channels)
        self._identity = bool(np.array_equal(self._remap, np.arange(len(self._remap))))
        self._pending = sorted(contexts, key=lambda c: c.time_ns)
        self._tick_ns = tick_ns
        self._next_tick: int | None = None
        self.skipped = 0
        """Batches taken in steady stretches (the rest went one by one)."""

    def take(self, batch: SampleBatch) -> list[Decision]:
        """The decisions up to and including this batch (recorded qualities expected)."""
        mapped = self._renumbered(batch)
        if mapped is None or len(mapped) == 0:
            return []
        return self._take(mapped)

    def take_run(self, run: SampleRun) -> list[Decision]:
        """The decisions over a run of batches, as `take` one by one would make them:
        stretches where no rule can change are taken in one step (`Monitor.skip`), the
        rest halved until they are, down to a few batches taken one by one."""
        run = self._renumbered_run(run)
        decisions: list[Decision] = []
        starts = run.starts_ns()
        for first in range(0, len(run), BLOCK):
            end = min(first + BLOCK, len(run))
            decisions += self._block(run.slice(first, end), starts[first:end])
        return decisions

    def _block(self, run: SampleRun, starts: npt.NDArray[np.int64]) -> list[Decision]:
        if len(run) <= SMALLEST_BLOCK:
            return [d for k in range(len(run)) for d in self._take(run.batch(k))]
        decisions = self._catch_up(int(starts[0]))
        latest_start = int(starts.max())
        pending = self._pending
        assert self._next_tick is not None  # set by the catch-up
        if (not pending or pending[0].time_ns > latest_start) and self.monitor.skip(
            run, last_tick_ns=self._next_tick - self._tick_ns
        ):
            # The ticks up to the latest batch start are spent, as one by one.
            behind = latest_start - self._next_tick
            if behind >= 0:
                self._next_tick += (behind // self._tick_ns + 1) * self._tick_ns
            self.skipped += len(run)
            return decisions
        half = len(run) // 2
        return (
            decisions
            + self._block(run.slice(0, half), starts[:half])
            + self._block(run.slice(half, len(run)), starts[half:])
        )

    def _renumbered_run(self, run: SampleRun) -> SampleRun:
        if self._identity:
            return run
        mapped = self._remap[run.channel]
        keep = mapped >= 0
        return run.where(keep, mapped.astype(np.uint32))

    def _take(self, batch: SampleBatch) -> list[Decision]:
        decisions = self._catch_up(int(batch.time_ns.min()))
        return decisions + list(map(Decision.of, self.monitor.take(batch)))

    def _catch_up(self, start: int) -> list[Decision]:
        """Time's work, and context changes, up to a batch starting at `start`, in order."""
        if self._next_tick is None:
            self._next_tick = start - start % self._tick_ns + self._tick_ns
        decisions: list[Decision] = []
        pending = self._pending
        while (pending and pending[0].time_ns <= start) or self._next_tick <= start:
            if pending and pending[0].time_ns <= min(start, self._next_tick):
                context = pending.pop(0)
                found = self.monitor.set_context(
                    phase=context.phase, counting=context.counting, now_ns=context.time_ns
                )
            else:
                found = self.monitor.tick(self._next_tick)
                self._next_tick += self._tick_ns
            decisions += map(Decision.of, found)
        return decisions


def rerun(
    pad: PadDefinition,
    recorded_channels: Sequence[str],
    recorded: Iterable[SampleRun],
    contexts: Sequence[Context],
    *,
    stale_periods: float = 3.0,
    tick_ns: int = TICK_NS,
) -> list[Decision]:
    """Every decision `pad`'s rules make over the recording (runs of batches, as the
    journal reads them; `SampleRun.grouped` makes them of other sources' batches), in time
    order."""
    runner = Rerunner(
        pad, recorded_channels, contexts, stale_periods=stale_periods, tick_ns=tick_ns
    )
    return [d for run in recorded for d in runner.take_run(run)]


def differences(baseline: Sequence[Decision], changed: Sequence[Decision]) -> list[Difference]:
    """Decisions one re-run made and the other did not (same rule, edge and time), in
    time order."""
    theirs = set(changed)
    ours = set(baseline)
    out = [Difference(decision=d, only_in="baseline") for d in baseline if d not in theirs]
    out += [Difference(decision=d, only_in="changed") for d in changed if d not in ours]
    return sorted(out, key=lambda d: (d.decision.time_ns, d.decision.rule))


def renumbering(
    recorded: Sequence[str], pad: PadDefinition
) -> Callable[[SampleBatch], SampleBatch | None]:
    """Batches numbered as recorded, renumbered as `pad` numbers its channels (consumers
    such as the ingest name channels by the pad's numbering); None for a batch of channels
    the pad does not know."""
    remap = _remap(pad, recorded)
    if np.array_equal(remap, np.arange(len(remap))):
        return lambda batch: batch
    return lambda batch: _mapped(batch, remap)


def _remap(pad: PadDefinition, recorded: Sequence[str]) -> npt.NDArray[np.int64]:
    """Recorded channel index -> this definition's index, or -1."""
    index = {c.id: c.index for c in pad.channels}
    return np.array([index.get(name, -1) for name in recorded], dtype=np.int64)


def _mapped(batch: SampleBatch, remap: npt.NDArray[np.int64]) -> SampleBatch | None:
    """The batch in this definition's channel numbering; None if it knows none of them."""
    mapped = remap[batch.channel]
    keep = mapped >= 0
    if not keep.any():
        return None
    return SampleBatch(
        source=batch.source,
        seq=batch.seq,
        channel=mapped[keep].astype(np.uint32),
        time_ns=batch.time_ns[keep],
        value=batch.value[keep],
        quality=batch.quality[keep],
    )
