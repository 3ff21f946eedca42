"""Telemetry frames: one sample batch as one compact binary MQTT payload (format GSF1).

Sans-I/O: bytes out of a batch, a batch out of bytes, `ProtocolError` for anything
malformed. All integers little-endian (the byte order of every machine we run on, so
decoding is a numpy view, not a parse). Layout, documented with examples in docs/mqtt.md:

    offset size  field
    0      4     magic b"GSF1"
    4      1     flags: bit 0 = one timestamp for the whole batch
    5      1     source length S (1-255)
    6      2     reserved, 0
    8      8     seq: the source's batch sequence number (u64)
    16     8     record: the controller's journal record number (u64)
    24     4     count N (u32)
    28     S     source, UTF-8
    28+S   8     time (i64 ns since the epoch, UTC) if flag bit 0, else 8*N times
    ...    4*N   channel indices (u32)
    ...    8*N   values (f64)
    ...    N     qualities (u8)

A batch from one poll cycle shares one timestamp, so a sample costs 13 bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from groundseg.errors import ProtocolError
from groundseg.telemetry.batch import SampleBatch

__all__ = ["HEADER", "MAGIC", "NOT_ARCHIVED", "Frame", "decode_frame", "encode_frame"]

MAGIC = b"GSF1"
HEADER = struct.Struct("<4sBBHQQI")
UNIFORM_TIME = 0x01
MAX_SAMPLES = 1_000_000
NOT_ARCHIVED = 2**64 - 1
"""The record number of a batch the controller could not journal (its disk was full): live
telemetry, stored by the ingest but outside the journal's record sequence."""


@dataclass(frozen=True, slots=True)
class Frame:
    record: int
    batch: SampleBatch


def encode_frame(batch: SampleBatch, *, record: int) -> bytes:
    source = batch.source.encode()
    if not 1 <= len(source) <= 255:
        raise ValueError(f"source name must be 1-255 bytes of UTF-8, got {len(source)}")
    times = batch.time_ns
    uniform = len(times) > 0 and bool((times == times[0]).all())
    parts = [
        HEADER.pack(
            MAGIC, UNIFORM_TIME if uniform else 0, len(source), 0, batch.seq, record, len(batch)
        ),
        source,
        times[:1].astype("<i8").tobytes() if uniform else times.astype("<i8").tobytes(),
        batch.channel.astype("<u4").tobytes(),
        batch.value.astype("<f8").tobytes(),
        batch.quality.astype("u1").tobytes(),
    ]
    return b"".join(parts)


def decode_frame(payload: bytes) -> Frame:
    """A frame from an MQTT payload; ProtocolError saying what is wrong otherwise."""
    if len(payload) < HEADER.size:
        raise ProtocolError(
            f"frame of {len(payload)} bytes is shorter than its {HEADER.size}-byte header"
        )
    magic, flags, source_length, reserved, seq, record, count = HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise ProtocolError(f"not a GSF1 frame: magic {magic!r}")
    if flags & ~UNIFORM_TIME or reserved:
        raise ProtocolError(f"unknown flags 0x{flags:02x} or reserved bits 0x{reserved:04x} set")
    if source_length == 0 or count > MAX_SAMPLES:
        raise ProtocolError(f"bad header: source length {source_length}, count {count}")
    uniform = bool(flags & UNIFORM_TIME)
    expected = HEADER.size + source_length + (8 if uniform else 8 * count) + 13 * count
    if len(payload) != expected:
        raise ProtocolError(
            f"frame of {count} samples should be {expected} bytes, got {len(payload)}"
        )
    offset = HEADER.size
    try:
        source = payload[offset : offset + source_length].decode()
    except UnicodeDecodeError:
        raise ProtocolError("source name is not UTF-8") from None
    offset += source_length
    if uniform:
        time = np.frombuffer(payload, dtype="<i8", count=1, offset=offset)
        times = np.full(count, time[0], dtype=np.int64)
        offset += 8
    else:
        times = np.frombuffer(payload, dtype="<i8", count=count, offset=offset).astype(
            np.int64, copy=False
        )
        offset += 8 * count
    channel = np.frombuffer(payload, dtype="<u4", count=count, offset=offset).astype(
        np.uint32, copy=False
    )
    offset += 4 * count
    value = np.frombuffer(payload, dtype="<f8", count=count, offset=offset).astype(
        np.float64, copy=False
    )
    offset += 8 * count
    quality = np.frombuffer(payload, dtype="u1", count=count, offset=offset).astype(
        np.uint8, copy=False
    )
    if quality.size and int(quality.max()) > 4:
        raise ProtocolError(f"unknown quality code {int(quality.max())}")
    return Frame(
        record,
        SampleBatch(
            source=source, seq=seq, channel=channel, time_ns=times, value=value, quality=quality
        ),
    )
