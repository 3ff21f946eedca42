"""The launch part of a pad file: compiled whole, or refused with every mistake at its
dotted key (a condition's with a caret under the fault); nothing half-loads."""

from __future__ import annotations

import pytest

from groundseg.config import load_pad, parse_pad
from groundseg.config.launch_schema import parse_duration, parse_t_time
from groundseg.errors import ConfigError
from groundseg.sequencer.plan import LaunchPlan, compile_plan
from groundseg.testing.proof import plan_stimuli
from tests.conftest import PAD_FILE
from tests.unit.test_pad_definition import VALID_PAD

LAUNCH = """
[countdown]
start = "T-1h"
window = "30min"
recycle_points = ["T-10min"]
holds = [{ at = "T-20min", duration = "5min", poll = ["director"] }]

[[phases]]
id = "loading"

[[phases]]
id = "terminal"

[[interlocks]]
id = "vent.needs.low.pressure"
commands = ["lox.vent.close"]
permit = "lox.tank.pressure < 3.0"
reason = "close the vent only below 3 bar"

[[redlines]]
id = "lox.tank.meop"
on = "lox.tank.pressure"
above = 3.2
warn_above = 3.0
persistence = 3
hysteresis = 0.05
reaction = "hold"
actions = ["lox.vent.open"]
phases = ["loading"]

[[redlines]]
id = "wind"
when = "wx.wind.m10.mean > 15 for 2 s"
reaction = "hold"

[[sequence]]
id = "load"
at = "T-50min"
phase = "loading"
commands = ["lox.vent.open", { command = "lox.pump.set_speed", argument = 1500 }]
wait = "lox.tank.mass > 10"
deadline = "20min"
on_complete = ["lox.vent.close"]

[[sequence]]
id = "fire"
at = "T-0"

[safing]
commands = ["lox.vent.open"]
confirm = "lox.vent.open_ls == 1"
"""


def compiled(text: str) -> LaunchPlan:
    return compile_plan(parse_pad(VALID_PAD + text, source="pad.toml"))


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        compiled(text)
    return [f"{p.key}: {p.expected}" for p in caught.value.problems]


def test_a_valid_launch_section_compiles_with_its_times_in_seconds() -> None:
    plan = compiled(LAUNCH)
    assert plan.countdown.start_t_s == -3600.0
    assert plan.countdown.holds[0].t_s == -1200.0
    assert plan.countdown.holds[0].poll == ("director",)
    assert plan.countdown.recycle_points == (-600.0,)
    assert plan.window_s == 1800.0
    load = plan.steps[0]
    assert load.at_t_s == -3000.0
    assert load.deadline_s == 1200.0
    assert [str(c) for c in load.commands] == ["lox.vent.open", "lox.pump.set_speed(1500)"]
    assert plan.redlines[0].persistence == 3
    assert plan.interlocks_of("lox.vent.close")[0].id == "vent.needs.low.pressure"
    assert plan.safing_commands() == frozenset({"lox.vent.open"})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90.0), ("10min", 600.0), ("1h30min", 5400.0), ("500ms", 0.5), ("2 s", 2.0)],
)
def test_durations_read_as_written(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "10 minutes", "s", "1h-30min"])
def test_a_malformed_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_t_times_are_negative_seconds_and_t0_is_zero() -> None:
    assert parse_t_time("T-6h") == -21600.0
    assert parse_t_time("T-0") == 0.0
    with pytest.raises(ValueError, match="expected a T-time"):
        parse_t_time("T+5min")


def test_a_condition_error_points_at_its_key_and_its_text() -> None:
    (problem,) = problems(LAUNCH.replace("lox.tank.pressure < 3.0", "lox.tank.presure < 3.0"))
    assert problem.startswith("interlocks[0].permit: ")
    assert "lox.tank.presure" in problem
    assert "^" in problem


def test_every_mistake_is_reported_at_once() -> None:
    text = (
        LAUNCH.replace('"lox.vent.close"]\npermit', '"lox.vent.shut"]\npermit')
        .replace('phases = ["loading"]', 'phases = ["laoding"]')
        .replace("wx.wind.m10.mean > 15", "wx.wind.m10.mean >> 15")
    )
    found = problems(text)
    assert any(p.startswith("interlocks[0].commands[0]: no command 'lox.vent.shut'") for p in found)
    assert any(p.startswith("redlines[0].phases[0]: unknown phase 'laoding'") for p in found)
    assert any(p.startswith("redlines[1].when: ") for p in found)


def test_a_command_argument_outside_its_parameter_is_refused() -> None:
    (problem,) = problems(LAUNCH.replace("argument = 1500", "argument = 4000"))
    assert problem.startswith("sequence[0].commands[1]: speed 4000 is outside 0 to 3000")


def test_a_command_needing_an_argument_without_one_is_refused() -> None:
    (problem,) = problems(
        LAUNCH.replace(
            '{ command = "lox.pump.set_speed", argument = 1500 }', '"lox.pump.set_speed"'
        )
    )
    assert problem == "sequence[0].commands[1]: lox.pump.set_speed needs an argument (speed)"


def test_steps_go_forwards_in_t_time() -> None:
    found = problems(
        LAUNCH.replace('at = "T-50min"', 'at = "T-0"').replace(
            'id = "fire"\nat = "T-0"', 'id = "fire"\nat = "T-55min"'
        )
    )
    assert any("T-times go forwards" in p for p in found)


def test_a_redline_has_exactly_one_form() -> None:
    text = LAUNCH.replace(
        'on = "lox.tank.pressure"', 'on = "lox.tank.pressure"\nstale = ["plc.status.healthy"]'
    )
    (problem,) = problems(text)
    assert problem == "redlines[0]: a redline has exactly one of 'on' (a limit), 'when' or 'stale'"


def test_limits_out_of_order_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"warn_above 3\.5 must be under above 3\.2"):
        compiled(LAUNCH.replace("warn_above = 3.0", "warn_above = 3.5"))


def test_a_waiting_step_needs_a_deadline() -> None:
    with pytest.raises(ConfigError, match="a step that waits needs a deadline"):
        compiled(LAUNCH.replace('deadline = "20min"\n', ""))


def test_duplicate_ids_are_refused() -> None:
    doubled = LAUNCH + '\n[[phases]]\nid = "loading"\n'
    assert any("duplicate id 'loading'" in p for p in problems(doubled))


def test_a_poll_naming_a_station_twice_is_refused_at_its_key() -> None:
    doubled = LAUNCH.replace('poll = ["director"]', 'poll = ["director", "director"]')
    assert "countdown.holds[0].poll: each station named once" in problems(doubled)


def test_a_pad_without_a_launch_section_compiles_to_an_empty_plan() -> None:
    plan = compile_plan(parse_pad(VALID_PAD))
    assert plan.steps == ()
    assert plan.redlines == ()


def test_every_rule_of_the_shipped_pad_has_a_proof_test_stimulus() -> None:
    pad = load_pad(PAD_FILE)
    plan = compile_plan(pad)
    planned = plan_stimuli(pad, plan)
    assert {s.rule for s in planned} == {r.id for r in plan.redlines} | {
        i.id for i in plan.interlocks
    }
    assert all(s.faults for s in planned), [(s.rule, s.why) for s in planned if not s.faults]
    assert next(s for s in planned if s.rule == "plc.link").faults == ("dropout:plc",)
    meop = next(s for s in planned if s.rule == "ker.s1.ullage.meop")
    assert [f.rsplit("=", 1)[0] for f in meop.faults] == [
        f"stuck:ker.s1.ullage_pressure.{x}:value" for x in "abc"
    ], "the vote's three transmitters"
    assert all(float(f.rsplit("=", 1)[1]) > 3.0 for f in meop.faults), "past its 3.0 bar"
    fast_fill = next(s for s in planned if s.rule == "lox.fast_fill.needs_chilldown")
    assert fast_fill.setup, "an interlock is first brought to permit"
