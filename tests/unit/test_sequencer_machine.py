"""The sequencer (steps, reactions, safing, restart) driven synchronously, time as an
argument, telemetry as a table of truths: the runner's job done by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from groundseg.config import PadDefinition, load_pad
from groundseg.rules.conditions import Condition, PadChannels, Truth, parse_condition
from groundseg.sequencer.countdown import (
    Abort,
    BuiltInHold,
    CountdownError,
    CountdownPlan,
    CountdownState,
    Hold,
    Poll,
    Recycle,
    Resume,
)
from groundseg.sequencer.machine import (
    Announce,
    CommandDone,
    Reconciled,
    Send,
    Sequencer,
    StartCount,
    StepStatus,
)
from groundseg.sequencer.monitor import Finding, Veto
from groundseg.sequencer.plan import Call, LaunchPlan, Safing, Step

PAD = load_pad(Path(__file__).parents[2] / "pads" / "baiterek.toml")
LOOKUP = PadChannels(PAD)


def cond(text: str) -> Condition:
    return parse_condition(text, LOOKUP)


@dataclass
class Truths:
    """Telemetry as the sequencer sees it: truths by condition text."""

    truths: dict[str, Truth] = field(default_factory=dict)
    vetoed: dict[str, list[Veto]] = field(default_factory=dict)
    holding_rules: list[str] = field(default_factory=list)

    def truth(self, condition: Condition) -> Truth:
        return self.truths.get(condition.text, Truth.UNKNOWN)

    def vetoes(self, command: str) -> list[Veto]:
        return self.vetoed.get(command, [])

    def acting_holds(self) -> list[str]:
        return list(self.holding_rules)


CHILLED = "lox.line.temp.6 < 120"
FULL = "lox.s1.level.a >= 98"
CLEAR = "pad.area_clear == CLEAR"


def step(id: str, **kw: object) -> Step:
    defaults: dict[str, object] = {
        "at_t_s": None,
        "phase": None,
        "require": None,
        "commands": (),
        "wait": None,
        "deadline_s": None,
        "on_complete": (),
        "description": "",
    }
    defaults.update(kw)
    return Step(id=id, **defaults)  # type: ignore[arg-type]


def plan(pad: PadDefinition = PAD) -> LaunchPlan:
    del pad
    return LaunchPlan(
        countdown=CountdownPlan(
            start_t_s=-3600.0,
            holds=(BuiltInHold(t_s=-1200.0, duration_s=300.0),),
            recycle_points=(-600.0,),
        ),
        window_s=1800.0,
        phases=("checks", "chill", "fill", "terminal"),
        votes=(),
        interlocks=(),
        redlines=(),
        steps=(
            step("checks", at_t_s=-3600.0, phase="checks", require=cond(CLEAR)),
            step(
                "chilldown",
                at_t_s=-3000.0,
                phase="chill",
                commands=(Call(command="lox.chilldown_valve.open"),),
                wait=cond(CHILLED),
                deadline_s=900.0,
                on_complete=(Call(command="lox.chilldown_valve.close"),),
            ),
            step(
                "fast_fill",
                phase="fill",
                commands=(
                    Call(command="lox.fast_fill_valve.open"),
                    Call(command="lox.pump.set_speed", argument=2400.0),
                ),
                wait=cond(FULL),
                deadline_s=1500.0,
                on_complete=(Call(command="lox.fast_fill_valve.close"),),
            ),
            step(
                "terminal",
                at_t_s=-600.0,
                phase="terminal",
                commands=(Call(command="lox.s1.vent_valve.close"),),
            ),
            step("ignition", at_t_s=0.0, commands=(Call(command="umb.vehicle.ignition.fire"),)),
        ),
        safing=Safing(
            commands=(Call(command="lox.fast_fill_valve.close"), Call(command="lox.pump.stop")),
            confirm=cond("lox.pump.running == STOPPED"),
            deadline_s=120.0,
        ),
        policies=(),
    )


def state_of(machine: Sequencer) -> CountdownState:
    return machine.countdown.state


def sends(actions: list[Send | Announce]) -> list[Send]:
    return [a for a in actions if isinstance(a, Send)]


def kinds(actions: list[Send | Announce]) -> list[str]:
    return [a.kind for a in actions if isinstance(a, Announce)]


def confirm_all(machine: Sequencer, actions: list[Send | Announce], now: float) -> list[str]:
    """Verify every command sent, as the gate would, following up what that causes;
    returns the commands in the order they went out."""
    out = []
    queue = sends(actions)
    while queue:
        send = queue.pop(0)
        out.append(str(send.call))
        queue += sends(machine.command_done(CommandDone(token=send.token, ok=True), now))
    return out


def ready(truths: Truths | None = None) -> tuple[Sequencer, Truths]:
    t = truths or Truths(truths={CLEAR: Truth.TRUE})
    return Sequencer(plan(), t), t


def test_a_nominal_count_reaches_t0_with_every_command_in_order() -> None:
    machine, t = ready()
    sent = confirm_all(machine, machine.handle(StartCount(by="director"), 0.0), 0.0)
    assert sent == []  # checks: no commands; chilldown is due at T-3000 s
    sent += confirm_all(machine, machine.tick(600.0), 600.0)
    assert sent == ["lox.chilldown_valve.open"]
    assert machine.phase == "chill"
    t.truths[CHILLED] = Truth.TRUE
    sent += confirm_all(machine, machine.tick(900.0), 900.0)
    assert sent[-3:] == [
        "lox.chilldown_valve.close",
        "lox.fast_fill_valve.open",
        "lox.pump.set_speed(2400)",
    ]
    t.truths[FULL] = Truth.TRUE
    sent += confirm_all(machine, machine.tick(1500.0), 1500.0)
    assert sent[-1] == "lox.fast_fill_valve.close"
    actions = machine.tick(2400.0)  # T-1200: the built-in hold
    assert state_of(machine) is CountdownState.HOLDING
    assert "countdown.hold" in kinds(actions)
    machine.tick(2700.0)
    assert state_of(machine) is CountdownState.POLLING
    machine.handle(Poll(go=True, by="director"), 2700.0)
    sent += confirm_all(machine, machine.tick(3300.0), 3300.0)
    assert sent[-1] == "lox.s1.vent_valve.close"
    actions = machine.tick(3900.0)
    assert state_of(machine) is CountdownState.LAUNCHED
    assert [str(s.call) for s in sends(actions)] == ["umb.vehicle.ignition.fire"]


def test_a_false_precondition_holds_the_count_and_the_step_does_not_start() -> None:
    machine, _t = ready(Truths(truths={CLEAR: Truth.FALSE}))
    actions = machine.handle(StartCount(by="director"), 0.0)
    assert state_of(machine) is CountdownState.HOLDING
    assert "precondition false" in machine.countdown.hold_reason
    assert machine.step_status is StepStatus.PENDING
    assert sends(actions) == []


def test_unknown_data_never_satisfies_a_precondition() -> None:
    machine, _ = ready(Truths(truths={}))
    machine.handle(StartCount(by="director"), 0.0)
    assert "precondition unknown" in machine.countdown.hold_reason


def test_a_failed_command_holds_and_a_resume_sends_it_again() -> None:
    machine, _ = ready()
    machine.handle(StartCount(by="director"), 0.0)
    (send,) = sends(machine.tick(600.0))
    actions = machine.command_done(CommandDone(token=send.token, ok=False, reason="verify"), 600.0)
    assert state_of(machine) is CountdownState.HOLDING
    assert "sequence.command_failed" in kinds(actions)
    assert machine.step_status is StepStatus.FAILED
    assert sends(machine.tick(700.0)) == []  # nothing goes out by itself
    again = sends(machine.handle(Resume(by="director"), 700.0))
    assert [str(s.call) for s in again] == ["lox.chilldown_valve.open"]


def test_a_wait_past_its_deadline_holds_once_and_the_step_completes_later() -> None:
    machine, t = ready()
    machine.handle(StartCount(by="director"), 0.0)
    confirm_all(machine, machine.tick(600.0), 600.0)
    machine.tick(600.0 + 899.0)
    assert state_of(machine) is CountdownState.COUNTING
    machine.tick(600.0 + 900.0)
    assert state_of(machine) is CountdownState.HOLDING
    assert "not reached within 900 s" in machine.countdown.hold_reason
    t.truths[CHILLED] = Truth.TRUE
    sent = confirm_all(machine, machine.tick(1600.0), 1600.0)
    assert sent == ["lox.chilldown_valve.close"]  # on_complete goes out even in a hold


def test_a_step_not_done_by_the_next_t_time_holds_the_count_there() -> None:
    machine, t = ready()
    machine.handle(StartCount(by="director"), 0.0)
    confirm_all(machine, machine.tick(600.0), 600.0)
    t.truths[CHILLED] = Truth.TRUE
    confirm_all(machine, machine.tick(700.0), 700.0)
    machine.tick(2400.0)  # built-in hold at T-1200 s
    machine.tick(2700.0)
    machine.handle(Poll(go=True, by="director"), 2700.0)
    # fast fill never reached its level: when the terminal step is due, the count holds
    assert machine.next_deadline(2700.0) == pytest.approx(3300.0)
    machine.tick(3300.0)
    assert state_of(machine) is CountdownState.HOLDING
    assert "behind schedule: step fast_fill" in machine.countdown.hold_reason
    assert machine.countdown.t(3300.0) == pytest.approx(-600.0)
    # the director accepts the slip: the late step finishes, then the due step goes at once
    machine.handle(Resume(by="director"), 3400.0)
    assert state_of(machine) is CountdownState.COUNTING
    t.truths[FULL] = Truth.TRUE
    sent = confirm_all(machine, machine.tick(3410.0), 3410.0)
    assert sent == ["lox.fast_fill_valve.close", "lox.s1.vent_valve.close"]
    assert state_of(machine) is CountdownState.COUNTING


def test_an_interlock_lost_while_a_step_runs_holds_the_count() -> None:
    machine, t = ready()
    machine.handle(StartCount(by="director"), 0.0)
    confirm_all(machine, machine.tick(600.0), 600.0)
    t.vetoed["lox.chilldown_valve.open"] = [
        Veto(interlock="chill.vent", reason="vent closed", truth=Truth.UNKNOWN)
    ]
    actions = machine.tick(650.0)
    assert state_of(machine) is CountdownState.HOLDING
    assert "interlock lost" in machine.countdown.hold_reason
    assert "countdown.hold" in kinds(actions)


def test_a_hold_reaction_sends_its_actions_with_safing_priority_and_holds() -> None:
    machine, _ = ready()
    machine.handle(StartCount(by="director"), 0.0)
    finding = Finding(
        rule="lox.s1.ullage",
        active=True,
        reaction="hold",
        severity="critical",
        message="ullage over MEOP",
        actions=(Call(command="lox.s1.vent_valve.open"),),
        time_ns=1,
    )
    actions = machine.react(finding, 100.0)
    (send,) = sends(actions)
    assert send.safing
    assert str(send.call) == "lox.s1.vent_valve.open"
    assert state_of(machine) is CountdownState.HOLDING


def test_resume_is_refused_while_a_hold_rule_still_acts() -> None:
    machine, t = ready()
    machine.handle(StartCount(by="director"), 0.0)
    machine.handle(Hold(reason="wind", by="wx"), 10.0)
    t.holding_rules.append("wx.gust")
    with pytest.raises(CountdownError, match=r"still acting: wx\.gust"):
        machine.handle(Resume(by="director"), 20.0)
    assert state_of(machine) is CountdownState.HOLDING


def test_abort_runs_the_safing_sequence_in_order_and_reports_a_safe_pad() -> None:
    machine, t = ready()
    machine.handle(StartCount(by="director"), 0.0)
    actions = machine.handle(Abort(reason="test", by="director"), 50.0)
    assert state_of(machine) is CountdownState.ABORTED
    assert "safing.started" in kinds(actions)
    sent = []
    queue = sends(actions)
    while queue:
        send = queue.pop(0)
        assert send.safing
        sent.append(str(send.call))
        # a failed safing command does not stop the others
        queue += sends(machine.command_done(CommandDone(token=send.token, ok=False), 50.0))
    assert sent == ["lox.fast_fill_valve.close", "lox.pump.stop"]
    t.truths["lox.pump.running == STOPPED"] = Truth.TRUE
    assert "safing.complete" in kinds(machine.tick(60.0))


def test_safing_that_does_not_reach_a_safe_pad_in_time_is_reported() -> None:
    machine, _ = ready()
    machine.handle(StartCount(by="director"), 0.0)
    confirm_all(machine, machine.handle(Abort(reason="test", by="director"), 0.0), 0.0)
    assert "safing.incomplete" in kinds(machine.tick(121.0))


def test_recycle_sends_the_steps_after_the_recycle_point_again_after_resume() -> None:
    machine, t = ready()
    t.truths.update({CHILLED: Truth.TRUE, FULL: Truth.TRUE})
    confirm_all(machine, machine.handle(StartCount(by="director"), 0.0), 0.0)
    confirm_all(machine, machine.tick(600.0), 600.0)
    machine.tick(2400.0)
    machine.tick(2700.0)
    machine.handle(Poll(go=True, by="director"), 2700.0)
    assert confirm_all(machine, machine.tick(3300.0), 3300.0) == ["lox.s1.vent_valve.close"]
    machine.handle(Hold(reason="anomaly", by="director"), 3800.0)  # T-100 s
    machine.handle(Recycle(to_t_s=-600.0, by="director"), 3800.0)
    assert machine.countdown.t(3800.0) == -600.0
    again = confirm_all(machine, machine.handle(Resume(by="director"), 3900.0), 3900.0)
    assert again == ["lox.s1.vent_valve.close"]


def test_after_a_restart_the_count_holds_and_the_in_flight_command_is_not_resent() -> None:
    machine, t = ready()
    machine.handle(StartCount(by="director"), 0.0)
    sends(machine.tick(600.0))  # chilldown open sent, not yet confirmed: then a crash
    saved = machine.snapshot(600.0)
    assert saved.in_flight == "lox.chilldown_valve.open"
    back, actions = Sequencer.restore(plan(), t, saved, 5.0)
    assert state_of(back) is CountdownState.HOLDING
    assert "restarted" in back.countdown.hold_reason
    assert sends(actions) == []
    assert sends(back.tick(10.0)) == []
    with pytest.raises(CountdownError, match="reconciling"):
        back.handle(Resume(by="director"), 10.0)
    back.reconciled(Reconciled(confirmed=True), 11.0)
    assert sends(back.tick(12.0)) == []  # still holding: resuming is a person's decision
    assert sends(back.handle(Resume(by="director"), 13.0)) == []  # waits for the line to chill
    assert back.step_status is StepStatus.WAITING


def test_an_unconfirmed_in_flight_command_is_sent_again_only_after_a_resume() -> None:
    machine, t = ready()
    machine.handle(StartCount(by="director"), 0.0)
    sends(machine.tick(600.0))
    back, _ = Sequencer.restore(plan(), t, machine.snapshot(600.0), 5.0)
    back.reconciled(Reconciled(confirmed=False), 6.0)
    assert sends(back.tick(7.0)) == []
    resent = sends(back.handle(Resume(by="director"), 8.0))
    assert [str(s.call) for s in resent] == ["lox.chilldown_valve.open"]


def test_the_t_clock_ignores_how_long_the_controller_was_down() -> None:
    machine, t = ready()
    machine.handle(StartCount(by="director"), 0.0)
    saved = machine.snapshot(100.0)
    back, _ = Sequencer.restore(plan(), t, saved, 99_999.0)
    assert back.countdown.t(99_999.0) == pytest.approx(saved.t_s)


def test_safing_cut_off_by_a_restart_runs_again_from_its_first_command() -> None:
    machine, t = ready()
    machine.handle(StartCount(by="director"), 0.0)
    first = sends(machine.handle(Abort(reason="test", by="director"), 50.0))
    assert [str(s.call) for s in first] == ["lox.fast_fill_valve.close"]  # then a crash
    back, actions = Sequencer.restore(plan(), t, machine.snapshot(50.0), 5.0)
    assert state_of(back) is CountdownState.ABORTED
    assert "safing.started" in kinds(actions)
    assert confirm_all(back, actions, 6.0) == ["lox.fast_fill_valve.close", "lox.pump.stop"]
    t.truths["lox.pump.running == STOPPED"] = Truth.TRUE
    assert "safing.complete" in kinds(back.tick(7.0))


def test_finished_safing_is_not_sent_again_after_a_restart() -> None:
    machine, t = ready()
    machine.handle(StartCount(by="director"), 0.0)
    t.truths["lox.pump.running == STOPPED"] = Truth.TRUE
    confirm_all(machine, machine.handle(Abort(reason="test", by="director"), 50.0), 50.0)
    assert machine.snapshot(51.0).safing_done
    back, actions = Sequencer.restore(plan(), t, machine.snapshot(51.0), 5.0)
    assert sends(actions) == []
    assert sends(back.tick(500.0)) == []
    assert "safing" not in " ".join(kinds(back.tick(501.0)))
