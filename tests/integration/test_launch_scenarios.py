"""Launch scenarios against the simulated pad, each read like an operator's procedure:
what is done, what the pad does, what the count must do, within what time."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

import groundseg.files
from groundseg.clock import ScaledClock, SystemClock
from groundseg.config import PadDefinition, load_pad
from groundseg.errors import InterlockVetoed
from groundseg.gate.authority import Role, User
from groundseg.launch import runner as runner_module
from groundseg.quality import USABLE
from groundseg.rules.discrepancy import stale_after_ns
from groundseg.sequencer.countdown import (
    Abort,
    CountdownError,
    CountdownState,
    Hold,
    Resume,
)
from groundseg.sequencer.machine import StartCount
from groundseg.sequencer.plan import Redline, compile_plan
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.bus import Overflow
from groundseg.telemetry.latest import LatestValues
from hw_sim.pad import SimulatedPad
from tests.conftest import PAD_FILE
from tests.helpers import eventually
from tests.integration.launch_rig import (
    Launch,
    launch_controller,
)

PLAN = compile_plan(load_pad(PAD_FILE))
FAST = 600.0
DIRECTOR = User(name="korolev", roles=frozenset({Role.DIRECTOR, Role.OPERATOR}))


def redline(where: str) -> Redline:
    """The shipped redline whose id contains `where` (the test names what it relies on)."""
    found = [r for r in PLAN.redlines if where in r.id]
    assert found, f"the shipped pad has no redline matching {where!r}"
    return found[0]


async def start_fast_fill(launch: Launch) -> None:
    """LOX fast fill into stage 1, set up as bench commands (past the interlocks)."""
    gate = launch.controller.gate
    assert gate is not None
    for command in (
        "lox.storage.outlet_valve.open",
        "lox.s1.fill_valve.open",
        "lox.fast_fill_valve.open",
        "lox.pump.start",
    ):
        await gate.run_safing_command(command, None, by="bench setup")


def arm(launch: Launch, rule: Redline) -> None:
    """Start the count and put the sequence in the rule's phase (as a bench does)."""
    launch.runner.request(StartCount(by="test"))
    if rule.phases:
        launch.runner.arm_phase(sorted(rule.phases)[0])


async def test_fast_fill_before_chilldown_is_vetoed_and_nothing_goes_on_the_wire(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    """The transfer line is warm: a fast-fill request is vetoed, with the reason."""
    (interlock, *_) = PLAN.interlocks_of("lox.fast_fill_valve.open")
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        assert sim.signal("lox.line.temp.6") > 200, "the line starts warm"
        gate = launch.controller.gate
        assert gate is not None
        with pytest.raises(InterlockVetoed, match=interlock.id.replace(".", r"\.")):
            await gate.send(
                "lox.fast_fill_valve.open", user=DIRECTOR, now=launch.controller.clock.monotonic()
            )
        vetoed = await launch.wait_event("command.vetoed", within=1.0)
        assert interlock.reason in vetoed.message
        assert sim.writes == []
        assert sim.signal("lox.fast_fill_valve.position") == 0.0


async def test_ullage_over_its_redline_trips_on_the_third_sample_then_holds_and_vents(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    """1 and 2 samples over the limit with persistence 3: nothing; the third: hold, and the
    vent command within 1 s. The samples are counted as the monitor sees them (the voted
    value: two of three transmitters over), so a loaded machine that lets one more sample
    through checks the rule all the same."""
    rule = redline("lox.s1.ullage")
    assert rule.persistence == 3
    assert rule.above is not None
    limit = rule.above
    vote = next(v for v in PLAN.votes if v.group.name == rule.vote)
    ids = [pad.channels[c].id for c in vote.group.channels]
    high = limit + 0.4
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        arm(launch, rule)
        seen = launch.controller.bus.subscribe(
            "over", capacity=10_000, overflow=Overflow.FAULT, events=False
        )
        group = np.array(vote.group.channels)
        latest = LatestValues(len(pad.channels))
        stale_after = stale_after_ns(pad)

        async def samples_over(count: int) -> int:
            """Hold the transmitters over the limit for about `count` voted samples; the
            longest run of consecutive voted samples over the limit that went by."""
            run = longest = 0

            def voted_over() -> None:
                """As the monitor votes: over the members' latest values, at every batch
                that brings a new measurement of one of them (a batch whose other block
                read timed out still does)."""
                nonlocal run, longest
                while (item := seen.get_nowait()) is not None:
                    if not isinstance(item, SampleBatch):
                        continue
                    latest.update(item)
                    if not (np.isin(item.channel, group) & USABLE[item.quality]).any():
                        continue  # no new measurement of a member: no voted sample
                    now_ns = int(item.time_ns.max())
                    voted = vote.group.vote(latest, now_ns, stale_after).value
                    run = run + 1 if voted is not None and voted > limit else 0
                    longest = max(longest, run)

            def reached() -> bool:
                voted_over()
                return longest >= count

            for channel in ids:
                await sim.inject(f"stuck:{channel}:value={high}")
            await eventually(reached, within=3.0, what=f"{count} voted samples over the redline")
            await sim.clear(None)
            monitor = launch.controller.monitor
            await eventually(
                lambda: all(monitor.latest.value[c] < limit for c in group),
                within=3.0,
                what="the ullage pressures back under their redline",
            )
            voted_over()
            return longest

        for count in (1, 2, 3):
            longest = await samples_over(count)
            tripped = launch.first("countdown.hold", lambda e: e.fields.get("by") == rule.id)
            if longest < rule.persistence:
                assert tripped is None, f"held after {longest} voted samples over"
            else:
                break
        assert longest >= rule.persistence
        hold = await launch.wait_event(
            "countdown.hold", within=1.0, where=lambda e: e.fields.get("by") == rule.id
        )
        vent = await launch.wait_event(
            "command.issued",
            within=1.0,
            where=lambda e: e.fields.get("command") in {a.command for a in rule.actions},
        )
        assert (vent.time_ns - hold.time_ns) / 1e9 < 1.0


async def test_a_stuck_valve_times_out_and_holds_the_count(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    first = next(s for s in PLAN.steps if any(c.command.endswith(".open") for c in s.commands))
    valve_command = next(c.command for c in first.commands if c.command.endswith(".open"))
    valve = valve_command.removesuffix(".open")
    await sim.inject(f"stuck_valve:{valve}")
    async with launch_controller(pad, sim.endpoints, tmp_path, count_speed=50.0) as launch:
        await launch.wait_fresh()
        launch.runner.request(StartCount(by="test"))
        timeout = await launch.wait_event(
            "command.verify_timeout",
            within=30.0,
            where=lambda e: e.fields.get("command") == valve_command,
        )
        await launch.wait_state(CountdownState.HOLDING, within=2.0)
        assert valve_command in launch.sequencer.countdown.hold_reason
        assert timeout.severity.value == "alarm"
        rule = f"discrepancy.{valve}"
        await launch.wait_event(
            "alarm.raised", within=10.0, where=lambda e: e.fields.get("alarm") == rule
        )
        # Freed, the valve goes where it was commanded: the alarm's condition clears on the
        # board (the count stays holding: resuming is a person's decision).
        await sim.clear(f"stuck_valve:{valve}")
        await launch.wait_event(
            "alarm.cleared", within=10.0, where=lambda e: e.fields.get("alarm") == rule
        )
        assert launch.state is CountdownState.HOLDING


async def test_link_lost_to_the_plc_holds_within_a_second_and_nothing_is_written(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    rule = next(r for r in PLAN.redlines if r.stale and pad.channels[r.stale[0]].device == "plc")
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        arm(launch, rule)
        await sim.inject("dropout:plc")
        lost = launch.controller.clock.time_ns()
        hold = await launch.wait_event(
            "countdown.hold", within=2.0, where=lambda e: e.fields.get("by") == rule.id
        )
        assert (hold.time_ns - lost) / 1e9 <= 1.0
        writes = len(sim.writes)
        gate = launch.controller.gate
        assert gate is not None
        with pytest.raises(InterlockVetoed, match="stale or unknown"):
            await gate.run_sequence_command("lox.fast_fill_valve.open", None, purpose="test")
        assert len(sim.writes) == writes


@pytest.mark.parametrize(
    "fault", ["stuck:wx.lightning.distance:value=4", "stuck:wx.wind.m10.gust:value=30"]
)
async def test_lightning_or_wind_beyond_the_criteria_holds_the_count(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path, fault: str
) -> None:
    channel = fault.split(":")[1]
    rule = next(r for r in PLAN.redlines if r.when is not None and channel in r.when.text)
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        arm(launch, rule)
        await sim.inject(fault)
        await launch.wait_event(
            "countdown.hold", within=6.0, where=lambda e: e.fields.get("by") == rule.id
        )
        assert launch.state is CountdownState.HOLDING


async def test_one_failed_pressure_transmitter_alarms_two_failed_hold(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    vote = next(v for v in PLAN.votes if v.group.name == "lox.s1.ullage_pressure")
    a, b, _ = (pad.channels[c].id for c in vote.group.channels)
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        launch.runner.request(StartCount(by="test"))
        await sim.inject(f"stuck:{a}:value=0.2")
        await launch.wait_event(
            "alarm.raised",
            within=3.0,
            where=lambda e: e.fields.get("alarm") == f"vote.{vote.group.name}.degraded",
        )
        assert (
            launch.first(
                "countdown.hold", lambda e: str(e.fields.get("by", "")).startswith("vote.")
            )
            is None
        )
        assert (
            launch.state is not CountdownState.HOLDING
            or "vote" not in launch.sequencer.countdown.hold_reason
        )
        await sim.inject(f"stuck:{b}:value=9.5")
        await launch.wait_event(
            "countdown.hold",
            within=3.0,
            where=lambda e: e.fields.get("by") == f"vote.{vote.group.name}.failed",
        )


async def test_umbilical_demate_before_internal_power_is_vetoed(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    demate = "umb.plate.s1_lox.demate"
    assert PLAN.interlocks_of(demate), "demate is interlocked"
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        assert sim.signal("umb.power.source") == 0.0, "the vehicle is on ground power"
        gate = launch.controller.gate
        assert gate is not None
        with pytest.raises(InterlockVetoed):
            await gate.run_sequence_command(demate, None, purpose="test")
        assert sim.writes == []
        assert sim.signal("umb.plate.s1_lox.mated") == 1.0


async def test_abort_during_fast_fill_safes_the_pad(pad: PadDefinition, tmp_path: Path) -> None:
    """Fast fill under way (set up as bench commands, past the interlocks), abort:
    every safing command completes and the plant is safe."""
    async with (
        SimulatedPad(pad, speed=20.0, seed=11) as sim,
        launch_controller(pad, sim.endpoints, tmp_path, count_speed=20.0) as launch,
    ):
        await launch.wait_fresh()
        await start_fast_fill(launch)
        await eventually(lambda: sim.signal("lox.line.flow") > 1.0, within=10.0, what="LOX flowing")
        launch.runner.request(StartCount(by="test"))
        launch.runner.request(Abort(reason="test abort", by="director"))
        await launch.wait_event("safing.complete", within=30.0)
        assert sim.signal("lox.pump.running") == 0.0
        assert sim.signal("lox.fast_fill_valve.position") < 2.0
        await eventually(
            lambda: sim.signal("lox.line.flow") < 0.5, within=10.0, what="flow stopped"
        )
        assert launch.state is CountdownState.ABORTED


async def test_safing_cut_off_by_a_controller_stop_runs_again_after_the_restart(
    pad: PadDefinition, tmp_path: Path
) -> None:
    """Abort with the fast-fill valve stuck open, the controller stopped while safing waits
    on it: the stop is clean, and the restarted controller runs safing again to a safe pad."""
    async with SimulatedPad(pad, speed=20.0, seed=12) as sim:
        async with launch_controller(pad, sim.endpoints, tmp_path, count_speed=20.0) as launch:
            await launch.wait_fresh()
            await start_fast_fill(launch)
            await sim.inject("stuck_valve:lox.fast_fill_valve")
            launch.runner.request(StartCount(by="test"))
            launch.runner.request(Abort(reason="test abort", by="director"))
            await launch.wait_event(
                "command.written",
                within=10.0,
                where=lambda e: e.fields.get("command") == "lox.fast_fill_valve.close",
            )
        saved = json.loads((tmp_path / "sequencer.json").read_text())
        assert saved["countdown"] == "aborted"
        assert not saved["safing_done"], "safing finished before the stop: nothing was cut off"
        assert sim.signal("lox.pump.running") == 1.0
        await sim.clear("stuck_valve:lox.fast_fill_valve")
        async with launch_controller(pad, sim.endpoints, tmp_path, count_speed=20.0) as launch:
            await launch.wait_event("safing.complete", within=30.0)
            assert launch.state is CountdownState.ABORTED
            assert sim.signal("lox.pump.running") == 0.0
            assert sim.signal("lox.fast_fill_valve.position") < 2.0


async def test_resume_after_the_window_closed_is_refused_and_the_count_scrubs(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    async with launch_controller(pad, sim.endpoints, tmp_path, count_speed=2.0) as launch:
        await launch.wait_fresh()
        launch.runner.request(StartCount(by="director"))
        launch.runner.request(Hold(reason="weather", by="director"))
        clock = launch.controller.count_clock
        assert isinstance(clock, ScaledClock)
        clock.set_speed(20_000.0)  # the hours to the window's close pass in a second
        scrub = await launch.wait_event("countdown.scrubbed", within=5.0)
        assert "window closed" in scrub.message
        with pytest.raises(CountdownError):
            launch.runner.request(Resume(by="director"))
        assert launch.state is CountdownState.SCRUBBED


class JumpingClock(SystemClock):
    """Real time whose wall clock an operator (or NTP) can step; monotonic never jumps."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def time_ns(self) -> int:
        return super().time_ns() + self.offset_ns


@pytest.mark.parametrize("jump_s", [3600.0, -3600.0])
async def test_a_wall_clock_jump_changes_nothing(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path, jump_s: float
) -> None:
    clock = JumpingClock()
    async with launch_controller(pad, sim.endpoints, tmp_path, clock=clock) as launch:
        await launch.wait_fresh()
        launch.runner.request(StartCount(by="director"))
        t_before = launch.t()
        real_before = clock.monotonic()
        clock.offset_ns += round(jump_s * 1e9)
        await eventually(
            lambda: clock.monotonic() - real_before >= 2.0, within=3.0, what="two seconds"
        )
        assert launch.state is CountdownState.COUNTING
        assert launch.first("countdown.hold") is None  # (the wall-clock test)
        assert launch.first("alarm.raised") is None
        assert launch.t() - t_before == pytest.approx(clock.monotonic() - real_before, abs=0.2)


async def test_the_saved_count_is_put_on_the_disk_off_the_event_loop(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut restarts from the saved count; the flush runs in a worker thread, so a
    hold's commands never wait for the disk."""
    flushed: list[tuple[Path, bool]] = []
    real = groundseg.files.make_durable

    def recording(path: Path) -> None:
        flushed.append((path, threading.current_thread() is threading.main_thread()))
        real(path)

    monkeypatch.setattr(runner_module, "make_durable", recording)
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        launch.runner.request(StartCount(by="test"))
        state_file = launch.runner.state_file
        await eventually(
            lambda: any(path == state_file for path, _ in flushed),
            within=5.0,
            what="the saved count flushed",
        )
    assert {on_loop for _, on_loop in flushed} == {False}
    assert json.loads(state_file.read_text())["countdown"] == "counting"
