"""The Modbus driver: coalesced block reads on a schedule, decoded with numpy.

Channels are grouped by poll rate; within a group each table's fields are coalesced into
as few block reads as the gap limit allows (see `codecs.registers.plan_blocks`). A cycle
reads its blocks one after another on the one connection and emits one batch. A block whose
read times out is skipped (its channels go stale if the silence lasts); a block the device
refuses is marked invalid.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.clock import Clock
from groundseg.codecs.registers import (
    MAX_BITS_PER_READ,
    MAX_REGISTERS_PER_READ,
    BitBlockCodec,
    Block,
    WordBlockCodec,
    WordField,
    plan_blocks,
)
from groundseg.config import (
    Channel,
    Device,
    LinkKind,
    RegisterSource,
    SerialEndpoint,
    Table,
    TcpEndpoint,
)
from groundseg.drivers.base import (
    BatchSink,
    DriverCore,
    DriverStatistics,
    Reading,
)
from groundseg.drivers.modbus_link import ModbusLink
from groundseg.drivers.modbus_rtu import ModbusRtuLink
from groundseg.drivers.modbus_tcp import ModbusTcpLink
from groundseg.errors import DeviceError, LinkDown, LinkTimeout, ProtocolError
from groundseg.quality import Quality
from groundseg.telemetry.events import Event

__all__ = ["BlockRead", "ModbusDriver", "plan_reads"]


@dataclass(frozen=True, slots=True)
class BlockRead:
    """One request of a poll cycle: a table, a block, and how to decode it."""

    table: Table
    block: Block
    codec: WordBlockCodec | BitBlockCodec
    local: npt.NDArray[np.intp]
    """The driver's channel indices, in the order the codec decodes them."""


def plan_reads(device: Device, channels: Sequence[Channel]) -> dict[float, list[BlockRead]]:
    """Block reads per poll rate, coalesced within each table."""
    fields: dict[tuple[float, Table], list[WordField]] = {}
    for local, channel in enumerate(channels):
        source = channel.source
        if not isinstance(source, RegisterSource):
            raise TypeError(f"channel {channel.id} is not a Modbus channel")
        fields.setdefault((channel.rate_hz, source.table), []).append(
            WordField(
                channel=local,
                address=source.address,
                type=source.type,
                word_order=source.word_order,
                bit=source.bit,
                scale=channel.scale,
                offset=channel.offset,
                is_bit_table=source.table.is_bit,
            )
        )
    plans: dict[float, list[BlockRead]] = {}
    for (rate, table), members in sorted(
        fields.items(), key=lambda item: (-item[0][0], item[0][1])
    ):
        limit = MAX_BITS_PER_READ if table.is_bit else MAX_REGISTERS_PER_READ
        for block in plan_blocks(members, max_gap=device.max_gap, max_count=limit):
            codec = BitBlockCodec(block) if table.is_bit else WordBlockCodec(block)
            plans.setdefault(rate, []).append(
                BlockRead(table, block, codec, codec.channels.astype(np.intp))
            )
    return plans


class ModbusDriver:
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
        self.core = DriverCore(device, channels, sink, clock, first_seq=first_seq, events=events)
        self.plans = plan_reads(device, channels)
        self.link: ModbusLink
        endpoint = device.endpoint
        if device.link is LinkKind.MODBUS_TCP and isinstance(endpoint, TcpEndpoint):
            self.link = ModbusTcpLink(device, endpoint, self.core.counters, self.core.link_lost)
        elif device.link is LinkKind.MODBUS_RTU and isinstance(endpoint, SerialEndpoint):
            self.link = ModbusRtuLink(device, endpoint, self.core.counters, self.core.link_lost)
        else:
            raise TypeError(f"device {device.id}: {device.link} cannot use endpoint {endpoint}")
        self._reads_of: dict[int, BlockRead] = {
            int(local): read
            for reads in self.plans.values()
            for read in reads
            for local in read.local
        }

    @property
    def device(self) -> Device:
        return self.core.device

    @property
    def requests_per_scan(self) -> int:
        """Requests one cycle of every rate group makes."""
        return sum(len(reads) for reads in self.plans.values())

    async def run(self) -> None:
        await self.core.run(
            connect=self.link.connect,
            close=self.link.close,
            cycles={
                rate: functools.partial(self._cycle, reads) for rate, reads in self.plans.items()
            },
        )

    async def wait_connected(self) -> None:
        await self.core.connected.wait()

    def statistics(self) -> DriverStatistics:
        return self.core.statistics()

    async def scan(self) -> None:
        """One cycle of every rate group, now, on a link that is already up (tools, benches)."""
        for reads in self.plans.values():
            await self._cycle(reads)

    async def _cycle(self, reads: Sequence[BlockRead]) -> None:
        locals_read: list[npt.NDArray[np.intp]] = []
        values_read: list[npt.NDArray[np.float64]] = []
        for read in reads:
            try:
                values = await self._read(read)
            except (LinkTimeout, ProtocolError) as exc:
                self.core.note_error(str(exc))
                continue
            except DeviceError as exc:
                self.core.note_error(str(exc))
                self.core.publish_invalid(read.local)
                continue
            except LinkDown:
                break
            locals_read.append(read.local)
            values_read.append(values)
        if locals_read:
            self.core.publish(np.concatenate(locals_read), np.concatenate(values_read))

    async def _read(self, read: BlockRead) -> npt.NDArray[np.float64]:
        block = read.block
        if read.table.is_bit:
            bits = await self.link.read_bits(read.table, block.start, block.count)
            return read.codec.decode(bits)  # type: ignore[arg-type]
        words = await self.link.read_words(read.table, block.start, block.count)
        return read.codec.decode(words)  # type: ignore[arg-type]

    async def read_now(self, channel_ids: Sequence[str]) -> dict[str, Reading]:
        """Read the blocks holding these channels now; errors are raised, not swallowed."""
        wanted = {self.core.local[channel_id] for channel_id in channel_ids}
        reads = {id(self._reads_of[i]): self._reads_of[i] for i in wanted}
        readings: dict[str, Reading] = {}
        for read in reads.values():
            values = await self._read(read)
            quality = self.core.qualify(read.local, values)
            for local, value, q in zip(read.local, values, quality, strict=True):
                if int(local) in wanted:
                    readings[self.core.channels[local].id] = Reading(float(value), Quality(int(q)))
        return readings
