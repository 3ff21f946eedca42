"""The umbilical and cable-mast controller driver: UMB-1 over a serial line.

A reader task decodes everything the controller sends. Replies are matched to the one
outstanding request by sequence number, so a late reply (wrong SEQ) is counted and
dropped, never decoded as the answer to the next request. Heartbeats arrive unsolicited
and refresh the group-0 channels (counter and status bits) as they come; their absence
makes those channels stale like any other silence.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from groundseg.clock import Clock
from groundseg.codecs.registers import Block, WordBlockCodec, WordField
from groundseg.codecs.umbilical import (
    NEED_DATA,
    GroupData,
    Heartbeat,
    Nak,
    NakCode,
    ReadGroup,
    UmbilicalHost,
    WriteAck,
    WritePoint,
)
from groundseg.config import Channel, Device, GroupSource, SerialEndpoint
from groundseg.drivers.base import (
    BatchSink,
    DriverCore,
    DriverStatistics,
    Reading,
)
from groundseg.drivers.serial_link import SerialPort, receive_forever
from groundseg.errors import DeviceError, LinkDown, LinkTimeout, ProtocolError
from groundseg.quality import Quality
from groundseg.telemetry.events import Event

__all__ = ["UmbilicalDriver"]

HEARTBEAT_GROUP = 0
_NAK_REASONS: dict[int, str] = {
    NakCode.UNKNOWN_TYPE: "unknown request type",
    NakCode.UNKNOWN_GROUP_OR_POINT: "unknown group or point",
    NakCode.VALUE_OUT_OF_RANGE: "value out of range",
    NakCode.INTERLOCK_REFUSED: "refused by the controller's own interlock",
    NakCode.BAD_LENGTH: "bad request length",
}


class UmbilicalDriver:
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
            raise TypeError(f"device {device.id}: the umbilical controller needs a serial endpoint")
        self.endpoint = endpoint
        self.core = DriverCore(device, channels, sink, clock, first_seq=first_seq, events=events)
        self.codec = UmbilicalHost(device=device.id)
        self.codecs: dict[int, WordBlockCodec] = {}
        rates: dict[int, float] = {}
        for group, size in device.groups.items():
            fields = [
                _field(local, c)
                for local, c in enumerate(channels)
                if isinstance(c.source, GroupSource) and c.source.group == group
            ]
            self.codecs[group] = WordBlockCodec(Block(0, size, tuple(fields)))
            rates[group] = max((channels[f.channel].rate_hz for f in fields), default=0.0)
        self.polled: dict[float, list[int]] = {}
        for group, rate in sorted(rates.items()):
            if group != HEARTBEAT_GROUP and rate > 0:
                self.polled.setdefault(rate, []).append(group)
        self.port = SerialPort(device.id, endpoint)
        self._lock = asyncio.Lock()
        self._pending: tuple[int, asyncio.Future[GroupData | WriteAck]] | None = None

    @property
    def device(self) -> Device:
        return self.core.device

    async def run(self) -> None:
        await self.core.run(
            connect=self.port.open,
            close=self.port.close,
            cycles={
                rate: functools.partial(self._cycle, groups) for rate, groups in self.polled.items()
            },
            receive=functools.partial(receive_forever, self.port, self.core, self._on_data),
        )

    async def wait_connected(self) -> None:
        await self.core.connected.wait()

    def statistics(self) -> DriverStatistics:
        codec = self.codec.statistics()
        self.core.counters.garbage_bytes = codec.garbage_bytes
        return self.core.statistics()

    # -- receiving ------------------------------------------------------------------------

    def _on_data(self, data: bytes) -> None:
        self.codec.receive_data(data)
        self.core.drain(self.codec.next_event, NEED_DATA, self._on_event)

    def _on_event(self, event: GroupData | WriteAck | Nak | Heartbeat) -> None:
        if isinstance(event, Heartbeat):
            self._publish_group(
                HEARTBEAT_GROUP, np.array([event.counter, event.status], dtype=np.uint16)
            )
            return
        pending = self._pending
        if pending is None or pending[0] != event.seq or pending[1].done():
            self.core.counters.late_replies += 1
            return
        if isinstance(event, Nak):
            self.core.counters.device_errors += 1
            reason = _NAK_REASONS.get(event.code, "unknown reason")
            pending[1].set_exception(DeviceError(self.device.id, event.code, reason))
        else:
            pending[1].set_result(event)

    # -- requests -----------------------------------------------------------------------

    async def _exchange(
        self, build: Callable[[], tuple[ReadGroup | WritePoint, bytes]]
    ) -> GroupData | WriteAck:
        async with self._lock:
            request, frame = build()
            seq = request.seq
            future: asyncio.Future[GroupData | WriteAck] = (
                asyncio.get_running_loop().create_future()
            )
            self._pending = (seq, future)
            self.core.counters.requests += 1
            try:
                self.port.write(frame)
                async with asyncio.timeout(self.device.timeout_s):
                    reply = await future
            except TimeoutError:
                self.core.counters.timeouts += 1
                raise LinkTimeout(
                    self.device.id, f"no reply to SEQ {seq} within {self.device.timeout_s:g} s"
                ) from None
            finally:
                self._pending = None
            self.core.counters.responses += 1
            return reply

    async def read_group(self, group: int) -> npt.NDArray[np.uint16]:
        reply = await self._exchange(functools.partial(self.codec.read_group, group))
        expected = self.device.groups[group]
        if not isinstance(reply, GroupData) or reply.group != group or len(reply.words) != expected:
            self.core.counters.bad_frames += 1
            raise ProtocolError(
                f"asked for group {group} ({expected} words), got {reply}", device=self.device.id
            )
        return np.array(reply.words, dtype=np.uint16)

    async def write_point(self, point: int, value: int) -> None:
        self.core.counters.writes += 1
        reply = await self._exchange(functools.partial(self.codec.write_point, point, value))
        if not isinstance(reply, WriteAck) or reply.point != point or reply.value != value:
            self.core.counters.bad_frames += 1
            raise ProtocolError(
                f"write of point {point} = {value} acknowledged as {reply}", device=self.device.id
            )

    async def _cycle(self, groups: Sequence[int]) -> None:
        for group in groups:
            try:
                words = await self.read_group(group)
            except (LinkTimeout, ProtocolError) as exc:
                self.core.note_error(str(exc))
                continue
            except DeviceError as exc:
                self.core.note_error(str(exc))
                self.core.publish_invalid(self.codecs[group].channels.astype(np.intp))
                continue
            except LinkDown:
                return
            self._publish_group(group, words)

    def _publish_group(self, group: int, words: npt.NDArray[np.uint16]) -> None:
        codec = self.codecs[group]
        if len(words) != codec.block.count:
            self.core.counters.bad_frames += 1
            return
        self.core.publish(codec.channels.astype(np.intp), codec.decode(words))

    async def read_now(self, channel_ids: Sequence[str]) -> dict[str, Reading]:
        """Read the groups holding these channels now (heartbeat channels: the latest beat)."""
        readings: dict[str, Reading] = {}
        stale = self.core.watchdog.stale
        by_group: dict[int, list[int]] = {}
        for channel_id in channel_ids:
            local = self.core.local[channel_id]
            source = self.core.channels[local].source
            assert isinstance(source, GroupSource)
            by_group.setdefault(source.group, []).append(local)
        for group, members in by_group.items():
            if group == HEARTBEAT_GROUP:
                for local in members:
                    quality = Quality.STALE if stale[local] else Quality.GOOD
                    readings[self.core.channels[local].id] = Reading(
                        float(self.core.last_value[local]), quality
                    )
                continue
            codec = self.codecs[group]
            values = codec.decode(await self.read_group(group))
            local_all = codec.channels.astype(np.intp)
            qualities = self.core.qualify(local_all, values)
            for local, value, q in zip(local_all, values, qualities, strict=True):
                if int(local) in members:
                    readings[self.core.channels[local].id] = Reading(float(value), Quality(int(q)))
        return readings


def _field(local: int, channel: Channel) -> WordField:
    source = channel.source
    assert isinstance(source, GroupSource)
    return WordField(
        channel=local,
        address=source.word,
        type=source.type,
        word_order=source.word_order,
        bit=source.bit,
        scale=channel.scale,
        offset=channel.offset,
    )
