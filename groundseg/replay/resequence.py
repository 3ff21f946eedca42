"""The automation re-run with the sequence: what the monitors *and* the sequencer decide.

`rerun` replays the monitors in the recorded context. This runs the whole automation over
the record, as the launch runner wires it, so a changed step (a wait, a precondition, a
deadline, a command) or a changed rule shows everything that follows from it: holds, the
steps' progress, the commands the sequence sends, and the phases (which arm the redlines:
the monitors' context is the re-run sequencer's own, not the recorded one).

What stays as recorded:

- telemetry, into the monitors (recorded qualities);
- the operators' countdown requests: the recorded countdown events a person caused (their
  `by` names no rule and no automation) are asked again at the same moments. One the
  re-run's count cannot take (a resume while a rule of the changed definition acts) is a
  decision of its own, `request.refused`;
- command outcomes: a command the re-run's sequence sends ends as the recorded sending of
  the same command did (verified after its recorded time, or failed with its reason); one
  the record never sent is vetoed if the interlocks say so, else taken as verified at once;
- the count clock's speed: T gained per recorded second while counting, kept through holds,
  so a simulated count recorded at 300x re-runs at 300x.

Every decision carries recorded time. Pure: batches and events in, decisions out.
"""

from __future__ import annotations

import bisect
import collections
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from groundseg.config import PadDefinition
from groundseg.replay.recorded import RecordedCount
from groundseg.replay.rerun import TICK_NS, Decision, renumbering
from groundseg.sequencer.countdown import Abort, CountdownError, Hold, Poll, Recycle, Resume, Scrub
from groundseg.sequencer.machine import (
    Action,
    Announce,
    CommandDone,
    Operator,
    Send,
    Sequencer,
    StartCount,
)
from groundseg.sequencer.monitor import Finding, Monitor
from groundseg.sequencer.plan import LaunchPlan, compile_plan
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.events import Event

__all__ = ["CountTime", "Outcome", "SequenceRerunner", "operator_requests", "resequence"]

_AUTOMATION = {"sequencer", "countdown", "monitor", "safing"}


@dataclass(frozen=True, slots=True)
class Outcome:
    after_ns: int
    ok: bool
    reason: str = ""


class CountTime:
    """Recorded time -> count-clock seconds, at the recorded count's speed."""

    def __init__(self, speeds: Sequence[tuple[int, float]], origin_ns: int) -> None:
        first = speeds[0][1] if speeds else 1.0
        self._times = [origin_ns] + [t for t, _ in speeds if t > origin_ns]
        self._speeds = [first] + [s for t, s in speeds if t > origin_ns]
        self._seconds = [0.0]
        for k in range(1, len(self._times)):
            span = (self._times[k] - self._times[k - 1]) / 1e9
            self._seconds.append(self._seconds[-1] + span * self._speeds[k - 1])

    def at(self, time_ns: int) -> float:
        k = max(0, bisect.bisect_right(self._times, time_ns) - 1)
        return self._seconds[k] + (time_ns - self._times[k]) / 1e9 * self._speeds[k]

    def speed(self, time_ns: int) -> float:
        return self._speeds[max(0, bisect.bisect_right(self._times, time_ns) - 1)]


def operator_requests(events: Iterable[Event], plan: LaunchPlan) -> list[tuple[int, Operator]]:
    """The countdown requests people made, in time order, from the recorded events."""
    rules = {r.id for r in plan.redlines}

    def person(by: object) -> str | None:
        name = str(by) if by is not None else ""
        automatic = (
            name in _AUTOMATION or name in rules or name.startswith(("vote.", "discrepancy."))
        )
        return None if not name or automatic else name

    out: list[tuple[int, Operator]] = []
    for event in sorted(events, key=lambda e: e.time_ns):
        fields, message = event.fields, event.message
        by = person(fields.get("by"))
        request: Operator | None = None
        if event.kind == "countdown.started":
            request = StartCount(by=by or "operator")
        elif by is None:
            continue
        elif event.kind == "countdown.hold" and message.startswith("NO-GO"):
            stations = tuple(s.strip() for s in message.removeprefix("NO-GO:").split(","))
            request = Poll(go=False, by=by, no_go=tuple(s for s in stations if s))
        elif event.kind == "countdown.hold":
            request = Hold(reason=str(fields.get("reason", message.removeprefix("hold: "))), by=by)
        elif event.kind == "countdown.resumed":
            request = Poll(go=True, by=by) if message.startswith("poll GO") else Resume(by=by)
        elif event.kind == "countdown.recycled" and "t_s" in fields:
            request = Recycle(to_t_s=float(fields["t_s"]), by=by)
        elif event.kind == "countdown.scrubbed":
            request = Scrub(reason=str(fields.get("reason", message)), by=by)
        elif event.kind == "countdown.aborted":
            request = Abort(reason=str(fields.get("reason", message)), by=by)
        if request is not None:
            out.append((event.time_ns, request))
    return out


def recorded_outcomes(events: Iterable[Event]) -> dict[str, collections.deque[Outcome]]:
    """Each command the automation sent, its outcomes in order (sent to the end)."""
    issued: dict[str, collections.deque[int]] = {}
    out: dict[str, collections.deque[Outcome]] = {}
    for event in sorted(events, key=lambda e: e.time_ns):
        command, by = str(event.fields.get("command", "")), str(event.fields.get("by", ""))
        if not command or not (by in _AUTOMATION or ":" in by):
            continue
        if event.kind == "command.issued":
            issued.setdefault(command, collections.deque()).append(event.time_ns)
            continue
        if event.kind not in ("command.verified", "command.failed", "command.verify_timeout"):
            continue
        since = issued.get(command)
        start = since.popleft() if since else event.time_ns
        out.setdefault(command, collections.deque()).append(
            Outcome(
                after_ns=max(0, event.time_ns - start),
                ok=event.kind == "command.verified",
                reason="" if event.kind == "command.verified" else event.message,
            )
        )
    return out


class SequenceRerunner:
    def __init__(
        self,
        pad: PadDefinition,
        recorded_channels: Sequence[str],
        events: Iterable[Event],
        *,
        stale_periods: float = 3.0,
        tick_ns: int = TICK_NS,
    ) -> None:
        ordered = sorted(events, key=lambda e: e.time_ns)
        self.plan = compile_plan(pad)
        self.monitor = Monitor(pad, self.plan, stale_periods=stale_periods)
        self.sequencer = Sequencer(self.plan, self.monitor)
        self._renumbered = renumbering(recorded_channels, pad)
        self._requests = collections.deque(operator_requests(ordered, self.plan))
        self._outcomes = recorded_outcomes(ordered)
        self._speeds = RecordedCount(ordered).speeds()
        self._count: CountTime | None = None
        self._tick_ns = tick_ns
        self._next_tick: int | None = None
        self._done: list[tuple[int, int, CommandDone]] = []
        self._context: tuple[str | None, bool] = (None, False)
        self._now_ns = 0

    def take(self, batch: SampleBatch) -> list[Decision]:
        mapped = self._renumbered(batch)
        if mapped is None or len(mapped) == 0:
            return []
        start = int(mapped.time_ns.min())
        out = self._until(start)
        self._now_ns = max(self._now_ns, start)
        self._react(self.monitor.take(mapped), out)
        self._apply(self.sequencer.tick(self._count_at(self._now_ns)), out)
        return out

    def finish(self, end_ns: int) -> list[Decision]:
        """What the timers and the requests decide after the last batch, up to `end_ns`."""
        return self._until(end_ns)

    # -- time ------------------------------------------------------------------------------

    def _count_at(self, time_ns: int) -> float:
        if self._count is None:
            self._count = CountTime(self._speeds, time_ns)
        return self._count.at(time_ns)

    def _until(self, end_ns: int) -> list[Decision]:
        """Requests, command outcomes, ticks and the sequencer's deadlines up to `end_ns`,
        in time order."""
        out: list[Decision] = []
        if self._next_tick is None:
            self._next_tick = end_ns - end_ns % self._tick_ns + self._tick_ns
            self._count_at(end_ns)
        while True:
            wake = self._wake()
            due = [
                (self._requests[0][0], 0) if self._requests else None,
                (self._done[0][0], 1) if self._done else None,
                (self._next_tick, 2),
                (wake, 3) if wake is not None else None,
            ]
            at, what = min(d for d in due if d is not None)
            if at > end_ns:
                return out
            self._now_ns = max(self._now_ns, at)
            now = self._count_at(self._now_ns)
            if what == 0:
                _, request = self._requests.popleft()
                try:
                    actions = self.sequencer.handle(request, now)
                except CountdownError as exc:
                    out.append(self._decision("request.refused", str(exc)))
                    actions = []
            elif what == 1:
                _, _, done = heapq.heappop(self._done)
                actions = self.sequencer.command_done(done, now)
            else:
                if what == 2:
                    self._react(self.monitor.tick(self._now_ns), out)
                    self._next_tick += self._tick_ns
                actions = self.sequencer.tick(now)
            self._apply(actions, out)

    def _wake(self) -> int | None:
        """Recorded time of the sequencer's next deadline (a step's T-time, a built-in
        hold, a wait's deadline), if it comes before the next tick."""
        if self._count is None or self._next_tick is None:
            return None
        now = self._count.at(self._now_ns)
        deadline = self.sequencer.next_deadline(now)
        if deadline is None:
            return None
        speed = self._count.speed(self._now_ns)
        at = self._now_ns + max(1, round((deadline - now) / speed * 1e9))
        return at if at < self._next_tick else None

    # -- acting ----------------------------------------------------------------------------

    def _react(self, findings: Sequence[Finding], out: list[Decision]) -> None:
        now = self._count_at(self._now_ns)
        actions: list[Action] = []
        for finding in findings:
            out.append(Decision.of(finding))
            actions += self.sequencer.react(finding, now)
        self._apply(actions, out)

    def _apply(self, actions: Sequence[Action], out: list[Decision]) -> None:
        # The runner announces at once and sends from tasks of their own, so a record shows
        # a chain's announcements before any of its commands: so do the decisions.
        commands: list[Decision] = []
        pending = list(actions)
        while pending:
            action = pending.pop(0)
            if isinstance(action, Announce):
                t_s = action.fields.get("t_s")
                out.append(
                    self._decision(
                        action.kind, action.message, t_s if isinstance(t_s, float) else None
                    )
                )
            else:
                commands.append(self._decision("command", f"{action.call} ({action.purpose})"))
                self._send(action)
            if pending:
                continue
            context = (self.sequencer.phase, self.sequencer.under_way)
            if context != self._context:
                self._context = context
                now = self._count_at(self._now_ns)
                for finding in self.monitor.set_context(
                    phase=context[0], counting=context[1], now_ns=self._now_ns
                ):
                    out.append(Decision.of(finding))
                    pending += self.sequencer.react(finding, now)
        out += commands

    def _send(self, send: Send) -> None:
        command = send.call.command
        recorded = self._outcomes.get(command)
        if recorded:
            outcome = recorded.popleft()
        else:
            vetoes = [] if send.safing else self.monitor.vetoes(command, self._now_ns)
            reason = "; ".join(v.reason for v in vetoes)
            outcome = Outcome(after_ns=0, ok=not vetoes, reason=reason)
        done = CommandDone(token=send.token, ok=outcome.ok, reason=outcome.reason)
        heapq.heappush(self._done, (self._now_ns + outcome.after_ns, send.token, done))

    def _decision(self, kind: str, message: str, t_s: float | None = None) -> Decision:
        return Decision(
            time_ns=self._now_ns,
            rule=kind,
            active=True,
            reaction="sequence",
            message=message,
            t_s=t_s,
        )


def resequence(
    pad: PadDefinition,
    recorded_channels: Sequence[str],
    batches: Iterable[SampleBatch],
    events: Iterable[Event],
    *,
    stale_periods: float = 3.0,
    end_ns: int | None = None,
) -> list[Decision]:
    """Every decision of `pad`'s automation (monitors and sequencer) over the record, up
    to `end_ns` (default: the record's end, its last sample or event)."""
    recorded = list(events)
    runner = SequenceRerunner(pad, recorded_channels, recorded, stale_periods=stale_periods)
    decisions: list[Decision] = []
    last = max((e.time_ns for e in recorded), default=0)
    for batch in batches:
        decisions += runner.take(batch)
        if len(batch):
            last = max(last, int(batch.time_ns.max()))
    if end_ns is not None or last:
        decisions += runner.finish(end_ns if end_ns is not None else last)
    return decisions
