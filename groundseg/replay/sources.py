"""Where a replay reads recorded telemetry: the controller's journal, or a database.

Both yield `SampleBatch`es in time order with the recorded values and qualities. The
journal is the record itself (every sample, in poll-cycle batches). The database is read
with InfluxQL over `/query` (InfluxDB 1.x, 2.x with a DBRP mapping, 3.x), a window of
recorded time per query so no answer grows with the campaign; each stored line (a device's
poll cycle, docs/influx.md) becomes one batch again. VictoriaMetrics is read through its
export API (`/api/v1/export`, a series per field, millisecond timestamps), the series
regrouped by device and time into batches. Quality is stored by exception: a value
without its `_quality` field (series) is GOOD, or REPLAYED on a line marked `_replayed`
(docs/influx.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

from groundseg.errors import GroundsegError
from groundseg.ingest.lines import QUALITY_SUFFIX, REPLAYED_FIELD, implied_quality
from groundseg.journal.reader import JournalReader
from groundseg.telemetry.batch import QUALITY_DTYPE, SampleBatch
from groundseg.telemetry.events import Event

__all__ = [
    "InfluxV1Source",
    "JournalSource",
    "ReplaySource",
    "SourceError",
    "VictoriaMetricsSource",
]


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

    def span(self) -> tuple[int, int] | None:
        """The first and last sample times (ns); None: empty, or no cheap way to know."""
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

    def span(self) -> tuple[int, int] | None:
        return self.reader.time_span()


class _TelemetryOnly:
    """A database keeps telemetry only: no countdown context (monitors replayed from it see
    no count under way), and no cheap count of what a range holds."""

    def events(self, start_ns: int | None, end_ns: int | None) -> Iterator[Event]:
        return iter(())

    def estimate(self, start_ns: int | None, end_ns: int | None) -> int:
        return 0

    def span(self) -> tuple[int, int] | None:
        return None


@dataclass
class InfluxV1Source(_TelemetryOnly):
    url: str
    database: str
    pad: str
    """The `pad` tag the ingest wrote (the pad's topic name)."""
    channel_names: list[str]
    window_s: float = 60.0
    username: str | None = None
    password: str | None = None
    timeout_s: float = 60.0

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

    def span(self) -> tuple[int, int] | None:
        with httpx.Client(base_url=self.url, timeout=self.timeout_s) as client:
            first, last = self._span(client)
        return None if first is None or last is None else (first, last)

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
        replayed_at = columns.index(REPLAYED_FIELD) if REPLAYED_FIELD in columns else None
        for row in values:
            implied = implied_quality(row[replayed_at] if replayed_at is not None else None)
            channels, numbers, qualities = [], [], []
            for channel in known:
                value_column, quality_column = value_at.get(channel), quality_at.get(channel)
                value = row[value_column] if value_column is not None else None
                quality = row[quality_column] if quality_column is not None else None
                if value is None and quality is None:
                    continue
                channels.append(channel)
                numbers.append(float("nan") if value is None else float(value))
                qualities.append(implied if quality is None else int(quality))
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


@dataclass
class VictoriaMetricsSource(_TelemetryOnly):
    url: str
    pad: str
    channel_names: list[str]
    window_s: float = 60.0
    timeout_s: float = 60.0

    def batches(self, start_ns: int | None, end_ns: int | None) -> Iterator[SampleBatch]:
        """With both ends given, a window of recorded time per export; without, one export
        of everything (this VictoriaMetrics has no cheap query for a series' first and
        last times: give --from and --to to read a long campaign piecewise)."""
        index = {name: i for i, name in enumerate(self.channel_names)}
        seq: dict[str, int] = {}
        with httpx.Client(base_url=self.url, timeout=self.timeout_s) as client:
            if start_ns is None or end_ns is None:
                low = 0 if start_ns is None else -(-start_ns // 1_000_000)
                high = (
                    (time.time_ns() // 1_000_000 + FUTURE_MS)
                    if end_ns is None
                    else -(-end_ns // 1_000_000)
                )
                yield from _regrouped(self._export(client, low, high - 1), index, seq)
                return
            window_ms = max(int(self.window_s * 1000), 1)
            low, end = -(-start_ns // 1_000_000), -(-end_ns // 1_000_000)
            for window_low in range(low, end, window_ms):
                high = min(window_low + window_ms, end)
                yield from _regrouped(self._export(client, window_low, high - 1), index, seq)

    def _match(self) -> str:
        return f'{{__name__=~"telemetry_.+",pad="{self.pad}"}}'

    def _get(self, client: httpx.Client, path: str, params: dict[str, str]) -> httpx.Response:
        try:
            answer = client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise SourceError(f"{self.url}: {exc}") from None
        if answer.status_code != 200:
            raise SourceError(f"{self.url}{path}: HTTP {answer.status_code}: {answer.text[:300]}")
        return answer

    def _export(self, client: httpx.Client, low_ms: int, high_ms: int) -> list[dict[str, Any]]:
        answer = self._get(
            client,
            "/api/v1/export",
            {
                "match[]": self._match(),
                "start": f"{low_ms / 1000:.3f}",
                "end": f"{high_ms / 1000:.3f}",
            },
        )
        return [json.loads(line) for line in answer.text.splitlines() if line.strip()]


_PREFIX = "telemetry_"
FUTURE_MS = 2 * 86_400_000
"""VictoriaMetrics keeps rows up to two days ahead of its clock (DESIGN section 7)."""


def _regrouped(
    series: list[dict[str, Any]], index: dict[str, int], seq: dict[str, int]
) -> Iterator[SampleBatch]:
    """Series of one field each, back into a batch per device and millisecond."""
    cells: dict[tuple[int, str], dict[int, list[float | None]]] = {}
    replayed: set[tuple[int, str]] = set()
    for one in series:
        metric = one["metric"]
        field = str(metric.get("__name__", "")).removeprefix(_PREFIX)
        source = str(metric.get("source", ""))
        if field == REPLAYED_FIELD:
            replayed.update(
                (int(t), source) for t, v in zip(one["timestamps"], one["values"], strict=True) if v
            )
            continue
        is_quality = field.endswith(QUALITY_SUFFIX)
        channel = index.get(field[: -len(QUALITY_SUFFIX)] if is_quality else field)
        if channel is None:
            continue
        for stamp, value in zip(one["timestamps"], one["values"], strict=True):
            cell = cells.setdefault((int(stamp), source), {}).setdefault(channel, [None, None])
            cell[1 if is_quality else 0] = float(value)
    for (stamp, source), found in sorted(cells.items()):
        channels = sorted(found)
        implied = implied_quality(True if (stamp, source) in replayed else None)
        number = seq.get(source, 0)
        seq[source] = number + 1
        yield SampleBatch(
            source=source,
            seq=number,
            channel=np.array(channels, dtype=np.uint32),
            time_ns=np.full(len(channels), stamp * 1_000_000, dtype=np.int64),
            value=np.array(
                [np.nan if found[c][0] is None else found[c][0] for c in channels],
                dtype=np.float64,
            ),
            quality=np.array(
                [implied if (q := found[c][1]) is None else int(q) for c in channels],
                dtype=QUALITY_DTYPE,
            ),
        )
