"""InfluxDB line protocol for sample batches: one wide line per source per timestamp.

    telemetry,pad=baiterek,source=plc lox.s1.level.a=97.25,lox.s1.level.a_quality=0i,... 1800000000000000000

Each channel is a field named by its id, with its quality as a second integer field
(`<id>_quality`); a value that is not a finite number is left out (its quality says why).
With `every_quality=False` (the ingest's default) the quality field is written only for
samples that are not GOOD: a value without one is GOOD. That halves the fields the
database parses and stores, as historians store exceptions rather than every status.
Replayed telemetry is REPLAYED throughout, which would put the field back on every
sample: a line of replayed samples says so once instead, with `_replayed=true` (a key no
channel id can have), and then a value without a quality field of its own is REPLAYED.
InfluxDB overwrites a point written twice with the same series and timestamp, so sending a
batch again stores it once. VictoriaMetrics stores the same line as series named
`telemetry_<field>`. Field keys are escaped once, when the builder is made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch

__all__ = ["MEASUREMENT", "QUALITY_SUFFIX", "REPLAYED_FIELD", "LineBuilder", "implied_quality"]

MEASUREMENT = "telemetry"
QUALITY_SUFFIX = "_quality"
REPLAYED_FIELD = "_replayed"
"""On a line: its values without a `<id>_quality` field are REPLAYED, not GOOD."""
_INF = float("inf")
_REPLAYED = int(Quality.REPLAYED)
_REPLAYED_TAIL = f",{REPLAYED_FIELD}=true"


def implied_quality(replayed: object) -> int:
    """The quality of a stored value without a quality field of its own, given its line's
    `_replayed` field (absent: None)."""
    return _REPLAYED if replayed in (True, 1, 1.0, "true") else int(Quality.GOOD)


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_tag_value(text: str) -> str:
    return _escape_key(text)


class LineBuilder:
    def __init__(self, *, pad: str, channels: Sequence[str], every_quality: bool = False) -> None:
        self.pad = pad
        self.every_quality = every_quality
        self._value_keys: list[str] = []
        self._quality_keys: list[str] = []
        self._good_tails: list[str] = []
        self._other_tails: dict[int, list[str]] = {}
        for channel in channels:
            self._add_key(_escape_key(channel))
        self._prefix = f"{MEASUREMENT},pad={_escape_tag_value(pad)},source="

    def _know(self, channels: np.ndarray) -> None:
        """Name channels past the pad's list (a newer controller's pad) `channel_<n>`."""
        top = int(channels.max()) + 1 if len(channels) else 0
        for channel in range(len(self._value_keys), top):
            self._add_key(_escape_key(f"channel_{channel}"))

    def _add_key(self, name: str) -> None:
        self._value_keys.append(f"{name}=")
        self._quality_keys.append(f"{name}{QUALITY_SUFFIX}=")
        # Most samples are GOOD: what follows their value is made once, here.
        self._good_tails.append(f",{name}{QUALITY_SUFFIX}=0i" if self.every_quality else "")

    def _tails(self, quality: int) -> list[str]:
        """What follows each channel's value for a sample of this quality."""
        if quality == 0:
            return self._good_tails
        tails = self._other_tails.get(quality)
        if tails is None or len(tails) < len(self._quality_keys):
            tails = [f",{key}{quality}i" for key in self._quality_keys]
            self._other_tails[quality] = tails
        return tails

    def lines(self, batch: SampleBatch) -> list[str]:
        """The batch's lines: one per distinct timestamp (a poll cycle has one)."""
        if len(batch) == 0:
            return []
        head = self._prefix + _escape_tag_value(batch.source) + " "
        times = batch.time_ns
        if bool((times == times[0]).all()):
            fields = self._fields(batch.channel, batch.value, batch.quality)
            # A line needs a field: GOOD non-numbers alone (never seen in practice) have none.
            return [f"{head}{fields} {int(times[0])}"] if fields else []
        out = []
        for time in np.unique(times):
            mask = times == time
            fields = self._fields(batch.channel[mask], batch.value[mask], batch.quality[mask])
            if fields:
                out.append(f"{head}{fields} {int(time)}")
        return out

    def _fields(self, channels: np.ndarray, values: np.ndarray, qualities: np.ndarray) -> str:
        self._know(channels)
        value_keys = self._value_keys
        first = int(qualities[0]) if len(qualities) else 0
        replayed = not self.every_quality and bool((qualities == _REPLAYED).any())
        if (qualities == first).all() and np.isfinite(values).all():
            # The usual cycle: every sample of one quality (GOOD live, REPLAYED replayed)
            # and finite, one pass of string joins.
            tails = self._good_tails if replayed else self._tails(first)
            joined = ",".join(
                [
                    f"{value_keys[c]}{v!r}{tails[c]}"
                    for c, v in zip(channels.tolist(), values.tolist(), strict=True)
                ]
            )
            return joined + _REPLAYED_TAIL if replayed else joined
        # What a value without a quality field means on this line.
        implied = _REPLAYED if replayed else 0
        quality_keys = self._quality_keys
        parts = []
        for channel, value, quality in zip(
            channels.tolist(), values.tolist(), qualities.tolist(), strict=True
        ):
            tail = (
                ""
                if quality == implied and not self.every_quality
                else f",{quality_keys[channel]}{quality}i"
            )
            if -_INF < value < _INF:  # finite (NaN fails every comparison)
                parts.append(f"{value_keys[channel]}{value!r}{tail}")
            elif tail:
                parts.append(tail[1:])
        if replayed and parts:
            parts.append(_REPLAYED_TAIL[1:])
        return ",".join(parts)
