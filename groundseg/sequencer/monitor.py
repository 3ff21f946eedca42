"""The launch monitor: latest values, redlines, votes, discrepancies and interlock checks.

Theory of operation. Every sample batch updates the latest value of its channels, then
only the rules that read those channels are evaluated: limit redlines (persistence and
hysteresis in `rules.limits`, votes as virtual channels after the real ones), condition
redlines (`when`), freshness redlines (`stale`), votes, and commanded-versus-actual
discrepancies of the valves. `tick(now_ns)` re-evaluates what time alone can change (a
`for` completing, data ageing past its channel's staleness limit, a valve's window
running out) and is called by the runner's one timer.

A redline is *tripped* when its limit is red, its condition true, or one of its fresh
channels untrusted; it *acts* only while armed (its phases, a count under way, or
`always`). A finding is reported on each edge of "tripped and armed": `Trip` once, then
`Clear` once. Stale or unknown data never trips a condition redline (its channels'
freshness is its own alarm) and never satisfies an interlock.

Pure: time is passed in (sample time, nanoseconds), nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.config import PadDefinition
from groundseg.quality import USABLE, Quality
from groundseg.rules.conditions import Condition, Truth, trusted_value
from groundseg.rules.discrepancy import DiscrepancyMonitor, stale_after_ns
from groundseg.rules.limits import Level, LimitRule, LimitSet
from groundseg.rules.voting import VoteStatus
from groundseg.sequencer.plan import Call, LaunchPlan, Reaction, Redline
from groundseg.sequencer.steady import Spans, spans
from groundseg.telemetry.batch import QUALITY_DTYPE, SampleBatch
from groundseg.telemetry.run import SampleRun

__all__ = ["Finding", "Monitor", "Veto"]

NEVER = np.iinfo(np.int64).min


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A rule that started (`active`) or stopped acting."""

    rule: str
    active: bool
    reaction: Reaction
    severity: str
    message: str
    actions: tuple[Call, ...] = ()
    latched: bool = False
    time_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Veto:
    interlock: str
    reason: str
    truth: Truth


class _Latest:
    """The latest sample of every channel (and every vote, after the channels)."""

    def __init__(self, size: int) -> None:
        self.value = np.full(size, np.nan)
        self.time_ns = np.full(size, NEVER, dtype=np.int64)
        self.quality = np.full(size, Quality.STALE, dtype=QUALITY_DTYPE)


class Monitor:
    def __init__(self, pad: PadDefinition, plan: LaunchPlan, *, stale_periods: float = 3.0):
        self.pad = pad
        self.plan = plan
        n = len(pad.channels)
        self.latest = _Latest(n + len(plan.votes))
        self.stale_after_ns = stale_after_ns(pad, stale_periods)
        self._vote_index = {v.group.name: n + k for k, v in enumerate(plan.votes)}
        self._limits = _limit_sets(plan.redlines, self._vote_index, n + len(plan.votes))
        # Before any data a vote cannot be made: FAILED, silently (no alarm at start-up),
        # so a resume waits for the transmitters like any other hold rule.
        self._vote_status = {v.group.name: VoteStatus.FAILED for v in plan.votes}
        self._vote_reads = _reads(n, [v.group.channels for v in plan.votes])
        self._conditions = [r for r in plan.redlines if r.when is not None]
        self._condition_reads = _reads(n, [r.when.channels for r in self._conditions if r.when])
        self._stale = [r for r in plan.redlines if r.stale]
        self._stale_reads = _reads(n, [r.stale for r in self._stale])
        self._discrepancy = DiscrepancyMonitor(pad)
        self._valve_channels = np.zeros(len(pad.channels), dtype=bool)
        self._valve_channels[self._discrepancy.channels] = True
        self._tripped: dict[str, bool] = {r.id: False for r in plan.redlines}
        self._acting: dict[str, bool] = {}
        self.phase: str | None = None
        self.counting = False
        self._by_id = {r.id: r for r in plan.redlines}
        self._reaction: dict[str, Reaction] = {r.id: r.reaction for r in plan.redlines}
        for vote in plan.votes:
            self._acting[f"vote.{vote.group.name}.failed"] = True
            self._reaction[f"vote.{vote.group.name}.failed"] = vote.failed
        self.now_ns = 0

    # -- input -----------------------------------------------------------------------------

    def take(self, batch: SampleBatch, received_ns: int | None = None) -> list[Finding]:
        """A batch from the bus; returns the findings it caused. With `received_ns` (the
        runner's monotonic clock) values age from when they arrived, so a wall-clock jump
        in the samples' timestamps makes nothing look stale or fresh."""
        if len(batch) == 0:
            return []
        latest = self.latest
        latest.value[batch.channel] = batch.value
        latest.time_ns[batch.channel] = batch.time_ns if received_ns is None else received_ns
        latest.quality[batch.channel] = batch.quality
        now_ns = int(batch.time_ns.max()) if received_ns is None else received_ns
        self.now_ns = max(self.now_ns, now_ns)
        found: list[Finding] = []
        touched = np.zeros(len(self.pad.channels), dtype=bool)
        touched[batch.channel] = True
        votes = np.flatnonzero(self._vote_reads[:, touched].any(axis=1))
        if len(votes):
            # A voted sample is a new measurement of a member: a member going stale or
            # invalid changes the vote's health, but the others' old values are no new
            # sample for a redline's persistence.
            measured = np.zeros(len(self.pad.channels), dtype=bool)
            measured[batch.channel[USABLE[batch.quality]]] = True
            fresh = self._vote_reads[votes][:, measured].any(axis=1)
            if fresh.any():
                found += self._votes(votes[fresh], self.now_ns)
            if not fresh.all():
                found += self._votes(votes[~fresh], self.now_ns, sample=False)
        for limits in self._limits:
            for change in limits.update(batch):
                found += self._limit_changed(limits, change.rule, change.after, change.time_ns)
        for k in np.flatnonzero(self._condition_reads[:, touched].any(axis=1)):
            found += self._condition(self._conditions[k], self.now_ns)
        for k in np.flatnonzero(self._stale_reads[:, touched].any(axis=1)):
            found += self._freshness(self._stale[k], self.now_ns)
        if self._valve_channels[batch.channel].any():
            # Valve windows running out are the timer's (tick); a batch matters only when
            # it brings a command's readback or a limit switch.
            found += self._discrepancies(self.now_ns)
        return found

    def tick(self, now_ns: int) -> list[Finding]:
        """What time alone changes: `for` timers, ageing data, valve windows."""
        self.now_ns = max(self.now_ns, now_ns)
        found: list[Finding] = []
        for redline in self._conditions:
            found += self._condition(redline, self.now_ns)
        for redline in self._stale:
            found += self._freshness(redline, self.now_ns)
        if self._vote_index:
            # Ageing can fail a vote; it is not a new sample, so limits do not count it.
            found += self._votes(np.arange(len(self.plan.votes)), self.now_ns, sample=False)
        found += self._discrepancies(self.now_ns)
        return found

    def set_context(self, *, phase: str | None, counting: bool, now_ns: int) -> list[Finding]:
        """The sequence moved to another phase, or a count started or ended: redlines arm
        and disarm; one already beyond its limit trips at once."""
        self.phase = phase
        self.counting = counting
        return [f for r in self.plan.redlines if (f := self._settle(r, now_ns)) is not None]

    def skip(self, block: SampleRun, *, last_tick_ns: int) -> bool:
        """Take a block of batches in one step if no rule could change over it (see
        `steady`): only the latest values move. False, with nothing changed, when it must
        be taken batch by batch. The timer must have run up to the block's first batch
        (at `last_tick_ns`) and run on over it with nothing due but its ticks."""
        over = spans(
            block,
            self.latest,
            self.stale_after_ns,
            now_ns=self.now_ns,
            last_tick_ns=last_tick_ns,
        )
        deadline = self.next_deadline_ns()
        if (deadline is not None and deadline <= over.end_ns) or not self._steady(block, over):
            return False
        latest = self.latest
        latest.value[over.last_channel] = block.value[over.last]
        latest.time_ns[over.last_channel] = block.time_ns[over.last]
        latest.quality[over.last_channel] = block.quality[over.last]
        self.now_ns = over.end_ns
        for vote in self.plan.votes:
            # Nothing reads a vote's latest value but a display; it is the vote at the end.
            result = vote.group.vote(latest, self.now_ns, self.stale_after_ns)
            index = self._vote_index[vote.group.name]
            latest.value[index] = result.value if result.value is not None else np.nan
            latest.time_ns[index] = self.now_ns
            latest.quality[index] = Quality.GOOD if result.value is not None else Quality.INVALID
        return True

    def _steady(self, block: SampleRun, over: Spans) -> bool:
        usable = USABLE[block.quality] & ~np.isnan(block.value)
        if not all(s.limits.steady(block.channel, block.value, usable) for s in self._limits):
            return False
        if not self._discrepancy.steady(over.usable, over.low, over.high):
            return False
        trusted = over.trusted
        if any((trusted[list(r.stale)] < 0).any() for r in self._stale):
            return False
        if not all(r.when.steady(trusted, over.low, over.high) for r in self._conditions if r.when):
            return False
        for vote in self.plan.votes:
            members = np.array(vote.group.channels)
            if (trusted[members] < 0).any():
                return False
            counted = members[trusted[members] == 1]
            low = float(over.low[counted].min(initial=np.inf))
            high = float(over.high[counted].max(initial=-np.inf))
            if len(counted) and high - low > vote.group.tolerance:
                return False
            status = (
                VoteStatus.FAILED
                if len(counted) < vote.group.need
                else VoteStatus.OK
                if len(counted) == len(members)
                else VoteStatus.DEGRADED
            )
            if status is not self._vote_status[vote.group.name]:
                return False
            index = self._vote_index[vote.group.name]
            for limits in self._limits:
                if status is VoteStatus.FAILED:
                    nothing = np.array([index], dtype=np.uint32)
                    if not limits.limits.steady(nothing, np.array([np.nan]), np.array([False])):
                        return False
                elif not limits.limits.steady_between(index, low, high):
                    return False
        return True

    # -- queries ---------------------------------------------------------------------------

    def truth(self, condition: Condition, now_ns: int | None = None) -> Truth:
        at = self.now_ns if now_ns is None else now_ns
        return condition.evaluate(self.latest, now_ns=at, stale_after_ns=self.stale_after_ns)

    def peek(self, condition: Condition, now_ns: int) -> Truth:
        """The truth of a condition for a display, without moving its `for` timers."""
        return condition.peek(self.latest, now_ns=now_ns, stale_after_ns=self.stale_after_ns)

    def vetoes(self, command: str, now_ns: int | None = None) -> list[Veto]:
        """The interlocks that do not permit `command` now (empty: permitted). Only TRUE
        permits: stale, unknown or never-seen data vetoes."""
        out = []
        for interlock in self.plan.interlocks_of(command):
            truth = self.truth(interlock.permit, now_ns)
            if truth is not Truth.TRUE:
                unknown = " (data stale or unknown)" if truth is Truth.UNKNOWN else ""
                out.append(
                    Veto(interlock=interlock.id, reason=interlock.reason + unknown, truth=truth)
                )
        return out

    def acting(self) -> list[Redline]:
        """Redlines tripped and armed now."""
        return [self._by_id[r] for r, on in self._acting.items() if on and r in self._by_id]

    def acting_holds(self) -> list[str]:
        """Rules acting now whose reaction holds the count (or safes the pad)."""
        return sorted(
            rule
            for rule, on in self._acting.items()
            if on and self._reaction.get(rule, "alarm") != "alarm"
        )

    def next_deadline_ns(self) -> int | None:
        deadlines = [c.next_deadline_ns() for c in (r.when for r in self._conditions) if c]
        deadlines.append(self._discrepancy.next_deadline_ns())
        present = [d for d in deadlines if d is not None]
        return min(present, default=None)

    # -- evaluation ------------------------------------------------------------------------

    def _votes(self, which: Iterable[int], now_ns: int, *, sample: bool = True) -> list[Finding]:
        found: list[Finding] = []
        for k in which:
            plan = self.plan.votes[int(k)]
            vote = plan.group.vote(self.latest, now_ns, self.stale_after_ns)
            index = self._vote_index[plan.group.name]
            self.latest.value[index] = vote.value if vote.value is not None else np.nan
            self.latest.time_ns[index] = now_ns
            quality = Quality.GOOD if vote.value is not None else Quality.INVALID
            self.latest.quality[index] = quality
            batch = SampleBatch.at(
                source="vote",
                seq=0,
                time_ns=now_ns,
                channel=np.array([index], dtype=np.uint32),
                value=np.array([self.latest.value[index]]),
                quality=quality,
            )
            for limits in self._limits if sample else ():
                if not limits.limits.watches(index):
                    continue
                for change in limits.update(batch):
                    found += self._limit_changed(limits, change.rule, change.after, now_ns)
            before = self._vote_status[plan.group.name]
            if vote.status is before:
                continue
            self._vote_status[plan.group.name] = vote.status
            names = ", ".join(self.pad.channels[c].id for c in vote.unhealthy)
            for status, reaction in (
                (VoteStatus.DEGRADED, plan.degraded),
                (VoteStatus.FAILED, plan.failed),
            ):
                rule = f"vote.{plan.group.name}.{status.value}"
                active = vote.status is status
                if active != (before is status):
                    self._acting[rule] = active
                    self._reaction[rule] = reaction
                    found.append(
                        Finding(
                            rule=rule,
                            active=active,
                            reaction=reaction,
                            severity="alarm" if status is VoteStatus.DEGRADED else "critical",
                            message=(
                                f"vote {plan.group.name} {status.value}: {names} not healthy"
                                f" ({len(vote.healthy)} of {len(plan.group.channels)}, "
                                f"need {plan.group.need})"
                            ),
                            time_ns=now_ns,
                        )
                    )
        return found

    def _limit_changed(
        self, limits: _Limits, rule: int, after: Level, time_ns: int
    ) -> list[Finding]:
        redline = limits.redlines[rule]
        found = []
        warn_id = f"{redline.id}.warning"
        warned = self._acting.get(warn_id, False)
        if (after is Level.YELLOW) != warned and redline.armed_in(self.phase, self.counting):
            self._acting[warn_id] = after is Level.YELLOW
            found.append(
                Finding(
                    rule=warn_id,
                    active=after is Level.YELLOW,
                    reaction="alarm",
                    severity="warning",
                    message=f"{redline.message}: outside its yellow limits",
                    time_ns=time_ns,
                )
            )
        self._tripped[redline.id] = after is Level.RED
        settled = self._settle(redline, time_ns)
        return found + ([settled] if settled else [])

    def _condition(self, redline: Redline, now_ns: int) -> list[Finding]:
        assert redline.when is not None
        self._tripped[redline.id] = self.truth(redline.when, now_ns) is Truth.TRUE
        settled = self._settle(redline, now_ns)
        return [settled] if settled else []

    def _freshness(self, redline: Redline, now_ns: int) -> list[Finding]:
        self._tripped[redline.id] = any(
            trusted_value(self.latest, c, now_ns=now_ns, stale_after_ns=self.stale_after_ns) is None
            for c in redline.stale
        )
        settled = self._settle(redline, now_ns)
        return [settled] if settled else []

    def _discrepancies(self, now_ns: int) -> list[Finding]:
        return [
            Finding(
                rule=f"discrepancy.{d.valve}",
                active=d.active,
                reaction="hold",
                severity="alarm",
                message=f"{d.valve}: {d.reason}",
                time_ns=now_ns,
            )
            for d in self._discrepancy.check(self.latest, now_ns)
        ]

    def _settle(self, redline: Redline, time_ns: int) -> Finding | None:
        acting = self._tripped[redline.id] and redline.armed_in(self.phase, self.counting)
        if acting == self._acting.get(redline.id, False):
            return None
        self._acting[redline.id] = acting
        return Finding(
            rule=redline.id,
            active=acting,
            reaction=redline.reaction,
            severity="critical" if redline.reaction != "alarm" else "alarm",
            message=redline.message,
            actions=redline.actions,
            latched=redline.latched,
            time_ns=time_ns,
        )


@dataclass(slots=True)
class _Limits:
    limits: LimitSet
    redlines: tuple[Redline, ...]

    def update(self, batch: SampleBatch) -> list[_Change]:
        return [_Change(t.rule, Level(t.after), t.time_ns) for t in self.limits.update(batch)]


@dataclass(frozen=True, slots=True)
class _Change:
    rule: int
    after: Level
    time_ns: int


def _limit_sets(
    redlines: Sequence[Redline], vote_index: dict[str, int], size: int
) -> list[_Limits]:
    """Limit redlines in sets with one rule per channel (phase variants of one channel's
    limits go to different sets)."""
    sets: list[list[tuple[LimitRule, Redline]]] = []
    inf = float("inf")
    for redline in redlines:
        channel = redline.channel if redline.vote is None else vote_index[redline.vote]
        if channel is None:
            continue
        rule = LimitRule(
            channel=channel,
            red_low=redline.below if redline.below is not None else -inf,
            yellow_low=_first(redline.warn_below, redline.below, -inf),
            yellow_high=_first(redline.warn_above, redline.above, inf),
            red_high=redline.above if redline.above is not None else inf,
            persistence_samples=redline.persistence,
            persistence_s=redline.persist_s,
            hysteresis=redline.hysteresis,
            name=redline.id,
        )
        home = next((s for s in sets if all(r.channel != channel for r, _ in s)), None)
        if home is None:
            home = []
            sets.append(home)
        home.append((rule, redline))
    return [_Limits(LimitSet([r for r, _ in s], size), tuple(red for _, red in s)) for s in sets]


def _reads(channels: int, groups: Sequence[Iterable[int]]) -> npt.NDArray[np.bool_]:
    """A rule-by-channel matrix: which rules read which channels."""
    matrix = np.zeros((len(groups), channels), dtype=bool)
    for k, group in enumerate(groups):
        matrix[k, list(group)] = True
    return matrix


def _first(*values: float | None) -> float:
    return next(v for v in values if v is not None)
