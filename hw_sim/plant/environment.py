"""Weather and the pad environment: wind at three heights, the atmosphere, lightning, gases.

Each quantity is an Ornstein-Uhlenbeck process (mean-reverting noise), stepped for all
sensors at once. Venting changes the air around the vents: venting LOX tanks enrich the
oxygen at detectors P1-P2, venting kerosene tanks raise the vapour reading at P3-P4.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hw_sim.plant.signals import Component

__all__ = ["Environment"]

HEIGHTS_M = np.array([10.0, 50.0, 100.0])
DETECTION_RANGE_KM = 300.0


class Environment(Component):
    def __init__(
        self,
        lox_venting: Callable[[], float],
        kerosene_venting: Callable[[], float],
        rng: np.random.Generator,
    ) -> None:
        super().__init__()
        self.lox_venting = lox_venting
        self.kerosene_venting = kerosene_venting
        self.rng = rng
        self.wind10 = 6.0
        self.gust_factor = np.full(3, 1.3)
        self.direction = 250.0
        self.atmosphere = np.array([5.0, 65.0, 1016.0])
        self.storm_km = 150.0
        self.strikes = 0.0
        self.o2 = np.full(6, 20.95)
        self.vapour = np.full(6, 0.5)
        levels = ("m10", "m50", "m100")
        self.output([f"wx.wind.{lv}.mean" for lv in levels], self._wind_mean)
        self.output(
            [f"wx.wind.{lv}.gust" for lv in levels], lambda: self._wind_mean() * self.gust_factor
        )
        self.output(
            [f"wx.wind.{lv}.direction" for lv in levels], lambda: np.full(3, self.direction % 360.0)
        )
        self.output(
            ["wx.atm.temperature", "wx.atm.humidity", "wx.atm.pressure"], lambda: self.atmosphere
        )
        # No strike in the last 15 minutes: the detector reports no distance at all (NaN).
        self.output(["wx.lightning.distance", "wx.lightning.count"], self._lightning)
        self.output([f"wx.gas.p{i + 1}.o2" for i in range(6)], lambda: self.o2)
        self.output([f"wx.gas.p{i + 1}.vapour" for i in range(6)], lambda: self.vapour)

    def _wind_mean(self) -> np.ndarray:
        return self.wind10 * (HEIGHTS_M / 10.0) ** 0.14

    def _lightning(self) -> np.ndarray:
        distance = self.storm_km if self.strikes >= 1.0 else np.nan
        return np.array([distance, np.floor(self.strikes)])

    def _ou(
        self,
        value: np.ndarray | float,
        mean: np.ndarray | float,
        *,
        tau: float,
        sigma: float,
        dt: float,
        size: int | None = None,
    ) -> np.ndarray:
        decay = np.exp(-dt / tau)
        noise = self.rng.standard_normal(size) * sigma * np.sqrt(1.0 - decay**2)
        return np.asarray(mean + (value - mean) * decay + noise)

    def step(self, dt: float) -> None:
        self.wind10 = float(
            np.clip(self._ou(self.wind10, 6.0, tau=300.0, sigma=1.5, dt=dt), 0.0, None)
        )
        self.gust_factor = np.clip(
            self._ou(self.gust_factor, 1.3, tau=5.0, sigma=0.1, dt=dt, size=3), 1.0, None
        )
        self.direction = float(self._ou(self.direction, 250.0, tau=600.0, sigma=15.0, dt=dt))
        self.atmosphere = self._ou(
            self.atmosphere, np.array([5.0, 65.0, 1016.0]), tau=1800.0, sigma=0.5, dt=dt, size=3
        )
        self.storm_km = float(
            np.clip(
                self._ou(self.storm_km, 150.0, tau=900.0, sigma=20.0, dt=dt),
                1.0,
                DETECTION_RANGE_KM,
            )
        )
        rate = 0.05 if self.storm_km < 40.0 else 0.0
        self.strikes = self.strikes * float(np.exp(-dt / 900.0)) + float(
            self.rng.poisson(rate * dt)
        )
        o2_mean = np.full(6, 20.95)
        o2_mean[:2] += 0.9 * self.lox_venting()
        vapour_mean = np.full(6, 0.5)
        vapour_mean[2:4] += 4.0 * self.kerosene_venting()
        self.o2 = self._ou(self.o2, o2_mean, tau=30.0, sigma=0.03, dt=dt, size=6)
        self.vapour = np.clip(
            self._ou(self.vapour, vapour_mean, tau=30.0, sigma=0.2, dt=dt, size=6), 0.0, None
        )
