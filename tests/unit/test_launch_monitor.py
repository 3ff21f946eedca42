"""The launch monitor over hand-made batches: redlines trip on the sample their
persistence says, only while armed; stale or unknown data never permits a command."""

from __future__ import annotations

import numpy as np

from groundseg.config import load_pad, parse_pad
from groundseg.quality import Quality
from groundseg.sequencer.monitor import Finding, Monitor
from groundseg.sequencer.plan import compile_plan
from groundseg.telemetry.batch import SampleBatch
from tests.conftest import PAD_FILE
from tests.unit.test_launch_plan import LAUNCH
from tests.unit.test_pad_definition import VALID_PAD

PAD = parse_pad(
    VALID_PAD
    + LAUNCH
    + '\n[[redlines]]\nid = "plc.link"\nstale = ["plc.status.healthy"]\nreaction = "hold"\n'
)
SECOND = 1_000_000_000
T0 = 1_800_000_000 * SECOND


def monitor(*, phase: str | None = "loading", counting: bool = True) -> Monitor:
    m = Monitor(PAD, compile_plan(PAD))
    m.set_context(phase=phase, counting=counting, now_ns=T0)
    return m


def sample(channel: str, value: float, at_s: float, quality: Quality = Quality.GOOD) -> SampleBatch:
    return SampleBatch.at(
        source="plc",
        seq=0,
        time_ns=T0 + round(at_s * SECOND),
        channel=np.array([PAD.channel(channel).index], dtype=np.uint32),
        value=np.array([value]),
        quality=quality,
    )


def trips(findings: list[Finding], rule: str) -> list[bool]:
    return [f.active for f in findings if f.rule == rule]


def test_a_redline_with_persistence_three_trips_on_the_third_sample_only() -> None:
    m = monitor()
    seen = []
    for i, value in enumerate([3.3, 3.3, 2.5, 3.3, 3.3, 3.3]):
        seen.append(trips(m.take(sample("lox.tank.pressure", value, 0.1 * i)), "lox.tank.meop"))
    assert seen == [[], [], [], [], [], [True]]


def test_a_tripped_redline_carries_its_reaction_and_actions() -> None:
    m = monitor()
    found: list[Finding] = []
    for i in range(3):
        found += m.take(sample("lox.tank.pressure", 3.4, 0.1 * i))
    (trip,) = [f for f in found if f.rule == "lox.tank.meop"]
    assert trip.reaction == "hold"
    assert [str(a) for a in trip.actions] == ["lox.vent.open"]
    assert m.acting_holds() == ["lox.tank.meop"]


def test_the_yellow_limit_raises_a_warning_before_the_red() -> None:
    m = monitor()
    found: list[Finding] = []
    for i in range(3):
        found += m.take(sample("lox.tank.pressure", 3.1, 0.1 * i))
    assert trips(found, "lox.tank.meop.warning") == [True]
    assert trips(found, "lox.tank.meop") == []


def test_a_redline_outside_its_phase_does_not_act_and_trips_when_its_phase_begins() -> None:
    m = monitor(phase="terminal")
    for i in range(3):
        assert trips(m.take(sample("lox.tank.pressure", 3.4, 0.1 * i)), "lox.tank.meop") == []
    armed = m.set_context(phase="loading", counting=True, now_ns=T0 + SECOND)
    assert trips(armed, "lox.tank.meop") == [True]


def test_a_redline_clears_only_inside_its_hysteresis() -> None:
    m = monitor()
    for i in range(3):
        m.take(sample("lox.tank.pressure", 3.4, 0.1 * i))
    clears = []
    for i, value in enumerate([3.17, 3.17, 3.17, 3.1, 3.1, 3.1]):
        clears += trips(m.take(sample("lox.tank.pressure", value, 1 + 0.1 * i)), "lox.tank.meop")
    assert clears == [False]
    assert m.acting_holds() == []


def test_a_condition_redline_waits_for_its_duration() -> None:
    m = monitor()
    assert trips(m.take(sample("wx.wind.m10.mean", 20.0, 0.0)), "wind") == []
    assert trips(m.take(sample("wx.wind.m10.mean", 20.0, 1.0)), "wind") == []
    assert trips(m.take(sample("wx.wind.m10.mean", 20.0, 2.0)), "wind") == [True]


def test_a_condition_that_has_held_its_duration_asks_for_no_more_timer() -> None:
    """The runner arms its timer at the deadline: one in the past would fire at once,
    over and over, for as long as the wind blows."""
    m = monitor()
    m.take(sample("wx.wind.m10.mean", 20.0, 0.0))
    assert m.next_deadline_ns() == T0 + 2 * SECOND
    m.take(sample("wx.wind.m10.mean", 20.0, 1.0))
    assert m.next_deadline_ns() == T0 + 2 * SECOND
    for at_s in (2.0, 3.0):
        m.take(sample("wx.wind.m10.mean", 20.0, at_s))
        assert m.next_deadline_ns() is None, f"after {at_s} s"


def test_stale_data_trips_a_freshness_redline_and_never_a_condition_redline() -> None:
    m = monitor()
    m.take(sample("plc.status.healthy", 1.0, 0.0))
    found = m.take(sample("plc.status.healthy", 1.0, 0.1, Quality.STALE))
    assert trips(found, "plc.link") == [True]
    m.take(sample("wx.wind.m10.mean", 20.0, 0.0, Quality.STALE))
    assert trips(m.take(sample("wx.wind.m10.mean", 20.0, 3.0, Quality.STALE)), "wind") == []


def test_data_older_than_three_poll_periods_trips_freshness_on_the_timer() -> None:
    m = monitor()
    m.take(sample("plc.status.healthy", 1.0, 0.0))
    assert trips(m.tick(T0 + round(0.2 * SECOND)), "plc.link") == []
    assert trips(m.tick(T0 + round(0.5 * SECOND)), "plc.link") == [True]


def test_redlines_do_not_act_without_a_count_unless_always() -> None:
    m = monitor(phase=None, counting=False)
    for i in range(3):
        assert trips(m.take(sample("lox.tank.pressure", 3.4, 0.1 * i)), "lox.tank.meop") == []


def test_an_interlock_permits_only_on_fresh_true_data() -> None:
    m = monitor()
    assert [v.interlock for v in m.vetoes("lox.vent.close")] == ["vent.needs.low.pressure"]
    m.take(sample("lox.tank.pressure", 2.0, 0.0))
    assert m.vetoes("lox.vent.close") == []
    m.take(sample("lox.tank.pressure", 2.0, 0.1, Quality.STALE))
    (veto,) = m.vetoes("lox.vent.close")
    assert "stale or unknown" in veto.reason
    m.take(sample("lox.tank.pressure", 3.5, 0.2))
    (veto,) = m.vetoes("lox.vent.close")
    assert veto.reason == "close the vent only below 3 bar"


def test_commands_without_interlocks_are_permitted() -> None:
    assert monitor().vetoes("lox.vent.open") == []


def test_a_member_going_stale_is_no_new_sample_of_its_vote() -> None:
    """Persistence counts measurements: when one transmitter of a vote goes stale, the vote
    is recomputed from the others' old values, which confirms nothing."""
    shipped = load_pad(PAD_FILE)
    rule = next(r for r in compile_plan(shipped).redlines if r.id == "lox.s1.ullage.loading")
    assert rule.persistence == 3
    assert rule.above is not None
    over = rule.above + 0.4
    m = Monitor(shipped, compile_plan(shipped))
    m.set_context(phase="lox_chilldown", counting=True, now_ns=T0)
    members = [shipped.channel(f"lox.s1.ullage_pressure.{x}").index for x in "abc"]

    def cycle(at_s: float, members: list[int], quality: Quality = Quality.GOOD) -> SampleBatch:
        return SampleBatch.at(
            source="plc",
            seq=0,
            time_ns=T0 + round(at_s * SECOND),
            channel=np.array(members, dtype=np.uint32),
            value=np.full(len(members), over),
            quality=quality,
        )

    assert trips(m.take(cycle(0.1, members)), rule.id) == []
    assert trips(m.take(cycle(0.2, members)), rule.id) == []
    assert trips(m.take(cycle(0.25, members[2:], Quality.STALE)), rule.id) == []
    assert trips(m.take(cycle(0.3, members)), rule.id) == [True]
