"""The gas panel: GN2 purge of the vehicle's compartments and the GHe pressurant supply.

Purge flow follows the purge valve and the GN2 header pressure. The GHe bottle banks blow
down as the pressurisation valves draw on them (and cool a little as they do); the
regulator delivers its outlet pressure only while the supply valve is open and the banks
hold more than it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hw_sim.plant.propellant import AMBIENT_K
from hw_sim.plant.signals import Component
from hw_sim.plant.valves import ValveBank

__all__ = ["PURGE_ZONES", "GasPanel"]

PURGE_ZONES = ("s1_engine_bay", "s1_intertank", "s2_engine_bay", "s2_instrument_bay", "fairing")
REGULATOR_BAR = 60.0
BANKS = 4


class GasPanel(Component):
    def __init__(self, valves: ValveBank, consumers: Sequence[Callable[[], float]]) -> None:
        super().__init__()
        self.valves = valves
        self.consumers = consumers
        self.gn2_supply_bar = 220.0
        self.purge_flow = np.zeros(len(PURGE_ZONES))
        self.compartment_k = np.full(len(PURGE_ZONES), AMBIENT_K + 5.0)
        self.bank_bar = np.array([310.0, 305.0, 300.0, 298.0])
        self.bank_k = np.full(BANKS, AMBIENT_K + 8.0)
        self.regulator_bar = 0.0
        self.output(
            ["gn2.supply.pressure", "gn2.supply.temp"],
            lambda: np.array([self.gn2_supply_bar, AMBIENT_K + 8.0]),
        )
        self.output([f"gn2.purge.{z}.flow" for z in PURGE_ZONES], lambda: self.purge_flow)
        self.output(
            [f"gn2.purge.{z}.pressure" for z in PURGE_ZONES],
            lambda: 1.013 + 0.05 * self.purge_flow / 1200.0,
        )
        self.output([f"gn2.purge.{z}.temp" for z in PURGE_ZONES], lambda: self.compartment_k)
        self.output([f"ghe.bank.{b + 1}.pressure" for b in range(BANKS)], lambda: self.bank_bar)
        self.output([f"ghe.bank.{b + 1}.temp" for b in range(BANKS)], lambda: self.bank_k)
        self.output(["ghe.regulator.outlet_pressure"], lambda: np.array([self.regulator_bar]))
        self.output(
            ["gas_panel.status.healthy", "gas_panel.status.local_mode", "gas_panel.cabinet_temp"],
            lambda: np.array([1.0, 0.0, 24.0]),
        )

    def pressure_bar(self) -> float:
        return self.regulator_bar

    def step(self, dt: float) -> None:
        fraction = self.valves.open_fraction
        purge = np.array([fraction(f"gn2.purge.{z}.valve") for z in PURGE_ZONES])
        self.purge_flow = 1200.0 * purge * self.gn2_supply_bar / 220.0
        self.gn2_supply_bar = max(
            self.gn2_supply_bar - 1e-5 * float(self.purge_flow.sum()) * dt, 0.0
        )
        purged_k = AMBIENT_K + 8.0
        target = np.where(purge > 0.5, purged_k, AMBIENT_K + 5.0)
        self.compartment_k += (target - self.compartment_k) * (1.0 - np.exp(-dt / 180.0))

        supply_open = fraction("ghe.supply_valve")
        draw = sum(consumer() for consumer in self.consumers) * supply_open
        before = self.bank_bar.copy()
        self.bank_bar = np.clip(self.bank_bar - draw * dt / BANKS, 0.0, None)
        # Blowdown cools the bottles; the ambient warms them back slowly.
        self.bank_k += -0.08 * (before - self.bank_bar) + (AMBIENT_K + 8.0 - self.bank_k) * (
            1.0 - np.exp(-dt / 1800.0)
        )
        available = float(self.bank_bar.max()) if supply_open > 0.5 else 0.0
        target_bar = min(REGULATOR_BAR, available)
        self.regulator_bar += (target_bar - self.regulator_bar) * (1.0 - np.exp(-dt / 2.0))
