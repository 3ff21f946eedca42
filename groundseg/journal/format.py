"""The journal's on-disk format: Arrow IPC stream segments, one record batch per bus item.

    <dir>/samples-<first record, 20 digits>.arrows    sample batches
    <dir>/events-<first record, 20 digits>.arrows     events
    <file>.idx                                        a closed segment's summary (JSON)

Every segment is a plain Arrow IPC stream, so pyarrow (`ipc.open_stream`), polars
(`read_ipc_stream`), pandas (through pyarrow) and DuckDB read it directly. The schema's
metadata names the pad and its channels, so a segment explains itself: `channel` is an
index into the `channels` list. Each appended item gets a record number, increasing without
gaps across segments and restarts; publishers keep their cursor in record numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.events import Event, Severity
from groundseg.telemetry.run import SampleRun

__all__ = [
    "EVENTS",
    "SAMPLES",
    "SegmentSummary",
    "event_record_batch",
    "events_from_record_batch",
    "events_schema",
    "sample_batch_from_record_batch",
    "sample_record_batch",
    "sample_run_from_record_batches",
    "samples_schema",
    "segment_name",
    "segment_record",
]

SAMPLES = "samples"
EVENTS = "events"
SUFFIX = ".arrows"
INDEX_SUFFIX = ".idx"
FORMAT_VERSION = "1"

_SOURCE = pa.dictionary(pa.int16(), pa.string())
_TIME = pa.timestamp("ns", tz="UTC")


def samples_schema(*, pad: str, channels: Sequence[str], sources: Sequence[str]) -> pa.Schema:
    return pa.schema(
        [
            ("record", pa.uint64()),
            ("source", _SOURCE),
            ("seq", pa.uint64()),
            ("channel", pa.uint32()),
            ("time", pa.timestamp("ns", tz="UTC")),
            ("value", pa.float64()),
            ("quality", pa.uint8()),
        ],
        metadata={
            "groundseg.journal": FORMAT_VERSION,
            "groundseg.pad": pad,
            "groundseg.channels": json.dumps(list(channels)),
            "groundseg.sources": json.dumps(list(sources)),
            "groundseg.quality": json.dumps(
                {"0": "GOOD", "1": "STALE", "2": "INVALID", "3": "SIMULATED", "4": "REPLAYED"}
            ),
        },
    )


def events_schema(*, pad: str) -> pa.Schema:
    return pa.schema(
        [
            ("record", pa.uint64()),
            ("time", pa.timestamp("ns", tz="UTC")),
            ("source", pa.string()),
            ("kind", pa.string()),
            ("severity", pa.string()),
            ("message", pa.string()),
            ("fields", pa.string()),
        ],
        metadata={"groundseg.journal": FORMAT_VERSION, "groundseg.pad": pad},
    )


def sample_record_batch(
    schema: pa.Schema, sources: pa.Array, source_index: int, record: int, batch: SampleBatch
) -> pa.RecordBatch:
    """One sample batch as one record batch. Columns wrap the numpy buffers directly: at a
    poll cycle's size, building arrays the checked way costs more than writing them."""
    n = len(batch)
    return pa.RecordBatch.from_arrays(
        [
            _wrap(pa.uint64(), np.full(n, record, dtype=np.uint64)),
            pa.DictionaryArray.from_buffers(
                _SOURCE,
                n,
                [None, pa.py_buffer(np.full(n, source_index, dtype=np.int16))],
                dictionary=sources,
            ),
            _wrap(pa.uint64(), np.full(n, batch.seq, dtype=np.uint64)),
            _wrap(pa.uint32(), batch.channel.astype(np.uint32, copy=False)),
            _wrap(_TIME, batch.time_ns.astype(np.int64, copy=False)),
            _wrap(pa.float64(), batch.value.astype(np.float64, copy=False)),
            _wrap(pa.uint8(), batch.quality.astype(np.uint8, copy=False)),
        ],
        schema=schema,
    )


def _wrap(kind: pa.DataType, column: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(
        kind, len(column), [None, pa.py_buffer(np.ascontiguousarray(column))]
    )


def sample_batch_from_record_batch(record_batch: pa.RecordBatch) -> tuple[int, SampleBatch]:
    """(record number, the sample batch) of a journaled record batch, as numpy views."""
    columns = record_batch.columns
    source = columns[1]
    assert isinstance(source, pa.DictionaryArray)
    n = len(record_batch)
    record = int(columns[0].to_numpy(zero_copy_only=True)[0]) if n else 0
    name = str(source.dictionary[int(source.indices.to_numpy(zero_copy_only=True)[0])]) if n else ""
    return record, SampleBatch(
        source=name,
        seq=int(columns[2].to_numpy(zero_copy_only=True)[0]) if n else 0,
        channel=columns[3].to_numpy(zero_copy_only=True),
        time_ns=columns[4].view(pa.int64()).to_numpy(zero_copy_only=True),
        value=columns[5].to_numpy(zero_copy_only=True),
        quality=columns[6].to_numpy(zero_copy_only=True),
    )


def sample_run_from_record_batches(record_batches: Sequence[pa.RecordBatch]) -> SampleRun:
    """Record batches of one segment as one run, decoded together: the table is joined and
    turned into numpy once (a column at a time per record batch cost more than the rest of
    a replay)."""
    batches = [b for b in record_batches if b.num_rows]
    if not batches:
        return SampleRun.of([])
    table = pa.Table.from_batches(batches).combine_chunks()
    columns = [table.column(i).chunk(0) for i in range(table.num_columns)]
    source = columns[1]
    assert isinstance(source, pa.DictionaryArray)
    bounds = np.zeros(len(batches) + 1, dtype=np.intp)
    np.cumsum([b.num_rows for b in batches], out=bounds[1:])
    first = bounds[:-1]
    return SampleRun(
        sources=tuple(str(name) for name in source.dictionary.to_pylist()),
        source=source.indices.to_numpy(zero_copy_only=False)[first].astype(np.intp),
        seq=columns[2].to_numpy(zero_copy_only=False)[first].astype(np.int64),
        record=columns[0].to_numpy(zero_copy_only=False)[first].astype(np.int64),
        bounds=bounds,
        channel=columns[3].to_numpy(zero_copy_only=False),
        time_ns=columns[4].view(pa.int64()).to_numpy(zero_copy_only=False),
        value=columns[5].to_numpy(zero_copy_only=False),
        quality=columns[6].to_numpy(zero_copy_only=False),
    )


def event_record_batch(schema: pa.Schema, record: int, event: Event) -> pa.RecordBatch:
    return pa.record_batch(
        [
            pa.array([record], type=pa.uint64()),
            pa.array([event.time_ns], type=pa.timestamp("ns", tz="UTC")),
            pa.array([event.source]),
            pa.array([event.kind]),
            pa.array([str(event.severity)]),
            pa.array([event.message]),
            pa.array([json.dumps(dict(event.fields), sort_keys=True)]),
        ],
        schema=schema,
    )


def events_from_record_batch(record_batch: pa.RecordBatch) -> list[tuple[int, Event]]:
    records = record_batch.column("record").to_pylist()
    times = record_batch.column("time").cast(pa.int64()).to_pylist()
    columns = {
        name: record_batch.column(name).to_pylist()
        for name in ("source", "kind", "severity", "message", "fields")
    }
    return [
        (
            int(records[i]),
            Event(
                kind=columns["kind"][i],
                source=columns["source"][i],
                time_ns=int(times[i]),
                severity=Severity(columns["severity"][i]),
                message=columns["message"][i],
                fields=json.loads(columns["fields"][i]),
            ),
        )
        for i in range(len(records))
    ]


def segment_name(kind: str, first_record: int) -> str:
    return f"{kind}-{first_record:020d}{SUFFIX}"


def segment_record(path: Path) -> int:
    """The first record number a segment file holds, from its name."""
    return int(path.name.removesuffix(SUFFIX).rsplit("-", 1)[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentSummary:
    """What a closed segment holds, so readers and retention can skip it unopened."""

    first_record: int
    last_record: int
    rows: int
    min_time_ns: int
    max_time_ns: int
    bytes: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "first_record": self.first_record,
                "last_record": self.last_record,
                "rows": self.rows,
                "min_time_ns": self.min_time_ns,
                "max_time_ns": self.max_time_ns,
                "bytes": self.bytes,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> SegmentSummary:
        data: Mapping[str, int] = json.loads(text)
        return cls(**{key: int(value) for key, value in data.items()})
