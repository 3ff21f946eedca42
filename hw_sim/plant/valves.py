"""Valves: commanded open or closed, travelling at a finite speed, with limit switches.

All valves of the pad are one bank of arrays, so a step moves every valve in a few numpy
operations. A stuck valve (a fault) ignores its command and stays where it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hw_sim.plant.signals import Component

__all__ = ["ValveBank"]

OPEN_SWITCH_AT = 0.98
CLOSED_SWITCH_AT = 0.02


class ValveBank(Component):
    def __init__(self, specs: Sequence[tuple[str, float, bool]]) -> None:
        """`specs`: (valve id, full-stroke travel time in s, initially open)."""
        super().__init__()
        self.ids = [s[0] for s in specs]
        self._slot = {valve_id: i for i, valve_id in enumerate(self.ids)}
        self.travel_s = np.array([s[1] for s in specs], dtype=np.float64)
        self.command = np.array([1.0 if s[2] else 0.0 for s in specs])
        self.position = self.command.copy()
        self.stuck = np.zeros(len(specs), dtype=bool)
        self.output([f"{v}.cmd" for v in self.ids], lambda: self.command)
        self.output([f"{v}.position" for v in self.ids], lambda: self.position * 100.0)
        self.output(
            [f"{v}.open_ls" for v in self.ids],
            lambda: (self.position >= OPEN_SWITCH_AT).astype(np.float64),
        )
        self.output(
            [f"{v}.closed_ls" for v in self.ids],
            lambda: (self.position <= CLOSED_SWITCH_AT).astype(np.float64),
        )
        for valve_id in self.ids:
            self.input(f"{valve_id}.cmd", self._setter(self._slot[valve_id]))

    def _setter(self, slot: int) -> _SetCommand:
        return _SetCommand(self, slot)

    def step(self, dt: float) -> None:
        stroke = np.clip(self.command - self.position, -dt / self.travel_s, dt / self.travel_s)
        self.position = np.where(self.stuck, self.position, self.position + stroke)

    def open_fraction(self, valve_id: str) -> float:
        return float(self.position[self._slot[valve_id]])

    def set_stuck(self, valve_id: str, stuck: bool) -> None:
        self.stuck[self._slot[valve_id]] = stuck

    def has(self, valve_id: str) -> bool:
        return valve_id in self._slot


class _SetCommand:
    def __init__(self, bank: ValveBank, slot: int) -> None:
        self._bank = bank
        self._slot = slot

    def __call__(self, value: float) -> None:
        self._bank.command[self._slot] = 1.0 if value >= 0.5 else 0.0
