"""The sequencer: the countdown, the steps of the launch sequence, reactions and safing.

Theory of operation. The countdown (`countdown.py`) owns the clocks and holds; this
machine runs the declared steps against it, one at a time, in order:

    PENDING ──due──> SENDING ──all verified──> WAITING ──wait holds──> DONE
       due: the count is running, the previous step is done, T has reached its `at`;
            its `require` must be TRUE, or the count holds (the step stays PENDING)
    SENDING: one command at a time, each through the gate (interlocks, write, readback);
             a veto, a write failure or a verification timeout holds the count and the
             step stays at that command (FAILED); an operator's resume sends it again
    WAITING: until the wait condition is TRUE; past its deadline the count holds, the
             wait goes on. When it holds, the step's `on_complete` commands go out (even
             in a hold: they end what the step started, such as closing a fill valve)

While a step is SENDING or WAITING, the interlocks of the commands it has sent must keep
permitting: one that stops (false, stale or unknown data) holds the count. A step whose
successor's T-time arrives before it is done holds the count ("behind schedule"): T-0
never comes with a step undone. The T-0 step runs when the countdown reaches T-0.

Reactions: a monitor finding with reaction `hold` holds the count, `safing` aborts it;
either sends the rule's actions first, with safing priority. Abort (by a person or a
rule) stops the steps and runs the safing sequence: every safing command in order, each
tried once whatever the others did, then the `confirm` condition is awaited.

Resume is refused while a hold or safing rule is still acting. Nothing here resumes by
itself, and nothing is sent twice by itself: after a restart (`restore`) the count comes
back holding and a command that was in flight is reconciled against the readbacks
before anything else happens.

Pure: `now` is the count clock's monotonic seconds; queries of telemetry go through the
`Telemetry` protocol (the monitor), which is pure too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from groundseg.rules.conditions import Condition, Truth
from groundseg.sequencer.countdown import (
    TERMINAL,
    Abort,
    Countdown,
    CountdownError,
    CountdownState,
    Hold,
    Notice,
    Poll,
    Recycle,
    Resume,
    Scrub,
    Start,
    Timer,
)
from groundseg.sequencer.monitor import Finding, Veto
from groundseg.sequencer.plan import Call, LaunchPlan, Step

__all__ = [
    "Announce",
    "CommandDone",
    "Reconciled",
    "Send",
    "Sequencer",
    "SequencerSnapshot",
    "StartCount",
    "StepStatus",
    "Telemetry",
]

UNDER_WAY = frozenset({CountdownState.COUNTING, CountdownState.HOLDING, CountdownState.POLLING})


class Telemetry(Protocol):
    """What the sequencer asks of the monitor."""

    def truth(self, condition: Condition) -> Truth: ...

    def vetoes(self, command: str) -> list[Veto]: ...

    def acting_holds(self) -> list[str]:
        """Rules with reaction hold or safing that are acting now."""
        ...


class StepStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    WAITING = "waiting"
    FAILED = "failed"
    DONE = "done"


# -- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StartCount:
    by: str
    window_close: float | None = None
    """Count-clock time the window closes; None: the plan's window after the planned T-0."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandDone:
    token: int
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciled:
    """After a restart: whether the readbacks confirm the command that was in flight."""

    confirmed: bool
    detail: str = ""


Operator = StartCount | Hold | Resume | Poll | Recycle | Scrub | Abort

# -- outputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    token: int
    call: Call
    purpose: str
    """`step:<id>`, `reaction:<rule>` or `safing`."""
    safing: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Announce:
    kind: str
    message: str
    severity: str = "info"
    fields: dict[str, str | float] = field(default_factory=dict)


Action = Send | Announce


@dataclass(frozen=True, slots=True, kw_only=True)
class SequencerSnapshot:
    """What survives a restart (journaled after every change)."""

    countdown: CountdownState
    t_s: float
    holds_done: tuple[float, ...]
    window_close_in_s: float
    """Seconds from the snapshot to the window's close (clocks differ across restarts)."""
    hold_reason: str
    step: int
    status: StepStatus
    sent: int
    """Commands of the current step verified so far."""
    in_flight: str | None
    """A step command sent and not yet confirmed."""
    phase: str | None
    safing_next: int | None
    safing_done: bool = False
    """Safing confirmed (or reported incomplete): a restart re-runs only an unfinished one."""


@dataclass(slots=True)
class _Running:
    index: int = 0
    status: StepStatus = StepStatus.PENDING
    sent: int = 0
    token: int | None = None
    wait_since: float = 0.0
    overdue: bool = False
    completing: int | None = None
    """Index into on_complete while its commands go out."""
    vetoed: bool = False
    late: bool = False
    """Held once already for running past the next step's T-time: a resume accepts the slip."""


class Sequencer:
    def __init__(self, plan: LaunchPlan, telemetry: Telemetry) -> None:
        self.plan = plan
        self.telemetry = telemetry
        self.countdown = Countdown(plan.countdown)
        self.phase: str | None = None
        self._run = _Running()
        self._tokens = 0
        self._outstanding: dict[int, tuple[str, Call]] = {}
        self._safing_next: int | None = None
        self._safing_since = 0.0
        self._safing_reported = False
        self._reconciling: str | None = None

    # -- queries ---------------------------------------------------------------------------

    @property
    def under_way(self) -> bool:
        return self.countdown.state in UNDER_WAY

    @property
    def current_step(self) -> Step | None:
        steps = self.plan.steps
        return steps[self._run.index] if self._run.index < len(steps) else None

    @property
    def step_status(self) -> StepStatus:
        return self._run.status

    def snapshot(self, now: float) -> SequencerSnapshot:
        in_flight = None
        if self._run.token is not None and self._run.token in self._outstanding:
            in_flight = str(self._outstanding[self._run.token][1])
        return SequencerSnapshot(
            countdown=self.countdown.state,
            t_s=self.countdown.t(now),
            holds_done=self.countdown.holds_done,
            window_close_in_s=self.countdown.window_close - now,
            hold_reason=self.countdown.hold_reason,
            step=self._run.index,
            status=self._run.status,
            sent=self._run.sent,
            in_flight=in_flight or self._reconciling,
            phase=self.phase,
            safing_next=self._safing_next,
            safing_done=self._safing_reported,
        )

    def next_deadline(self, now: float) -> float | None:
        deadlines = [self.countdown.next_deadline()]
        step = self.current_step
        counting = self.countdown.state is CountdownState.COUNTING
        if step is not None and counting:
            t = self.countdown.t(now)
            upcoming = self._next_at(self._run.index)
            if self._run.status is StepStatus.PENDING and step.at_t_s is not None:
                deadlines.append(now + max(0.0, step.at_t_s - t))
            elif upcoming is not None:
                deadlines.append(now + max(0.0, upcoming - t))
        if (
            step is not None
            and self._run.status is StepStatus.WAITING
            and step.deadline_s is not None
            and not self._run.overdue
        ):
            deadlines.append(self._run.wait_since + step.deadline_s)
        if self._safing_next is not None and not self._safing_reported:
            deadlines.append(self._safing_since + self.plan.safing.deadline_s)
        present = [d for d in deadlines if d is not None and math.isfinite(d)]
        return min(present, default=None)

    # -- inputs ----------------------------------------------------------------------------

    def handle(self, event: Operator, now: float) -> list[Action]:
        """A person's (or the gate's) request; CountdownError if it cannot be taken now."""
        if isinstance(event, StartCount):
            close = event.window_close
            if close is None:
                planned = -self.plan.countdown.start_t_s + sum(
                    h.duration_s for h in self.plan.countdown.holds
                )
                close = now + planned + self.plan.window_s
            out = self._notices(self.countdown.handle(Start(window_close=close), now))
            return out + self.tick(now)
        if isinstance(event, Resume | Poll) and (not isinstance(event, Poll) or event.go):
            blocking = self.telemetry.acting_holds()
            if blocking:
                raise CountdownError(
                    self.countdown.state, event, "still acting: " + ", ".join(blocking)
                )
            if self._reconciling is not None:
                raise CountdownError(
                    self.countdown.state, event, f"reconciling {self._reconciling} first"
                )
        if isinstance(event, Recycle):
            out = self._notices(self.countdown.handle(event, now))
            self._recycle_steps(event.to_t_s)
            return out
        out = self._notices(self.countdown.handle(event, now))
        if isinstance(event, Abort):
            return out + self._start_safing(now)
        if isinstance(event, Resume | Poll) and self._run.status is StepStatus.FAILED:
            self._run.status = (
                StepStatus.SENDING if self._run.completing is None else StepStatus.WAITING
            )
        return out + self.tick(now)

    def command_done(self, done: CommandDone, now: float) -> list[Action]:
        purpose, call = self._outstanding.pop(done.token, ("", Call(command="?")))
        out: list[Action] = []
        if not done.ok:
            out.append(
                Announce(
                    kind="sequence.command_failed",
                    message=f"{call} ({purpose}) failed: {done.reason}",
                    severity="alarm",
                    fields={"command": call.command, "purpose": purpose, "reason": done.reason},
                )
            )
        if purpose == "safing":
            return out + self._safing_step(now)
        if done.token != self._run.token:
            return out
        self._run.token = None
        if not done.ok:
            self._run.status = StepStatus.FAILED
            return out + self._hold(now, f"{call} failed: {done.reason}", by="sequencer")
        if self._run.completing is not None:
            self._run.completing += 1
        else:
            self._run.sent += 1
        return out + self.tick(now)

    def react(self, finding: Finding, now: float) -> list[Action]:
        """A monitor finding: rules with reaction hold or safing act on their rising edge."""
        if not finding.active or finding.reaction == "alarm":
            return []
        out: list[Action] = [
            self._send(call, f"reaction:{finding.rule}", safing=True) for call in finding.actions
        ]
        if finding.reaction == "safing" and self.countdown.state not in TERMINAL:
            out += self._notices(
                self.countdown.handle(Abort(reason=finding.message, by=finding.rule), now)
            )
            return out + self._start_safing(now)
        if self.countdown.state in (CountdownState.COUNTING, CountdownState.POLLING):
            out += self._hold(now, finding.message, by=finding.rule)
        elif self.countdown.state is CountdownState.HOLDING:
            out += self._notices(
                self.countdown.handle(Hold(reason=finding.message, by=finding.rule), now)
            )
        return out

    def reconciled(self, result: Reconciled, now: float) -> list[Action]:
        """The runner compared the in-flight command's readbacks after a restart."""
        if self._reconciling is None:
            return []
        command, self._reconciling = self._reconciling, None
        if result.confirmed:
            self._run.sent += 1
            self._run.status = StepStatus.SENDING
            verdict = "confirmed by readback"
        else:
            self._run.status = StepStatus.FAILED
            verdict = "not confirmed by readback; a resume sends it again"
        return [
            Announce(
                kind="sequence.reconciled",
                message=f"after restart, {command}: {verdict}. {result.detail}".strip(),
                severity="info" if result.confirmed else "alarm",
                fields={"command": command, "confirmed": float(result.confirmed)},
            )
        ]

    def tick(self, now: float) -> list[Action]:
        """Time passed or telemetry changed: steps, waits, deadlines, the countdown."""
        out: list[Action] = []
        if self._safing_next is not None:
            out += self._safing_confirm(now)
        if self.countdown.state in TERMINAL or self.countdown.state is CountdownState.READY:
            return out
        out += self._behind_schedule(now)
        out += self._notices(self.countdown.handle(Timer(), now))
        if self.countdown.state is CountdownState.LAUNCHED:
            return out + self._t0(now)
        if self.countdown.state in TERMINAL:
            return out
        out += self._advance(now)
        return out

    # -- steps -----------------------------------------------------------------------------

    def _advance(self, now: float) -> list[Action]:
        out: list[Action] = []
        while (step := self.current_step) is not None and self._reconciling is None:
            if self._run.status is StepStatus.PENDING:
                began = self._begin(now, step)
                if began is None:
                    return out
                out += began
                if self._run.status is StepStatus.PENDING:
                    return out
            if self._run.status is StepStatus.FAILED:
                return out
            out += self._continuous_interlocks(now, step)
            progress = self._progress(now, step)
            if progress is None:
                out.append(
                    Announce(
                        kind="sequence.step_done",
                        message=f"step {step.id} done",
                        fields={"step": step.id},
                    )
                )
                self._run = _Running(index=self._run.index + 1)
                continue
            return out + progress
        return out

    def _begin(self, now: float, step: Step) -> list[Action] | None:
        """Start a due step; None when it is not due yet."""
        if self.countdown.state is not CountdownState.COUNTING or step.at_t_s == 0.0:
            return None
        if step.at_t_s is not None and self.countdown.t(now) < step.at_t_s:
            return None
        if step.require is not None:
            truth = self.telemetry.truth(step.require)
            if truth is not Truth.TRUE:
                return self._hold(
                    now,
                    f"step {step.id}: precondition {truth.name.lower()}: {step.require.text}",
                    by="sequencer",
                )
        self._run.status = StepStatus.SENDING
        out: list[Action] = []
        if step.phase is not None and step.phase != self.phase:
            self.phase = step.phase
            out.append(
                Announce(
                    kind="sequence.phase",
                    message=f"phase {step.phase}",
                    fields={"phase": step.phase},
                )
            )
        out.append(
            Announce(
                kind="sequence.step", message=f"step {step.id} started", fields={"step": step.id}
            )
        )
        return out

    def _progress(self, now: float, step: Step) -> list[Action] | None:
        """Send the next command, or wait; None once the step is complete."""
        run = self._run
        if run.token is not None:
            return []
        if run.status is StepStatus.SENDING:
            if run.sent < len(step.commands):
                if self.countdown.state is not CountdownState.COUNTING:
                    return []
                return [self._send_for_step(step, step.commands[run.sent])]
            run.status = StepStatus.WAITING
            run.wait_since = now
        if run.completing is None:
            if step.wait is not None and self.telemetry.truth(step.wait) is not Truth.TRUE:
                return self._overdue(now, step)
            run.completing = 0
        if run.completing < len(step.on_complete):
            return [self._send_for_step(step, step.on_complete[run.completing])]
        return None

    def _send_for_step(self, step: Step, call: Call) -> Send:
        send = self._send(call, f"step:{step.id}")
        self._run.token = send.token
        return send

    def _overdue(self, now: float, step: Step) -> list[Action]:
        if (
            step.deadline_s is None
            or self._run.overdue
            or now < self._run.wait_since + step.deadline_s
        ):
            return []
        self._run.overdue = True
        assert step.wait is not None
        return self._hold(
            now,
            f"step {step.id}: {step.wait.text} not reached within {step.deadline_s:g} s",
            by="sequencer",
        )

    def _continuous_interlocks(self, now: float, step: Step) -> list[Action]:
        sent = step.commands[: self._run.sent]
        vetoes = [v for call in sent for v in self.telemetry.vetoes(call.command)]
        if not vetoes:
            self._run.vetoed = False
            return []
        if self._run.vetoed:
            return []
        self._run.vetoed = True
        reasons = "; ".join(f"{v.interlock}: {v.reason}" for v in vetoes)
        return self._hold(now, f"step {step.id}: interlock lost: {reasons}", by="interlock")

    def _behind_schedule(self, now: float) -> list[Action]:
        if self.countdown.state is not CountdownState.COUNTING:
            return []
        upcoming = self._next_at(self._run.index)
        if upcoming is None or self.countdown.t(now) < upcoming:
            return []
        step = self.current_step
        if step is None or self._run.late:
            return []
        # Once per step: the T-clock does not move while holding, so after a resume the step
        # would still be late, and holding again would never let it finish.
        self._run.late = True
        return self._hold(
            now, f"behind schedule: step {step.id} not done by T{upcoming:+g} s", by="sequencer"
        )

    def _next_at(self, index: int) -> float | None:
        """The T-time of the first step after `index` that has one."""
        return next((s.at_t_s for s in self.plan.steps[index + 1 :] if s.at_t_s is not None), None)

    def _t0(self, now: float) -> list[Action]:
        step = self.current_step
        if step is None or step.at_t_s != 0.0 or self._run.status is not StepStatus.PENDING:
            return []
        self._run.status = StepStatus.SENDING
        out: list[Action] = [
            Announce(
                kind="sequence.step", message=f"step {step.id} started", fields={"step": step.id}
            )
        ]
        out += [self._send(call, f"step:{step.id}") for call in step.commands]
        self._run.sent = len(step.commands)
        self._run.status = StepStatus.DONE
        return out

    def _recycle_steps(self, to_t_s: float) -> None:
        first = next(
            (
                i
                for i, s in enumerate(self.plan.steps)
                if s.at_t_s is not None and s.at_t_s >= to_t_s
            ),
            len(self.plan.steps),
        )
        if first < self._run.index or self._run.status is not StepStatus.PENDING:
            self._run = _Running(index=min(first, self._run.index))

    # -- safing ----------------------------------------------------------------------------

    def _start_safing(self, now: float) -> list[Action]:
        self._run = replace(self._run, status=StepStatus.FAILED, token=None)
        self._safing_next = 0
        self._safing_since = now
        self._safing_reported = False
        out: list[Action] = [
            Announce(kind="safing.started", message="safing sequence started", severity="alarm")
        ]
        return out + self._safing_step(now)

    def _safing_step(self, now: float) -> list[Action]:
        if self._safing_next is None:
            return []
        calls = self.plan.safing.commands
        if self._safing_next >= len(calls):
            return self._safing_confirm(now)
        send = self._send(calls[self._safing_next], "safing", safing=True)
        self._safing_next += 1
        return [send]

    def _safing_confirm(self, now: float) -> list[Action]:
        if (
            self._safing_next is None
            or self._safing_reported
            or self._safing_next < len(self.plan.safing.commands)
            or any(p == "safing" for p, _ in self._outstanding.values())
        ):
            return []
        confirm = self.plan.safing.confirm
        if confirm is None or self.telemetry.truth(confirm) is Truth.TRUE:
            self._safing_reported = True
            return [Announce(kind="safing.complete", message="safing complete: pad safe")]
        if now >= self._safing_since + self.plan.safing.deadline_s:
            self._safing_reported = True
            return [
                Announce(
                    kind="safing.incomplete",
                    message=f"safing: {confirm.text} not reached in {self.plan.safing.deadline_s:g} s",
                    severity="critical",
                )
            ]
        return []

    # -- helpers ---------------------------------------------------------------------------

    def _send(self, call: Call, purpose: str, *, safing: bool = False) -> Send:
        self._tokens += 1
        self._outstanding[self._tokens] = (purpose, call)
        return Send(token=self._tokens, call=call, purpose=purpose, safing=safing)

    def _hold(self, now: float, reason: str, *, by: str) -> list[Action]:
        if self.countdown.state not in (CountdownState.COUNTING, CountdownState.POLLING):
            return [Announce(kind="sequence.fault", message=reason, severity="alarm")]
        return self._notices(self.countdown.handle(Hold(reason=reason, by=by), now))

    def _notices(self, notices: Sequence[Notice]) -> list[Action]:
        out: list[Action] = []
        for notice in notices:
            severity = "alarm" if notice.kind in _ALARMING else "info"
            out.append(
                Announce(
                    kind=notice.kind,
                    message=notice.message,
                    severity=severity,
                    fields={"t_s": notice.t_s, **notice.fields},
                )
            )
        return out

    # -- restart ---------------------------------------------------------------------------

    @classmethod
    def restore(
        cls, plan: LaunchPlan, telemetry: Telemetry, saved: SequencerSnapshot, now: float
    ) -> tuple[Sequencer, list[Action]]:
        """A sequencer brought back after a restart: holding if a count was under way,
        with any in-flight command left to reconcile (never re-sent)."""
        machine = cls(plan, telemetry)
        reason = saved.hold_reason
        if saved.countdown in UNDER_WAY:
            reason = "controller restarted: reconcile, then resume"
        machine.countdown = Countdown.restored(
            plan.countdown,
            state=saved.countdown,
            t_s=saved.t_s,
            holds_done=saved.holds_done,
            window_close=now + saved.window_close_in_s,
            hold_reason=reason,
        )
        machine.phase = saved.phase
        status = saved.status
        if status is StepStatus.SENDING and saved.in_flight is None:
            status = StepStatus.FAILED  # stopped between commands: the next goes on resume
        machine._run = _Running(index=saved.step, status=status, sent=saved.sent)
        machine._reconciling = saved.in_flight if saved.countdown in UNDER_WAY else None
        out: list[Action] = [
            Announce(
                kind="sequence.restored",
                message=f"restarted at T{saved.t_s:+.0f} s in {saved.countdown.value}: {reason}",
                severity="alarm" if saved.countdown in UNDER_WAY else "info",
            )
        ]
        if saved.safing_next is not None and saved.safing_done:
            machine._safing_next = len(plan.safing.commands)
            machine._safing_reported = True
        elif saved.safing_next is not None:
            # Stopped part-way through safing: which commands took effect is unknown, and every
            # one of them only makes the pad safer, so the whole sequence runs again.
            out += machine._start_safing(now)
        return machine, out


_ALARMING = frozenset({"countdown.hold", "countdown.aborted", "countdown.scrubbed"})
