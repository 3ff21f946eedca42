"""The simulated Baiterek pad plant: every component, one step function, one signal table.

`advance(dt)` moves the physics forward in sub-steps short enough to stay stable at any
clock speed; `signals.gather()` then gives every published quantity by position. Faults
that change the physics (a stuck valve, a leak, overpressure, a forced value) are applied
here; faults of sensors and links live in the sensor and device layers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hw_sim.plant.environment import Environment
from hw_sim.plant.gas import PURGE_ZONES, GasPanel
from hw_sim.plant.propellant import PropellantSpec, PropellantSystem
from hw_sim.plant.signals import Component, SignalTable, UnknownSignalError
from hw_sim.plant.umbilical import Umbilical
from hw_sim.plant.valves import ValveBank

__all__ = ["KEROSENE", "LOX", "PadPlant", "step_for_speed"]

MAX_STEP_S = 0.05
MAX_STEP_AT_SPEED_S = 0.5
"""The longest physics step: a fast simulation steps coarser so the plant costs the same CPU
(a step is ~0.2 ms); 0.5 s keeps levels within 0.1 % and the chilldown within a step of
the fine run, since every fast process is integrated in closed form or clipped."""


def step_for_speed(speed: float) -> float:
    """The physics step for a simulation `speed` times real time."""
    return min(MAX_STEP_AT_SPEED_S, MAX_STEP_S * max(1.0, speed / 10.0))


LOX = PropellantSpec(
    prefix="lox",
    liquid_k=90.0,
    cryogenic=True,
    storage_t=900.0,
    storage_initial_t=820.0,
    storage_pressure_bar=1.35,
    stage_t=(280.0, 64.0),
    meop_bar=(3.2, 3.4),
    boiloff_kg_s=(0.35, 0.1),
    storage_boiloff_kg_s=0.25,
    rated_rpm=3000.0,
    max_flow_kg_s=120.0,
    pump_head_bar=12.0,
    feed_valves=(
        ("lox.chilldown_valve", 0.04),
        ("lox.slow_fill_valve", 0.15),
        ("lox.fast_fill_valve", 1.0),
        ("lox.replenish_valve", 0.03),
    ),
    line_points=6,
    probes=(("top", 0.95), ("mid", 0.5), ("bottom", 0.05)),
)

KEROSENE = PropellantSpec(
    prefix="ker",
    liquid_k=285.0,
    cryogenic=False,
    storage_t=400.0,
    storage_initial_t=360.0,
    storage_pressure_bar=1.15,
    stage_t=(110.0, 26.0),
    meop_bar=(3.0, 3.1),
    boiloff_kg_s=(0.0, 0.0),
    storage_boiloff_kg_s=0.0,
    rated_rpm=2500.0,
    max_flow_kg_s=60.0,
    pump_head_bar=9.0,
    feed_valves=(("ker.fill_valve", 1.0), ("ker.topping_valve", 0.1)),
    line_points=2,
    probes=(("top", 0.95), ("bottom", 0.05)),
)

# (valve, full-stroke travel s, initially open). Vents fail open, so they start open.
VALVES: tuple[tuple[str, float, bool], ...] = (
    ("lox.storage.outlet_valve", 2.0, False),
    ("lox.chilldown_valve", 0.8, False),
    ("lox.slow_fill_valve", 0.8, False),
    ("lox.fast_fill_valve", 2.0, False),
    ("lox.replenish_valve", 0.8, False),
    ("lox.drain_valve", 2.0, False),
    ("lox.s1.fill_valve", 2.0, False),
    ("lox.s2.fill_valve", 2.0, False),
    ("lox.line.bleed_valve", 0.8, False),
    ("lox.line.recirc_valve", 0.8, False),
    ("ker.storage.outlet_valve", 2.0, False),
    ("ker.fill_valve", 2.0, False),
    ("ker.topping_valve", 0.8, False),
    ("ker.drain_valve", 2.0, False),
    ("ker.s1.fill_valve", 2.0, False),
    ("ker.s2.fill_valve", 2.0, False),
    ("ker.line.bleed_valve", 0.8, False),
    *((f"gn2.purge.{zone}.valve", 0.3, False) for zone in PURGE_ZONES),
    ("ghe.supply_valve", 0.3, False),
    *(
        (f"{tank}.{kind}", 0.5, kind == "vent_valve")
        for tank in ("lox.s1", "lox.s2", "ker.s1", "ker.s2")
        for kind in ("press_valve", "vent_valve")
    ),
)


class _PadAndPlc(Component):
    """Pad access control, the emergency stop and the PLC's own diagnostics."""

    def __init__(self) -> None:
        super().__init__()
        self.scans = 0.0
        self.output(["pad.area_clear", "pad.estop"], lambda: np.array([1.0, 0.0]))
        self.output(
            ["plc.watchdog", "plc.scan_time"],
            lambda: np.array([np.floor(self.scans) % 65536.0, 8.0]),
        )

    def step(self, dt: float) -> None:
        self.scans += dt * 100.0


class PadPlant:
    """All of the pad's physics; time is passed in, nothing here does I/O."""

    def __init__(self, *, seed: int = 0, max_step_s: float = MAX_STEP_S) -> None:
        if not 0 < max_step_s <= MAX_STEP_AT_SPEED_S:
            raise ValueError(
                f"max_step_s must be in (0, {MAX_STEP_AT_SPEED_S:g}], got {max_step_s:g}"
            )
        self.max_step_s = max_step_s
        self.rng = np.random.default_rng(seed)
        self.valves = ValveBank(VALVES)
        self.gas = GasPanel(self.valves, consumers=[])
        self.lox = PropellantSystem(LOX, self.valves, self.gas)
        self.kerosene = PropellantSystem(KEROSENE, self.valves, self.gas)
        self.gas.consumers = [self.lox.consumption_bar_s, self.kerosene.consumption_bar_s]
        self.umbilical = Umbilical()
        self.environment = Environment(self.lox.venting, self.kerosene.venting, self.rng)
        self.pad = _PadAndPlc()
        # Order matters: valves move first, then what flows through them.
        self.components: list[Component] = [
            self.valves,
            self.gas,
            self.lox,
            self.kerosene,
            self.umbilical,
            self.environment,
            self.pad,
        ]
        self.signals = SignalTable(self.components)
        self.time_s = 0.0
        self._overrides: dict[int, float] = {}

    def advance(self, dt: float) -> None:
        """Move the physics forward by `dt` simulated seconds."""
        while dt > 1e-9:
            step = min(dt, self.max_step_s)
            for component in self.components:
                component.step(step)
            self.time_s += step
            dt -= step

    def values(self) -> npt.NDArray[np.float64]:
        """Every signal by position (see `signals.names`), forced values applied."""
        values = self.signals.gather()
        for position, forced in self._overrides.items():
            values[position] = forced
        return values

    def command(self, signal: str, value: float) -> None:
        """Set an input (a valve command, a setpoint, a point written by the controller)."""
        self.signals.set_input(signal, value)

    # -- physical faults ---------------------------------------------------------------

    def set_valve_stuck(self, valve: str, stuck: bool) -> None:
        if not self.valves.has(valve):
            raise UnknownSignalError(valve)
        self.valves.set_stuck(valve, stuck)

    def set_leak(self, tank: str, rate_per_s: float) -> None:
        system, stage = self.tank(tank)
        system.leak_rate[stage] = rate_per_s

    def set_overpressure(self, tank: str, bar_per_s: float) -> None:
        system, stage = self.tank(tank)
        system.overpressure_bar_s[stage] = bar_per_s

    def force(self, signal: str, value: float | None) -> None:
        """Force a signal to a value (None releases it): a storm, an occupied pad."""
        position = self.signals.index(signal)
        if value is None:
            self._overrides.pop(position, None)
        else:
            self._overrides[position] = value

    def tank(self, tank: str) -> tuple[PropellantSystem, int]:
        """The propellant system and stage index of a stage tank (`lox.s1`...)."""
        systems = {"lox": self.lox, "ker": self.kerosene}
        prefix, _, stage = tank.partition(".")
        if prefix not in systems or stage not in ("s1", "s2"):
            raise UnknownSignalError(f"{tank} (expected one of lox.s1, lox.s2, ker.s1, ker.s2)")
        return systems[prefix], 0 if stage == "s1" else 1
