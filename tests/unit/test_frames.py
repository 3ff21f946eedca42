"""GSF1 telemetry frames: golden bytes from the format description, round trips, fuzzing."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from groundseg.codecs.frames import decode_frame, encode_frame
from groundseg.errors import ProtocolError
from groundseg.telemetry.batch import SampleBatch

# Written from the layout in docs/mqtt.md: magic, flags 01, source length 3, reserved,
# seq 7, record 42, count 2, "plc", one time 1.8e18 ns, channels 3 and 4, values 1.5 and
# -2.0, qualities GOOD and INVALID; all little-endian.
GOLDEN = bytes.fromhex(
    "47534631"
    "01"
    "03"
    "0000"
    "0700000000000000"
    "2a00000000000000"
    "02000000"
    "706c63"
    "0000b49376e2fa18"
    "03000000"
    "04000000"
    "000000000000f83f"
    "00000000000000c0"
    "00"
    "02"
)
GOLDEN_BATCH = SampleBatch.at(
    source="plc",
    seq=7,
    time_ns=1_800_000_000_000_000_000,
    channel=np.array([3, 4], dtype=np.uint32),
    value=np.array([1.5, -2.0]),
    quality=np.array([0, 2], dtype=np.uint8),
)


def equal(a: SampleBatch, b: SampleBatch) -> bool:
    return (
        (a.source, a.seq) == (b.source, b.seq)
        and np.array_equal(a.channel, b.channel)
        and np.array_equal(a.time_ns, b.time_ns)
        and np.array_equal(a.value, b.value, equal_nan=True)
        and np.array_equal(a.quality, b.quality)
    )


def test_encoding_gives_the_documented_bytes() -> None:
    assert encode_frame(GOLDEN_BATCH, record=42) == GOLDEN


def test_the_documented_bytes_decode_to_the_batch() -> None:
    frame = decode_frame(GOLDEN)
    assert frame.record == 42
    assert equal(frame.batch, GOLDEN_BATCH)


def test_a_batch_with_several_timestamps_carries_them_all() -> None:
    batch = SampleBatch(
        source="weather",
        seq=1,
        channel=np.array([1, 2], dtype=np.uint32),
        time_ns=np.array([10, 20], dtype=np.int64),
        value=np.array([0.5, 0.25]),
        quality=np.zeros(2, dtype=np.uint8),
    )
    payload = encode_frame(batch, record=0)
    assert payload[4] == 0, "flag bit 0 clear: per-sample times"
    assert equal(decode_frame(payload).batch, batch)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (GOLDEN[:20], "shorter than its 28-byte header"),
        (b"XXXX" + GOLDEN[4:], "not a GSF1 frame"),
        (GOLDEN[:4] + b"\x03" + GOLDEN[5:], "unknown flags"),
        (GOLDEN + b"\x00", "should be 65 bytes, got 66"),
        (GOLDEN[:-1] + b"\x09", "unknown quality code 9"),
        (GOLDEN[:28] + b"\xff\xfe\xfd" + GOLDEN[31:], "not UTF-8"),
    ],
)
def test_malformed_frames_are_refused_saying_why(payload: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decode_frame(payload)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=40
    ).filter(lambda s: len(s.encode()) <= 255),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.integers(min_value=0, max_value=2**64 - 1),
    arrays(
        np.float64, st.integers(0, 300), elements=st.floats(allow_nan=True, allow_infinity=True)
    ),
    st.booleans(),
)
def test_any_batch_round_trips(
    source: str, seq: int, record: int, values: np.ndarray, uniform: bool
) -> None:
    n = len(values)
    times = (
        np.full(n, 1_700_000_000_000_000_000, dtype=np.int64)
        if uniform
        else np.arange(n, dtype=np.int64) * 1000
    )
    batch = SampleBatch(
        source=source,
        seq=seq,
        channel=np.arange(n, dtype=np.uint32),
        time_ns=times,
        value=values,
        quality=(np.arange(n) % 5).astype(np.uint8),
    )
    frame = decode_frame(encode_frame(batch, record=record))
    assert frame.record == record
    assert equal(frame.batch, batch)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_protocol_errors(payload: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_frame(payload)


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=len(GOLDEN) - 1), st.integers(min_value=1, max_value=255))
def test_a_damaged_header_is_refused_or_changes_only_what_it_damaged(
    position: int, xor: int
) -> None:
    damaged = bytearray(GOLDEN)
    damaged[position] ^= xor
    try:
        frame = decode_frame(bytes(damaged))
    except ProtocolError:
        return
    # MQTT runs over TCP, which guards the payload; the frame checks its structure only, so
    # a damaged value byte decodes, but a damaged length never yields a misaligned batch.
    assert len(frame.batch) == len(GOLDEN_BATCH)
