"""Commands through the write path: written to the simulated devices, verified by readback."""

from __future__ import annotations

import asyncio

import pytest

from groundseg.clock import SystemClock
from groundseg.config import PadDefinition, RegisterSource
from groundseg.drivers.actuation import actuate
from groundseg.drivers.modbus import ModbusDriver
from groundseg.drivers.umbilical import UmbilicalDriver
from groundseg.errors import CommandRejected, DeviceError, VerificationFailed, WriteFailed
from hw_sim.pad import SimulatedPad
from tests.helpers import eventually, run_drivers

LOX_S1_FILL_TRAVEL_S = 2.0  # hw_sim.plant.model.VALVES


async def test_valve_open_is_verified_after_its_travel_time(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """Command LOX stage-1 fill valve open: in transit first, then open_ls within the window."""
    async with run_drivers(pad, sim.endpoints, only=["plc"]) as rig:
        command = asyncio.create_task(
            actuate(pad, rig.drivers, "lox.s1.fill_valve.open", clock=SystemClock())
        )
        await eventually(
            lambda: (
                rig.value("lox.s1.fill_valve.cmd") == 1.0
                and rig.value("lox.s1.fill_valve.open_ls") == 0.0
                and rig.value("lox.s1.fill_valve.closed_ls") == 0.0
            ),
            within=1.5,
            what="the valve commanded open and in transit (neither limit switch made)",
        )
        outcome = await command
        assert outcome.verified_after_s >= 0.9 * LOX_S1_FILL_TRAVEL_S
        assert outcome.verified_after_s <= pad.commands["lox.s1.fill_valve.open"].window_s
        assert outcome.readings["lox.s1.fill_valve.open_ls"].value == 1.0
        assert outcome.readings["lox.s1.fill_valve.closed_ls"].value == 0.0
        assert sim.signal("lox.s1.fill_valve.position") >= 98.0


async def test_umbilical_commands_demate_a_plate_and_transfer_power(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """Frame commands to the umbilical controller: the plate unlocks and demates, power goes internal."""
    async with run_drivers(pad, sim.endpoints, only=["umbilical"]) as rig:
        clock = SystemClock()
        demated = await actuate(pad, rig.drivers, "umb.plate.s2_ker.demate", clock=clock)
        assert demated.readings["umb.plate.s2_ker.mated"].value == 0.0
        assert sim.signal("umb.plate.s2_ker.locked") == 0.0
        assert sim.signal("umb.plate.s1_lox.mated") == 1.0, "only the commanded plate moves"
        internal = await actuate(pad, rig.drivers, "umb.power.to_internal", clock=clock)
        assert internal.readings["umb.power.source"].value == 1.0
        await eventually(
            lambda: rig.value("umb.heartbeat.internal_power") == 1.0,
            within=2.0,
            what="the heartbeat to report internal power",
        )


async def test_setpoint_command_writes_its_argument(pad: PadDefinition, sim: SimulatedPad) -> None:
    """A parameterised command writes the argument in engineering units and reads it back."""
    async with run_drivers(pad, sim.endpoints, only=["plc", "gas_panel"]) as rig:
        clock = SystemClock()
        outcome = await actuate(pad, rig.drivers, "lox.pump.set_speed", 1500.0, clock=clock)
        assert outcome.readings["lox.pump.speed_sp"].value == pytest.approx(1500.0)
        assert sim.signal("lox.pump.speed_sp") == pytest.approx(1500.0)
        outcome = await actuate(pad, rig.drivers, "lox.s1.set_press_setpoint", 2.85, clock=clock)
        assert sim.signal("lox.s1.press_setpoint") == pytest.approx(2.85, abs=0.001)


@pytest.mark.parametrize(
    ("command", "argument", "reason"),
    [
        ("lox.pump.set_speed", 5000.0, "outside 0 to 3000"),
        ("lox.pump.set_speed", None, "needs speed"),
        ("lox.s1.fill_valve.open", 1.0, "takes no argument"),
        ("lox.s1.fill_valve.wiggle", None, "unknown command"),
    ],
)
async def test_bad_commands_are_rejected_before_anything_is_written(
    pad: PadDefinition, sim: SimulatedPad, command: str, argument: float | None, reason: str
) -> None:
    async with run_drivers(pad, sim.endpoints, only=["plc"]) as rig:
        writes_before = rig.drivers["plc"].statistics().writes
        speed_before = sim.signal("lox.pump.speed_sp")
        with pytest.raises(CommandRejected, match=reason):
            await actuate(pad, rig.drivers, command, argument, clock=SystemClock())
        assert sim.signal("lox.pump.speed_sp") == speed_before
        assert sim.signal("lox.s1.fill_valve.cmd") == 0.0
        assert rig.drivers["plc"].statistics().writes == writes_before == 0


async def test_stuck_valve_fails_verification_naming_the_switch(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """A valve that does not move fails its verification at the end of the window, saying why."""
    await sim.inject("stuck_valve:ghe.supply_valve")
    async with run_drivers(pad, sim.endpoints, only=["gas_panel"]) as rig:
        started = asyncio.get_running_loop().time()
        with pytest.raises(VerificationFailed) as failure:
            await actuate(pad, rig.drivers, "ghe.supply_valve.open", clock=SystemClock())
        elapsed = asyncio.get_running_loop().time() - started
        window = pad.commands["ghe.supply_valve.open"].window_s
        assert window <= elapsed < window + 1.0
        assert {m.channel for m in failure.value.mismatches} == {
            "ghe.supply_valve.open_ls",
            "ghe.supply_valve.closed_ls",
        }
        assert "expected 1, saw 0" in str(failure.value)
        assert sim.signal("ghe.supply_valve.cmd") == 1.0, (
            "the command was written; the valve did not follow"
        )


async def test_write_to_a_silent_device_fails_as_our_exception(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """No reply to a write: WriteFailed carrying the link timeout, not a library exception."""
    async with run_drivers(pad, sim.endpoints, only=["umbilical"]) as rig:
        await sim.inject("dropout:umbilical")
        with pytest.raises(WriteFailed) as failure:
            await actuate(pad, rig.drivers, "umb.power.to_internal", clock=SystemClock())
        assert "no reply" in str(failure.value.cause)
        assert sim.signal("umb.power.transfer_cmd") == 1.0 or sim.signal("umb.power.source") == 0.0


async def test_devices_refuse_bad_writes_with_device_errors(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """A write to an unmapped coil or an out-of-range point is refused by the device: DeviceError."""
    async with run_drivers(pad, sim.endpoints, only=["plc", "umbilical"]) as rig:
        plc = rig.drivers["plc"]
        umbilical = rig.drivers["umbilical"]
        assert isinstance(plc, ModbusDriver)
        assert isinstance(umbilical, UmbilicalDriver)
        unmapped = (
            max(
                c.source.address
                for c in pad.channels_of("plc")
                if isinstance(c.source, RegisterSource) and c.source.table == "coil"
            )
            + 1
        )
        with pytest.raises(DeviceError, match="illegal data address"):
            await plc.link.write_bits(unmapped, [True])
        with pytest.raises(DeviceError, match="value out of range"):
            await umbilical.write_point(0x0200, 7)
        with pytest.raises(DeviceError, match="unknown group or point"):
            await umbilical.write_point(0x7777, 1)
        assert plc.statistics().device_errors == 1
        assert umbilical.statistics().device_errors == 2
