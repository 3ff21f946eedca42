"""The umbilical and cable-mast side of the pad, and the vehicle behind it.

Plates demate in two stages (unlock, then separate) and mate again slowly; power moves
between the ground supply and the vehicle batteries after a relay delay, with a dip on the
bus at the transfer; the cable mast unlatches, then swings away; the ignition circuit arms
and latches a fire command.
"""

from __future__ import annotations

import numpy as np

from hw_sim.plant.signals import Component

__all__ = ["PLATES", "Umbilical"]

PLATES = ("s1_lox", "s1_ker", "s2_lox", "s2_ker", "s1_elec", "s2_elec", "pneu")
DEMATE_S = 1.5
MATE_S = 6.0
TRANSFER_DELAY_S = 0.3
MAST_UNLATCH_S = 0.5
MAST_RETRACTED_DEG = 90.0
MAST_SWING_DEG_S = 20.0
MAST_RETURN_DEG_S = 10.0
BATTERY_AH = 100.0


class Umbilical(Component):
    def __init__(self) -> None:
        super().__init__()
        n = len(PLATES)
        self.demate_cmd = np.zeros(n)
        self.separation = np.zeros(n)
        """0 = mated and locked, 1 = fully separated."""
        self.transfer_cmd = 0.0
        self.source = 0.0
        self.transfer_timer = 0.0
        self.dip_v = 0.0
        self.soc = 100.0
        self.mast_cmd = 0.0
        self.mast_unlatch = 0.0
        self.mast_deg = 0.0
        self.arm_cmd = 0.0
        self.fire_cmd = 0.0
        self.armed = 0.0
        self.arm_timer = 0.0
        self.fired = 0.0
        self.uptime_s = 0.0
        self.heartbeats = 0
        """Heartbeat frames sent; the controller's link layer counts them."""
        self.frames_bad = 0
        """Frames the controller rejected; its link layer counts them."""
        self.output(
            [f"umb.plate.{p}.mated" for p in PLATES],
            lambda: (self.separation < 0.9).astype(np.float64),
        )
        self.output(
            [f"umb.plate.{p}.locked" for p in PLATES],
            lambda: (self.separation < 0.3).astype(np.float64),
        )
        self.output([f"umb.plate.{p}.demate_cmd" for p in PLATES], lambda: self.demate_cmd)
        self.output(
            [
                "umb.power.source",
                "umb.power.transfer_cmd",
                "umb.power.ground_voltage",
                "umb.bus.voltage",
                "umb.bus.current",
                "umb.battery.voltage",
                "umb.battery.temp",
                "umb.battery.soc",
            ],
            self._power_outputs,
        )
        self.output(
            [
                "umb.mast.retracted",
                "umb.mast.latched",
                "umb.mast.retract_cmd",
                "umb.mast.position",
                "umb.mast.hyd_pressure",
            ],
            self._mast_outputs,
        )
        self.output(
            [
                "umb.vehicle.obc_ready",
                "umb.vehicle.ignition.armed",
                "umb.vehicle.ignition.fired",
                "umb.vehicle.ignition.arm_cmd",
                "umb.vehicle.ignition.fire_cmd",
            ],
            lambda: np.array([1.0, self.armed, self.fired, self.arm_cmd, self.fire_cmd]),
        )
        self.output(
            [
                "umb.controller.fault_code",
                "umb.controller.temp",
                "umb.controller.uptime",
                "umb.heartbeat.healthy",
                "umb.heartbeat.counter",
                "umb.link.frames_bad",
                "umb.plates.all_mated",
            ],
            lambda: np.array(
                [
                    0.0,
                    31.0,
                    np.floor(self.uptime_s),
                    1.0,
                    float(self.heartbeats % 65536),
                    float(self.frames_bad % 65536),
                    float(bool((self.separation < 0.9).all())),
                ]
            ),
        )
        for i, plate in enumerate(PLATES):
            self.input(f"umb.plate.{plate}.demate_cmd", _SetFlag(self.demate_cmd, i))
        self.input("umb.power.transfer_cmd", self._set_transfer)
        self.input("umb.mast.retract_cmd", self._set_mast)
        self.input("umb.vehicle.ignition.arm_cmd", self._set_arm)
        self.input("umb.vehicle.ignition.fire_cmd", self._set_fire)

    def _set_transfer(self, value: float) -> None:
        self.transfer_cmd = 1.0 if value >= 0.5 else 0.0

    def _set_mast(self, value: float) -> None:
        self.mast_cmd = 1.0 if value >= 0.5 else 0.0

    def _set_arm(self, value: float) -> None:
        self.arm_cmd = 1.0 if value >= 0.5 else 0.0

    def _set_fire(self, value: float) -> None:
        self.fire_cmd = 1.0 if value >= 0.5 else 0.0

    def _power_outputs(self) -> np.ndarray:
        current = 38.0 if self.source < 0.5 else 36.0
        battery_v = (
            28.2 if self.source < 0.5 else 27.9 - 1.5 * (1.0 - self.soc / 100.0) - 0.01 * current
        )
        ground_v = 28.0
        bus_v = (ground_v - 0.3 if self.source < 0.5 else battery_v) - self.dip_v
        battery_c = 21.0 + (2.0 if self.source >= 0.5 else 0.0)
        return np.array(
            [
                self.source,
                self.transfer_cmd,
                ground_v,
                bus_v,
                current,
                battery_v,
                battery_c,
                self.soc,
            ]
        )

    def _mast_outputs(self) -> np.ndarray:
        moving = 0.0 < self.mast_deg < MAST_RETRACTED_DEG - 0.5
        retracted = float(self.mast_deg >= MAST_RETRACTED_DEG - 1.0)
        latched = float(self.mast_unlatch <= 0.0 and self.mast_deg <= 0.5)
        return np.array(
            [retracted, latched, self.mast_cmd, self.mast_deg, 185.0 if moving else 210.0]
        )

    def step(self, dt: float) -> None:
        self.uptime_s += dt
        rate = np.where(self.demate_cmd > 0.5, 1.0 / DEMATE_S, -1.0 / MATE_S)
        self.separation = np.clip(self.separation + rate * dt, 0.0, 1.0)

        if self.transfer_cmd != self.source:
            self.transfer_timer += dt
            if self.transfer_timer >= TRANSFER_DELAY_S:
                self.source, self.transfer_timer, self.dip_v = self.transfer_cmd, 0.0, 2.0
        else:
            self.transfer_timer = 0.0
        self.dip_v *= float(np.exp(-dt / 0.1))
        if self.source >= 0.5:
            self.soc = max(self.soc - 36.0 * dt / (BATTERY_AH * 3600.0) * 100.0, 0.0)

        if self.mast_cmd > 0.5:
            self.mast_unlatch = min(self.mast_unlatch + dt, MAST_UNLATCH_S)
            if self.mast_unlatch >= MAST_UNLATCH_S:
                self.mast_deg = min(self.mast_deg + MAST_SWING_DEG_S * dt, MAST_RETRACTED_DEG)
        else:
            self.mast_deg = max(self.mast_deg - MAST_RETURN_DEG_S * dt, 0.0)
            if self.mast_deg <= 0.0:
                self.mast_unlatch = max(self.mast_unlatch - dt, 0.0)

        if self.arm_cmd > 0.5:
            self.arm_timer = min(self.arm_timer + dt, 0.2)
            self.armed = float(self.arm_timer >= 0.2)
        else:
            self.arm_timer, self.armed, self.fired = 0.0, 0.0, 0.0
        if self.armed and self.fire_cmd > 0.5:
            self.fired = 1.0


class _SetFlag:
    def __init__(self, array: np.ndarray, slot: int) -> None:
        self._array = array
        self._slot = slot

    def __call__(self, value: float) -> None:
        self._array[self._slot] = 1.0 if value >= 0.5 else 0.0
