"""A propellant system: storage tank, transfer pump, transfer line, stage-1 and stage-2 tanks.

Mass balance: the pump (or storage pressure alone) pushes propellant through whichever feed
valves are open (chilldown, slow fill, fast fill, replenish or topping) into whichever
destinations are open (the stage fill valves, the line bleed, recirculation back to
storage). A warm LOX line flashes most of the flow to vapour, so tanks only fill once
chilldown has brought the line cold; that is why the sequence chills the line first.
Cryogenic tanks boil off; the boil-off raises ullage pressure unless the vent is open.
Pressurisation valves (gas panel) raise it towards the setpoint; relief valves cap it
unless an overpressure fault overrides them.

State is in numpy arrays: the two stage tanks side by side, the line's temperature points
along its length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hw_sim.plant.signals import Component
from hw_sim.plant.valves import ValveBank

__all__ = ["AMBIENT_K", "ATMOSPHERE_BAR", "PressurantSupply", "PropellantSpec", "PropellantSystem"]

AMBIENT_K = 280.0
ATMOSPHERE_BAR = 1.013
PRESSURE_FED_HEAD = 0.08
"""Fraction of full pump head that storage pressure alone provides."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PropellantSpec:
    prefix: str
    liquid_k: float
    cryogenic: bool
    storage_t: float
    storage_initial_t: float
    storage_pressure_bar: float
    stage_t: tuple[float, float]
    """Flight load of each stage tank, tonnes (100 % level)."""
    meop_bar: tuple[float, float]
    boiloff_kg_s: tuple[float, float]
    storage_boiloff_kg_s: float
    rated_rpm: float
    max_flow_kg_s: float
    pump_head_bar: float
    feed_valves: tuple[tuple[str, float], ...]
    """(valve id, conductance relative to the fast-fill valve)."""
    line_points: int
    probes: tuple[tuple[str, float], ...]
    """Stage-tank temperature probes: (name, height as a fraction of the tank)."""


class PressurantSupply(Protocol):
    def pressure_bar(self) -> float:
        """Pressure the pressurant supply delivers to the pressurisation valves."""
        ...


class PropellantSystem(Component):
    def __init__(
        self, spec: PropellantSpec, valves: ValveBank, pressurant: PressurantSupply
    ) -> None:
        super().__init__()
        self.spec = spec
        self.valves = valves
        self.pressurant = pressurant
        p = spec.prefix
        self.storage_kg = spec.storage_initial_t * 1000.0
        self.stage_kg = np.zeros(2)
        self.stage_capacity_kg = np.array(spec.stage_t) * 1000.0
        self.ullage_bar = np.full(2, ATMOSPHERE_BAR)
        self.meop_bar = np.array(spec.meop_bar)
        self.relief_bar = self.meop_bar + 0.25
        self.boiloff = np.array(spec.boiloff_kg_s)
        self.probe_heights = np.array([h for _, h in spec.probes])
        self.probe_k = np.full(
            (2, len(spec.probes)), AMBIENT_K if spec.cryogenic else spec.liquid_k
        )
        self.line_k = np.full(spec.line_points, AMBIENT_K)
        self.speed_rpm = 0.0
        self.speed_setpoint = 0.8 * spec.rated_rpm
        self.pump_command = 0.0
        self.pump_fault = 0.0
        self.bearing_c = 15.0
        self.flow_kg_s = 0.0
        self.line_bar = spec.storage_pressure_bar
        self.press_setpoint = np.array([2.6, 2.7])
        self.leak_rate = np.zeros(2)
        self.overpressure_bar_s = np.zeros(2)
        stages = (f"{p}.s1", f"{p}.s2")

        self.output(
            [
                f"{p}.storage.level",
                f"{p}.storage.mass",
                f"{p}.storage.pressure",
                f"{p}.storage.temp",
                f"{p}.storage.level_low",
            ],
            self._storage_outputs,
        )
        self.output(
            [f"{s}.level" for s in stages], lambda: self.stage_kg / self.stage_capacity_kg * 100.0
        )
        self.output([f"{s}.mass" for s in stages], lambda: self.stage_kg / 1000.0)
        self.output([f"{s}.ullage_pressure" for s in stages], lambda: self.ullage_bar)
        self.output(
            [f"{s}.relief_lifted" for s in stages],
            lambda: (self.ullage_bar >= self.relief_bar - 0.02).astype(np.float64),
        )
        self.output([f"{s}.press_setpoint" for s in stages], lambda: self.press_setpoint)
        for switch in ("98", "100"):
            self.output(
                [f"{s}.level_switch.{switch}" for s in stages], self._level_switch(float(switch))
            )
        for column, (probe, _) in enumerate(spec.probes):
            self.output([f"{s}.temp.{probe}" for s in stages], self._probe(column))
        self.output(
            [f"{p}.line.temp.{i + 1}" for i in range(spec.line_points)], lambda: self.line_k
        )
        self.output(
            [f"{p}.line.flow", f"{p}.line.pressure"],
            lambda: np.array([self.flow_kg_s, self.line_bar]),
        )
        self.output(
            [
                f"{p}.pump.{name}"
                for name in (
                    "cmd",
                    "running",
                    "fault",
                    "speed",
                    "speed_sp",
                    "suction_pressure",
                    "discharge_pressure",
                    "motor_current",
                    "bearing_temp",
                )
            ],
            self._pump_outputs,
        )
        self.input(f"{p}.pump.cmd", self._set_pump_command)
        self.input(f"{p}.pump.speed_sp", self._set_speed_setpoint)
        for stage_index, stage in enumerate(stages):
            self.input(f"{stage}.press_setpoint", self._press_setpoint_setter(stage_index))

    # -- inputs -------------------------------------------------------------------------

    def _set_pump_command(self, value: float) -> None:
        self.pump_command = 1.0 if value >= 0.5 else 0.0

    def _set_speed_setpoint(self, value: float) -> None:
        self.speed_setpoint = float(np.clip(value, 0.0, self.spec.rated_rpm))

    def _press_setpoint_setter(self, stage: int) -> _SetArray:
        return _SetArray(self.press_setpoint, stage)

    # -- outputs ------------------------------------------------------------------------

    def _storage_outputs(self) -> np.ndarray:
        level = self.storage_kg / (self.spec.storage_t * 1000.0) * 100.0
        temp = self.spec.liquid_k + (0.5 if self.spec.cryogenic else 0.0)
        return np.array(
            [
                level,
                self.storage_kg / 1000.0,
                self.spec.storage_pressure_bar,
                temp,
                float(level < 10.0),
            ]
        )

    def _level_switch(self, percent: float) -> _LevelSwitch:
        return _LevelSwitch(self, percent)

    def _probe(self, column: int) -> _ProbeColumn:
        return _ProbeColumn(self, column)

    def _pump_outputs(self) -> np.ndarray:
        spec = self.spec
        head = (self.speed_rpm / spec.rated_rpm) ** 2
        running = float(self.pump_command > 0.5 and self.speed_rpm > 300.0 and not self.pump_fault)
        storage_level = self.storage_kg / (spec.storage_t * 1000.0)
        suction = spec.storage_pressure_bar + 0.6 * storage_level
        discharge = suction + spec.pump_head_bar * head
        flow_share = min(self.flow_kg_s / spec.max_flow_kg_s, 1.0)
        current = (12.0 + 200.0 * head**1.5 * (0.4 + 0.6 * flow_share)) if running else 0.0
        return np.array(
            [
                self.pump_command,
                running,
                self.pump_fault,
                self.speed_rpm,
                self.speed_setpoint,
                suction,
                discharge,
                current,
                self.bearing_c,
            ]
        )

    # -- physics ------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        spec, p = self.spec, self.spec.prefix
        fraction = self.valves.open_fraction
        # Pump: first-order spin-up towards the setpoint while commanded and healthy.
        target = self.speed_setpoint if (self.pump_command > 0.5 and not self.pump_fault) else 0.0
        self.speed_rpm += (target - self.speed_rpm) * (1.0 - np.exp(-dt / 2.5))
        self.bearing_c += (15.0 + 35.0 * self.speed_rpm / spec.rated_rpm - self.bearing_c) * (
            1.0 - np.exp(-dt / 120.0)
        )
        head = (self.speed_rpm / spec.rated_rpm) ** 2

        outlet = fraction(f"{p}.storage.outlet_valve")
        feed = sum(weight * fraction(valve) for valve, weight in spec.feed_valves)
        fill = np.array([fraction(f"{p}.s1.fill_valve"), fraction(f"{p}.s2.fill_valve")])
        bleed = 0.3 * fraction(f"{p}.line.bleed_valve")
        recirc = (
            0.2 * fraction(f"{p}.line.recirc_valve")
            if self.valves.has(f"{p}.line.recirc_valve")
            else 0.0
        )
        destination = float(fill.sum()) + bleed + recirc
        available = self.storage_kg > 0.0
        raw_flow = (
            spec.max_flow_kg_s * (head + PRESSURE_FED_HEAD) * outlet * min(feed, destination)
            if available
            else 0.0
        )
        self.flow_kg_s = raw_flow

        # A warm line flashes LOX to vapour: only a cold line delivers liquid to the tanks.
        liquid_share = (
            float(np.clip((150.0 - self.line_k[-1]) / 40.0, 0.15, 1.0)) if spec.cryogenic else 1.0
        )
        delivered = np.zeros(2)
        if destination > 0.0 and raw_flow > 0.0:
            delivered = raw_flow * liquid_share * fill / destination
            returned = raw_flow * recirc / destination
            self.storage_kg -= (raw_flow - returned) * dt

        drain = fraction(f"{p}.drain_valve")
        drained = (
            25.0
            * drain
            * fill
            * np.sqrt(np.clip(self.stage_kg / self.stage_capacity_kg, 0.0, None))
        )
        wetted = np.clip(self.stage_kg / (0.2 * self.stage_capacity_kg), 0.0, 1.0)
        boiled = self.boiloff * wetted if spec.cryogenic else np.zeros(2)
        self.stage_kg = np.clip(
            self.stage_kg + (delivered - drained - boiled) * dt, 0.0, 1.05 * self.stage_capacity_kg
        )
        self.storage_kg = max(
            self.storage_kg + float(drained.sum()) * dt - spec.storage_boiloff_kg_s * dt, 0.0
        )

        self._step_line(dt, raw_flow)
        self._step_ullage(dt, boiled)
        self._step_probes(dt)
        any_feed = feed > 0.0 and outlet > 0.0
        discharge = spec.storage_pressure_bar + spec.pump_head_bar * head
        line_target = (
            ATMOSPHERE_BAR + (discharge - ATMOSPHERE_BAR) * (0.85 if destination > 0 else 1.0)
            if any_feed
            else spec.storage_pressure_bar
        )
        self.line_bar += (line_target - self.line_bar) * (1.0 - np.exp(-dt / 1.0))

    def _step_line(self, dt: float, flow: float) -> None:
        if self.spec.cryogenic and flow > 0.05:
            # The cold front moves down the line point by point; more flow, faster front.
            tau = float(np.clip(20.0 * np.sqrt(5.0 / flow), 3.0, 120.0))
            upstream = np.concatenate(([self.spec.liquid_k], self.line_k[:-1]))
            self.line_k += (upstream - self.line_k) * (1.0 - np.exp(-dt / tau))
        else:
            resting = AMBIENT_K if self.spec.cryogenic else self.spec.liquid_k
            self.line_k += (resting - self.line_k) * (1.0 - np.exp(-dt / 900.0))

    def _step_ullage(self, dt: float, boiled: np.ndarray) -> None:
        p = self.spec.prefix
        fraction = self.valves.open_fraction
        vent = np.array([fraction(f"{p}.s1.vent_valve"), fraction(f"{p}.s2.vent_valve")])
        press = np.array([fraction(f"{p}.s1.press_valve"), fraction(f"{p}.s2.press_valve")])
        supply = self.pressurant.pressure_bar()
        rate = 0.01 * boiled * (1.0 - vent)
        rate -= 0.5 * vent * (self.ullage_bar - ATMOSPHERE_BAR)
        if supply > 0.0:
            target = np.minimum(self.press_setpoint, supply)
            rate += 0.3 * press * np.clip(target - self.ullage_bar, 0.0, None)
        rate -= self.leak_rate * (self.ullage_bar - ATMOSPHERE_BAR)
        rate += self.overpressure_bar_s
        relieving = (self.ullage_bar > self.relief_bar) & (self.overpressure_bar_s <= 0.0)
        rate -= np.where(relieving, 2.0 * (self.ullage_bar - self.relief_bar), 0.0)
        self.ullage_bar = np.clip(self.ullage_bar + rate * dt, 0.5, 9.5)

    def _step_probes(self, dt: float) -> None:
        level = (self.stage_kg / self.stage_capacity_kg)[:, None]
        wet = level > self.probe_heights[None, :]
        gas_k = (
            np.where(self.stage_kg > 500.0, 150.0, AMBIENT_K)[:, None]
            if self.spec.cryogenic
            else self.spec.liquid_k
        )
        target = np.where(wet, self.spec.liquid_k, gas_k)
        tau = np.where(wet, 15.0, 300.0)
        self.probe_k += (target - self.probe_k) * (1.0 - np.exp(-dt / tau))

    def venting(self) -> float:
        """How much of this system is venting propellant to the pad, 0 to 1."""
        p = self.spec.prefix
        fraction = self.valves.open_fraction
        vent = np.array([fraction(f"{p}.s1.vent_valve"), fraction(f"{p}.s2.vent_valve")])
        wetted = np.clip(self.stage_kg / (0.2 * self.stage_capacity_kg), 0.0, 1.0)
        return float((vent * wetted).mean())

    def consumption_bar_s(self) -> float:
        """Pressurant drawn from the GHe banks by this system's pressurisation valves."""
        p = self.spec.prefix
        fraction = self.valves.open_fraction
        press = np.array([fraction(f"{p}.s1.press_valve"), fraction(f"{p}.s2.press_valve")])
        return float(
            (press * (0.02 + 0.2 * np.clip(self.press_setpoint - self.ullage_bar, 0.0, None))).sum()
        )


class _SetArray:
    def __init__(self, array: np.ndarray, slot: int) -> None:
        self._array = array
        self._slot = slot

    def __call__(self, value: float) -> None:
        self._array[self._slot] = value


class _LevelSwitch:
    def __init__(self, system: PropellantSystem, percent: float) -> None:
        self._system = system
        self._percent = percent

    def __call__(self) -> np.ndarray:
        level = self._system.stage_kg / self._system.stage_capacity_kg * 100.0
        return (level >= self._percent).astype(np.float64)


class _ProbeColumn:
    def __init__(self, system: PropellantSystem, column: int) -> None:
        self._system = system
        self._column = column

    def __call__(self) -> np.ndarray:
        return self._system.probe_k[:, self._column]
