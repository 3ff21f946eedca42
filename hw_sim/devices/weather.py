"""The weather and pad-environment station: WX-1 sentences streamed on a serial line.

Each sensor's sentence goes out at the fastest rate any of its channels asks for. A
reading the station does not have (NaN from the plant: no strike in 15 minutes) is sent as
an empty field, as the protocol says.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.codecs.weather import SENTENCE_FIELDS, Sentence, encode_sentence
from groundseg.config import Channel, Device, SentenceSource
from hw_sim.devices.line import SerialLine

__all__ = ["WeatherStation"]

_DECIMALS = {"WND": (1, 1, 0), "ATM": (1, 1, 1), "LTG": (1, 0), "GAS": (2, 1)}

Readings = Callable[[], npt.NDArray[np.float64]]


@dataclass(frozen=True, slots=True)
class _Schedule:
    kind: str
    sensor: str
    period_s: float
    positions: tuple[int | None, ...]
    """Channel position of each field of the sentence (None: no channel reads that field)."""


class WeatherStation:
    def __init__(
        self,
        device: Device,
        channels: Sequence[Channel],
        positions: Sequence[int],
        line: SerialLine,
        readings: Readings,
    ) -> None:
        self.device = device
        self.line = line
        self.readings = readings
        sentences: dict[tuple[str, str], dict[str, tuple[int, float]]] = {}
        for position, channel in zip(positions, channels, strict=True):
            source = channel.source
            assert isinstance(source, SentenceSource)
            sentences.setdefault((source.kind, source.sensor), {})[source.field] = (
                position,
                channel.rate_hz,
            )
        self.schedules = [
            _Schedule(
                kind=kind,
                sensor=sensor,
                period_s=1.0 / max(rate for _, rate in fields.values()),
                positions=tuple(
                    fields[name][0] if name in fields else None for name in SENTENCE_FIELDS[kind]
                ),
            )
            for (kind, sensor), fields in sorted(sentences.items())
        ]

    @property
    def endpoint(self) -> str:
        return self.line.path

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            for schedule in self.schedules:
                tasks.create_task(
                    self._stream(schedule),
                    name=f"{self.device.id}-{schedule.kind}-{schedule.sensor}",
                )

    def sentence(self, schedule: _Schedule) -> bytes:
        values = self.readings()
        fields: list[float | None] = []
        for position in schedule.positions:
            value = float(values[position]) if position is not None else math.nan
            fields.append(value if math.isfinite(value) else None)
        sentence = Sentence(
            kind=schedule.kind, sensor=schedule.sensor, values=tuple(fields), valid=True
        )
        return encode_sentence(sentence, decimals=_DECIMALS[schedule.kind])

    async def _stream(self, schedule: _Schedule) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += schedule.period_s
            await asyncio.sleep(max(deadline - loop.time(), 0.0))
            await self.line.send_frame(self.sentence(schedule), reply=False)
