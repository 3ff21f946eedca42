"""Export of recorded channels over a time range, to CSV or Parquet.

One row per sample (time, channel, value, quality, source): lossless, and what pandas,
Polars, DuckDB or a spreadsheet take directly. Rows go out in chunks, so an export of a
whole campaign runs in bounded memory. The file appears under its name only once it is
complete: an interrupted or failed export leaves nothing behind that looks finished.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from groundseg.errors import ConfigError, ConfigProblem
from groundseg.journal.reader import JournalReader
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch

__all__ = ["ExportFormat", "ExportSummary", "export_samples", "select_channels"]

ExportFormat = Literal["csv", "parquet"]
CHUNK_ROWS = 1_000_000
QUALITY_NAMES = pa.array([q.name for q in sorted(Quality)])

SCHEMA = pa.schema(
    [
        ("time", pa.timestamp("ns", tz="UTC")),
        ("channel", pa.dictionary(pa.int32(), pa.string())),
        ("value", pa.float64()),
        ("quality", pa.dictionary(pa.int8(), pa.string())),
        ("source", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    rows: int
    channels: tuple[str, ...]


def select_channels(names: Sequence[str], patterns: Sequence[str]) -> npt.NDArray[np.bool_]:
    """A mask over `names` of the channels any pattern matches (shell globs); every pattern
    must match something, or the export would quietly leave a channel out."""
    if not patterns:
        return np.ones(len(names), dtype=bool)
    mask = np.zeros(len(names), dtype=bool)
    unmatched = []
    for pattern in patterns:
        hits = [i for i, name in enumerate(names) if fnmatch.fnmatchcase(name, pattern)]
        if not hits:
            unmatched.append(pattern)
        mask[hits] = True
    if unmatched:
        raise ConfigError(
            "--channels",
            [
                ConfigProblem(key=p, expected="a pattern matching a recorded channel")
                for p in unmatched
            ],
        )
    return mask


def export_samples(
    journal: Path,
    out: Path,
    *,
    channels: Sequence[str] = (),
    start_ns: int | None = None,
    end_ns: int | None = None,
    file_format: ExportFormat = "csv",
    progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    reader = JournalReader(journal)
    names = reader.channel_names()
    if not names:
        raise ConfigError("--journal", [ConfigProblem(key=str(journal), expected="a journal")])
    wanted = select_channels(names, channels)
    dictionary = pa.array(names)
    partial = out.with_name(f".{out.name}.partial")
    rows = 0
    try:
        with _writer(partial, file_format) as write:
            for table in _chunks(reader, wanted, dictionary, start_ns, end_ns):
                write(table)
                rows += table.num_rows
                if progress is not None:
                    progress(rows)
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ExportSummary(out, rows, tuple(n for n, w in zip(names, wanted, strict=True) if w))


def _chunks(
    reader: JournalReader,
    wanted: npt.NDArray[np.bool_],
    dictionary: pa.Array,
    start_ns: int | None,
    end_ns: int | None,
) -> Iterator[pa.Table]:
    pending: list[tuple[SampleBatch, npt.NDArray[np.bool_]]] = []
    size = 0
    for _, batch in reader.samples(start_ns=start_ns, end_ns=end_ns):
        keep = wanted[batch.channel]
        count = int(keep.sum())
        if count == 0:
            continue
        pending.append((batch, keep))
        size += count
        if size >= CHUNK_ROWS:
            yield _table(pending, dictionary)
            pending, size = [], 0
    if pending:
        yield _table(pending, dictionary)


def _table(
    pending: list[tuple[SampleBatch, npt.NDArray[np.bool_]]], dictionary: pa.Array
) -> pa.Table:
    times = np.concatenate([b.time_ns[k] for b, k in pending])
    channel = np.concatenate([b.channel[k] for b, k in pending]).astype(np.int32)
    value = np.concatenate([b.value[k] for b, k in pending])
    quality = np.concatenate([b.quality[k] for b, k in pending]).astype(np.int8)
    sources = np.concatenate([np.full(int(k.sum()), b.source, dtype=object) for b, k in pending])
    return pa.table(
        [
            pa.array(times, type=pa.int64()).cast(SCHEMA.field("time").type),
            pa.DictionaryArray.from_arrays(pa.array(channel), dictionary),
            # No reading (a device error, a channel never read) is null: an empty CSV cell,
            # a Parquet null, not the text "nan"; the quality says why.
            pa.array(value, from_pandas=True),
            pa.DictionaryArray.from_arrays(pa.array(quality), QUALITY_NAMES),
            pa.array(sources, type=pa.string()),
        ],
        schema=SCHEMA,
    )


@contextlib.contextmanager
def _writer(path: Path, file_format: ExportFormat) -> Iterator[Callable[[pa.Table], None]]:
    if file_format == "parquet":
        with pq.ParquetWriter(path, SCHEMA, compression="zstd") as parquet:
            yield parquet.write_table
        return
    with pa_csv.CSVWriter(path, _CSV_SCHEMA) as csv:

        def write(table: pa.Table) -> None:
            csv.write_table(_flat(table))

        yield write


_CSV_SCHEMA = pa.schema(
    [
        ("time", pa.string()),
        ("channel", pa.string()),
        ("value", pa.float64()),
        ("quality", pa.string()),
        ("source", pa.string()),
    ]
)


def _flat(table: pa.Table) -> pa.Table:
    """CSV has no dictionaries; times in ISO 8601 with nanoseconds and a Z."""
    time = pc.strftime(table.column("time"), format="%Y-%m-%dT%H:%M:%SZ")
    return pa.table(
        [
            time,
            table.column("channel").cast(pa.string()),
            table.column("value"),
            table.column("quality").cast(pa.string()),
            table.column("source"),
        ],
        schema=_CSV_SCHEMA,
    )
