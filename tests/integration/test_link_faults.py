"""Every link fault gives its documented quality and statistic, and everything recovers.

See docs/drivers.md for the table these tests hold the drivers to.
"""

from __future__ import annotations

import numpy as np
import pytest
from pymodbus.client import AsyncModbusTcpClient

from groundseg.config import PadDefinition, RegisterSource, Table
from groundseg.drivers.modbus import ModbusDriver
from groundseg.quality import Quality
from hw_sim.pad import SimulatedPad
from tests.helpers import DriverRig, eventually, run_drivers

PLC_FAST = [
    "lox.s1.ullage_pressure.a",
    "lox.line.temp.6",
    "lox.s1.fill_valve.open_ls",
    "ker.s1.level.a",
]
GAS_FAST = ["gn2.supply.pressure.a", "ghe.bank.2.pressure", "lox.s1.vent_valve.open_ls"]
UMB_FAST = ["umb.power.source", "umb.bus.voltage", "umb.plate.s1_lox.mated"]
WX = ["wx.wind.m10.gust", "wx.gas.p3.vapour", "wx.atm.pressure"]


def _period(pad: PadDefinition, channel_ids: list[str]) -> float:
    return max(pad.channel(c).period_s for c in channel_ids)


def _wrong_values(
    rig: DriverRig, sim: SimulatedPad, pad: PadDefinition, since: int, channel_ids: list[str]
) -> list[str]:
    """Channels whose GOOD samples after batch `since` differ from the (frozen) readings."""
    wrong = []
    for channel_id in channel_ids:
        channel = pad.channel(channel_id)
        tolerance = (
            abs(channel.scale) / 2 + 1e-6 if isinstance(channel.source, RegisterSource) else 0.05
        )
        expected = sim.reading(channel_id)
        for batch in rig.batches[since:]:
            hits = (batch.channel == channel.index) & (batch.quality == Quality.GOOD)
            if np.any(np.abs(batch.value[hits] - expected) > tolerance):
                wrong.append(channel_id)
                break
    return wrong


async def test_plc_dropout_goes_stale_within_three_periods_and_recovers(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    async with run_drivers(pad, sim.endpoints, only=["plc"]) as rig:
        await rig.wait_quality(PLC_FAST, Quality.GOOD, within=3.0)
        await sim.inject("dropout:plc")
        took = await rig.wait_quality(PLC_FAST, Quality.STALE, within=5.0)
        assert took <= 3 * _period(pad, PLC_FAST) + 0.15
        await eventually(
            lambda: rig.drivers["plc"].statistics().timeouts > 0,
            within=2.0,
            what="the timeouts counted",
        )
        await sim.clear("dropout:plc")
        await rig.wait_quality(PLC_FAST, Quality.GOOD, within=5.0)


async def test_plc_disconnect_marks_everything_stale_and_reconnects(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """Connection dropped and refused: stale at once; back within the 2 s backoff cap once listening."""
    async with run_drivers(pad, sim.endpoints, only=["plc"]) as rig:
        await rig.wait_quality(PLC_FAST, Quality.GOOD, within=3.0)
        await sim.inject("disconnect:plc")
        took = await rig.wait_quality(
            [c.id for c in pad.channels_of("plc")], Quality.STALE, within=3.0
        )
        assert took < 3 * _period(pad, PLC_FAST)
        assert rig.drivers["plc"].statistics().link_losses >= 1
        await sim.clear("disconnect:plc")
        took = await rig.wait_quality(PLC_FAST, Quality.GOOD, within=5.0)
        assert took <= 2.0 + 0.5, "reconnect backoff is capped at two seconds"
        assert rig.drivers["plc"].statistics().reconnects >= 1


@pytest.mark.parametrize(
    ("fault", "counter"),
    [
        ("corrupt:gas_panel:rate=0.5", "bad_frames"),
        ("garbage:gas_panel:rate=0.7,bytes=11", "garbage_bytes"),
    ],
)
async def test_gas_panel_corruption_is_rejected_counted_and_never_decoded(
    pad: PadDefinition, sim: SimulatedPad, fault: str, counter: str
) -> None:
    """Bad CRCs and garbage between frames: counted, no wrong value ever reaches the batches."""
    async with run_drivers(pad, sim.endpoints, only=["gas_panel"]) as rig:
        await rig.wait_quality(GAS_FAST, Quality.GOOD, within=3.0)
        sim.pause()
        await sim.inject(fault)
        since = len(rig.batches)
        driver = rig.drivers["gas_panel"]
        await eventually(
            lambda: getattr(driver.statistics(), counter) > 0, within=5.0, what=f"{counter} counted"
        )
        await rig.wait_updates(
            "ghe.bank.2.pressure", rig.updates("ghe.bank.2.pressure") + 3, within=5.0
        )
        assert (
            _wrong_values(rig, sim, pad, since, [c.id for c in pad.channels_of("gas_panel")]) == []
        )
        await sim.clear(fault)
        # One request is in flight at a time: once a good reply is in, every later one was
        # framed after the fault cleared.
        await rig.wait_updates(
            "gn2.supply.pressure.a", rig.updates("gn2.supply.pressure.a") + 1, within=3.0
        )
        bad = driver.statistics().bad_frames
        await rig.wait_quality(GAS_FAST, Quality.GOOD, within=3.0)
        await rig.wait_updates(
            "gn2.supply.pressure.a", rig.updates("gn2.supply.pressure.a") + 3, within=3.0
        )
        assert driver.statistics().bad_frames == bad, "no bad frames once the fault is cleared"


async def test_gas_panel_late_reply_is_never_taken_for_the_next_answer(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """A reply after the timeout is discarded (counted late); the next read gets its own answer."""
    async with run_drivers(pad, sim.endpoints, only=["gas_panel"]) as rig:
        driver = rig.drivers["gas_panel"]
        assert isinstance(driver, ModbusDriver)
        await rig.wait_quality(GAS_FAST, Quality.GOOD, within=3.0)
        sim.pause()
        sim.plant.force("gn2.supply.pressure", 111.11)
        sim.plant.force("ghe.regulator.outlet_pressure", 22.22)
        await sim.inject(
            f"late:gas_panel:delay_ms={driver.device.timeout_s * 1000 * 1.5:.0f},count=1"
        )
        # Same function and size at two addresses: a naive master would hand A's late reply to B.
        a = pad.channel("gn2.supply.pressure.a").source
        b = pad.channel("ghe.regulator.outlet_pressure.a").source
        assert isinstance(a, RegisterSource)
        assert isinstance(b, RegisterSource)
        with pytest.raises(Exception, match="no matching reply"):
            await driver.link.read_words(Table.INPUT_REGISTER, a.address, 2)
        words = await driver.link.read_words(Table.INPUT_REGISTER, b.address, 2)
        own = [round(sim.reading(f"ghe.regulator.outlet_pressure.{r}") * 100) for r in "ab"]
        assert list(words) == own, "the second read is answered with its own registers"
        assert all(abs(int(w) - 2222) < 10 for w in words), "not with the late reply's 111.11 bar"
        await eventually(
            lambda: driver.statistics().late_replies >= 1, within=3.0, what="the late reply counted"
        )
        since = len(rig.batches)
        await rig.wait_updates(
            "gn2.supply.pressure.a", rig.updates("gn2.supply.pressure.a") + 2, within=3.0
        )
        assert _wrong_values(rig, sim, pad, since, [*GAS_FAST, "gn2.supply.pressure.b"]) == []


async def test_slow_replies_within_the_timeout_stay_good_beyond_it_go_stale(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    async with run_drivers(pad, sim.endpoints, only=["gas_panel"]) as rig:
        driver = rig.drivers["gas_panel"]
        await rig.wait_quality(GAS_FAST, Quality.GOOD, within=3.0)
        await sim.inject("slow:gas_panel:delay_ms=30")
        timeouts = driver.statistics().timeouts
        await rig.wait_updates(
            "gn2.supply.pressure.a", rig.updates("gn2.supply.pressure.a") + 3, within=5.0
        )
        assert rig.quality("gn2.supply.pressure.a") is Quality.GOOD
        assert driver.statistics().timeouts == timeouts
        await sim.clear("slow:gas_panel:delay_ms=30")
        await sim.inject(f"slow:gas_panel:delay_ms={driver.device.timeout_s * 1000 + 100:.0f}")
        await rig.wait_quality(GAS_FAST, Quality.STALE, within=5.0)
        assert driver.statistics().timeouts > timeouts
        await sim.clear()
        await rig.wait_quality(GAS_FAST, Quality.GOOD, within=5.0)


@pytest.mark.parametrize(
    ("fault", "counter"),
    [
        ("corrupt:umbilical:rate=0.5", "bad_frames"),
        ("garbage:umbilical:rate=0.7,bytes=9", "garbage_bytes"),
    ],
)
async def test_umbilical_corruption_is_rejected_and_counted(
    pad: PadDefinition, sim: SimulatedPad, fault: str, counter: str
) -> None:
    async with run_drivers(pad, sim.endpoints, only=["umbilical"]) as rig:
        await rig.wait_quality(UMB_FAST, Quality.GOOD, within=3.0)
        sim.pause()
        since = len(rig.batches)
        await sim.inject(fault)
        driver = rig.drivers["umbilical"]
        await eventually(
            lambda: getattr(driver.statistics(), counter) > 0, within=5.0, what=f"{counter} counted"
        )
        assert _wrong_values(rig, sim, pad, since, UMB_FAST) == []
        await sim.clear(fault)
        await rig.wait_quality(UMB_FAST, Quality.GOOD, within=3.0)


async def test_umbilical_late_reply_is_dropped_by_sequence_number(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    async with run_drivers(pad, sim.endpoints, only=["umbilical"]) as rig:
        driver = rig.drivers["umbilical"]
        await rig.wait_quality(UMB_FAST, Quality.GOOD, within=3.0)
        sim.pause()
        since = len(rig.batches)
        await sim.inject(
            f"late:umbilical:delay_ms={driver.device.timeout_s * 1000 * 1.5:.0f},count=2"
        )
        await eventually(
            lambda: driver.statistics().late_replies >= 1, within=5.0, what="a late reply dropped"
        )
        assert driver.statistics().timeouts >= 1
        assert _wrong_values(rig, sim, pad, since, UMB_FAST) == []
        await rig.wait_quality(UMB_FAST, Quality.GOOD, within=3.0)


async def test_weather_station_faults(pad: PadDefinition, sim: SimulatedPad) -> None:
    """Corrupt sentences are counted and dropped; silence goes stale; all recovers."""
    async with run_drivers(pad, sim.endpoints, only=["weather"]) as rig:
        driver = rig.drivers["weather"]
        await rig.wait_quality(WX, Quality.GOOD, within=5.0)
        await sim.inject("corrupt:weather:rate=0.6")
        await eventually(
            lambda: driver.statistics().bad_frames > 0, within=5.0, what="bad sentences counted"
        )
        await sim.clear()
        await sim.inject("dropout:weather")
        took = await rig.wait_quality(WX, Quality.STALE, within=8.0)
        assert took <= 3 * _period(pad, WX) + 0.2
        await sim.clear()
        await rig.wait_quality(WX, Quality.GOOD, within=5.0)


async def test_sensor_faults_show_in_the_values(pad: PadDefinition, sim: SimulatedPad) -> None:
    """Stuck, drifting and out-of-range sensors, read through the driver."""
    async with run_drivers(pad, sim.endpoints, only=["plc"]) as rig:
        await rig.wait_quality(PLC_FAST, Quality.GOOD, within=3.0)
        await sim.inject("stuck:lox.s1.ullage_pressure.b:value=2.5")
        await sim.inject("drift:lox.s1.ullage_pressure.c:rate=0.5")
        await sim.inject("stuck:lox.storage.level.a:value=120")
        await sim.inject("noise:lox.s1.temp.top:sigma=5")
        await eventually(
            lambda: rig.value("lox.s1.ullage_pressure.b") == pytest.approx(2.5),
            within=2.0,
            what="the stuck transmitter at 2.5 bar",
        )
        await eventually(
            lambda: (
                rig.value("lox.s1.ullage_pressure.c") > rig.value("lox.s1.ullage_pressure.a") + 0.5
            ),
            within=3.0,
            what="the drifting transmitter to move away from its twin",
        )
        await rig.wait_quality(["lox.storage.level.a"], Quality.INVALID, within=2.0)
        noisy = pad.channel("lox.s1.temp.top").index
        quiet = pad.channel("lox.s1.temp.mid").index
        await eventually(
            lambda: rig.updates("lox.s1.temp.top") > 20,
            within=5.0,
            what="twenty samples of the noisy probe",
        )
        spread = {
            i: np.std(
                [
                    v
                    for b in rig.batches[-20:]
                    for c, v in zip(b.channel, b.value, strict=True)
                    if c == i
                ]
            )
            for i in (noisy, quiet)
        }
        assert spread[noisy] > 1.0 > spread[quiet], f"noise fault spread {spread}"
        assert rig.quality("lox.storage.level.b") is Quality.GOOD
        await sim.clear()
        await rig.wait_quality(["lox.storage.level.a"], Quality.GOOD, within=2.0)
        await eventually(
            lambda: (
                abs(rig.value("lox.s1.ullage_pressure.b") - rig.value("lox.s1.ullage_pressure.a"))
                < 0.05
            ),
            within=2.0,
            what="the released transmitter to agree with its twin again",
        )


async def test_overpressure_and_leak_reach_the_ullage_transmitters(pad: PadDefinition) -> None:
    """At 20x speed: overpressure drives all three transmitters past MEOP; a leak vents it away."""
    async with (
        SimulatedPad(pad, speed=20.0, seed=3) as sim,
        run_drivers(pad, sim.endpoints, only=["plc", "gas_panel"]) as rig,
    ):
        transmitters = [f"lox.s2.ullage_pressure.{r}" for r in "abc"]
        meop = pad.channel(transmitters[0]).limits.high
        assert meop is not None
        sim.plant.command("lox.s2.vent_valve.cmd", 0.0)
        await sim.inject("overpressure:lox.s2:rate=0.05")
        await eventually(
            lambda: all(rig.value(t) > meop for t in transmitters),
            within=10.0,
            what="all three above MEOP",
        )
        await sim.clear()
        await sim.inject("leak:lox.s2:rate=0.2")
        await eventually(
            lambda: all(rig.value(t) < 1.2 for t in transmitters),
            within=10.0,
            what="the leak to bleed the tank down",
        )


async def test_a_fault_can_be_cleared_by_any_spelling_of_its_spec(sim: SimulatedPad) -> None:
    spec = await sim.inject("slow:gas_panel:delay_ms=30.0")
    assert spec == "slow:gas_panel:delay_ms=30"
    await sim.clear("slow:gas_panel:delay_ms=30.000")
    assert sim.faults == {}
    with pytest.raises(Exception, match="no active fault"):
        await sim.clear("slow:gas_panel:delay_ms=31")


async def test_stopped_serial_drivers_let_go_of_their_ports(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """Ports are locked exclusively: drivers stopped in this process must release them, or
    the next controller here (a restart on a bench) never gets the line."""
    serial_devices = ["gas_panel", "umbilical", "weather"]
    async with run_drivers(pad, sim.endpoints, only=serial_devices):
        pass
    async with run_drivers(pad, sim.endpoints, only=serial_devices, connect_within=5.0) as rig:
        await rig.wait_quality(UMB_FAST, Quality.GOOD, within=3.0)


async def test_a_sensor_fault_is_on_the_wire_at_once(pad: PadDefinition, sim: SimulatedPad) -> None:
    """A stuck switch reads stuck on the very next request, not a plant tick later: latency
    benches time from the fault, so the simulator must add none of its own."""
    source = pad.channel("pad.area_clear").source
    assert isinstance(source, RegisterSource)
    address = source.address
    host, port = sim.endpoints["plc"].rsplit(":", 1)
    client = AsyncModbusTcpClient(host, port=int(port))
    await client.connect()
    try:
        unit = pad.devices["plc"].unit_id
        before = await client.read_discrete_inputs(address, count=1, device_id=unit)
        assert before.bits[0] is True, "the pad starts clear"
        for _ in range(20):
            await sim.inject("stuck:pad.area_clear:value=0")
            after = await client.read_discrete_inputs(address, count=1, device_id=unit)
            assert after.bits[0] is False
            await sim.clear("stuck:pad.area_clear:value=0")
            back = await client.read_discrete_inputs(address, count=1, device_id=unit)
            assert back.bits[0] is True
    finally:
        client.close()
