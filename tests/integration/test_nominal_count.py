"""The full Soyuz-5 count from T-6 h against the simulated pad, in accelerated time, with a
fault: the stage-1 kerosene ullage transmitters stick over the MEOP redline during
loading, the count holds, the fault clears and the director resumes; the built-in hold
with its GO poll; an anomaly in the terminal count, a hold and a recycle to T-10 min, the
terminal count again; T-0 with the ignition command received by the vehicle. Every step's
commands written and verified in the declared order, in about a minute and a half. Then
the analyst's re-runs over the journal: the same alarms, the same holds at the same
T-times.

The plant and the count run 300 times faster than real time until the terminal count,
then 60 times: links keep real time, and the terminal minutes hold two dozen verified
commands (a bench slows a simulation down for them the same way).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from groundseg.clock import ScaledClock
from groundseg.config import PadDefinition, parse_pad
from groundseg.journal.reader import JournalReader
from groundseg.replay.rerun import contexts_from_events, rerun
from groundseg.replay.resequence import resequence
from groundseg.sequencer.countdown import CountdownState, Hold, Poll, Recycle, Resume
from groundseg.sequencer.machine import StartCount
from groundseg.sequencer.plan import compile_plan
from groundseg.simulator import simulator
from tests.conftest import PAD_FILE
from tests.helpers import eventually
from tests.integration.launch_rig import TOLERANT_PERIODS, launch_controller, tolerant_pad_text
from tests.integration.recording import (
    RULE,
    STUCK_AT,
    TRANSMITTERS,
    automation_decided,
    automation_recorded,
)

FAULT_AT_T = -4.5 * 3600
"""During LOX loading."""
FAST = 300.0
"""At 600x a two-core machine as slow as some of ours reacts late to the plant (tanks
overfill, links go stale); 300x keeps the physics and the links honest."""
TERMINAL = 60.0
RECYCLED_TO = "terminal.replenish_stop"
"""The step at T-10 min, where the anomaly's recycle takes the count back to."""


async def test_a_count_with_a_fault_holds_resumes_and_reaches_t0_and_replays_the_same(
    pad: PadDefinition, tmp_path: Path
) -> None:
    pad_file = tmp_path / "pad.toml"
    pad_file.write_text(tolerant_pad_text(PAD_FILE.read_text()))
    pad = parse_pad(pad_file.read_text(), source=str(pad_file))
    plan = compile_plan(pad)
    expected = [c.command for step in plan.steps for c in (*step.commands, *step.on_complete)]
    step = next(s for s in plan.steps if s.id == RECYCLED_TO)
    recycled = [c.command for c in (*step.commands, *step.on_complete)]
    async with (
        simulator(pad_file, speed=FAST, seed=5) as sim,
        launch_controller(
            pad, sim.endpoints, tmp_path / "state", count_speed=FAST, stale_periods=TOLERANT_PERIODS
        ) as launch,
    ):
        await launch.wait_fresh(within=15.0)
        started = time.monotonic()
        launch.runner.request(StartCount(by="director"))
        await eventually(lambda: launch.t() >= FAULT_AT_T, within=30.0, what="loading under way")
        for channel in TRANSMITTERS:
            await sim.control(f"fault stuck:{channel}:value={STUCK_AT}")
        await launch.wait_event(
            "countdown.hold", within=10.0, where=lambda e: e.fields.get("by") == RULE
        )
        await sim.control("clear all")
        await launch.wait_event(
            "alarm.cleared", within=10.0, where=lambda e: e.fields.get("alarm") == RULE
        )
        launch.runner.request(Resume(by="director"))
        await launch.wait_state(CountdownState.POLLING, within=90.0)
        launch.runner.request(Poll(go=True, by="director"))
        await eventually(lambda: launch.t() >= -660.0, within=10.0, what="T-11 min")
        await sim.control(f"speed {TERMINAL:g}")
        clock = launch.controller.count_clock
        assert isinstance(clock, ScaledClock)
        clock.set_speed(TERMINAL)
        # An anomaly at T-5 min (between two steps, so that the re-run, which takes the
        # request at its recorded time, meets it between the same two): hold, recycle to
        # T-10 min, run the terminal count again.
        await eventually(lambda: launch.t() >= -300.0, within=15.0, what="T-5 min")
        launch.runner.request(Hold(reason="anomaly", by="director"))
        await eventually(
            lambda: launch.sequencer.snapshot(clock.monotonic()).in_flight is None,
            within=10.0,
            what="no command in flight in the hold",
        )
        launch.runner.request(Recycle(to_t_s=-600.0, by="director"))
        assert launch.state is CountdownState.HOLDING
        assert launch.t() == pytest.approx(-600.0)
        assert launch.sequencer.current_step is not None
        assert launch.sequencer.current_step.id == RECYCLED_TO
        recycled_at = len(launch.events)
        launch.runner.request(Resume(by="director"))
        await launch.wait_state(CountdownState.LAUNCHED, within=40.0)
        await launch.wait_event(
            "command.verified",
            within=5.0,
            where=lambda e: e.fields.get("command") == "umb.vehicle.ignition.fire",
        )
        elapsed = time.monotonic() - started
        fired = await sim.control("signal umb.vehicle.ignition.fired")
    holds = [e for e in launch.events if e.kind == "countdown.hold"]
    assert [e.fields.get("by") for e in holds] == [RULE, "countdown", "director"], [
        e.message for e in holds
    ]
    issued = [
        (str(e.fields["command"]), str(e.fields.get("purpose", "")))
        for e in launch.events
        if e.kind == "command.issued"
    ]
    reaction = [command for command, purpose in issued if purpose == f"reaction:{RULE}"]
    assert reaction, "the redline's reaction was sent"
    steps_sent = [command for command, purpose in issued if purpose.startswith("step:")]
    sent_again = [
        str(e.fields["command"])
        for e in launch.events[recycled_at:]
        if e.kind == "command.issued" and str(e.fields.get("purpose", "")).startswith("step:")
    ]
    first = steps_sent[: len(steps_sent) - len(sent_again)]
    assert first == expected[: len(first)], "the count up to the anomaly, in order"
    assert sent_again == expected[expected.index(recycled[0]) :], "again from T-10 min to T-0"
    assert sent_again[:4] == recycled[:4]
    assert sorted(launch.verified()) == sorted(command for command, _ in issued)
    assert launch.first("command.verify_timeout") is None
    assert launch.first("command.vetoed") is None
    assert fired["value"] == 1.0
    assert elapsed < 150.0

    # The whole automation re-run over this count's journal decides it again: every
    # countdown and sequence decision at the same T-time, the same commands in order,
    # through the fault's hold and the director's resume, the built-in hold, its poll and
    # the terminal count's change of speed.
    reader = JournalReader(tmp_path / "state" / "journal")
    decided = resequence(
        pad,
        reader.channel_names(),
        (b for _, b in reader.samples()),
        [e for _, e in reader.events()],
        stale_periods=TOLERANT_PERIODS,
    )
    recorded = automation_recorded(launch.events)
    again = automation_decided(decided)
    assert [k[:2] for k in again] == [k[:2] for k in recorded]
    # A redline's hold is decided on the sample that tripped it, which the runner took a
    # few milliseconds later: at 300 times real time, a second or two of count time (a
    # poll cycle is thirty), and the T-times after it carry that through the hold.
    tolerance = 0.5
    for (kind, message, t_s), (_, _, recorded_t_s) in zip(again, recorded, strict=True):
        if kind == "countdown.hold" and message.startswith("hold:"):
            tolerance = 0.01 * FAST
        if recorded_t_s is not None:
            assert t_s is not None, kind
            assert abs(t_s - recorded_t_s) < tolerance, (kind, message, t_s, recorded_t_s)

    # The monitors alone over the journal raise the alarms the operators saw.
    monitored = rerun(
        pad,
        reader.channel_names(),
        reader.runs(),
        contexts_from_events(e for _, e in reader.events()),
        stale_periods=TOLERANT_PERIODS,
    )
    raised = {e.fields["alarm"] for e in launch.events if e.kind == "alarm.raised"}
    tripped = {d.rule for d in monitored if d.active}
    assert RULE in raised
    assert raised == tripped, f"recorded only {raised - tripped}, re-run only {tripped - raised}"
