"""Sans-I/O codec for UMB-1, the umbilical and cable-mast controller protocol.

Theory of operation: the host (groundseg's driver) and the device (the pad's
umbilical controller, or the simulator standing in for it) exchange frames over a
byte stream; ``docs/protocols/umbilical.md`` is the interface-control document. This
module does no I/O. The caller feeds whatever bytes arrived to ``receive_data`` and
calls ``next_event`` until it returns ``NEED_DATA``; requests and answers are built
as ``bytes`` for the caller to write.

Both sides share one ``_FrameReader``. It hunts for SYNC1 SYNC2, waits until the
whole frame and its CRC have arrived, then checks CRC, TYPE, direction and payload,
and only then turns the frame into an event. A frame failing any check is a bad
frame: the reader counts it, drops only its first sync byte and raises
``ProtocolError``; the next call resumes the hunt one byte further on. Dropping one
byte rather than the whole frame matters because the corrupted byte may be LEN:
trusting it could swallow the good frame that follows. Bytes before a sync pair are
garbage and are dropped as soon as they arrive, so a peer streaming noise cannot
grow the buffer, and once ``next_event`` has returned ``NEED_DATA`` fewer than
``MAX_FRAME_SIZE`` bytes remain buffered.

The codec reports each answer's SEQ and keeps no request table: matching an answer
to the outstanding request, and discarding late or stray answers, is the driver's job.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeAlias, TypeVar, assert_never

from groundseg.codecs.crc import crc16_ccitt_false
from groundseg.codecs.need_data import NEED_DATA, NeedData
from groundseg.errors import ProtocolError

__all__ = [
    "MAX_FRAME_SIZE",
    "MAX_GROUP_WORDS",
    "MAX_PAYLOAD",
    "NEED_DATA",
    "SYNC",
    "DeviceEvent",
    "Event",
    "FrameType",
    "GroupData",
    "Heartbeat",
    "HostEvent",
    "Nak",
    "NakCode",
    "NeedData",
    "ReadGroup",
    "StatusFlag",
    "UmbilicalDevice",
    "UmbilicalHost",
    "UmbilicalStatistics",
    "WriteAck",
    "WritePoint",
    "encode_frame",
]

SYNC: Final = b"\xa5\x5a"
MAX_PAYLOAD: Final = 240
MAX_GROUP_WORDS: Final = (MAX_PAYLOAD - 2) // 2
_HEADER_SIZE: Final = 5  # SYNC1 SYNC2 LEN SEQ TYPE
_CRC_SIZE: Final = 2
MAX_FRAME_SIZE: Final = _HEADER_SIZE + MAX_PAYLOAD + _CRC_SIZE
_LEN_OFFSET: Final = 2

_GROUP_COUNT = struct.Struct(">BB")
_POINT_VALUE = struct.Struct(">Hi")
_U16_PAIR = struct.Struct(">HH")


class FrameType(enum.IntEnum):
    """The TYPE byte; 0x0_ travel host -> device, 0x7F and above device -> host."""

    READ_GROUP = 0x01
    WRITE_POINT = 0x02
    NAK = 0x7F
    GROUP_DATA = 0x81
    WRITE_ACK = 0x82
    HEARTBEAT = 0x90


class NakCode(enum.IntEnum):
    """Why the device refused a request (the CODE of a NAK)."""

    UNKNOWN_TYPE = 1
    UNKNOWN_GROUP_OR_POINT = 2
    VALUE_OUT_OF_RANGE = 3
    INTERLOCK_REFUSED = 4
    BAD_LENGTH = 5


class StatusFlag(enum.IntFlag):
    """Bits of a heartbeat's STATUS word; bits 4..15 are reserved and ignored."""

    CONTROLLER_HEALTHY = 0x0001
    INTERNAL_POWER = 0x0002
    PLATES_MATED = 0x0004
    MAST_RETRACTED = 0x0008


def _check_range(field: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{field} must be {low}..{high}, got {value}")


def _check_request_seq(seq: int) -> None:
    # Requests never use 0 (reserved for unsolicited frames), and answers echo them.
    _check_range("seq", seq, 1, 255)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadGroup:
    """READ_GROUP (0x01), host -> device: send me the words of GROUP."""

    seq: int
    group: int

    def __post_init__(self) -> None:
        _check_request_seq(self.seq)
        _check_range("group", self.group, 0, 0xFF)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupData:
    """GROUP_DATA (0x81), device -> host: the words of GROUP, answering READ_GROUP."""

    seq: int
    group: int
    words: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_request_seq(self.seq)
        _check_range("group", self.group, 0, 0xFF)
        _check_range("word count", len(self.words), 0, MAX_GROUP_WORDS)
        # min/max run in C; only a bad tuple pays for the search that names the word.
        if self.words and not (min(self.words) >= 0 and max(self.words) <= 0xFFFF):
            for index, word in enumerate(self.words):
                _check_range(f"words[{index}]", word, 0, 0xFFFF)


@dataclass(frozen=True, slots=True, kw_only=True)
class WritePoint:
    """WRITE_POINT (0x02), host -> device: set POINT to VALUE."""

    seq: int
    point: int
    value: int

    def __post_init__(self) -> None:
        _check_request_seq(self.seq)
        _check_range("point", self.point, 0, 0xFFFF)
        _check_range("value", self.value, -(2**31), 2**31 - 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteAck:
    """WRITE_ACK (0x82), device -> host: POINT now holds VALUE, answering WRITE_POINT."""

    seq: int
    point: int
    value: int

    def __post_init__(self) -> None:
        _check_request_seq(self.seq)
        _check_range("point", self.point, 0, 0xFFFF)
        _check_range("value", self.value, -(2**31), 2**31 - 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Nak:
    """NAK (0x7F), device -> host: the request of REQUEST_TYPE was refused for CODE."""

    seq: int
    request_type: int
    code: int

    def __post_init__(self) -> None:
        _check_request_seq(self.seq)
        # Any byte: a NAK for an unknown type echoes the type the device did not know.
        _check_range("request_type", self.request_type, 0, 0xFF)
        _check_range("code", self.code, min(NakCode), max(NakCode))


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """HEARTBEAT (0x90), device -> host, unsolicited with SEQ 0, nominally every 200 ms."""

    counter: int
    status: int

    def __post_init__(self) -> None:
        _check_range("counter", self.counter, 0, 0xFFFF)
        _check_range("status", self.status, 0, 0xFFFF)


HostEvent: TypeAlias = GroupData | WriteAck | Nak | Heartbeat
"""What the host receives."""
DeviceEvent: TypeAlias = ReadGroup | WritePoint
"""What the device receives."""
Event: TypeAlias = HostEvent | DeviceEvent


def _seq_type_payload(event: Event) -> tuple[int, FrameType, bytes]:
    match event:
        case ReadGroup():
            return event.seq, FrameType.READ_GROUP, bytes((event.group,))
        case GroupData():
            count = len(event.words)
            words = struct.pack(f">{count}H", *event.words)
            return event.seq, FrameType.GROUP_DATA, _GROUP_COUNT.pack(event.group, count) + words
        case WritePoint():
            return event.seq, FrameType.WRITE_POINT, _POINT_VALUE.pack(event.point, event.value)
        case WriteAck():
            return event.seq, FrameType.WRITE_ACK, _POINT_VALUE.pack(event.point, event.value)
        case Nak():
            return event.seq, FrameType.NAK, _GROUP_COUNT.pack(event.request_type, event.code)
        case Heartbeat():
            return 0, FrameType.HEARTBEAT, _U16_PAIR.pack(event.counter, event.status)
        case _:
            assert_never(event)


def encode_frame(event: Event) -> bytes:
    """Return the complete frame for `event`: sync, header, payload and CRC."""
    seq, frame_type, payload = _seq_type_payload(event)
    checked = bytes((len(payload), seq, frame_type)) + payload
    return SYNC + checked + crc16_ccitt_false(checked).to_bytes(_CRC_SIZE, "big")


# Decoders raise ValueError (directly or from an event's validation); the reader turns
# that into a bad frame, so nothing here needs to know about buffers or statistics.


def _expect_length(payload: bytes, size: int) -> None:
    if len(payload) != size:
        raise ValueError(f"payload is {len(payload)} bytes, expected {size}")


def _decode_read_group(seq: int, payload: bytes) -> ReadGroup:
    _expect_length(payload, 1)
    return ReadGroup(seq=seq, group=payload[0])


def _decode_group_data(seq: int, payload: bytes) -> GroupData:
    if len(payload) < _GROUP_COUNT.size:
        raise ValueError(f"payload is {len(payload)} bytes, needs at least 2 (GROUP, COUNT)")
    group, count = _GROUP_COUNT.unpack_from(payload)
    _expect_length(payload, _GROUP_COUNT.size + 2 * count)
    words = struct.unpack_from(f">{count}H", payload, _GROUP_COUNT.size)
    return GroupData(seq=seq, group=group, words=words)


def _decode_write_point(seq: int, payload: bytes) -> WritePoint:
    _expect_length(payload, _POINT_VALUE.size)
    point, value = _POINT_VALUE.unpack(payload)
    return WritePoint(seq=seq, point=point, value=value)


def _decode_write_ack(seq: int, payload: bytes) -> WriteAck:
    _expect_length(payload, _POINT_VALUE.size)
    point, value = _POINT_VALUE.unpack(payload)
    return WriteAck(seq=seq, point=point, value=value)


def _decode_nak(seq: int, payload: bytes) -> Nak:
    _expect_length(payload, 2)
    return Nak(seq=seq, request_type=payload[0], code=payload[1])


def _decode_heartbeat(seq: int, payload: bytes) -> Heartbeat:
    _expect_length(payload, _U16_PAIR.size)
    if seq != 0:
        raise ValueError(f"SEQ must be 0 in an unsolicited frame, got {seq}")
    counter, status = _U16_PAIR.unpack(payload)
    return Heartbeat(counter=counter, status=status)


_KNOWN_TYPES: Final = frozenset(FrameType)
_HOST_DECODERS: Final[Mapping[int, Callable[[int, bytes], HostEvent]]] = {
    FrameType.GROUP_DATA: _decode_group_data,
    FrameType.WRITE_ACK: _decode_write_ack,
    FrameType.NAK: _decode_nak,
    FrameType.HEARTBEAT: _decode_heartbeat,
}
_DEVICE_DECODERS: Final[Mapping[int, Callable[[int, bytes], DeviceEvent]]] = {
    FrameType.READ_GROUP: _decode_read_group,
    FrameType.WRITE_POINT: _decode_write_point,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class UmbilicalStatistics:
    """Counters of one receiving side, as a snapshot.

    `garbage_bytes` counts every byte thrown away outside a good frame, including the
    bytes of bad frames; `buffered_bytes` are received but not yet decoded.
    """

    frames: int
    bad_frames: int
    garbage_bytes: int
    buffered_bytes: int


_E = TypeVar("_E", bound=Event)


class _FrameReader(Generic[_E]):
    """Frame hunting, checking and decoding shared by both sides."""

    __slots__ = ("_bad_frames", "_buffer", "_decoders", "_device", "_frames", "_garbage", "_role")

    def __init__(
        self, decoders: Mapping[int, Callable[[int, bytes], _E]], *, role: str, device: str
    ) -> None:
        self._decoders = decoders
        self._role = role
        self._device = device
        self._buffer = bytearray()
        self._frames = 0
        self._bad_frames = 0
        self._garbage = 0

    def receive_data(self, data: bytes) -> None:
        self._buffer += data
        self._skip_garbage()

    def next_event(self) -> _E | NeedData:
        self._skip_garbage()
        buffer = self._buffer
        if len(buffer) <= _LEN_OFFSET:
            return NEED_DATA
        length = buffer[_LEN_OFFSET]
        if length > MAX_PAYLOAD:
            # Rejected at once: waiting for the bytes of an impossible frame would
            # only delay the good frames behind it.
            raise self._bad_frame(f"LEN {length} exceeds the maximum of {MAX_PAYLOAD}")
        end = _HEADER_SIZE + length + _CRC_SIZE
        if len(buffer) < end:
            return NEED_DATA
        checked = bytes(buffer[_LEN_OFFSET : end - _CRC_SIZE])
        received_crc = int.from_bytes(buffer[end - _CRC_SIZE : end], "big")
        computed_crc = crc16_ccitt_false(checked)
        if received_crc != computed_crc:
            raise self._bad_frame(
                f"bad CRC: got 0x{received_crc:04X}, computed 0x{computed_crc:04X}"
            )
        seq, frame_type = checked[1], checked[2]
        decode = self._decoders.get(frame_type)
        if decode is None:
            raise self._bad_frame(self._unexpected_type(frame_type, seq))
        try:
            event = decode(seq, checked[_HEADER_SIZE - _LEN_OFFSET :])
        except ValueError as exc:
            name = FrameType(frame_type).name
            raise self._bad_frame(f"bad {name} frame (SEQ {seq}): {exc}") from exc
        del buffer[:end]
        self._frames += 1
        return event

    def statistics(self) -> UmbilicalStatistics:
        return UmbilicalStatistics(
            frames=self._frames,
            bad_frames=self._bad_frames,
            garbage_bytes=self._garbage,
            buffered_bytes=len(self._buffer),
        )

    def _skip_garbage(self) -> None:
        buffer = self._buffer
        start = buffer.find(SYNC)
        if start < 0:
            # A trailing SYNC1 may be the first half of a sync pair still in flight.
            start = len(buffer) - 1 if buffer.endswith(SYNC[:1]) else len(buffer)
        if start:
            del buffer[:start]
            self._garbage += start

    def _bad_frame(self, reason: str) -> ProtocolError:
        # Only SYNC1 goes: the next sync pair may start inside this frame's bytes.
        del self._buffer[:1]
        self._garbage += 1
        self._bad_frames += 1
        return ProtocolError(reason, device=self._device)

    def _unexpected_type(self, frame_type: int, seq: int) -> str:
        if frame_type in _KNOWN_TYPES:
            name = FrameType(frame_type).name
            return f"{name} frame (SEQ {seq}) is never sent to the {self._role}"
        return f"unknown frame type 0x{frame_type:02X} (SEQ {seq})"


class UmbilicalHost:
    """The driver's side: builds requests, decodes answers and heartbeats.

    `next_event` raises `ProtocolError` for a bad frame, after discarding its first
    byte; calling it again carries on with the bytes that follow.
    """

    __slots__ = ("_last_seq", "_reader")

    def __init__(self, *, device: str = "") -> None:
        self._reader: _FrameReader[HostEvent] = _FrameReader(
            _HOST_DECODERS, role="host", device=device
        )
        self._last_seq = 0

    def next_request_seq(self) -> int:
        """Return the next request SEQ: 1, 2, ... 255, 1, ... (0 is never used)."""
        self._last_seq = self._last_seq % 255 + 1
        return self._last_seq

    def read_group(self, group: int) -> tuple[ReadGroup, bytes]:
        """Build a READ_GROUP request with a fresh SEQ; return it and its frame."""
        request = ReadGroup(seq=self.next_request_seq(), group=group)
        return request, encode_frame(request)

    def write_point(self, point: int, value: int) -> tuple[WritePoint, bytes]:
        """Build a WRITE_POINT request with a fresh SEQ; return it and its frame."""
        request = WritePoint(seq=self.next_request_seq(), point=point, value=value)
        return request, encode_frame(request)

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes received from the device."""
        self._reader.receive_data(data)

    def next_event(self) -> GroupData | WriteAck | Nak | Heartbeat | NeedData:
        """Return the next decoded frame, or NEED_DATA when none is complete."""
        return self._reader.next_event()

    def statistics(self) -> UmbilicalStatistics:
        """Return a snapshot of the receive counters."""
        return self._reader.statistics()


class UmbilicalDevice:
    """The controller's side (used by the simulator): decodes requests, builds answers.

    `next_event` raises `ProtocolError` for a bad frame, after discarding its first
    byte; calling it again carries on with the bytes that follow.
    """

    __slots__ = ("_reader",)

    def __init__(self, *, device: str = "") -> None:
        self._reader: _FrameReader[DeviceEvent] = _FrameReader(
            _DEVICE_DECODERS, role="device", device=device
        )

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes received from the host."""
        self._reader.receive_data(data)

    def next_event(self) -> ReadGroup | WritePoint | NeedData:
        """Return the next decoded request, or NEED_DATA when none is complete."""
        return self._reader.next_event()

    def statistics(self) -> UmbilicalStatistics:
        """Return a snapshot of the receive counters."""
        return self._reader.statistics()

    def group_data(self, seq: int, group: int, words: Sequence[int]) -> bytes:
        """Build the GROUP_DATA answer to the READ_GROUP with `seq`."""
        return encode_frame(GroupData(seq=seq, group=group, words=tuple(words)))

    def write_ack(self, seq: int, point: int, value: int) -> bytes:
        """Build the WRITE_ACK answer to the WRITE_POINT with `seq`."""
        return encode_frame(WriteAck(seq=seq, point=point, value=value))

    def nak(self, seq: int, request_type: int, code: int) -> bytes:
        """Build a NAK refusing the request with `seq`."""
        return encode_frame(Nak(seq=seq, request_type=request_type, code=code))

    def heartbeat(self, counter: int, status: int) -> bytes:
        """Build an unsolicited HEARTBEAT (SEQ 0)."""
        return encode_frame(Heartbeat(counter=counter, status=status))
