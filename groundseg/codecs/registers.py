"""Register maps: which words to read in one request, and numbers to and from those words.

Modbus tables and the umbilical controller's data groups are both arrays of 16-bit words,
so one codec serves the drivers (decode) and the simulator (encode). Planning coalesces
nearby fields into block reads, spanning gaps of at most `max_gap` unused addresses in the
manner of Telegraf's `max_insert`, and never more than a request may carry (125 registers,
2000 bits). Decoding is vectorised: a block's fields are grouped by encoding once, at
construction, so decoding a block is a handful of numpy operations whatever its size.

Bytes within a word are big-endian (the Modbus convention); the order of the two words of a
32-bit value is per field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.config.model import DataType, WordOrder

__all__ = [
    "MAX_BITS_PER_READ",
    "MAX_REGISTERS_PER_READ",
    "BitBlockCodec",
    "Block",
    "WordBlockCodec",
    "WordField",
    "decode_words",
    "encode_words",
    "plan_blocks",
]

MAX_REGISTERS_PER_READ = 125
MAX_BITS_PER_READ = 2000

_INT_BOUNDS: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class WordField:
    """One channel's place in a word (or bit) address space and its scaling."""

    channel: int
    address: int
    type: DataType
    word_order: WordOrder = WordOrder.BIG
    bit: int | None = None
    scale: float = 1.0
    offset: float = 0.0
    is_bit_table: bool = False

    @property
    def span(self) -> int:
        return 1 if self.is_bit_table else self.type.words


@dataclass(frozen=True, slots=True)
class Block:
    """Addresses [start, start + count) read in one request, and the fields inside."""

    start: int
    count: int
    fields: tuple[WordField, ...]


def plan_blocks(fields: Iterable[WordField], *, max_gap: int, max_count: int) -> list[Block]:
    """Coalesce fields into as few reads as the gap and size limits allow."""
    ordered = sorted(fields, key=lambda f: (f.address, f.bit or 0))
    blocks: list[Block] = []
    start = end = 0
    members: list[WordField] = []
    for field in ordered:
        field_end = field.address + field.span
        if members and (field.address - end > max_gap or max(end, field_end) - start > max_count):
            blocks.append(Block(start, end - start, tuple(members)))
            members = []
        if not members:
            start, end = field.address, field_end
        members.append(field)
        end = max(end, field_end)
    if members:
        blocks.append(Block(start, end - start, tuple(members)))
    return blocks


class WordBlockCodec:
    """Decodes the words of one block into engineering values, and encodes values into words."""

    def __init__(self, block: Block) -> None:
        self.block = block
        fields = block.fields
        self.channels = np.array([f.channel for f in fields], dtype=np.uint32)
        self._scale = np.array([f.scale for f in fields], dtype=np.float64)
        self._offset = np.array([f.offset for f in fields], dtype=np.float64)

        def select(predicate: Callable[[WordField], bool]) -> npt.NDArray[np.intp]:
            return np.array([i for i, f in enumerate(fields) if predicate(f)], dtype=np.intp)

        self._u16 = select(lambda f: f.bit is None and f.type == DataType.UINT16)
        self._i16 = select(lambda f: f.bit is None and f.type == DataType.INT16)
        self._bits = select(lambda f: f.bit is not None)
        self._u32 = select(lambda f: f.type == DataType.UINT32)
        self._i32 = select(lambda f: f.type == DataType.INT32)
        self._f32 = select(lambda f: f.type == DataType.FLOAT32)
        self._pos = np.array([f.address - block.start for f in fields], dtype=np.intp)
        self._bit = np.array([f.bit or 0 for f in fields], dtype=np.uint16)
        little = np.array([f.word_order == WordOrder.LITTLE for f in fields], dtype=bool)
        self._hi = self._pos + little.astype(np.intp)
        self._lo = self._pos + (~little).astype(np.intp)
        pos = self._pos
        self._plain_16 = [(self._u16, pos[self._u16])] if len(self._u16) else []
        self._signed_16 = [(self._i16, pos[self._i16])] if len(self._i16) else []
        self._bit_fields = (
            [(self._bits, pos[self._bits], self._bit[self._bits])] if len(self._bits) else []
        )
        self._wide = [
            (group, self._hi[group], self._lo[group], view)
            for group, view in (
                (self._u32, np.uint32),
                (self._i32, np.int32),
                (self._f32, np.float32),
            )
            if len(group)
        ]
        self._identity = bool(np.all(self._scale == 1.0) and np.all(self._offset == 0.0))
        decimals = [
            None if f.type == DataType.FLOAT32 else max(_decimals(f.scale), _decimals(f.offset))
            for f in fields
        ]
        self._rounded = np.array([i for i, d in enumerate(decimals) if d], dtype=np.intp)
        self._pow10 = np.array([10.0**d for d in decimals if d], dtype=np.float64)

    def decode(self, words: npt.NDArray[np.uint16]) -> npt.NDArray[np.float64]:
        """Values in the order of `self.channels`, from exactly `block.count` words."""
        if len(words) != self.block.count:
            raise ValueError(
                f"block at {self.block.start} expects {self.block.count} words, got {len(words)}"
            )
        raw = np.empty(len(self.channels), dtype=np.float64)
        # Only the encodings this block has are decoded: most blocks hold one or two.
        for slots, positions in self._plain_16:
            raw[slots] = words[positions]
        for slots, positions in self._signed_16:
            raw[slots] = words[positions].view(np.int16)
        for slots, positions, shifts in self._bit_fields:
            raw[slots] = (words[positions] >> shifts) & 1
        for slots, high, low, view in self._wide:
            joined = (words[high].astype(np.uint32) << 16) | words[low]
            # A float32 NaN pattern is a legal reading (INVALID downstream), not an error.
            with np.errstate(invalid="ignore"):
                raw[slots] = joined.view(view)
        if self._identity:
            return raw
        scaled = raw * self._scale + self._offset
        if len(self._rounded):
            # 1012 * 0.001 is 1.0120000000000001 in binary; the sensor said 1.012.
            scaled[self._rounded] = np.rint(scaled[self._rounded] * self._pow10) / self._pow10
        return scaled

    def encode(self, values: npt.NDArray[np.float64], words: npt.NDArray[np.uint16]) -> None:
        """Write `values` (in the order of `self.channels`) into `words` (the block's words)."""
        raw = (values - self._offset) / self._scale
        pos = self._pos
        words[pos[self._u16]] = _to_int(raw[self._u16], DataType.UINT16)
        words[pos[self._i16]] = (
            _to_int(raw[self._i16], DataType.INT16).astype(np.int16).view(np.uint16)
        )
        if len(self._bits):
            bit_pos, shift = pos[self._bits], self._bit[self._bits]
            ones = (np.nan_to_num(raw[self._bits]) > 0.5).astype(np.uint16)
            np.bitwise_and.at(words, bit_pos, ~(np.uint16(1) << shift))
            np.bitwise_or.at(words, bit_pos, ones << shift)
        for group, kind in ((self._u32, DataType.UINT32), (self._i32, DataType.INT32)):
            if len(group):
                joined = _to_int(raw[group], kind).astype(np.int64).astype(np.uint32)
                self._split(group, joined, words)
        if len(self._f32):
            self._split(self._f32, raw[self._f32].astype(np.float32).view(np.uint32), words)

    def _split(
        self,
        group: npt.NDArray[np.intp],
        joined: npt.NDArray[np.uint32],
        words: npt.NDArray[np.uint16],
    ) -> None:
        words[self._hi[group]] = (joined >> 16).astype(np.uint16)
        words[self._lo[group]] = (joined & 0xFFFF).astype(np.uint16)


class BitBlockCodec:
    """Coils and discrete inputs: one bit per address, values 0.0 or 1.0."""

    def __init__(self, block: Block) -> None:
        self.block = block
        self.channels = np.array([f.channel for f in block.fields], dtype=np.uint32)
        self._pos = np.array([f.address - block.start for f in block.fields], dtype=np.intp)

    def decode(self, bits: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        if len(bits) < self.block.count:
            raise ValueError(
                f"block at {self.block.start} expects {self.block.count} bits, got {len(bits)}"
            )
        return bits[self._pos].astype(np.float64)

    def encode(self, values: npt.NDArray[np.float64], bits: npt.NDArray[np.bool_]) -> None:
        bits[self._pos] = np.nan_to_num(values) > 0.5


def _decimals(number: float) -> int:
    """Decimal places of a scale or offset as written (0.001 -> 3, 2.5 -> 1, 10 -> 0)."""
    text = repr(float(number))
    if "e" in text:
        mantissa, exponent = text.split("e")
        return max(len(mantissa.partition(".")[2].rstrip("0")) - int(exponent), 0)
    return len(text.partition(".")[2].rstrip("0"))


def encode_words(field: WordField, value: float) -> list[int]:
    """The words that carry one value; for writing a single channel."""
    words = np.zeros(field.span, dtype=np.uint16)
    _alone(field).encode(np.array([value], dtype=np.float64), words)
    return [int(w) for w in words]


def decode_words(field: WordField, words: npt.NDArray[np.uint16]) -> float:
    """The value that the words of one field carry; for reading a single write."""
    return float(_alone(field).decode(words)[0])


def _alone(field: WordField) -> WordBlockCodec:
    """A codec for one field, moved to the start of its own block."""
    return WordBlockCodec(Block(0, field.span, (dataclasses.replace(field, address=0),)))


def _to_int(raw: npt.NDArray[np.float64], kind: DataType) -> npt.NDArray[np.int64]:
    low, high = _INT_BOUNDS[kind]
    # A value beyond what the type carries saturates, as a PLC's analog output does.
    rounded = np.rint(np.nan_to_num(raw, nan=0.0, posinf=high, neginf=low))
    return np.clip(rounded, low, high).astype(np.int64)
