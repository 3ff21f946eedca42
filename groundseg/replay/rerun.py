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
        self._pending = sorted(contexts, key=lambda c: c.time_ns)
        self._tick_ns = tick_ns
        self._next_tick: int | None = None

    def take(self, batch: SampleBatch) -> list[Decision]:
        """The decisions up to and including this batch (recorded qualities expected)."""
        mapped = self._renumbered(batch)
        if mapped is None or len(mapped) == 0:
            return []
        start = int(mapped.time_ns.min())
        if self._next_tick is None:
            self._next_tick = start - start % self._tick_ns + self._tick_ns
        decisions: list[Decision] = []
        pending = self._pending
        # Time's work, and context changes, up to this batch, in order.
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
        decisions += map(Decision.of, self.monitor.take(mapped))
        return decisions


def rerun(
    pad: PadDefinition,
    recorded_channels: Sequence[str],
    batches: Iterable[SampleBatch],
    contexts: Sequence[Context],
    *,
    stale_periods: float = 3.0,
    tick_ns: int = TICK_NS,
) -> list[Decision]:
    """Every decision `pad`'s rules make over the recording, in time order."""
    runner = Rerunner(
        pad, recorded_channels, contexts, stale_periods=stale_periods, tick_ns=tick_ns
    )
    decisions: list[Decision] = []
    for batch in batches:
        decisions += runner.take(batch)
    return decisions


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
