"""Device memory images: sensor readings encoded the way each device presents them.

A Modbus device has four tables; the umbilical controller has numbered word groups; both
are encoded with the same register codec the drivers decode with. Writes go the other
way: the words a client writes are decoded back into engineering values for the plant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from groundseg.codecs.registers import BitBlockCodec, Block, WordBlockCodec, WordField, decode_words
from groundseg.config import Channel, Device, GroupSource, RegisterSource, Table

__all__ = ["Command", "GroupImage", "ModbusImage", "Refresh", "WriteTarget"]


class Refresh(Protocol):
    """Brings the plant and the images up to the present (at most once a millisecond
    unless forced: a heartbeat must carry the beat it announces)."""

    def __call__(self, *, force: bool = False) -> None: ...


Command = Callable[[Channel, float], None]


@dataclass(frozen=True, slots=True)
class WriteTarget:
    """A writable channel at an address: its position among all channels and its field."""

    channel: Channel
    field: WordField


def _field(position: int, channel: Channel, address: int, *, is_bit_table: bool) -> WordField:
    source = channel.source
    assert isinstance(source, RegisterSource | GroupSource)
    return WordField(
        channel=position,
        address=address,
        type=source.type,
        word_order=source.word_order,
        bit=source.bit,
        scale=channel.scale,
        offset=channel.offset,
        is_bit_table=is_bit_table,
    )


class ModbusImage:
    """The four tables of one Modbus device."""

    def __init__(
        self, device: Device, channels: Sequence[Channel], positions: Sequence[int]
    ) -> None:
        self.device = device
        self.words: dict[Table, npt.NDArray[np.uint16]] = {}
        self.bits: dict[Table, npt.NDArray[np.bool_]] = {}
        self._word_codecs: dict[Table, tuple[WordBlockCodec, npt.NDArray[np.intp]]] = {}
        self._bit_codecs: dict[Table, tuple[BitBlockCodec, npt.NDArray[np.intp]]] = {}
        self.writes: dict[tuple[Table, int], WriteTarget] = {}
        for table in Table:
            size = device.register_map.size(table)
            members = [
                (p, c)
                for p, c in zip(positions, channels, strict=True)
                if isinstance(c.source, RegisterSource) and c.source.table == table
            ]
            fields = [
                _field(p, c, c.source.address, is_bit_table=table.is_bit)
                for p, c in members
                if isinstance(c.source, RegisterSource)
            ]
            block = Block(0, size, tuple(fields))
            gather = np.array([p for p, _ in members], dtype=np.intp)
            if table.is_bit:
                self.bits[table] = np.zeros(size, dtype=bool)
                self._bit_codecs[table] = (BitBlockCodec(block), gather)
            else:
                self.words[table] = np.zeros(size, dtype=np.uint16)
                self._word_codecs[table] = (WordBlockCodec(block), gather)
            if table.is_writable:
                for (_, channel), field in zip(members, fields, strict=True):
                    self.writes[(table, field.address)] = WriteTarget(channel, field)

    def update(self, readings: npt.NDArray[np.float64]) -> None:
        """Encode the latest readings (indexed by channel position) into the tables."""
        for table, (word_codec, gather) in self._word_codecs.items():
            word_codec.encode(readings[gather], self.words[table])
        for table, (bit_codec, gather) in self._bit_codecs.items():
            bit_codec.encode(readings[gather], self.bits[table])

    def packed_bits(self, table: Table) -> list[int]:
        """A bit table packed 16 to a register, bit 0 first (pymodbus's storage layout)."""
        bits = self.bits[table]
        padded = np.zeros(-(-len(bits) // 16) * 16, dtype=np.uint16)
        padded[: len(bits)] = bits
        weights = np.uint16(1) << np.arange(16, dtype=np.uint16)
        return [int(v) for v in (padded.reshape(-1, 16) * weights).sum(axis=1)]

    def decode_write(
        self, table: Table, address: int, values: Sequence[int] | Sequence[bool]
    ) -> list[tuple[Channel, float]]:
        """Engineering values a write sets, or ValueError naming the first unwritable address."""
        if table.is_bit:
            targets = []
            for offset, bit in enumerate(values):
                target = self.writes.get((table, address + offset))
                if target is None:
                    raise ValueError(f"{table} {address + offset} is not a writable channel")
                targets.append((target.channel, 1.0 if bit else 0.0))
            return targets
        words = np.array(values, dtype=np.uint16)
        decoded = []
        cursor = 0
        while cursor < len(words):
            target = self.writes.get((table, address + cursor))
            if target is None or cursor + target.field.span > len(words):
                raise ValueError(
                    f"{table} {address + cursor} is not the start of a writable channel"
                )
            span = target.field.span
            decoded.append(
                (target.channel, decode_words(target.field, words[cursor : cursor + span]))
            )
            cursor += span
        return decoded


class GroupImage:
    """The umbilical controller's data groups (group 0, the heartbeat, included)."""

    def __init__(
        self, device: Device, channels: Sequence[Channel], positions: Sequence[int]
    ) -> None:
        self.words: dict[int, npt.NDArray[np.uint16]] = {
            g: np.zeros(n, dtype=np.uint16) for g, n in device.groups.items()
        }
        self._codecs: dict[int, tuple[WordBlockCodec, npt.NDArray[np.intp]]] = {}
        self.points: dict[int, WriteTarget] = {}
        for group, size in device.groups.items():
            members = [
                (p, c)
                for p, c in zip(positions, channels, strict=True)
                if isinstance(c.source, GroupSource) and c.source.group == group
            ]
            fields = [
                _field(p, c, c.source.word, is_bit_table=False)
                for p, c in members
                if isinstance(c.source, GroupSource)
            ]
            self._codecs[group] = (
                WordBlockCodec(Block(0, size, tuple(fields))),
                np.array([p for p, _ in members], dtype=np.intp),
            )
            for (_, channel), field in zip(members, fields, strict=True):
                source = channel.source
                if isinstance(source, GroupSource) and source.point is not None:
                    self.points[source.point] = WriteTarget(channel, field)

    def update(self, readings: npt.NDArray[np.float64]) -> None:
        for group, (codec, gather) in self._codecs.items():
            codec.encode(readings[gather], self.words[group])
