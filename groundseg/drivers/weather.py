"""The weather and pad-environment station driver: WX-1 sentences streamed on a serial line.

The station speaks unasked, so this driver only listens: each good sentence refreshes its
sensor's channels. A sentence flagged V makes them invalid; an empty field is invalid too,
unless the pad definition says what it means (`empty_value`: no strike within range).
Bad sentences are dropped and counted; silence makes the channels stale.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.clock import Clock
from groundseg.codecs.weather import NEED_DATA, SENTENCE_FIELDS, Sentence, WeatherDecoder
from groundseg.config import Channel, Device, SentenceSource, SerialEndpoint
from groundseg.drivers.base import BatchSink, DriverCore, DriverStatistics, Reading
from groundseg.drivers.serial_link import SerialPort, receive_forever
from groundseg.quality import Quality
from groundseg.telemetry.batch import QUALITY_DTYPE
from groundseg.telemetry.events import Event

__all__ = ["WeatherDriver"]


@dataclass(frozen=True, slots=True)
class _SentenceMap:
    fields: npt.NDArray[np.intp]
    """Position of each mapped channel's field in the sentence."""
    local: npt.NDArray[np.intp]
    empty: npt.NDArray[np.float64]
    """What an empty field means per channel (NaN: invalid)."""


class WeatherDriver:
    def __init__(
        self,
        device: Device,
        channels: Sequence[Channel],
        sink: BatchSink,
        clock: Clock,
        *,
        first_seq: int = 0,
        events: Callable[[Event], None] | None = None,
    ) -> None:
        endpoint = device.endpoint
        if not isinstance(endpoint, SerialEndpoint):
            raise TypeError(f"device {device.id}: the weather station needs a serial endpoint")
        self.endpoint = endpoint
        self.core = DriverCore(device, channels, sink, clock, first_seq=first_seq, events=events)
        self.decoder = WeatherDecoder(device=device.id)
        grouped: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
        for local, channel in enumerate(channels):
            source = channel.source
            if not isinstance(source, SentenceSource):
                raise TypeError(f"channel {channel.id} is not a weather-station channel")
            position = SENTENCE_FIELDS[source.kind].index(source.field)
            empty = np.nan if source.empty_value is None else source.empty_value
            grouped.setdefault((source.kind, source.sensor), []).append((position, local, empty))
        self.maps = {
            key: _SentenceMap(
                fields=np.array([m[0] for m in members], dtype=np.intp),
                local=np.array([m[1] for m in members], dtype=np.intp),
                empty=np.array([m[2] for m in members]),
            )
            for key, members in grouped.items()
        }
        self.port = SerialPort(device.id, endpoint)

    @property
    def device(self) -> Device:
        return self.core.device

    async def run(self) -> None:
        await self.core.run(
            connect=self.port.open,
            close=self.port.close,
            cycles={},
            receive=functools.partial(receive_forever, self.port, self.core, self._on_data),
        )

    async def wait_connected(self) -> None:
        await self.core.connected.wait()

    def statistics(self) -> DriverStatistics:
        self.core.counters.garbage_bytes = self.decoder.statistics().garbage_bytes
        return self.core.statistics()

    async def read_now(self, channel_ids: Sequence[str]) -> dict[str, Reading]:
        """The station cannot be asked: the latest values, stale if they are."""
        stale = self.core.watchdog.stale
        readings = {}
        for channel_id in channel_ids:
            local = self.core.local[channel_id]
            quality = Quality.STALE if stale[local] else Quality.GOOD
            readings[channel_id] = Reading(float(self.core.last_value[local]), quality)
        return readings

    def _on_data(self, data: bytes) -> None:
        self.decoder.receive_data(data)
        self.core.drain(self.decoder.next_event, NEED_DATA, self._publish)

    def _publish(self, sentence: Sentence) -> None:
        self.core.counters.responses += 1
        mapping = self.maps.get((sentence.kind, sentence.sensor))
        if mapping is None:
            return  # a sensor this pad does not use
        raw = np.array([np.nan if v is None else v for v in sentence.values], dtype=np.float64)[
            mapping.fields
        ]
        values = np.where(np.isnan(raw), mapping.empty, raw)
        quality = self.core.qualify(mapping.local, values)
        if not sentence.valid:
            quality = np.full(len(values), Quality.INVALID, dtype=QUALITY_DTYPE)
        self.core.publish(mapping.local, values, quality)
