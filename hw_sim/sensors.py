"""Sensors: what each channel reads from the plant, with noise and sensor faults.

Every channel of the pad definition measures one plant signal (`Channel.sim`). Redundant
transmitters measure the same signal with independent noise, so voting has something to
vote on. Faults here are the sensor's own: stuck at a value, extra noise, drift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from groundseg.config import Channel, DataType, GroupSource, RegisterSource
from hw_sim.plant.signals import SignalTable, UnknownSignalError

__all__ = ["SensorArray"]

NOISE_OF_SPAN = 0.0005
"""Noise standard deviation of an analog transmitter, as a fraction of its span."""


class SensorArray:
    def __init__(
        self, channels: Sequence[Channel], signals: SignalTable, rng: np.random.Generator
    ) -> None:
        self.channels = channels
        self.rng = rng
        unknown = [c for c in channels if c.sim not in signals.names]
        if unknown:
            names = ", ".join(f"{c.id} -> {c.sim}" for c in unknown[:10])
            raise UnknownSignalError(
                f"{len(unknown)} channel(s) measure signals the simulated plant lacks: {names}"
            )
        self.signal = np.array([signals.index(c.sim) for c in channels], dtype=np.intp)
        self.base_sigma = np.array([_noise_sigma(c) for c in channels])
        self.low = np.array([c.valid_range[0] if c.valid_range else -np.inf for c in channels])
        self.high = np.array([c.valid_range[1] if c.valid_range else np.inf for c in channels])
        self.extra_sigma = np.zeros(len(channels))
        self.drift_rate = np.zeros(len(channels))
        self.drift_origin = np.zeros(len(channels))
        self.stuck = np.zeros(len(channels), dtype=bool)
        self.stuck_value = np.zeros(len(channels))
        self.last = np.zeros(len(channels))
        self._noise = np.zeros(len(channels))
        self._noise_time = -np.inf
        self._index = {c.id: i for i, c in enumerate(channels)}

    def read(self, signals: npt.NDArray[np.float64], now: float) -> npt.NDArray[np.float64]:
        """Every channel's reading at sim time `now` (the same noise for the same `now`)."""
        if now != self._noise_time:
            self._noise = self.rng.standard_normal(len(self.channels))
            self._noise_time = now
        measured = signals[self.signal] + self._noise * (self.base_sigma + self.extra_sigma)
        # A healthy transmitter saturates at the ends of its span; only a faulty one (drift,
        # stuck at a value) reads beyond them.
        values = np.clip(measured, self.low, self.high) + self.drift_rate * (
            now - self.drift_origin
        )
        self.last = np.where(self.stuck, self.stuck_value, values)
        return self.last

    def position(self, channel_id: str) -> int:
        try:
            return self._index[channel_id]
        except KeyError:
            raise UnknownSignalError(f"no channel {channel_id!r}") from None

    def set_stuck(self, channel_id: str, value: float | None) -> None:
        """Freeze a reading (at `value`, or where it is now when value is NaN); None releases."""
        i = self.position(channel_id)
        self.stuck[i] = value is not None
        if value is not None:
            self.stuck_value[i] = self.last[i] if np.isnan(value) else value

    def set_noise(self, channel_id: str, sigma: float) -> None:
        self.extra_sigma[self.position(channel_id)] = sigma

    def set_drift(self, channel_id: str, rate: float, now: float) -> None:
        i = self.position(channel_id)
        self.drift_rate[i] = rate
        self.drift_origin[i] = now


def _noise_sigma(channel: Channel) -> float:
    """Analog transmitters are noisy; switches, states, counters and setpoints are not."""
    source = channel.source
    discrete = False
    if isinstance(source, RegisterSource):
        discrete = source.table.is_bit or source.bit is not None or source.type == DataType.BOOL
    elif isinstance(source, GroupSource):
        discrete = source.bit is not None or source.type == DataType.BOOL
    if (
        discrete
        or channel.states
        or channel.unit in ("", "count")
        or channel.writable
        or channel.valid_range is None
    ):
        return 0.0
    low, high = channel.valid_range
    return NOISE_OF_SPAN * (high - low)
