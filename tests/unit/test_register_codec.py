"""Register codec: golden words from the Modbus convention, block planning, and fuzzing.

The golden words were worked out by hand, not produced by the codec: bytes within a word
are big-endian (the Modbus convention), 32-bit values are two's complement or IEEE 754
single, and the order of their two words is per field ("big": high word first).

    int32 -123456 = 0xFFFE1DC0          uint32 70000 = 0x00011170
    float32 1.5   = 0x3FC00000          float32 -2.25 = 0xC0100000
    -7.3 with scale 0.1, offset -5: raw = round((-7.3 + 5) / 0.1) = -23 = 0xFFE9
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundseg.codecs.registers import (
    MAX_BITS_PER_READ,
    MAX_REGISTERS_PER_READ,
    BitBlockCodec,
    Block,
    WordBlockCodec,
    WordField,
    encode_words,
    plan_blocks,
)
from groundseg.config import (
    Channel,
    DataType,
    Device,
    LinkKind,
    PadDefinition,
    RegisterSource,
    Table,
    TcpEndpoint,
    WordOrder,
)
from groundseg.drivers.modbus import plan_reads

BIG, LITTLE = WordOrder.BIG, WordOrder.LITTLE
INT_BOUNDS: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
}


def words(*values: int) -> npt.NDArray[np.uint16]:
    return np.array(values, dtype=np.uint16)


def field(
    data_type: DataType,
    *,
    address: int = 0,
    order: WordOrder = BIG,
    scale: float = 1.0,
    offset: float = 0.0,
    bit: int | None = None,
    channel: int = 0,
) -> WordField:
    return WordField(
        channel=channel,
        address=address,
        type=data_type,
        word_order=order,
        bit=bit,
        scale=scale,
        offset=offset,
    )


def single_codec(one: WordField) -> WordBlockCodec:
    return WordBlockCodec(Block(one.address, one.span, (one,)))


# -- golden vectors -------------------------------------------------------------------

# (case id, field, engineering value, words on the wire)
GOLDEN: list[tuple[str, WordField, float, list[int]]] = [
    ("uint16", field(DataType.UINT16), 12345.0, [0x3039]),
    ("int16-negative", field(DataType.INT16), -2.0, [0xFFFE]),
    ("int32-big", field(DataType.INT32, order=BIG), -123456.0, [0xFFFE, 0x1DC0]),
    ("int32-little", field(DataType.INT32, order=LITTLE), -123456.0, [0x1DC0, 0xFFFE]),
    ("uint32-big", field(DataType.UINT32), 70000.0, [0x0001, 0x1170]),
    ("uint32-little", field(DataType.UINT32, order=LITTLE), 70000.0, [0x1170, 0x0001]),
    ("float32-big", field(DataType.FLOAT32, order=BIG), 1.5, [0x3FC0, 0x0000]),
    ("float32-little", field(DataType.FLOAT32, order=LITTLE), 1.5, [0x0000, 0x3FC0]),
    ("float32-negative", field(DataType.FLOAT32), -2.25, [0xC010, 0x0000]),
    ("uint16-scaled", field(DataType.UINT16, scale=0.01), 12.34, [1234]),
    ("int16-scale-offset", field(DataType.INT16, scale=0.1, offset=-5.0), -7.3, [0xFFE9]),
    ("uint16-offset-kelvin", field(DataType.UINT16, scale=0.01, offset=50.0), 90.0, [4000]),
]


@pytest.mark.parametrize(
    ("one", "value", "wire"),
    [pytest.param(f, v, w, id=case) for case, f, v, w in GOLDEN],
)
def test_golden_words_decode_to_the_value(one: WordField, value: float, wire: list[int]) -> None:
    decoded = single_codec(one).decode(words(*wire))
    assert decoded.tolist() == pytest.approx([value], abs=1e-9)


@pytest.mark.parametrize(
    ("one", "value", "wire"),
    [pytest.param(f, v, w, id=case) for case, f, v, w in GOLDEN],
)
def test_value_encodes_to_the_golden_words(one: WordField, value: float, wire: list[int]) -> None:
    assert encode_words(one, value) == wire


@pytest.mark.parametrize(
    ("one", "value", "wire"),
    [pytest.param(f, v, w, id=case) for case, f, v, w in GOLDEN],
)
def test_block_codec_encodes_to_the_golden_words(
    one: WordField, value: float, wire: list[int]
) -> None:
    out = np.zeros(one.span, dtype=np.uint16)
    single_codec(one).encode(np.array([value]), out)
    assert out.tolist() == wire


def test_two_bit_fields_of_one_word_encode_together() -> None:
    """Bits 3 and 5 set in one word are 0x0028; encoding one leaves the other alone."""
    bits = (field(DataType.BOOL, bit=3, channel=0), field(DataType.BOOL, bit=5, channel=1))
    codec = WordBlockCodec(Block(0, 1, bits))
    out = words(0)
    codec.encode(np.array([1.0, 1.0]), out)
    assert out.tolist() == [0x0028]
    codec.encode(np.array([0.0, 1.0]), out)
    assert out.tolist() == [0x0020]


@pytest.mark.parametrize(
    ("wire", "expected"),
    [(0x0028, [1.0, 1.0]), (0x0008, [1.0, 0.0]), (0xFFD7, [0.0, 0.0]), (0x0020, [0.0, 1.0])],
)
def test_bit_fields_decode_their_own_bit(wire: int, expected: list[float]) -> None:
    bits = (field(DataType.BOOL, bit=3, channel=0), field(DataType.UINT16, bit=5, channel=1))
    assert WordBlockCodec(Block(0, 1, bits)).decode(words(wire)).tolist() == expected


def test_encode_words_places_a_bit_field_at_its_bit() -> None:
    """The word that carries bit 3 set is 0x0008, not bit 0."""
    assert encode_words(field(DataType.UINT16, bit=3), 1.0) == [0x0008]


def test_block_decodes_fields_at_their_offsets_from_the_block_start() -> None:
    fields = (
        field(DataType.UINT16, address=100, channel=7),
        field(DataType.FLOAT32, address=102, order=LITTLE, channel=3),
        field(DataType.INT16, address=104, scale=0.1, channel=9),
    )
    codec = WordBlockCodec(Block(100, 5, fields))
    decoded = codec.decode(words(0x3039, 0xAAAA, 0x0000, 0x3FC0, 0xFFFE))
    assert codec.channels.tolist() == [7, 3, 9]
    assert decoded.tolist() == pytest.approx([12345.0, 1.5, -0.2])


def test_decode_refuses_the_wrong_number_of_words() -> None:
    codec = single_codec(field(DataType.INT32))
    with pytest.raises(ValueError, match="expects 2 words, got 3"):
        codec.decode(words(1, 2, 3))


def test_bit_block_codec_round_trips_coils() -> None:
    coils = tuple(
        WordField(channel=i, address=10 + 2 * i, type=DataType.BOOL, is_bit_table=True)
        for i in range(4)
    )
    codec = BitBlockCodec(Block(10, 7, coils))
    bits = np.zeros(7, dtype=bool)
    codec.encode(np.array([1.0, 0.0, 1.0, float("nan")]), bits)
    assert bits.tolist() == [True, False, False, False, True, False, False]
    assert codec.decode(bits).tolist() == [1.0, 0.0, 1.0, 0.0]


# -- saturation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_type", "value", "wire", "limit"),
    [
        (DataType.UINT16, 70000.0, [0xFFFF], 65535.0),
        (DataType.UINT16, -5.0, [0x0000], 0.0),
        (DataType.INT16, -40000.0, [0x8000], -32768.0),
        (DataType.INT16, 40000.0, [0x7FFF], 32767.0),
        (DataType.INT32, 3e9, [0x7FFF, 0xFFFF], 2147483647.0),
        (DataType.INT32, -3e9, [0x8000, 0x0000], -2147483648.0),
        (DataType.UINT32, 5e9, [0xFFFF, 0xFFFF], 4294967295.0),
        (DataType.UINT32, -1.0, [0x0000, 0x0000], 0.0),
        (DataType.UINT16, float("inf"), [0xFFFF], 65535.0),
        (DataType.INT16, float("-inf"), [0x8000], -32768.0),
    ],
)
def test_value_beyond_the_type_saturates_at_its_limit(
    data_type: DataType, value: float, wire: list[int], limit: float
) -> None:
    one = field(data_type)
    assert encode_words(one, value) == wire
    assert single_codec(one).decode(words(*wire)).tolist() == [limit]


@pytest.mark.parametrize(
    "data_type", [DataType.UINT16, DataType.INT16, DataType.INT32, DataType.UINT32]
)
def test_nan_encodes_to_zero_in_integer_types(data_type: DataType) -> None:
    one = field(data_type, scale=0.1, offset=0.0)
    assert encode_words(one, float("nan")) == [0] * data_type.words


# -- planning -------------------------------------------------------------------------


def uint16_at(*addresses: int) -> list[WordField]:
    return [field(DataType.UINT16, address=a, channel=i) for i, a in enumerate(addresses)]


def test_fields_with_a_gap_up_to_max_gap_share_a_block() -> None:
    blocks = plan_blocks(uint16_at(0, 17), max_gap=16, max_count=125)
    assert [(b.start, b.count) for b in blocks] == [(0, 18)]


def test_a_gap_beyond_max_gap_splits_the_block() -> None:
    blocks = plan_blocks(uint16_at(0, 18), max_gap=16, max_count=125)
    assert [(b.start, b.count) for b in blocks] == [(0, 1), (18, 1)]


def test_zero_max_gap_joins_only_adjacent_fields() -> None:
    blocks = plan_blocks(uint16_at(0, 1, 3), max_gap=0, max_count=125)
    assert [(b.start, b.count) for b in blocks] == [(0, 2), (3, 1)]


def test_planning_ignores_the_order_fields_come_in() -> None:
    blocks = plan_blocks(uint16_at(35, 0, 20, 2), max_gap=16, max_count=125)
    assert [(b.start, b.count) for b in blocks] == [(0, 3), (20, 16)]


def test_block_never_exceeds_max_count() -> None:
    blocks = plan_blocks(uint16_at(*range(300)), max_gap=16, max_count=MAX_REGISTERS_PER_READ)
    assert [(b.start, b.count) for b in blocks] == [(0, 125), (125, 125), (250, 50)]


def test_float32_straddling_the_limit_moves_to_the_next_block() -> None:
    fields = [*uint16_at(*range(124)), field(DataType.FLOAT32, address=124, channel=124)]
    blocks = plan_blocks(fields, max_gap=16, max_count=MAX_REGISTERS_PER_READ)
    assert [(b.start, b.count) for b in blocks] == [(0, 124), (124, 2)]
    assert blocks[1].fields == (fields[-1],)


def test_bit_fields_of_one_word_share_a_block() -> None:
    fields = [field(DataType.BOOL, address=5, bit=b, channel=b) for b in (7, 0, 3)]
    blocks = plan_blocks(fields, max_gap=0, max_count=1)
    assert [(b.start, b.count) for b in blocks] == [(5, 1)]
    assert [f.bit for f in blocks[0].fields] == [0, 3, 7]


@st.composite
def scattered_fields(draw: st.DrawFn) -> list[WordField]:
    """Non-overlapping fields of random types with random gaps between them."""
    fields: list[WordField] = []
    address = draw(st.integers(0, 100))
    for channel in range(draw(st.integers(1, 120))):
        data_type = draw(st.sampled_from([DataType.UINT16, DataType.INT32, DataType.FLOAT32]))
        fields.append(field(data_type, address=address, channel=channel))
        address += data_type.words + draw(st.integers(0, 40))
    return fields


@settings(max_examples=150, deadline=None)
@given(fields=scattered_fields(), max_gap=st.integers(0, 30), max_count=st.integers(2, 125))
def test_every_field_lands_in_exactly_one_block_within_limits(
    fields: list[WordField], max_gap: int, max_count: int
) -> None:
    blocks = plan_blocks(fields, max_gap=max_gap, max_count=max_count)
    placed = Counter(f for b in blocks for f in b.fields)
    assert placed == Counter(fields)
    for block in blocks:
        assert block.count <= max_count
        for member in block.fields:
            assert block.start <= member.address
            assert member.address + member.span <= block.start + block.count
    for before, after in itertools.pairwise(blocks):
        assert before.start + before.count <= after.start


def bench_device() -> Device:
    return Device(
        id="bench",
        description="",
        link=LinkKind.MODBUS_TCP,
        endpoint=TcpEndpoint(host="127.0.0.1", port=1502),
        rate_hz=10.0,
        timeout_s=0.25,
        max_gap=16,
    )


def channels_on(table: Table, count: int) -> list[Channel]:
    data_type = DataType.BOOL if table.is_bit else DataType.UINT16
    return [
        Channel(
            id=f"bench.point.{i}",
            index=i,
            device="bench",
            description="",
            unit="",
            source=RegisterSource(table=table, address=i, type=data_type),
            rate_hz=10.0,
        )
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("table", "count", "expected"),
    [
        (Table.COIL, 2500, [2000, 500]),
        (Table.DISCRETE_INPUT, 4001, [2000, 2000, 1]),
        (Table.INPUT_REGISTER, 300, [125, 125, 50]),
        (Table.HOLDING_REGISTER, 126, [125, 1]),
    ],
)
def test_reads_use_2000_for_bit_tables_and_125_for_registers(
    table: Table, count: int, expected: list[int]
) -> None:
    plans = plan_reads(bench_device(), channels_on(table, count))
    assert [read.block.count for read in plans[10.0]] == expected
    assert max(expected) == (MAX_BITS_PER_READ if table.is_bit else MAX_REGISTERS_PER_READ)


def test_shipped_plc_reads_in_at_least_ten_times_fewer_requests_than_channels(
    pad: PadDefinition,
) -> None:
    channels = pad.channels_of("plc")
    plans = plan_reads(pad.devices["plc"], channels)
    requests = sum(len(reads) for reads in plans.values())
    assert requests * 10 <= len(channels)
    read_channels = sorted(int(i) for reads in plans.values() for r in reads for i in r.local)
    assert read_channels == list(range(len(channels)))


# -- fuzzing --------------------------------------------------------------------------

SCALES = [1.0, 0.1, 0.01, 0.001, 2.5]
OFFSETS = [0.0, -5.0, 273.15]


@st.composite
def layout_and_values(draw: st.DrawFn) -> tuple[list[WordField], list[float]]:
    """Non-overlapping fields of every type, and an in-range value for each."""
    fields: list[WordField] = []
    values: list[float] = []
    address = 0
    for channel in range(draw(st.integers(1, 12))):
        data_type = draw(
            st.sampled_from(
                [
                    DataType.UINT16,
                    DataType.INT16,
                    DataType.INT32,
                    DataType.UINT32,
                    DataType.FLOAT32,
                    DataType.BOOL,
                ]
            )
        )
        order = draw(st.sampled_from([BIG, LITTLE]))
        if data_type is DataType.BOOL:
            one = field(data_type, address=address, bit=draw(st.integers(0, 15)), channel=channel)
            value = float(draw(st.integers(0, 1)))
        else:
            scale, offset = draw(st.sampled_from(SCALES)), draw(st.sampled_from(OFFSETS))
            one = field(
                data_type,
                address=address,
                order=order,
                scale=scale,
                offset=offset,
                channel=channel,
            )
            if data_type is DataType.FLOAT32:
                value = draw(st.floats(-1e6, 1e6, allow_nan=False))
            else:
                raw_low, raw_high = INT_BOUNDS[data_type]
                value = draw(st.floats(raw_low * scale + offset, raw_high * scale + offset))
        fields.append(one)
        values.append(value)
        address += one.span + draw(st.integers(0, 3))
    return fields, values


def tolerance(one: WordField, value: float) -> float:
    """Half a quantum for integers; float32 precision of the raw value for floats."""
    if one.type is DataType.BOOL:
        return 0.0
    if one.type is DataType.FLOAT32:
        raw = abs((value - one.offset) / one.scale)
        return raw * 2.0**-23 * abs(one.scale) + 1e-9 * max(1.0, abs(value))
    return abs(one.scale) / 2.0 + 1e-9 * max(1.0, abs(value))


@settings(max_examples=300, deadline=None)
@given(case=layout_and_values())
def test_encode_then_decode_returns_each_value_within_its_quantum(
    case: tuple[list[WordField], list[float]],
) -> None:
    fields, values = case
    end = max(f.address + f.span for f in fields)
    codec = WordBlockCodec(Block(0, end, tuple(fields)))
    wire = np.zeros(end, dtype=np.uint16)
    codec.encode(np.array(values), wire)
    decoded = codec.decode(wire)
    for one, value, back in zip(fields, values, decoded.tolist(), strict=True):
        assert abs(back - value) <= tolerance(one, value), (one, value, back)


@settings(max_examples=300, deadline=None)
@given(case=layout_and_values(), data=st.data())
def test_decoding_arbitrary_words_never_raises_and_integers_stay_finite(
    case: tuple[list[WordField], list[float]], data: st.DataObject
) -> None:
    fields, _ = case
    end = max(f.address + f.span for f in fields)
    wire = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=end, max_size=end))
    decoded = WordBlockCodec(Block(0, end, tuple(fields))).decode(words(*wire))
    assert len(decoded) == len(fields)
    for one, value in zip(fields, decoded.tolist(), strict=True):
        if one.type is not DataType.FLOAT32:
            assert math.isfinite(value), (one, wire)
        if one.bit is not None:
            assert value in (0.0, 1.0)
