"""Where a replay reads recorded telemetry: the controller's journal, or the database.

Both yield `SampleBatch`es in time order with the recorded values and qualities. The
journal is the record itself (every sample, in poll-cycle batches). The database is read
with InfluxQL over `/query` (InfluxDB 1.x, 2.x with a DBRP mapping, 3.x), a window of
recorded time per query so no answer grows with the campaign; each stored line (a device's
poll cycle, docs/influx.md) becomes one batch again. Quality is stored by exception: a
value without its `_quality` field is GOOD.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

from groundseg.errors import GroundsegError
from groundseg.journal.reader import JournalReader
from groundseg.telemetry.batch import QUALITY_DTYPE, SampleBatch
from groundseg.telemetry.events import Event

__all__ = ["InfluxV1Source", "JournalSource", "ReplaySource", "SourceError"]

QUALITY_SUFFIX = "_quality"


class SourceError(GroundsegError):
    pass


class ReplaySource(Protocol):
    channel_names: list[str]

    def batches(self, start_ns: int | None, end_ns: int | None) -> Iterator[SampleBatch]: ...

    def events(self, start_ns: int | None, end_ns: int | None) -> Iterator[Event]:
        """The recorded events (the countdown, phases) where the source has them."""
        ...

    def estimate(self, start_ns: int | None, end_ns: int | None) -> int:
        """About how many samples `batches` will yield (0: unknown)."""
        ...


class JournalSource:
    def __init__(self, directory: Path) -> None:
        self.reader = JournalReader(directory)
        self.channel_names = self.reader.channel_names()
        if not self.channel_names:
            raise SourceError(f"{directory}: no journal there")

    def batches(self, start_ns: int | None, end_ns: int | None) -> Iterator[SampleBatch]:
        for _, batch in self.reader.samples(start_ns=start_ns, end_ns=end_ns):
            yield batch

    def events(self, start_ns: int | None, end_ns: int | None) -> Iterator[Event]:
        for _, event in self.reader.events(start_ns=start_ns, end_ns=end_ns):
            yield event

    def estimate(self, start_ns: int | None, end_ns: int | None) -> int:
        return self.reader.sample_count(start_ns=start_ns, end_ns=end_ns)


@dataclass
class InfluxV1Source:
    url: str
    database: str
    pad: str
    """The `pad` tag the ingest wrote (the pad's topic name)."""
    channel_names: list[str]
    window_s: float = 60.0
    username: str | None = None
    password: str | None = None
    timeout_s: float = 60.0

    def events(self, start_ns: int | None, end_ns: int | None) -> Iterator[Event]:
        """The database keeps telemetry only: no countdown context (monitors replayed from
        it see no count under way; give them the journal's events for that)."""
        return iter(())

    def estimate(self, start_ns: int | None, end_ns: int | None) -> int:
        return 0

    def batches(self, start_ns: int | None, end_ns: int | None) -> Iterator[SampleBatch]:
        index = {name: i for i, name in enumerate(self.channel_names)}
        seq: dict[str, int] = {}
        with httpx.Client(base_url=self.url, timeout=self.timeout_s) as client:
            first, last = self._span(client)
            if first is None or last is None:
                return
            start = first if start_ns is None else max(start_ns, first)
            end = last + 1 if end_ns is None else min(end_ns, last + 1)
            window = max(int(self.window_s * 1e9), 1)
            for low in range(start, end, window):
                high = min(low + window, end)
                rows = self._query(
                    client,
                    # The pad is a bound parameter; the times are integers computed here.
                    "SELECT * FROM telemetry WHERE pad = $pad "  # noqa: S608
                    f"AND time >= {low:d} AND time < {high:d} GROUP BY source",
                )
                yield from _batches(rows, index, seq)

    def _span(self, client: httpx.Client) -> tuple[int | None, int | None]:
        ends = []
        for query in (
            "SELECT * FROM telemetry WHERE pad = $pad ORDER BY time ASC LIMIT 1",
            "SELECT * FROM telemetry WHERE pad = $pad ORDER BY time DESC LIMIT 1",
        ):
            rows = self._query(client, query)
            ends.append(int(rows[0][1][0][0]) if rows and rows[0][1] else None)
        return ends[0], ends[1]

    def _query(self, client: httpx.Client, query: str) -> list[tuple[dict[str, Any], Any]]:
        """(series with its tags and columns, its rows) of one InfluxQL statement."""
        auth = (self.username, self.password or "") if self.username else None
        try:
            answer = client.get(
                "/query",
                params={
                    "db": self.database,
                    "q": query,
                    "epoch": "ns",
                    "params": json.dumps({"pad": self.pad}),
                },
                auth=auth,
            )
        except httpx.HTTPError as exc:
            raise SourceError(f"{self.url}: {exc}") from None
        if answer.status_code != 200:
            raise SourceError(f"{self.url}/query: HTTP {answer.status_code}: {answer.text[:300]}")
        result = answer.json()["results"][0]
        if "error" in result:
            raise SourceError(f"{self.url}/query: {result['error']}")
        return [(s, s.get("values", [])) for s in result.get("series", [])]


def _batches(
    series: Sequence[tuple[dict[str, Any], Any]], index: dict[str, int], seq: dict[str, int]
) -> Iterator[SampleBatch]:
    rows: list[tuple[int, str, SampleBatch]] = []
    for header, values in series:
        source = str(header.get("tags", {}).get("source", ""))
        columns: list[str] = header["columns"]
        value_at = {index[name]: c for c, name in enumerate(columns) if name in index}
        quality_at = {
            index[name[: -len(QUALITY_SUFFIX)]]: c
            for c, name in enumerate(columns)
            if name.endswith(QUALITY_SUFFIX) and name[: -len(QUALITY_SUFFIX)] in index
        }
        # A channel never finite in the window has a quality column and no value column.
        known = sorted(set(value_at) | set(quality_at))
        for row in values:
            channels, numbers, qualities = [], [], []
            for channel in known:
                value_column, quality_column = value_at.get(channel), quality_at.get(channel)
                value = row[value_column] if value_column is not None else None
                quality = row[quality_column] if quality_column is not None else None
                if value is None and quality is None:
                    continue
                channels.append(channel)
                numbers.append(float("nan") if value is None else float(value))
                qualities.append(int(quality or 0))
            if not channels:
                continue
            time_ns = int(row[0])
            number = seq.get(source, 0)
            seq[source] = number + 1
            rows.append(
                (
                    time_ns,
                    source,
                    SampleBatch(
                        source=source,
                        seq=number,
                        channel=np.array(channels, dtype=np.uint32),
                        time_ns=np.full(len(channels), time_ns, dtype=np.int64),
                        value=np.array(numbers, dtype=np.float64),
                        quality=np.array(qualities, dtype=QUALITY_DTYPE),
                    ),
                )
            )
    rows.sort(key=lambda r: (r[0], r[1]))
    for _, _, batch in rows:
        yield batch
