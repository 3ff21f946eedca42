"""Line protocol for sample batches: one wide line per source and timestamp, quality kept."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from groundseg.ingest.lines import REPLAYED_FIELD, LineBuilder, implied_quality
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch

CHANNELS = ["lox.s1.level.a", "wx.wind speed", "odd,key=x"]
T = 1_780_000_000_000_000_000


def batch(values: list[float], qualities: list[int], *, source: str = "plc") -> SampleBatch:
    return SampleBatch.at(
        source=source,
        seq=0,
        time_ns=T,
        channel=np.arange(len(values), dtype=np.uint32),
        value=np.array(values, dtype=np.float64),
        quality=np.array(qualities, dtype=np.uint8),
    )


def parse_fields(line: str) -> dict[str, str]:
    """Field set of one line (tag values here hold no spaces; keys may, escaped)."""
    fields_text = line[line.index(" ", line.index("source=")) + 1 : line.rindex(" ")]
    fields: dict[str, str] = {}
    key, value, in_key, escaped = "", "", True, False
    for char in fields_text + ",":
        if escaped:
            key += char if in_key else ""
            value += "" if in_key else char
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_key and char == "=":
            in_key = False
        elif not in_key and char == ",":
            fields[key], key, value, in_key = value, "", "", True
        elif in_key:
            key += char
        else:
            value += char
    return fields


def test_a_good_cycle_is_one_line_with_every_value_and_quality() -> None:
    builder = LineBuilder(pad="Baiterek", channels=CHANNELS, every_quality=True)
    (line,) = builder.lines(batch([97.25, 12.5, -1.0], [0, 0, 0]))
    assert line.startswith("telemetry,pad=Baiterek,source=plc ")
    assert line.endswith(f" {T}")
    assert parse_fields(line) == {
        "lox.s1.level.a": "97.25",
        "lox.s1.level.a_quality": "0i",
        "wx.wind speed": "12.5",
        "wx.wind speed_quality": "0i",
        "odd,key=x": "-1.0",
        "odd,key=x_quality": "0i",
    }
    assert "wx.wind\\ speed=12.5" in line
    assert "odd\\,key\\=x=-1.0" in line


def test_by_default_only_samples_that_are_not_good_carry_a_quality_field() -> None:
    builder = LineBuilder(pad="Baiterek", channels=CHANNELS)
    (line,) = builder.lines(batch([97.25, math.nan, -1.0], [0, int(Quality.INVALID), 3]))
    assert parse_fields(line) == {
        "lox.s1.level.a": "97.25",
        "wx.wind speed_quality": f"{int(Quality.INVALID)}i",
        "odd,key=x": "-1.0",
        "odd,key=x_quality": "3i",
    }


def test_a_time_with_nothing_to_store_makes_no_line() -> None:
    """Line protocol needs a field; a GOOD non-number (never sent) leaves nothing."""
    assert LineBuilder(pad="p", channels=["a"]).lines(batch([math.nan], [0])) == []


def test_a_value_that_is_not_a_number_is_left_out_and_its_quality_says_why() -> None:
    builder = LineBuilder(pad="p", channels=CHANNELS, every_quality=True)
    (line,) = builder.lines(
        batch([math.nan, math.inf, 3.0], [int(Quality.STALE), int(Quality.INVALID), 0])
    )
    fields = parse_fields(line)
    assert "lox.s1.level.a" not in fields
    assert fields["lox.s1.level.a_quality"] == f"{int(Quality.STALE)}i"
    assert "wx.wind speed" not in fields
    assert fields["wx.wind speed_quality"] == f"{int(Quality.INVALID)}i"
    assert fields["odd,key=x"] == "3.0"


def test_channels_past_the_pad_list_are_named_by_index() -> None:
    builder = LineBuilder(pad="p", channels=["a"], every_quality=True)
    (line,) = builder.lines(batch([1.0, 2.0, 3.0], [0, 0, 1]))
    assert parse_fields(line) == {
        "a": "1.0",
        "a_quality": "0i",
        "channel_1": "2.0",
        "channel_1_quality": "0i",
        "channel_2": "3.0",
        "channel_2_quality": "1i",
    }


def test_samples_at_different_times_make_one_line_per_time() -> None:
    builder = LineBuilder(pad="p", channels=["a", "b"], every_quality=True)
    mixed = SampleBatch(
        source="umbilical",
        seq=3,
        channel=np.array([0, 1, 0], dtype=np.uint32),
        time_ns=np.array([T, T, T + 5], dtype=np.int64),
        value=np.array([1.0, 2.0, 3.0]),
        quality=np.zeros(3, dtype=np.uint8),
    )
    first, second = builder.lines(mixed)
    assert first.endswith(f" {T}")
    assert parse_fields(first) == {"a": "1.0", "a_quality": "0i", "b": "2.0", "b_quality": "0i"}
    assert second.endswith(f" {T + 5}")
    assert parse_fields(second) == {"a": "3.0", "a_quality": "0i"}


def test_an_empty_batch_has_no_lines() -> None:
    assert LineBuilder(pad="p", channels=["a"]).lines(batch([], [])) == []


@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.sampled_from([0, 0, 0, 1, 2, 3, 4, 4]),
        ),
        min_size=1,
        max_size=20,
    ),
    st.booleans(),
)
def test_every_value_and_quality_comes_back_exactly_whatever_the_mix(
    samples: list[tuple[float, int]], every_quality: bool
) -> None:
    """The fast path for cycles of one quality and the general one write the same text."""
    builder = LineBuilder(
        pad="p", channels=[f"c{i}" for i in range(20)], every_quality=every_quality
    )
    lines = builder.lines(batch([v for v, _ in samples], [q for _, q in samples]))
    fields = parse_fields(lines[0]) if lines else {}
    implied = implied_quality(fields.get(REPLAYED_FIELD))
    for i, (value, quality) in enumerate(samples):
        stored = fields.get(f"c{i}_quality")
        if every_quality:
            assert stored == f"{quality}i"
        if math.isfinite(value):
            assert float(fields[f"c{i}"]) == value
            assert (int(stored[:-1]) if stored else implied) == quality
        else:
            assert f"c{i}" not in fields
            assert stored is None if quality == implied and not every_quality else stored
        if quality == 0 and implied == 0:
            assert every_quality or stored is None, "GOOD goes without saying"


def test_a_replayed_cycle_says_so_once() -> None:
    """REPLAYED throughout would double the fields; the line carries it instead."""
    builder = LineBuilder(pad="p", channels=CHANNELS)
    replayed = int(Quality.REPLAYED)
    (line,) = builder.lines(batch([1.0, 2.0, 3.0], [replayed] * 3))
    assert parse_fields(line) == {
        "lox.s1.level.a": "1.0",
        "wx.wind speed": "2.0",
        "odd,key=x": "3.0",
        REPLAYED_FIELD: "true",
    }
    (line,) = builder.lines(batch([1.0, math.nan, 3.0], [replayed, int(Quality.STALE), 0]))
    assert parse_fields(line) == {
        "lox.s1.level.a": "1.0",
        "wx.wind speed_quality": f"{int(Quality.STALE)}i",
        "odd,key=x": "3.0",
        "odd,key=x_quality": "0i",
        REPLAYED_FIELD: "true",
    }, "on a replayed line GOOD must say so"
