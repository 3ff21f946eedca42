"""Proof tests, generated from the pad definition: one for every redline and every
interlock it declares, so a rule added to the file is proved (or the suite fails).

Each proof injects the rule's trigger into the simulated pad (transmitters stuck at values
a witness computes from the rule itself, or a device that stops answering) and checks the
reaction the file declares, within the latency its persistence and the channels' poll
periods allow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from groundseg.config import PadDefinition, load_pad
from groundseg.errors import InterlockVetoed
from groundseg.rules.witness import condition_witness
from groundseg.sequencer.machine import StartCount
from groundseg.sequencer.plan import Interlock, LaunchPlan, Redline, compile_plan
from groundseg.telemetry.events import Event
from groundseg.testing.proof import Stimulus, redline_stimulus
from hw_sim.pad import SimulatedPad
from tests.conftest import PAD_FILE
from tests.helpers import eventually
from tests.integration.launch_rig import Launch, launch_controller

SHIPPED = load_pad(PAD_FILE)
PLAN = compile_plan(SHIPPED)
MARGIN_S = 1.5
"""Scheduling slack on a 2-core machine running the simulator in the same process."""


def redline_trigger(pad: PadDefinition, plan: LaunchPlan, redline: Redline) -> Stimulus:
    """Faults that trip `redline`, and how long its reaction may take (the proof-test
    campaign's own stimulus)."""
    return redline_stimulus(pad, plan, redline, margin_s=MARGIN_S)


def test_every_rule_in_the_pad_file_has_a_generated_proof() -> None:
    """A rule whose trigger cannot be derived (no witness) fails here, by name."""
    assert PLAN.redlines, "the shipped pad declares redlines"
    assert PLAN.interlocks, "the shipped pad declares interlocks"
    for redline in PLAN.redlines:
        trigger = redline_trigger(SHIPPED, PLAN, redline)
        assert trigger.faults, redline.id
    for interlock in PLAN.interlocks:
        assert condition_witness(interlock.permit, SHIPPED, want=False), interlock.id


def _reaction(launch: Launch, redline: Redline) -> Event | None:
    if redline.reaction == "hold":
        return launch.first("countdown.hold", lambda e: e.fields.get("by") == redline.id)
    if redline.reaction == "safing":
        return launch.first("countdown.aborted", lambda e: e.fields.get("by") == redline.id)
    return launch.first("alarm.raised", lambda e: e.fields.get("alarm") == redline.id)


@pytest.mark.parametrize("redline", PLAN.redlines, ids=[r.id for r in PLAN.redlines])
async def test_redline_proof(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path, redline: Redline
) -> None:
    trigger = redline_trigger(pad, PLAN, redline)
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        if not redline.always:
            launch.runner.request(StartCount(by="proof"))
            if redline.phases:
                # Put the sequence in the rule's phase as a bench would: arm it.
                launch.runner.arm_phase(sorted(redline.phases)[0])
        assert _reaction(launch, redline) is None, "tripped before the trigger"
        injected_ns = launch.controller.clock.time_ns()
        for fault in trigger.faults:
            await sim.inject(fault)
        await launch.wait_event(
            {"hold": "countdown.hold", "safing": "countdown.aborted", "alarm": "alarm.raised"}[
                redline.reaction
            ],
            within=trigger.within_s + 5.0,
            where=lambda e: e is _reaction(launch, redline),
        )
        reaction = _reaction(launch, redline)
        assert reaction is not None
        latency_s = (reaction.time_ns - injected_ns) / 1e9
        assert latency_s <= trigger.within_s, f"{redline.id} reacted after {latency_s:.2f} s"
        for action in redline.actions:

            def issued(event: Event, command: str = action.command) -> bool:
                return event.fields.get("command") == command

            await launch.wait_event("command.issued", within=2.0, where=issued)


@pytest.mark.parametrize("interlock", PLAN.interlocks, ids=[i.id for i in PLAN.interlocks])
async def test_interlock_proof(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path, interlock: Interlock
) -> None:
    values = condition_witness(interlock.permit, pad, want=False)
    slowest = max(pad.channel(c).period_s for c in values)
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        for channel, value in values.items():
            await sim.inject(f"stuck:{channel}:value={value!r}")
        gate = launch.controller.gate
        assert gate is not None
        command = sorted(interlock.commands)[0]
        await eventually(
            lambda: bool(launch.controller.monitor.vetoes(command)),
            within=3 * slowest + MARGIN_S,
            what=f"{interlock.id} to withhold {command}",
        )
        writes_before = len(sim.writes)
        with pytest.raises(InterlockVetoed, match=interlock.id.replace(".", r"\.")):
            await gate.run_sequence_command(command, None, purpose="proof")
        assert len(sim.writes) == writes_before, "a vetoed command reached the wire"
