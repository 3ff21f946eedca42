"""InfluxDB line protocol for sample batches: one wide line per source per timestamp.

    telemetry,pad=baiterek,source=plc lox.s1.level.a=97.25,lox.s1.level.a_quality=0i,... 1800000000000000000

Each channel is a field named by its id, with its quality as a second integer field
(`<id>_quality`); a value that is not a finite number is left out (its quality says why).
InfluxDB overwrites a point written twice with the same series and timestamp, so sending a
batch again stores it once. VictoriaMetrics stores the same line as series named
`telemetry_<field>`. Field keys are escaped once, when the builder is made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from groundseg.telemetry.batch import SampleBatch

__all__ = ["MEASUREMENT", "QUALITY_SUFFIX", "LineBuilder"]

MEASUREMENT = "telemetry"
QUALITY_SUFFIX = "_quality"
_INF = float("inf")


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_tag_value(text: str) -> str:
    return _escape_key(text)


class LineBuilder:
    def __init__(self, *, pad: str, channels: Sequence[str]) -> None:
        self.pad = pad
        self._value_keys = [f"{_escape_key(c)}=" for c in channels]
        self._quality_keys = [f"{_escape_key(c + QUALITY_SUFFIX)}=" for c in channels]
        # Most samples are GOOD: their quality field's text is made once, here.
        self._good_tails = [f",{key}0i" for key in self._quality_keys]
        self._prefix = f"{MEASUREMENT},pad={_escape_tag_value(pad)},source="

    def _keys(self, channel: int) -> tuple[str, str]:
        if channel < len(self._value_keys):
            return self._value_keys[channel], self._quality_keys[channel]
        name = f"channel_{channel}"
        return f"{name}=", f"{name}{QUALITY_SUFFIX}="

    def lines(self, batch: SampleBatch) -> list[str]:
        """The batch's lines: one per distinct timestamp (a poll cycle has one)."""
        if len(batch) == 0:
            return []
        head = self._prefix + _escape_tag_value(batch.source) + " "
        times = batch.time_ns
        if bool((times == times[0]).all()):
            return [
                head + self._fields(batch.channel, batch.value, batch.quality) + f" {int(times[0])}"
            ]
        out = []
        for time in np.unique(times):
            mask = times == time
            out.append(
                head
                + self._fields(batch.channel[mask], batch.value[mask], batch.quality[mask])
                + f" {int(time)}"
            )
        return out

    def _fields(self, channels: np.ndarray, values: np.ndarray, qualities: np.ndarray) -> str:
        value_keys, good_tails = self._value_keys, self._good_tails
        known = len(value_keys)
        parts = []
        for channel, value, quality in zip(
            channels.tolist(), values.tolist(), qualities.tolist(), strict=True
        ):
            if channel >= known:
                value_key, quality_key = self._keys(channel)
                tail = f",{quality_key}{quality}i"
            elif quality == 0:
                value_key, tail = value_keys[channel], good_tails[channel]
            else:
                value_key, tail = value_keys[channel], f",{self._quality_keys[channel]}{quality}i"
            if -_INF < value < _INF:  # finite (NaN fails every comparison)
                parts.append(f"{value_key}{value!r}{tail}")
            else:
                parts.append(tail[1:])
        return ",".join(parts)
