"""The command gate against the simulated pad: roles, interlocks on fresh data, write,
readback, audit, and the lifecycle events an operator sees on the bus."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundseg.config import PadDefinition
from groundseg.errors import AuditBroken, CommandRejected, VerificationFailed
from groundseg.gate.audit import verify_audit
from groundseg.gate.authority import NotAuthorized, Role, User
from hw_sim.pad import SimulatedPad
from tests.integration.launch_rig import Launch, launch_controller

OPERATOR = User(name="ivanova", roles=frozenset({Role.OPERATOR}))
VIEWER = User(name="guest", roles=frozenset({Role.VIEWER}))


def gate(launch: Launch):  # type: ignore[no-untyped-def]
    assert launch.controller.gate is not None
    return launch.controller.gate


async def test_an_operator_command_is_written_verified_audited_and_announced(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        now = launch.controller.clock.monotonic()
        outcome = await gate(launch).send("lox.s1.vent_valve.close", user=OPERATOR, now=now)
        assert outcome.readings["lox.s1.vent_valve.closed_ls"].value == 1.0
        await launch.wait_event("command.verified", within=1.0)
        kinds = [e.kind for e in launch.events if e.kind.startswith("command.")]
        assert kinds == [
            "command.issued",
            "command.permitted",
            "command.written",
            "command.verified",
        ]
        assert ("lox.s1.vent_valve.cmd", 0.0) in sim.writes
    count, _ = verify_audit(tmp_path / "audit.jsonl")
    assert count == 2  # the send before the write, the verification after it


async def test_a_viewer_is_refused_and_nothing_is_written(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        with pytest.raises(NotAuthorized, match="needs one of the roles"):
            await gate(launch).send(
                "lox.s1.vent_valve.close", user=VIEWER, now=launch.controller.clock.monotonic()
            )
        await launch.wait_event("command.refused", within=1.0)
        assert sim.writes == []


async def test_a_stuck_valve_times_out_its_verification(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    await sim.inject("stuck_valve:lox.s1.vent_valve")
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        with pytest.raises(VerificationFailed, match=r"lox\.s1\.vent_valve\.closed_ls"):
            await gate(launch).send(
                "lox.s1.vent_valve.close", user=OPERATOR, now=launch.controller.clock.monotonic()
            )
        timeout = await launch.wait_event("command.verify_timeout", within=1.0)
        assert timeout.fields["command"] == "lox.s1.vent_valve.close"


async def test_without_an_audit_log_only_safing_commands_pass(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        the_gate = gate(launch)
        the_gate.audit = None  # as when the chain is broken or the disk refuses
        with pytest.raises(CommandRejected, match="audit"):
            await the_gate.send(
                "lox.s1.vent_valve.close", user=OPERATOR, now=launch.controller.clock.monotonic()
            )
        assert sim.writes == []
        await the_gate.run_safing_command("lox.s1.vent_valve.open", None, by="safing")
        assert sim.writes == [("lox.s1.vent_valve.cmd", 1.0)]


async def test_an_edited_audit_record_is_detected(
    pad: PadDefinition, sim: SimulatedPad, tmp_path: Path
) -> None:
    async with launch_controller(pad, sim.endpoints, tmp_path) as launch:
        await launch.wait_fresh()
        now = launch.controller.clock.monotonic()
        await gate(launch).send("lox.s1.vent_valve.close", user=OPERATOR, now=now)
    path = tmp_path / "audit.jsonl"
    path.write_text(path.read_text().replace("ivanova", "someone", 1))
    with pytest.raises(AuditBroken, match=r"audit\.jsonl:1: .*edited"):
        verify_audit(path)
