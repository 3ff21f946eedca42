"""The database writers against Debian's InfluxDB 1.6 and VictoriaMetrics."""

from __future__ import annotations

import concurrent.futures
import logging
from pathlib import Path

import numpy as np
import pytest

from groundseg.ingest.lines import LineBuilder
from groundseg.ingest.service import IngestSettings
from groundseg.ingest.sinks import InfluxV1Sink, InfluxV2Sink, SinkError
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch
from tests.services import InfluxDB1, VictoriaMetrics

T0 = 1_780_000_000_000_000_000
BUILDER = LineBuilder(pad="testpad", channels=["lox.s1.level.a", "wx.wind.m10.gust"])


def batch(seq: int) -> SampleBatch:
    return SampleBatch.at(
        source="plc",
        seq=seq,
        time_ns=T0 + seq * 1_000_000_000,
        channel=np.array([0, 1], dtype=np.uint32),
        value=np.array([50.0 + seq, np.nan]),
        quality=np.array([Quality.GOOD, Quality.INVALID], dtype=np.uint8),
    )


def test_influxdb_1_stores_wide_lines_once_even_when_sent_twice(tmp_path: Path) -> None:
    with InfluxDB1.running(tmp_path / "influx") as influx:
        sink = InfluxV1Sink(influx.url, influx.database)
        lines = "\n".join(line for seq in range(10) for line in BUILDER.lines(batch(seq)))
        sink.write(lines)
        sink.write(lines)  # at-least-once delivery: the second write overwrites the first
        result = influx.query(
            'SELECT "lox.s1.level.a", "lox.s1.level.a_quality", "wx.wind.m10.gust_quality" FROM telemetry'
        )
        series = result["results"][0]["series"][0]
        rows = series["values"]
        assert len(rows) == 10
        assert [row[0] for row in rows] == [T0 + s * 1_000_000_000 for s in range(10)]
        assert [row[1] for row in rows] == [50.0 + s for s in range(10)]
        assert {row[2] for row in rows} == {None}, "GOOD samples carry no quality field"
        assert {row[3] for row in rows} == {2}


def test_influxdb_1_refuses_bad_lines_as_a_permanent_error(tmp_path: Path) -> None:
    with InfluxDB1.running(tmp_path / "influx") as influx:
        sink = InfluxV1Sink(influx.url, influx.database)
        with pytest.raises(SinkError) as refused:
            sink.write("telemetry,source=plc value=notanumber 123")
        assert refused.value.status == 400
        assert refused.value.permanent


def test_an_unreachable_database_is_a_transient_error(tmp_path: Path) -> None:
    sink = InfluxV1Sink("http://127.0.0.1:9", "groundseg", timeout_s=2)
    with pytest.raises(SinkError) as failed:
        sink.write("telemetry,source=plc x=1 1")
    assert not failed.value.permanent


def test_victoriametrics_takes_the_v2_write_api_and_exports_every_sample(tmp_path: Path) -> None:
    with VictoriaMetrics.running(tmp_path / "vm") as vm:
        sink = InfluxV2Sink(vm.url, bucket="groundseg")
        lines = "\n".join(line for seq in range(10) for line in BUILDER.lines(batch(seq)))
        sink.write(lines)
        sink.write(lines)
        series = {str(s["metric"]["__name__"]): s for s in vm.export('{__name__=~"telemetry_.*"}')}
        level = series["telemetry_lox.s1.level.a"]
        assert level["values"] == [50.0 + s for s in range(10)]
        assert level["timestamps"] == [(T0 + s * 1_000_000_000) // 1_000_000 for s in range(10)]
        assert "telemetry_wx.wind.m10.gust" not in series, (
            "NaN values are left out; their quality says why"
        )
        assert series["telemetry_wx.wind.m10.gust_quality"]["values"] == [2.0] * 10


def test_parallel_writes_keep_their_connections(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The ingest writes several parts of a batch at once; each keeps a connection open
    (urllib3 warns when it must drop one, having opened it for a single write)."""
    lines = "\n".join(line for seq in range(200) for line in BUILDER.lines(batch(seq)))
    with InfluxDB1.running(tmp_path / "influx") as influx:
        sink = InfluxV1Sink(influx.url, influx.database)
        with (
            caplog.at_level(logging.WARNING, logger="urllib3"),
            concurrent.futures.ThreadPoolExecutor(IngestSettings().parallel_writes * 2) as pool,
        ):
            for write in [pool.submit(sink.write, lines) for _ in range(40)]:
                write.result()
    assert [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()] == []
