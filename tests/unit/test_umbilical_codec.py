"""UMB-1 umbilical codec: golden vectors from docs/protocols/umbilical.md, receiver
rules, a host/device pair over a fake link, and hypothesis fuzzing of both decoders.

The golden CRCs were computed outside the codec (binascii.crc_hqx and a bitwise
CRC-16/CCITT-FALSE agreed) and are written out literally here and in the document.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundseg.codecs.crc import crc16_ccitt_false
from groundseg.codecs.umbilical import (
    MAX_FRAME_SIZE,
    MAX_GROUP_WORDS,
    NEED_DATA,
    SYNC,
    DeviceEvent,
    Event,
    FrameType,
    GroupData,
    Heartbeat,
    HostEvent,
    Nak,
    NakCode,
    NeedData,
    ReadGroup,
    StatusFlag,
    UmbilicalDevice,
    UmbilicalHost,
    UmbilicalStatistics,
    WriteAck,
    WritePoint,
    encode_frame,
)
from groundseg.errors import ProtocolError

# Worked examples of the protocol document, byte for byte.
READ_GROUP_HEX = "A5 5A 01 01 01 03 C6 16"
GROUP_DATA_HEX = "A5 5A 08 01 81 03 03 0B B8 00 00 FF FF AF 1C"
GROUP_DATA_EMPTY_HEX = "A5 5A 02 07 81 05 00 F7 3D"
WRITE_POINT_HEX = "A5 5A 06 02 02 01 02 FF FF FA 24 B0 B0"
WRITE_ACK_HEX = "A5 5A 06 02 82 01 02 FF FF FA 24 1B 49"
NAK_HEX = "A5 5A 02 03 7F 02 04 1C 8C"
HEARTBEAT_HEX = "A5 5A 04 00 90 12 34 00 05 A9 8D"

TO_DEVICE_VECTORS: list[tuple[str, DeviceEvent]] = [
    (READ_GROUP_HEX, ReadGroup(seq=1, group=3)),
    (WRITE_POINT_HEX, WritePoint(seq=2, point=0x0102, value=-1500)),
]
TO_HOST_VECTORS: list[tuple[str, HostEvent]] = [
    (GROUP_DATA_HEX, GroupData(seq=1, group=3, words=(3000, 0, 0xFFFF))),
    (GROUP_DATA_EMPTY_HEX, GroupData(seq=7, group=5, words=())),
    (WRITE_ACK_HEX, WriteAck(seq=2, point=0x0102, value=-1500)),
    (NAK_HEX, Nak(seq=3, request_type=FrameType.WRITE_POINT, code=NakCode.INTERLOCK_REFUSED)),
    (HEARTBEAT_HEX, Heartbeat(counter=0x1234, status=0x0005)),
]
ALL_VECTORS: list[tuple[str, Event]] = [*TO_DEVICE_VECTORS, *TO_HOST_VECTORS]


class Receiver(Protocol):
    def receive_data(self, data: bytes) -> None: ...
    def next_event(self) -> Event | NeedData: ...
    def statistics(self) -> UmbilicalStatistics: ...


def drain(receiver: Receiver) -> tuple[list[Event], list[str]]:
    """Call next_event until NEED_DATA, collecting events and ProtocolError reasons."""
    events: list[Event] = []
    reasons: list[str] = []
    while True:
        try:
            event = receiver.next_event()
        except ProtocolError as exc:
            reasons.append(exc.reason)
            continue
        if event is NEED_DATA:
            return events, reasons
        events.append(event)


def feed(receiver: Receiver, chunks: Sequence[bytes]) -> tuple[list[Event], list[str]]:
    """Feed chunks one receive_data call each, draining and checking the buffer bound."""
    events: list[Event] = []
    reasons: list[str] = []
    for chunk in chunks:
        receiver.receive_data(chunk)
        more_events, more_reasons = drain(receiver)
        events += more_events
        reasons += more_reasons
        assert receiver.statistics().buffered_bytes < MAX_FRAME_SIZE
    return events, reasons


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *sorted({cut % (len(data) + 1) for cut in cuts}), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


# -- CRC -----------------------------------------------------------------------------


def test_crc_matches_the_standard_check_value() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_crc_of_nothing_is_the_initial_value() -> None:
    assert crc16_ccitt_false(b"") == 0xFFFF


# -- golden vectors ------------------------------------------------------------------


@pytest.mark.parametrize(("frame_hex", "event"), ALL_VECTORS)
def test_encoder_produces_the_documented_bytes(frame_hex: str, event: Event) -> None:
    assert encode_frame(event) == bytes.fromhex(frame_hex)


@pytest.mark.parametrize(("frame_hex", "event"), TO_HOST_VECTORS)
def test_host_decodes_the_documented_bytes(frame_hex: str, event: HostEvent) -> None:
    host = UmbilicalHost()
    host.receive_data(bytes.fromhex(frame_hex))
    assert host.next_event() == event
    assert host.next_event() is NEED_DATA
    assert host.statistics() == UmbilicalStatistics(
        frames=1, bad_frames=0, garbage_bytes=0, buffered_bytes=0
    )


@pytest.mark.parametrize(("frame_hex", "event"), TO_DEVICE_VECTORS)
def test_device_decodes_the_documented_bytes(frame_hex: str, event: DeviceEvent) -> None:
    device = UmbilicalDevice()
    device.receive_data(bytes.fromhex(frame_hex))
    assert device.next_event() == event
    assert device.next_event() is NEED_DATA


def test_host_request_builders_produce_the_documented_bytes() -> None:
    host = UmbilicalHost()
    assert host.read_group(3) == (ReadGroup(seq=1, group=3), bytes.fromhex(READ_GROUP_HEX))
    request, frame = host.write_point(0x0102, -1500)
    assert request == WritePoint(seq=2, point=0x0102, value=-1500)
    assert frame == bytes.fromhex(WRITE_POINT_HEX)


def test_device_answer_builders_produce_the_documented_bytes() -> None:
    device = UmbilicalDevice()
    assert device.group_data(1, 3, [3000, 0, 0xFFFF]) == bytes.fromhex(GROUP_DATA_HEX)
    assert device.group_data(7, 5, []) == bytes.fromhex(GROUP_DATA_EMPTY_HEX)
    assert device.write_ack(2, 0x0102, -1500) == bytes.fromhex(WRITE_ACK_HEX)
    refusal = device.nak(3, FrameType.WRITE_POINT, NakCode.INTERLOCK_REFUSED)
    assert refusal == bytes.fromhex(NAK_HEX)
    assert device.heartbeat(0x1234, 0x0005) == bytes.fromhex(HEARTBEAT_HEX)


def test_heartbeat_status_bits_are_named() -> None:
    status = StatusFlag(Heartbeat(counter=0, status=0x0005).status)
    assert status == StatusFlag.CONTROLLER_HEALTHY | StatusFlag.PLATES_MATED
    assert StatusFlag.MAST_RETRACTED not in status


def test_byte_by_byte_feeding_yields_the_same_events() -> None:
    stream = b"".join(bytes.fromhex(frame_hex) for frame_hex, _ in TO_HOST_VECTORS)
    host = UmbilicalHost()
    events, reasons = feed(host, [stream[i : i + 1] for i in range(len(stream))])
    assert events == [event for _, event in TO_HOST_VECTORS]
    assert reasons == []


def test_a_frame_is_not_decoded_before_its_last_crc_byte() -> None:
    frame = bytes.fromhex(GROUP_DATA_HEX)
    host = UmbilicalHost()
    host.receive_data(frame[:-1])
    assert host.next_event() is NEED_DATA
    host.receive_data(frame[-1:])
    assert host.next_event() == GroupData(seq=1, group=3, words=(3000, 0, 0xFFFF))


# -- receiver rules ------------------------------------------------------------------


def test_garbage_before_a_frame_is_skipped_and_counted() -> None:
    host = UmbilicalHost()
    host.receive_data(bytes.fromhex("00 A5 11 5A A5 " + HEARTBEAT_HEX))
    assert host.next_event() == Heartbeat(counter=0x1234, status=0x0005)
    assert host.statistics() == UmbilicalStatistics(
        frames=1, bad_frames=0, garbage_bytes=5, buffered_bytes=0
    )


def test_streamed_garbage_does_not_grow_the_buffer_even_undrained() -> None:
    host = UmbilicalHost()
    for _ in range(100):
        host.receive_data(bytes(range(0x80)) + b"\xa5")
    assert host.statistics().buffered_bytes == 1  # the trailing A5 may start a sync pair
    assert host.statistics().garbage_bytes == 100 * 0x81 - 1


def test_bad_crc_is_reported_and_the_next_good_frame_is_still_decoded() -> None:
    host = UmbilicalHost()
    corrupted = bytes.fromhex(GROUP_DATA_HEX[:-2] + "1D")
    host.receive_data(corrupted + bytes.fromhex(HEARTBEAT_HEX))
    with pytest.raises(ProtocolError, match=r"^bad CRC: got 0xAF1D, computed 0xAF1C$"):
        host.next_event()
    assert host.next_event() == Heartbeat(counter=0x1234, status=0x0005)
    stats = host.statistics()
    assert (stats.frames, stats.bad_frames, stats.garbage_bytes) == (1, 1, len(corrupted))


def test_len_above_240_is_rejected_as_soon_as_len_arrives() -> None:
    host = UmbilicalHost()
    host.receive_data(bytes.fromhex("A5 5A F1"))
    with pytest.raises(ProtocolError, match=r"LEN 241 exceeds the maximum of 240"):
        host.next_event()
    host.receive_data(bytes.fromhex(HEARTBEAT_HEX))
    assert host.next_event() == Heartbeat(counter=0x1234, status=0x0005)
    assert host.statistics().bad_frames == 1


def test_a_good_frame_hidden_inside_a_bad_frames_extent_is_found() -> None:
    """The recovery example of the document (§9.9): LEN 8 claims 15 bytes that hold
    the start of a heartbeat; dropping only the first sync byte lets the hunt find it."""
    host = UmbilicalHost()
    host.receive_data(bytes.fromhex("00 A5 11 A5 5A 08 01 81 " + HEARTBEAT_HEX))
    with pytest.raises(ProtocolError, match=r"^bad CRC: got 0x05A9, computed 0xBEB7$"):
        host.next_event()
    assert host.next_event() == Heartbeat(counter=0x1234, status=0x0005)
    # 00 A5 11, the bad candidate's A5, then 5A 08 01 81 skipped while hunting.
    assert host.statistics() == UmbilicalStatistics(
        frames=1, bad_frames=1, garbage_bytes=8, buffered_bytes=0
    )


@pytest.mark.parametrize(
    ("frame_hex", "reason"),
    [
        pytest.param(
            "A5 5A 05 02 82 01 02 00 00 00 01 3A",
            "bad WRITE_ACK frame (SEQ 2): payload is 5 bytes, expected 6",
            id="payload-length-wrong-for-type",
        ),
        pytest.param(
            "A5 5A 06 01 81 03 03 00 00 00 00 36 83",
            "bad GROUP_DATA frame (SEQ 1): payload is 6 bytes, expected 8",
            id="group-data-count-disagrees-with-len",
        ),
        pytest.param("A5 5A 00 04 33 06 68", "unknown frame type 0x33 (SEQ 4)", id="unknown-type"),
        pytest.param(
            "A5 5A 04 05 90 12 34 00 05 EA 8C",
            "bad HEARTBEAT frame (SEQ 5): SEQ must be 0 in an unsolicited frame, got 5",
            id="heartbeat-with-seq",
        ),
        pytest.param(
            "A5 5A 02 00 81 05 00 A6 10",
            "bad GROUP_DATA frame (SEQ 0): seq must be 1..255, got 0",
            id="answer-with-seq-0",
        ),
        pytest.param(
            "A5 5A 02 03 7F 02 09 CD 21",
            "bad NAK frame (SEQ 3): code must be 1..5, got 9",
            id="nak-code-unknown",
        ),
        pytest.param(
            READ_GROUP_HEX,
            "READ_GROUP frame (SEQ 1) is never sent to the host",
            id="host-bound-only",
        ),
    ],
)
def test_host_rejects_a_malformed_frame_naming_the_problem(frame_hex: str, reason: str) -> None:
    host = UmbilicalHost()
    host.receive_data(bytes.fromhex(frame_hex) + bytes.fromhex(HEARTBEAT_HEX))
    with pytest.raises(ProtocolError) as caught:
        host.next_event()
    assert caught.value.reason == reason
    assert host.next_event() == Heartbeat(counter=0x1234, status=0x0005)
    assert host.statistics().bad_frames == 1


def test_device_rejects_a_frame_only_the_host_receives() -> None:
    device = UmbilicalDevice(device="umbilical")
    device.receive_data(bytes.fromhex(HEARTBEAT_HEX + READ_GROUP_HEX))
    with pytest.raises(ProtocolError) as caught:
        device.next_event()
    assert caught.value.device == "umbilical"
    assert caught.value.reason == "HEARTBEAT frame (SEQ 0) is never sent to the device"
    assert device.next_event() == ReadGroup(seq=1, group=3)


# -- events and sequence numbers -----------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ReadGroup(seq=0, group=1), "seq must be 1..255, got 0"),
        (lambda: ReadGroup(seq=256, group=1), "seq must be 1..255, got 256"),
        (lambda: ReadGroup(seq=1, group=256), "group must be 0..255, got 256"),
        (lambda: GroupData(seq=1, group=0, words=(0,) * 120), "word count must be 0..119"),
        (lambda: GroupData(seq=1, group=0, words=(0, 0x10000)), r"words\[1\] must be 0..65535"),
        (lambda: GroupData(seq=1, group=0, words=(-1,)), r"words\[0\] must be 0..65535"),
        (lambda: WritePoint(seq=1, point=0x10000, value=0), "point must be 0..65535"),
        (lambda: WritePoint(seq=1, point=0, value=2**31), "value must be -2147483648..2147483647"),
        (lambda: WriteAck(seq=1, point=0, value=-(2**31) - 1), "value must be"),
        (lambda: Nak(seq=1, request_type=1, code=0), "code must be 1..5, got 0"),
        (lambda: Nak(seq=1, request_type=256, code=1), "request_type must be 0..255"),
        (lambda: Heartbeat(counter=0x10000, status=0), "counter must be 0..65535"),
        (lambda: Heartbeat(counter=0, status=-1), "status must be 0..65535"),
    ],
)
def test_events_refuse_out_of_range_fields(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_request_seq_wraps_from_255_to_1_and_never_uses_0() -> None:
    host = UmbilicalHost()
    seqs = [host.next_request_seq() for _ in range(600)]
    assert seqs[:3] == [1, 2, 3]
    assert seqs[254:257] == [255, 1, 2]
    assert 0 not in seqs


@dataclass
class CodecPair:
    """A host and a device codec joined by a fake link (byte concatenation)."""

    host: UmbilicalHost = field(default_factory=UmbilicalHost)
    device: UmbilicalDevice = field(default_factory=UmbilicalDevice)

    def to_device(self, *frames: bytes) -> list[ReadGroup | WritePoint]:
        self.device.receive_data(b"".join(frames))
        events: list[ReadGroup | WritePoint] = []
        while (event := self.device.next_event()) is not NEED_DATA:
            events.append(event)
        return events

    def to_host(self, *frames: bytes) -> list[GroupData | WriteAck | Nak | Heartbeat]:
        self.host.receive_data(b"".join(frames))
        events: list[GroupData | WriteAck | Nak | Heartbeat] = []
        while (event := self.host.next_event()) is not NEED_DATA:
            events.append(event)
        return events


def test_host_and_device_exchange_requests_and_answers_matched_by_seq() -> None:
    pair = CodecPair()

    read, frame = pair.host.read_group(7)
    assert pair.to_device(frame) == [read]
    answer = pair.device.group_data(read.seq, 7, [10, 20, 30])
    heartbeat = pair.device.heartbeat(41, StatusFlag.CONTROLLER_HEALTHY)
    assert pair.to_host(heartbeat, answer) == [
        Heartbeat(counter=41, status=StatusFlag.CONTROLLER_HEALTHY),
        GroupData(seq=read.seq, group=7, words=(10, 20, 30)),
    ]

    write, frame = pair.host.write_point(0x0200, 1)
    assert pair.to_device(frame) == [write]
    assert pair.to_host(pair.device.write_ack(write.seq, 0x0200, 1)) == [
        WriteAck(seq=write.seq, point=0x0200, value=1)
    ]

    refused, frame = pair.host.write_point(0x0201, 1)
    assert pair.to_device(frame) == [refused]
    nak = pair.device.nak(refused.seq, FrameType.WRITE_POINT, NakCode.INTERLOCK_REFUSED)
    assert pair.to_host(nak) == [
        Nak(seq=refused.seq, request_type=FrameType.WRITE_POINT, code=NakCode.INTERLOCK_REFUSED)
    ]
    assert [read.seq, write.seq, refused.seq] == [1, 2, 3]


def test_host_reports_a_late_answer_with_its_own_seq_for_the_driver_to_discard() -> None:
    pair = CodecPair()
    timed_out, _ = pair.host.read_group(1)
    current, _ = pair.host.read_group(1)
    late = pair.device.group_data(timed_out.seq, 1, [111])
    fresh = pair.device.group_data(current.seq, 1, [222])
    events = pair.to_host(late, fresh)
    assert [(event.seq, event) for event in events if isinstance(event, GroupData)] == [
        (timed_out.seq, GroupData(seq=1, group=1, words=(111,))),
        (current.seq, GroupData(seq=2, group=1, words=(222,))),
    ]


# -- hypothesis fuzzing --------------------------------------------------------------

request_seqs = st.integers(1, 255)
u8s = st.integers(0, 0xFF)
u16s = st.integers(0, 0xFFFF)
i32s = st.integers(-(2**31), 2**31 - 1)
host_bound_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        GroupData,
        seq=request_seqs,
        group=u8s,
        words=st.lists(u16s, max_size=MAX_GROUP_WORDS).map(tuple),
    ),
    st.builds(WriteAck, seq=request_seqs, point=u16s, value=i32s),
    st.builds(Nak, seq=request_seqs, request_type=u8s, code=st.sampled_from(NakCode)),
    st.builds(Heartbeat, counter=u16s, status=u16s),
)
device_bound_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(ReadGroup, seq=request_seqs, group=u8s),
    st.builds(WritePoint, seq=request_seqs, point=u16s, value=i32s),
)
SIDES: dict[str, tuple[Callable[[], Receiver], st.SearchStrategy[Event]]] = {
    "host": (UmbilicalHost, host_bound_events),
    "device": (UmbilicalDevice, device_bound_events),
}
# Noise rich in sync pairs, so the hunt and the LEN/CRC checks run, not just the skip.
noise = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.just(SYNC),
        st.builds(lambda n: SYNC + bytes((n,)), u8s),
        host_bound_events.map(encode_frame),
        device_bound_events.map(encode_frame),
    ),
    max_size=20,
).map(b"".join)
cut_points = st.lists(st.integers(0, 10_000), max_size=12)


def assert_bytes_accounted_for(receiver: Receiver, received: int, events: list[Event]) -> None:
    """Every received byte is in a good frame, counted as garbage, or still buffered."""
    stats = receiver.statistics()
    in_frames = sum(len(encode_frame(event)) for event in events)
    assert in_frames + stats.garbage_bytes + stats.buffered_bytes == received
    assert stats.frames == len(events)


@pytest.mark.parametrize("side", SIDES)
@settings(max_examples=150, deadline=None)
@given(stream=noise, cuts=cut_points)
def test_random_bytes_raise_only_protocol_error_and_stay_bounded(
    side: str, stream: bytes, cuts: list[int]
) -> None:
    make_receiver, _ = SIDES[side]
    receiver = make_receiver()
    events, reasons = feed(receiver, split(stream, cuts))
    assert receiver.statistics().bad_frames == len(reasons)
    assert_bytes_accounted_for(receiver, len(stream), events)


@dataclass(frozen=True)
class Mutated:
    stream: bytes
    originals: list[Event]
    untouched: list[Event]  # events whose frames no mutation flipped, split or shortened


@st.composite
def mutated_streams(draw: st.DrawFn, events: st.SearchStrategy[Event]) -> Mutated:
    originals = draw(st.lists(events, max_size=6))
    data = bytearray()
    owner: list[int] = []  # index of the frame each byte came from; -1 for inserted bytes
    for index, event in enumerate(originals):
        frame = encode_frame(event)
        data += frame
        owner += [index] * len(frame)
    touched: set[int] = set()
    mutations = st.tuples(st.sampled_from(["flip", "insert", "delete"]), st.integers(0), u8s)
    for kind, position, byte in draw(st.lists(mutations, min_size=1, max_size=6)):
        if kind == "insert":
            at = position % (len(data) + 1)
            if 0 < at < len(data) and owner[at - 1] == owner[at]:
                touched.add(owner[at])
            data.insert(at, byte)
            owner.insert(at, -1)
        elif data:
            at = position % len(data)
            touched.add(owner[at])
            if kind == "delete":
                del data[at]
                del owner[at]
            else:
                data[at] ^= byte or 0xFF
    untouched = [event for index, event in enumerate(originals) if index not in touched]
    return Mutated(stream=bytes(data), originals=originals, untouched=untouched)


def is_subsequence(items: Sequence[Event], of: Sequence[Event]) -> bool:
    remaining = iter(of)
    return all(item in remaining for item in items)


@pytest.mark.parametrize("side", SIDES)
@settings(max_examples=150, deadline=None)
@given(data=st.data(), cuts=cut_points)
def test_mutated_frames_raise_only_protocol_error_and_stay_bounded(
    side: str, data: st.DataObject, cuts: list[int]
) -> None:
    make_receiver, events = SIDES[side]
    mutated = data.draw(mutated_streams(events))
    receiver = make_receiver()
    decoded, reasons = feed(receiver, split(mutated.stream, cuts))
    assert receiver.statistics().bad_frames == len(reasons)
    assert_bytes_accounted_for(receiver, len(mutated.stream), decoded)


@pytest.mark.parametrize("side", SIDES)
@settings(max_examples=200, deadline=None, derandomize=True)
@given(data=st.data(), cuts=cut_points)
def test_frames_untouched_by_mutations_are_all_decoded(
    side: str, data: st.DataObject, cuts: list[int]
) -> None:
    """Resynchronisation after flips (LEN included), insertions and deletions.

    Damage to LEN, or a shifted frame, escapes CRC-16 with probability 2**-16, so this
    property can fail by chance; derandomize keeps it to one fixed, checked sequence of
    examples instead of a rare flake.
    """
    make_receiver, events = SIDES[side]
    mutated = data.draw(mutated_streams(events))
    receiver = make_receiver()
    # Trailing zeros complete any frame the hunt is still waiting on, as later
    # traffic would on a live link.
    decoded, _ = feed(receiver, split(mutated.stream + bytes(MAX_FRAME_SIZE), cuts))
    assert is_subsequence(mutated.untouched, decoded)
    assert is_subsequence(decoded, mutated.originals)


@pytest.mark.parametrize("side", SIDES)
@settings(max_examples=200, deadline=None)
@given(data=st.data(), cuts=cut_points)
def test_a_single_byte_flip_loses_only_the_damaged_frame(
    side: str, data: st.DataObject, cuts: list[int]
) -> None:
    """A flip outside LEN is always caught (CRC-16 detects every burst of up to 16 bits),
    so the decoded events are exactly the encoded ones minus the damaged frame. A flip
    of LEN moves where the CRC is read, which CRC-16 catches only with probability
    1 - 2**-16, so LEN is left out; the hunt through the damaged frame's bytes carries
    the same tiny chance, which is accepted.
    """
    make_receiver, event_strategy = SIDES[side]
    events = data.draw(st.lists(event_strategy, min_size=1, max_size=6))
    frames = [encode_frame(event) for event in events]
    damaged = data.draw(st.integers(0, len(frames) - 1))
    offset = data.draw(st.integers(0, len(frames[damaged]) - 1).filter(lambda i: i != 2))
    mask = data.draw(st.integers(1, 0xFF))
    flipped = bytearray(frames[damaged])
    flipped[offset] ^= mask
    frames[damaged] = bytes(flipped)
    # Trailing zeros complete any frame the hunt is still waiting on, as later
    # traffic would on a live link.
    stream = b"".join(frames) + bytes(MAX_FRAME_SIZE)
    receiver = make_receiver()
    decoded, _ = feed(receiver, split(stream, cuts))
    assert decoded == events[:damaged] + events[damaged + 1 :]


@pytest.mark.parametrize("side", SIDES)
@settings(max_examples=150, deadline=None)
@given(data=st.data(), cuts=cut_points)
def test_valid_frames_split_anywhere_decode_to_the_encoded_events(
    side: str, data: st.DataObject, cuts: list[int]
) -> None:
    make_receiver, event_strategy = SIDES[side]
    events = data.draw(st.lists(event_strategy, max_size=8))
    stream = b"".join(encode_frame(event) for event in events)
    receiver = make_receiver()
    decoded, reasons = feed(receiver, split(stream, cuts))
    assert (decoded, reasons) == (events, [])
    assert receiver.statistics() == UmbilicalStatistics(
        frames=len(events), bad_frames=0, garbage_bytes=0, buffered_bytes=0
    )
