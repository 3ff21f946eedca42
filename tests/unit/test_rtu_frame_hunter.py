"""The RTU frame hunter finds our unit's valid replies in a noisy byte stream (pure, no I/O).

Frames are written out by hand from the Modbus RTU specification: unit, function, byte
count, data, CRC-16/MODBUS low byte first.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pymodbus.pdu import ExceptionResponse
from pymodbus.pdu.register_message import ReadInputRegistersResponse

from groundseg.drivers.base import LinkCounters
from groundseg.drivers.modbus_rtu import MAX_BUFFER, RtuFrameHunter


def _crc(frame: bytes) -> bytes:
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def _frame(body: bytes) -> bytes:
    return body + _crc(body)


REPLY = _frame(bytes.fromhex("0704040001 0002".replace(" ", "")))
EXCEPTION = _frame(bytes.fromhex("078402"))


def test_the_reference_crc_matches_the_specification_example() -> None:
    """CRC-16/MODBUS of 01 03 00 00 00 01 is 84 0A (spec example), so the vectors below are sound."""
    assert _crc(bytes.fromhex("010300000001")) == bytes.fromhex("840A")


def test_a_reply_split_across_reads_is_found_once_complete() -> None:
    counters = LinkCounters()
    hunter = RtuFrameHunter(7, counters)
    for byte in REPLY[:-1]:
        hunter.feed(bytes([byte]))
        assert hunter.next_frame() is None
    hunter.feed(REPLY[-1:])
    pdu = hunter.next_frame()
    assert isinstance(pdu, ReadInputRegistersResponse)
    assert pdu.registers == [1, 2]
    assert counters.bad_frames == 0


def test_garbage_before_a_frame_is_skipped_and_counted() -> None:
    counters = LinkCounters()
    hunter = RtuFrameHunter(7, counters)
    hunter.feed(b"\x00\xff\x13\x37\x42" + REPLY)
    pdu = hunter.next_frame()
    assert isinstance(pdu, ReadInputRegistersResponse)
    assert pdu.registers == [1, 2]
    assert counters.garbage_bytes == 5


def test_a_corrupt_frame_costs_only_itself() -> None:
    """A bit flip fails the CRC; the good frame right behind it is still found."""
    counters = LinkCounters()
    hunter = RtuFrameHunter(7, counters)
    damaged = bytearray(REPLY)
    damaged[4] ^= 0x10
    hunter.feed(bytes(damaged) + EXCEPTION)
    pdu = hunter.next_frame()
    assert isinstance(pdu, ExceptionResponse)
    assert pdu.exception_code == 2
    assert counters.bad_frames >= 1


def test_another_units_reply_is_not_ours() -> None:
    counters = LinkCounters()
    hunter = RtuFrameHunter(7, counters)
    hunter.feed(_frame(bytes.fromhex("0804040001 0002".replace(" ", ""))))
    assert hunter.next_frame() is None


def test_the_buffer_stays_bounded_under_a_stream_of_noise() -> None:
    counters = LinkCounters()
    hunter = RtuFrameHunter(7, counters)
    for _ in range(50):
        hunter.feed(bytes(range(256)))
        hunter.next_frame()
    assert len(hunter.buffer) <= MAX_BUFFER


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=1, max_value=64))
def test_random_bytes_never_raise_and_never_yield_a_foreign_frame(noise: bytes, chunk: int) -> None:
    """Whatever arrives, the hunter raises nothing; anything it yields passed our unit and CRC."""
    counters = LinkCounters()
    hunter = RtuFrameHunter(7, counters)
    for start in range(0, len(noise), chunk):
        hunter.feed(noise[start : start + chunk])
        while (pdu := hunter.next_frame()) is not None:
            assert pdu.dev_id == 7
    assert len(hunter.buffer) <= MAX_BUFFER


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(REPLY) - 1),
    st.integers(min_value=0, max_value=7),
    st.binary(max_size=20),
)
def test_a_single_bit_flip_never_yields_a_changed_reply(
    position: int, bit: int, garbage: bytes
) -> None:
    """CRC-16 catches every single-bit error: the damaged reply is never decoded as data."""
    damaged = bytearray(REPLY)
    damaged[position] ^= 1 << bit
    hunter = RtuFrameHunter(7, LinkCounters())
    hunter.feed(garbage + bytes(damaged))
    while (pdu := hunter.next_frame()) is not None:
        assert not (isinstance(pdu, ReadInputRegistersResponse) and pdu.registers != [1, 2])
