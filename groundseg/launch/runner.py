"""The launch runner: feeds the bus and one timer into the monitor and the sequencer, and
carries out what they decide through the command gate.

    bus batches ──> monitor ──findings──> alarm board, sequencer.react ──> actions
    one timer   ──> monitor.tick, sequencer.tick, alarm shelving     ──> actions
    operators   ──> sequencer.handle (hold, resume, poll, recycle, scrub, abort)
    actions: Send ──> gate (a named task each) ──> sequencer.command_done
             Announce ──> bus event

Two clocks, one of them usually the other: telemetry carries the links' time (samples,
staleness, persistence, alarm shelving) and the count clock carries the T-clock, step
deadlines and verification windows. On the pad both are the real clock; in tests and
demos the count clock runs as fast as the simulated plant.

The sequencer's state is saved after every change (and every second while a count runs)
so that a restarted controller comes back holding where it was; a command that was in
flight is reconciled against fresh readbacks, never sent again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import structlog

from groundseg.cancellation import raise_if_cancelling
from groundseg.clock import Clock
from groundseg.config import PadDefinition
from groundseg.errors import GroundsegError
from groundseg.files import make_durable, replace_file
from groundseg.gate.gate import CommandGate
from groundseg.rules.alarms import AlarmBoard, AlarmChange
from groundseg.rules.conditions import trusted_value
from groundseg.sequencer.countdown import CountdownState
from groundseg.sequencer.machine import (
    Action,
    Announce,
    CommandDone,
    Operator,
    Reconciled,
    Send,
    Sequencer,
    SequencerSnapshot,
    StepStatus,
)
from groundseg.sequencer.monitor import Finding, Monitor, Veto
from groundseg.sequencer.plan import LaunchPlan
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.bus import Bus, Overflow
from groundseg.telemetry.events import Event, Severity

__all__ = ["LaunchRunner"]

log = structlog.get_logger("groundseg.launch")

QUEUE = 50_000
SAVE_EVERY_S = 1.0
_SEVERITY = {
    "info": Severity.INFO,
    "warning": Severity.WARNING,
    "alarm": Severity.ALARM,
    "critical": Severity.ALARM,
}


class LaunchRunner:
    def __init__(
        self,
        pad: PadDefinition,
        plan: LaunchPlan,
        *,
        bus: Bus,
        gate: CommandGate,
        monitor: Monitor,
        telemetry_clock: Clock,
        count_clock: Clock,
        state_file: Path,
        tick_s: float = 0.1,
        reconcile_timeout_s: float = 5.0,
    ) -> None:
        self.pad = pad
        self.plan = plan
        self.bus = bus
        self.gate = gate
        self.monitor = monitor
        self.clock = telemetry_clock
        self.count_clock = count_clock
        self.state_file = state_file
        self.tick_s = tick_s
        self.reconcile_timeout_s = reconcile_timeout_s
        self.alarms = AlarmBoard()
        self.sequencer = Sequencer(plan, monitor)
        self.ready = asyncio.Event()
        self._tasks: asyncio.TaskGroup | None = None
        self._context: tuple[str | None, bool] = (None, False)
        self._last_saved: float = 0.0
        self._flush_wanted = False
        self._flushing = False
        self.reconciled = True
        """False after a restart until the valves' positions are read back and any
        in-flight command is settled."""

    # -- operators -------------------------------------------------------------------------

    def request(self, event: Operator) -> None:
        """A person's countdown request; CountdownError (and nothing changes) if refused."""
        actions = self.sequencer.handle(event, self.count_clock.monotonic())
        log.info("countdown request", request=type(event).__name__, by=getattr(event, "by", ""))
        self._apply(actions)

    def arm_phase(self, phase: str) -> None:
        """For test benches: put the count in `phase` without running the steps to it, so
        the redlines and limits of that phase are armed (a proof test, a latency bench)."""
        if phase not in self.plan.phases:
            raise ValueError(f"unknown phase {phase!r} (phases: {', '.join(self.plan.phases)})")
        self.sequencer.phase = phase
        self._apply(
            [
                Announce(
                    kind="sequence.phase",
                    message=f"phase {phase} armed by a bench",
                    fields={"phase": phase},
                )
            ]
        )

    async def wait_fresh(self, within_s: float | None = None) -> bool:
        """Until every channel has a trusted value (the links are up); False past
        `within_s` (default: the reconciliation timeout)."""
        channels = range(len(self.pad.channels))
        return await self._fresh(channels, within_s) is not None

    async def wait_t(self, t_s: float) -> None:
        """Until the T-clock reads `t_s` or later (a demo or bench changing speed there)."""
        while self.sequencer.countdown.t(self.count_clock.monotonic()) < t_s:
            await self.clock.sleep_until(self.clock.monotonic() + self.tick_s)

    def vetoes(self, command: str) -> list[Veto]:
        """The interlocks withholding `command` now (the gate asks this)."""
        return self.monitor.vetoes(command, self._monotonic_ns())

    def acknowledge(self, alarm_id: str, *, by: str) -> None:
        self._alarm_changes(self.alarms.acknowledge(alarm_id, by=by, now=self.clock.monotonic()))

    def shelve(self, alarm_id: str, *, by: str, for_s: float) -> None:
        now = self.clock.monotonic()
        self._alarm_changes(self.alarms.shelve(alarm_id, by=by, until=now + for_s, now=now))

    def state(self) -> dict[str, object]:
        """The countdown as operators see it (published on `countdown/state`)."""
        now = self.count_clock.monotonic()
        countdown = self.sequencer.countdown
        step = self.sequencer.current_step
        return {
            "state": countdown.state.value,
            "t_s": round(countdown.t(now), 3),
            "l_s": round(countdown.l_remaining(now), 3)
            if countdown.window_close != float("inf")
            else None,
            "hold_reason": countdown.hold_reason,
            "poll": list(countdown.poll_stations),
            "phase": self.sequencer.phase,
            "step": step.id if step else None,
            "step_status": self.sequencer.step_status.value,
            "acting": self.monitor.acting_holds(),
            "reconciled": self.reconciled,
            "unacknowledged_alarms": self.alarms.unacknowledged(),
        }

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled."""
        samples = self.bus.subscribe(
            "launch", capacity=QUEUE, overflow=Overflow.FAULT, events=False
        )
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            saved = self._load()
            if saved is not None:
                self.reconciled = False
                self.sequencer, actions = Sequencer.restore(
                    self.plan, self.monitor, saved, self.count_clock.monotonic()
                )
                # Commands a restart owes (a safing sequence cut off) wait for the devices:
                # sent before the links are up, every one of them would fail.
                owed = [a for a in actions if isinstance(a, Send)]
                self._apply([a for a in actions if not isinstance(a, Send)])
                if saved.in_flight is not None and saved.countdown in (
                    CountdownState.COUNTING,
                    CountdownState.HOLDING,
                    CountdownState.POLLING,
                ):
                    tasks.create_task(self._reconcile(saved), name="reconcile")
                else:
                    tasks.create_task(self._report_positions(then=owed), name="reconcile")
            self.ready.set()
            due = self.clock.monotonic()
            while True:
                # The earliest of what was due already and what a batch may have brought
                # forward: a steady stream of batches must not keep pushing the timer back.
                due = min(due, self.clock.monotonic() + self._next_wake())
                timeout = max(0.0, due - self.clock.monotonic())
                item = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        item = await samples.get()
                raise_if_cancelling()
                if isinstance(item, SampleBatch):
                    self.take(item)
                    while (more := samples.get_nowait()) is not None:
                        if isinstance(more, SampleBatch):
                            self.take(more)
                # Time's work only when something is due: after every batch it would cost
                # each batch (and so the next hold) a full pass over the timers.
                if self.clock.monotonic() >= due:
                    self._on_time()
                    due = float("inf")

    def take(self, batch: SampleBatch) -> None:
        """One batch: monitor, reactions, waits."""
        findings = self.monitor.take(batch, self._monotonic_ns())
        actions: list[Action] = []
        now = self.count_clock.monotonic()
        for finding in findings:
            actions += self._finding(finding, now)
        actions += self.sequencer.tick(now)
        self._apply(actions)

    def _on_time(self) -> None:
        now = self.count_clock.monotonic()
        actions: list[Action] = []
        for finding in self.monitor.tick(self._monotonic_ns()):
            actions += self._finding(finding, now)
        actions += self.sequencer.tick(now)
        self._alarm_changes(self.alarms.handle_timer(self.clock.monotonic()))
        self._apply(actions)
        if self.sequencer.under_way and now - self._last_saved >= SAVE_EVERY_S * _speed(
            self.count_clock
        ):
            self._save()

    def _next_wake(self) -> float:
        delays = [self.tick_s]
        deadline = self.sequencer.next_deadline(self.count_clock.monotonic())
        if deadline is not None:
            delays.append((deadline - self.count_clock.monotonic()) / _speed(self.count_clock))
        monitor_ns = self.monitor.next_deadline_ns()
        if monitor_ns is not None:
            delays.append((monitor_ns - self._monotonic_ns()) / 1e9)
        shelf = self.alarms.next_deadline()
        if shelf is not None:
            delays.append(shelf - self.clock.monotonic())
        return max(0.0, min(delays))

    def _monotonic_ns(self) -> int:
        """The monitor's time: the telemetry clock's monotonic reading, in nanoseconds."""
        return round(self.clock.monotonic() * 1e9)

    def _finding(self, finding: Finding, now: float) -> list[Action]:
        self._alarm_changes(
            self.alarms.condition(
                finding.rule,
                finding.active,
                now=self.clock.monotonic(),
                severity=finding.severity,
                message=finding.message,
                latched=finding.latched,
            )
        )
        return self.sequencer.react(finding, now)

    def _apply(self, actions: Sequence[Action]) -> None:
        pending = list(actions)
        changed = bool(pending)
        while pending:
            action = pending.pop(0)
            if isinstance(action, Announce):
                self._announce(action)
            else:
                self._dispatch(action)
        context = (self.sequencer.phase, self.sequencer.under_way)
        if context != self._context:
            self._context = context
            now = self.count_clock.monotonic()
            for finding in self.monitor.set_context(
                phase=context[0], counting=context[1], now_ns=self._monotonic_ns()
            ):
                pending += self._finding(finding, now)
            if pending:
                self._apply(pending)
        if changed:
            self._save()

    def _dispatch(self, send: Send) -> None:
        assert self._tasks is not None, "the runner is not running"
        carry_out = self._carry_out(send)
        try:
            self._tasks.create_task(carry_out, name=f"command-{send.token}-{send.call.command}")
        except RuntimeError:
            # The runner is stopping (its task group no longer takes tasks). The command stays
            # in flight in the saved state, so a restart reads its devices back before anything.
            carry_out.close()
            log.warning(
                "command not sent: the sequencer is stopping",
                command=send.call.command,
                token=send.token,
            )

    async def _carry_out(self, send: Send) -> None:
        call = send.call
        try:
            if send.safing:
                await self.gate.run_safing_command(
                    call.command, call.argument, by=send.purpose, purpose=send.purpose
                )
            else:
                await self.gate.run_sequence_command(
                    call.command, call.argument, purpose=send.purpose
                )
        except GroundsegError as exc:
            done = CommandDone(token=send.token, ok=False, reason=str(exc))
        else:
            done = CommandDone(token=send.token, ok=True)
        self._apply(self.sequencer.command_done(done, self.count_clock.monotonic()))

    def _announce(self, announce: Announce) -> None:
        self.bus.publish(
            Event(
                kind=announce.kind,
                source="sequencer",
                time_ns=self.clock.time_ns(),
                severity=_SEVERITY.get(announce.severity, Severity.INFO),
                message=announce.message,
                fields=announce.fields,
            )
        )
        # The event first: formatting a log line costs more than deciding the hold did.
        log.info(announce.kind, message=announce.message)

    def _alarm_changes(self, changes: Sequence[AlarmChange]) -> None:
        for change in changes:
            severity = Severity.INFO
            if change.kind == "alarm.raised" and change.alarm is not None:
                severity = (
                    Severity.WARNING if change.alarm.severity == "warning" else Severity.ALARM
                )
            self.bus.publish(
                Event(
                    kind=change.kind,
                    source="alarms",
                    time_ns=self.clock.time_ns(),
                    severity=severity,
                    message=change.message,
                    fields={"alarm": change.alarm_id, "by": change.by},
                )
            )

    # -- restart ---------------------------------------------------------------------------

    def _save(self) -> None:
        now = self.count_clock.monotonic()
        self._last_saved = now
        snapshot = asdict(self.sequencer.snapshot(now))
        try:
            replace_file(self.state_file, json.dumps(snapshot, sort_keys=True))
        except OSError as exc:
            log.error("sequencer state not saved", reason=exc.strerror or str(exc))
            return
        self._flush_wanted = True
        if self._flushing or self._tasks is None:
            return
        flush = self._flush()
        try:
            self._tasks.create_task(flush, name="sequencer-state-flush")
        except RuntimeError:
            flush.close()  # stopping: the state is replaced, only not flushed
        else:
            self._flushing = True

    async def _flush(self) -> None:
        """Put the saved state on the disk, off the loop: a power cut then restarts from it,
        and a hold's commands never wait for the disk."""
        try:
            while self._flush_wanted:
                self._flush_wanted = False
                try:
                    await asyncio.to_thread(make_durable, self.state_file)
                except OSError as exc:
                    log.error("sequencer state not flushed", reason=exc.strerror or str(exc))
        finally:
            self._flushing = False

    def _load(self) -> SequencerSnapshot | None:
        try:
            raw = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.error("sequencer state unreadable: starting READY", reason=str(exc))
            return None
        return SequencerSnapshot(
            countdown=CountdownState(raw["countdown"]),
            t_s=float(raw["t_s"]),
            holds_done=tuple(float(t) for t in raw["holds_done"]),
            window_close_in_s=float(raw["window_close_in_s"]),
            hold_reason=str(raw["hold_reason"]),
            step=int(raw["step"]),
            status=StepStatus(raw["status"]),
            sent=int(raw["sent"]),
            in_flight=raw["in_flight"],
            phase=raw["phase"],
            safing_next=raw["safing_next"],
            safing_done=bool(raw.get("safing_done", False)),
        )

    async def _reconcile(self, saved: SequencerSnapshot) -> None:
        """Compare the in-flight command's readbacks, once fresh, with what it expected."""
        await self._report_positions()
        assert saved.in_flight is not None
        name = saved.in_flight.split("(")[0]
        command = self.pad.commands.get(name)
        confirmed = False
        detail = "unknown command"
        if command is not None:
            argument = None
            if "(" in saved.in_flight:
                argument = float(saved.in_flight.split("(")[1].rstrip(")"))
            checks = [(self.pad.channel(c.channel).index, c) for c in command.verify]
            seen = await self._fresh([index for index, _ in checks])
            confirmed = seen is not None and all(
                abs(seen[index] - check.expected(argument)) <= check.tolerance + 1e-9
                for index, check in checks
            )
            detail = "readbacks " + (
                ", ".join(f"{self.pad.channels[i].id}={seen[i]:g}" for i, _ in checks)
                if seen is not None
                else "not fresh in time"
            )
        self._apply(
            self.sequencer.reconciled(
                Reconciled(confirmed=confirmed, detail=detail), self.count_clock.monotonic()
            )
        )
        self.reconciled = True

    async def _fresh(
        self, channels: Sequence[int], within_s: float | None = None
    ) -> dict[int, float] | None:
        """Trusted values of `channels` once all are fresh, or None past the timeout."""
        timeout = self.reconcile_timeout_s if within_s is None else within_s
        deadline = self.clock.monotonic() + timeout
        while self.clock.monotonic() < deadline:
            values = {
                c: trusted_value(
                    self.monitor.latest,
                    c,
                    now_ns=self._monotonic_ns(),
                    stale_after_ns=self.monitor.stale_after_ns,
                )
                for c in channels
            }
            if all(v is not None for v in values.values()):
                return {c: float(v) for c, v in values.items() if v is not None}
            await self.clock.sleep_until(self.clock.monotonic() + self.tick_s)
        return None

    async def _report_positions(self, then: Sequence[Send] = ()) -> None:
        """After a restart: every valve's actual position, from fresh limit switches; then
        the commands the restart owes."""
        switches = [
            (v.id, self.pad.channel(v.open_switch).index, self.pad.channel(v.closed_switch).index)
            for v in self.pad.valves.values()
        ]
        seen = await self._fresh([i for _, o, c in switches for i in (o, c)])
        if seen is None:
            positions = "valve positions not fresh in time"
        else:
            positions = ", ".join(
                f"{valve}={'OPEN' if seen[o] >= 0.5 else 'CLOSED' if seen[c] >= 0.5 else 'MOVING'}"
                for valve, o, c in switches
            )
        self._announce(
            Announce(kind="sequence.positions", message=f"actual valve positions: {positions}")
        )
        self.reconciled = self.sequencer.snapshot(self.count_clock.monotonic()).in_flight is None
        self._apply(then)


def _speed(clock: Clock) -> float:
    return float(getattr(clock, "speed", 1.0))
