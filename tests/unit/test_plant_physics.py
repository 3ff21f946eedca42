"""The simulated pad plant, driven like an operator would drive the real one.

`PadPlant` is pure: commands in, `advance(dt)` in simulated seconds, signal values out. The
numbers below (travel times, delays, MEOP) are the plant's own, read from hw_sim/plant.
The LOX loading procedure runs once per module (chilldown takes about 500 simulated
seconds) and records what an operator would watch; the tests then check one behaviour each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from groundseg.config import PadDefinition
from hw_sim.pad import SimulatedPad
from hw_sim.plant.model import LOX, VALVES, PadPlant, step_for_speed
from hw_sim.plant.propellant import ATMOSPHERE_BAR
from hw_sim.plant.signals import UnknownSignalError
from hw_sim.plant.umbilical import (
    DEMATE_S,
    MAST_RETRACTED_DEG,
    MAST_SWING_DEG_S,
    MAST_UNLATCH_S,
    TRANSFER_DELAY_S,
)

TRAVEL_S = {valve: travel for valve, travel, _ in VALVES}
LOX_S1_MEOP_BAR = LOX.meop_bar[0]
LOX_S1_CAPACITY_T = LOX.stage_t[0]
CHILLED_K = 120.0
CHILLDOWN_RPM = 600.0
FILL_RPM = 2400.0


class Pad:
    """A plant with the operator's verbs: command, wait, read."""

    def __init__(self, seed: int = 0) -> None:
        self.plant = PadPlant(seed=seed)

    def read(self, signal: str) -> float:
        return float(self.plant.values()[self.plant.signals.index(signal)])

    def command(self, signal: str, value: float) -> None:
        self.plant.command(signal, value)

    def wait(self, seconds: float) -> None:
        self.plant.advance(seconds)

    def set_valves(self, value: float, *valves: str) -> None:
        """Command valves and wait out the longest travel time."""
        for valve in valves:
            self.command(f"{valve}.cmd", value)
        self.wait(max(TRAVEL_S[v] for v in valves) + 0.1)

    def s1_lox_t(self) -> float:
        return self.read("lox.s1.level") / 100.0 * LOX_S1_CAPACITY_T


# -- the LOX loading run --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FillWindow:
    stage_gain_t: float
    storage_drop_t: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LoxLoadingRun:
    line_end_start_k: float
    line_end_chilled_k: float
    chilldown_s: float
    warm_first_5_s: FillWindow
    chilled_first_5_s: FillWindow
    fast_fill_60_s: FillWindow
    s1_level_after_fill: float
    ullage_vent_closed_start_bar: float
    ullage_after_100_s_boiloff_bar: float
    ullage_after_venting_bar: float


def start_fast_fill(pad: Pad) -> FillWindow:
    """Spin the pump up with no flow, open fast fill into stage 1; the first 5 s of filling."""
    pad.command("lox.pump.speed_sp", FILL_RPM)
    pad.command("lox.pump.cmd", 1.0)
    pad.wait(10.0)
    for valve in ("lox.fast_fill_valve", "lox.s1.fill_valve"):
        pad.command(f"{valve}.cmd", 1.0)
    pad.wait(TRAVEL_S["lox.fast_fill_valve"] + 0.5)
    return measure_fill(pad, 5.0)


def measure_fill(pad: Pad, seconds: float) -> FillWindow:
    stage, storage = pad.s1_lox_t(), pad.read("lox.storage.mass")
    pad.wait(seconds)
    return FillWindow(
        stage_gain_t=pad.s1_lox_t() - stage, storage_drop_t=storage - pad.read("lox.storage.mass")
    )


@pytest.fixture(scope="module")
def lox_loading() -> LoxLoadingRun:
    warm = Pad(seed=11)
    warm.set_valves(1.0, "lox.storage.outlet_valve")
    warm_window = start_fast_fill(warm)

    pad = Pad(seed=11)
    line_end_start = pad.read("lox.line.temp.6")
    # Chilldown: slow flow through the chilldown valve, out of the line bleed.
    for valve in ("lox.storage.outlet_valve", "lox.line.bleed_valve", "lox.chilldown_valve"):
        pad.command(f"{valve}.cmd", 1.0)
    pad.command("lox.pump.speed_sp", CHILLDOWN_RPM)
    pad.command("lox.pump.cmd", 1.0)
    while pad.read("lox.line.temp.6") >= CHILLED_K and pad.plant.time_s < 1500.0:
        pad.wait(5.0)
    chilldown_s, chilled_k = pad.plant.time_s, pad.read("lox.line.temp.6")
    pad.set_valves(0.0, "lox.line.bleed_valve", "lox.chilldown_valve")

    chilled_window = start_fast_fill(pad)
    pad.wait(20.0)
    fast_fill = measure_fill(pad, 60.0)

    pad.set_valves(0.0, "lox.fast_fill_valve", "lox.s1.fill_valve", "lox.s1.vent_valve")
    level = pad.read("lox.s1.level")
    vent_closed = pad.read("lox.s1.ullage_pressure")
    pad.wait(100.0)
    after_boiloff = pad.read("lox.s1.ullage_pressure")
    pad.set_valves(1.0, "lox.s1.vent_valve")
    pad.wait(20.0)
    return LoxLoadingRun(
        line_end_start_k=line_end_start,
        line_end_chilled_k=chilled_k,
        chilldown_s=chilldown_s,
        warm_first_5_s=warm_window,
        chilled_first_5_s=chilled_window,
        fast_fill_60_s=fast_fill,
        s1_level_after_fill=level,
        ullage_vent_closed_start_bar=vent_closed,
        ullage_after_100_s_boiloff_bar=after_boiloff,
        ullage_after_venting_bar=pad.read("lox.s1.ullage_pressure"),
    )


def test_chilldown_brings_the_line_end_below_120_k(lox_loading: LoxLoadingRun) -> None:
    assert lox_loading.line_end_start_k > 250.0
    assert lox_loading.line_end_chilled_k < CHILLED_K
    assert 60.0 < lox_loading.chilldown_s < 1500.0


def test_warm_line_fills_the_stage_tank_only_slowly(lox_loading: LoxLoadingRun) -> None:
    """Most of what a warm line carries flashes to vapour before it reaches the tank."""
    warm, chilled = lox_loading.warm_first_5_s, lox_loading.chilled_first_5_s
    assert warm.storage_drop_t == pytest.approx(chilled.storage_drop_t, rel=0.05)
    assert warm.stage_gain_t < 0.3 * chilled.stage_gain_t
    assert warm.stage_gain_t < 0.3 * warm.storage_drop_t


def test_chilled_line_fills_the_stage_tank_fast(lox_loading: LoxLoadingRun) -> None:
    chilled = lox_loading.fast_fill_60_s
    assert chilled.stage_gain_t / 60.0 > 0.05  # over 50 kg/s
    assert lox_loading.s1_level_after_fill > 1.5


def test_fast_fill_moves_the_same_mass_from_storage_to_the_stage_tank(
    lox_loading: LoxLoadingRun,
) -> None:
    window = lox_loading.fast_fill_60_s
    assert window.stage_gain_t == pytest.approx(window.storage_drop_t, rel=0.01)


def test_boiloff_raises_ullage_pressure_with_the_vent_closed(
    lox_loading: LoxLoadingRun,
) -> None:
    assert lox_loading.ullage_vent_closed_start_bar == pytest.approx(ATMOSPHERE_BAR, abs=0.01)
    rise = lox_loading.ullage_after_100_s_boiloff_bar - lox_loading.ullage_vent_closed_start_bar
    assert rise > 0.02


def test_opening_the_vent_brings_ullage_back_to_atmospheric(
    lox_loading: LoxLoadingRun,
) -> None:
    assert lox_loading.ullage_after_venting_bar == pytest.approx(ATMOSPHERE_BAR, abs=0.005)


# -- valves ---------------------------------------------------------------------------


def test_valve_is_in_transit_halfway_through_its_travel_then_open() -> None:
    pad = Pad()
    travel = TRAVEL_S["lox.s1.fill_valve"]
    assert pad.read("lox.s1.fill_valve.closed_ls") == 1.0
    pad.command("lox.s1.fill_valve.cmd", 1.0)
    pad.wait(travel / 2.0)
    assert pad.read("lox.s1.fill_valve.open_ls") == 0.0
    assert pad.read("lox.s1.fill_valve.closed_ls") == 0.0
    assert pad.read("lox.s1.fill_valve.position") == pytest.approx(50.0, abs=1.0)
    pad.wait(travel / 2.0 + 0.1)
    assert pad.read("lox.s1.fill_valve.open_ls") == 1.0
    assert pad.read("lox.s1.fill_valve.closed_ls") == 0.0
    assert pad.read("lox.s1.fill_valve.position") == pytest.approx(100.0)


def test_valve_closes_back_onto_its_closed_switch() -> None:
    pad = Pad()
    pad.set_valves(1.0, "lox.chilldown_valve")
    pad.command("lox.chilldown_valve.cmd", 0.0)
    pad.wait(TRAVEL_S["lox.chilldown_valve"] / 2.0)
    assert pad.read("lox.chilldown_valve.open_ls") == 0.0
    assert pad.read("lox.chilldown_valve.closed_ls") == 0.0
    pad.wait(TRAVEL_S["lox.chilldown_valve"] / 2.0 + 0.1)
    assert pad.read("lox.chilldown_valve.closed_ls") == 1.0


def test_vent_valves_fail_safe_open_at_start() -> None:
    pad = Pad()
    for tank in ("lox.s1", "lox.s2", "ker.s1", "ker.s2"):
        assert pad.read(f"{tank}.vent_valve.open_ls") == 1.0
        assert pad.read(f"{tank}.press_valve.closed_ls") == 1.0


def test_stuck_valve_does_not_move() -> None:
    pad = Pad()
    pad.plant.set_valve_stuck("lox.s1.fill_valve", True)
    pad.command("lox.s1.fill_valve.cmd", 1.0)
    pad.wait(3.0 * TRAVEL_S["lox.s1.fill_valve"])
    assert pad.read("lox.s1.fill_valve.position") == 0.0
    assert pad.read("lox.s1.fill_valve.closed_ls") == 1.0
    assert pad.read("lox.s1.fill_valve.open_ls") == 0.0
    assert pad.read("lox.s1.fill_valve.cmd") == 1.0


def test_valve_stuck_midway_stays_there_and_moves_again_when_freed() -> None:
    pad = Pad()
    pad.command("lox.s1.fill_valve.cmd", 1.0)
    pad.wait(TRAVEL_S["lox.s1.fill_valve"] / 2.0)
    pad.plant.set_valve_stuck("lox.s1.fill_valve", True)
    pad.command("lox.s1.fill_valve.cmd", 0.0)
    pad.wait(5.0)
    assert pad.read("lox.s1.fill_valve.position") == pytest.approx(50.0, abs=1.0)
    pad.plant.set_valve_stuck("lox.s1.fill_valve", False)
    pad.wait(TRAVEL_S["lox.s1.fill_valve"])
    assert pad.read("lox.s1.fill_valve.closed_ls") == 1.0


def test_sticking_an_unknown_valve_is_refused() -> None:
    with pytest.raises(UnknownSignalError, match=r"lox\.s3\.fill_valve"):
        PadPlant().set_valve_stuck("lox.s3.fill_valve", True)


# -- tank pressure --------------------------------------------------------------------


def pressurised(pad: Pad) -> None:
    """GHe supply open, stage-1 LOX vent closed, pressurisation valve open for 40 s."""
    pad.set_valves(1.0, "ghe.supply_valve")
    pad.set_valves(0.0, "lox.s1.vent_valve")
    pad.set_valves(1.0, "lox.s1.press_valve")
    pad.wait(40.0)


def test_pressurisation_raises_ullage_to_the_setpoint() -> None:
    pad = Pad()
    setpoint = pad.read("lox.s1.press_setpoint")
    assert 2.0 < setpoint < LOX_S1_MEOP_BAR
    pressurised(pad)
    assert pad.read("lox.s1.ullage_pressure") == pytest.approx(setpoint, abs=0.01)
    assert pad.read("lox.s1.relief_lifted") == 0.0


def test_pressurisation_follows_a_commanded_setpoint() -> None:
    pad = Pad()
    pad.command("lox.s1.press_setpoint", 1.8)
    pressurised(pad)
    assert pad.read("lox.s1.press_setpoint") == 1.8
    assert pad.read("lox.s1.ullage_pressure") == pytest.approx(1.8, abs=0.01)


def test_pressurisation_needs_the_ghe_supply_open() -> None:
    pad = Pad()
    pad.set_valves(0.0, "lox.s1.vent_valve")
    pad.set_valves(1.0, "lox.s1.press_valve")
    pad.wait(60.0)
    assert pad.read("lox.s1.ullage_pressure") == pytest.approx(ATMOSPHERE_BAR, abs=0.01)


def test_pressurisation_draws_down_the_ghe_banks() -> None:
    pad = Pad()
    before = pad.read("ghe.bank.1.pressure")
    pressurised(pad)
    assert pad.read("ghe.bank.1.pressure") < before


def test_sealed_tank_holds_its_pressure() -> None:
    pad = Pad()
    pressurised(pad)
    pad.set_valves(0.0, "lox.s1.press_valve")
    held = pad.read("lox.s1.ullage_pressure")
    pad.wait(30.0)
    assert pad.read("lox.s1.ullage_pressure") == pytest.approx(held, abs=0.001)


def test_leak_makes_ullage_pressure_decay() -> None:
    pad = Pad()
    pressurised(pad)
    pad.set_valves(0.0, "lox.s1.press_valve")
    held = pad.read("lox.s1.ullage_pressure")
    pad.plant.set_leak("lox.s1", 0.02)
    pad.wait(30.0)
    expected = ATMOSPHERE_BAR + (held - ATMOSPHERE_BAR) * np.exp(-0.02 * 30.0)
    assert pad.read("lox.s1.ullage_pressure") == pytest.approx(expected, abs=0.02)
    assert pad.read("lox.s1.ullage_pressure") < held - 0.5


def test_overpressure_drives_ullage_past_meop_and_lifts_the_relief() -> None:
    pad = Pad()
    pad.set_valves(0.0, "lox.s1.vent_valve")
    pad.plant.set_overpressure("lox.s1", 0.1)
    pad.wait(20.0)
    assert pad.read("lox.s1.relief_lifted") == 0.0
    pad.wait(15.0)
    assert pad.read("lox.s1.ullage_pressure") > LOX_S1_MEOP_BAR + 0.25
    assert pad.read("lox.s1.relief_lifted") == 1.0


def test_relief_valve_caps_pressure_without_a_fault() -> None:
    pad = Pad()
    pad.command("lox.s1.press_setpoint", 4.0)
    pressurised(pad)
    assert pad.read("lox.s1.relief_lifted") == 1.0
    assert LOX_S1_MEOP_BAR < pad.read("lox.s1.ullage_pressure") < LOX_S1_MEOP_BAR + 0.4


@pytest.mark.parametrize("tank", ["lox.s3", "n2o.s1", "lox"])
def test_tank_faults_refuse_an_unknown_tank(tank: str) -> None:
    with pytest.raises(UnknownSignalError, match=r"expected one of lox\.s1"):
        PadPlant().set_leak(tank, 0.1)


# -- umbilical, power and mast --------------------------------------------------------


def test_power_transfer_switches_source_after_the_relay_delay() -> None:
    pad = Pad()
    assert pad.read("umb.power.source") == 0.0
    pad.command("umb.power.transfer_cmd", 1.0)
    pad.wait(TRANSFER_DELAY_S / 2.0)
    assert pad.read("umb.power.source") == 0.0
    pad.wait(TRANSFER_DELAY_S / 2.0 + 0.1)
    assert pad.read("umb.power.source") == 1.0


def test_battery_discharges_on_internal_power_only() -> None:
    ground, internal = Pad(), Pad()
    internal.command("umb.power.transfer_cmd", 1.0)
    ground.wait(60.0)
    internal.wait(60.0)
    assert ground.read("umb.battery.soc") == 100.0
    # 36 A for about 60 s from a 100 Ah battery: 0.6 % of its charge.
    assert internal.read("umb.battery.soc") == pytest.approx(99.4, abs=0.02)
    assert internal.read("umb.battery.voltage") < ground.read("umb.battery.voltage")


def test_plate_demate_unlocks_then_demates() -> None:
    pad = Pad()
    assert (pad.read("umb.plate.s1_lox.locked"), pad.read("umb.plate.s1_lox.mated")) == (1.0, 1.0)
    pad.command("umb.plate.s1_lox.demate_cmd", 1.0)
    pad.wait(DEMATE_S / 2.0)
    assert (pad.read("umb.plate.s1_lox.locked"), pad.read("umb.plate.s1_lox.mated")) == (0.0, 1.0)
    pad.wait(DEMATE_S / 2.0 + 0.1)
    assert (pad.read("umb.plate.s1_lox.locked"), pad.read("umb.plate.s1_lox.mated")) == (0.0, 0.0)
    assert pad.read("umb.plate.s1_ker.mated") == 1.0
    assert pad.read("umb.plates.all_mated") == 0.0


def test_mast_retract_unlatches_then_swings_to_retracted() -> None:
    pad = Pad()
    assert (pad.read("umb.mast.latched"), pad.read("umb.mast.retracted")) == (1.0, 0.0)
    pad.command("umb.mast.retract_cmd", 1.0)
    pad.wait(MAST_UNLATCH_S / 2.0)
    assert pad.read("umb.mast.latched") == 0.0
    assert pad.read("umb.mast.position") == 0.0
    pad.wait(MAST_UNLATCH_S / 2.0 + 1.0)
    assert pad.read("umb.mast.position") == pytest.approx(MAST_SWING_DEG_S * 1.0, abs=1.5)
    assert pad.read("umb.mast.retracted") == 0.0
    pad.wait(MAST_RETRACTED_DEG / MAST_SWING_DEG_S)
    assert pad.read("umb.mast.retracted") == 1.0
    assert pad.read("umb.mast.position") == MAST_RETRACTED_DEG


# -- forcing and determinism ----------------------------------------------------------


def test_force_overrides_a_signal_until_released() -> None:
    pad = Pad()
    assert pad.read("pad.area_clear") == 1.0
    pad.plant.force("pad.area_clear", 0.0)
    pad.wait(1.0)
    assert pad.read("pad.area_clear") == 0.0
    pad.plant.force("pad.area_clear", None)
    assert pad.read("pad.area_clear") == 1.0


def test_forcing_an_unknown_signal_is_refused() -> None:
    with pytest.raises(UnknownSignalError, match=r"pad\.area_clean"):
        PadPlant().force("pad.area_clean", 0.0)


def test_commanding_an_unknown_input_is_refused() -> None:
    with pytest.raises(UnknownSignalError, match=r"lox\.s1\.fill_valve\.command"):
        PadPlant().command("lox.s1.fill_valve.command", 1.0)


def run(seed: int) -> np.ndarray:
    pad = Pad(seed=seed)
    pad.command("lox.storage.outlet_valve.cmd", 1.0)
    pad.command("umb.power.transfer_cmd", 1.0)
    pad.wait(20.0)
    return pad.plant.values().copy()


def test_same_seed_gives_the_same_plant() -> None:
    np.testing.assert_array_equal(run(5), run(5))


def test_different_seeds_give_different_weather() -> None:
    assert not np.array_equal(run(5), run(6))


def test_a_speed_change_takes_the_physics_step_for_the_new_speed(pad: PadDefinition) -> None:
    """A bench slowing down for the terminal count gets the fine step back; speeding up,
    the coarse one (the plant's CPU cost stays the same)."""
    sim = SimulatedPad(pad, speed=600.0)
    assert sim.plant.max_step_s == step_for_speed(600.0)
    sim.set_speed(1.0)
    assert (sim.clock.speed, sim.plant.max_step_s) == (1.0, step_for_speed(1.0))
    assert step_for_speed(1.0) < step_for_speed(600.0)
    with pytest.raises(ValueError, match="positive"):
        sim.set_speed(0.0)
    assert (sim.clock.speed, sim.plant.max_step_s) == (1.0, step_for_speed(1.0))
