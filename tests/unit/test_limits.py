"""Limits: yellow and red, persistence in samples and in time, hysteresis, and data that
cannot be trusted confirming nothing."""

from __future__ import annotations

import numpy as np
import pytest

from groundseg.quality import Quality
from groundseg.rules.limits import Level, LimitRule, LimitSet
from groundseg.telemetry.batch import SampleBatch

PRESSURE, WIND, OTHER = 0, 1, 2
MS = 1_000_000
T0 = 1_800_000_000_000_000_000


def limits(**rule: float) -> LimitSet:
    return LimitSet(
        [
            LimitRule(channel=PRESSURE, yellow_high=3.0, red_high=3.5, **rule),  # type: ignore[arg-type]
            LimitRule(channel=WIND, yellow_high=12.0, red_high=15.0),
        ],
        channels=3,
    )


def cycle(
    n: int, pressure: float, *, wind: float = 5.0, quality: Quality = Quality.GOOD
) -> SampleBatch:
    """Poll cycle number n (10 ms apart) of the three channels."""
    return SampleBatch(
        source="plc",
        seq=n,
        channel=np.array([PRESSURE, WIND, OTHER], dtype=np.uint32),
        time_ns=np.full(3, T0 + n * 10 * MS, dtype=np.int64),
        value=np.array([pressure, wind, 99.0]),
        quality=np.array([quality, Quality.GOOD, Quality.GOOD], dtype=np.uint8),
    )


def feed(watch: LimitSet, pressures: list[float]) -> list[list[tuple[Level, Level]]]:
    return [
        [(t.before, t.after) for t in watch.update(cycle(n, p))] for n, p in enumerate(pressures)
    ]


def test_a_single_sample_over_the_red_limit_trips_without_persistence() -> None:
    watch = limits()
    assert feed(watch, [2.0, 3.6]) == [[], [(Level.NORMAL, Level.RED)]]
    assert watch.levels()[PRESSURE] is Level.RED


def test_with_persistence_3_only_the_third_consecutive_sample_trips() -> None:
    """The redline scenario: over the limit for 1, then 2 samples trips nothing; 3 trips."""
    watch = limits(persistence_samples=3)
    assert feed(watch, [3.6, 2.0, 3.6, 3.6, 2.0, 3.6, 3.6, 3.6]) == [
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [(Level.NORMAL, Level.RED)],
    ]


def test_yellow_then_red_each_reported() -> None:
    watch = limits()
    assert feed(watch, [3.2, 3.6]) == [
        [(Level.NORMAL, Level.YELLOW)],
        [(Level.YELLOW, Level.RED)],
    ]


def test_hysteresis_keeps_a_value_hovering_at_the_limit_from_chattering() -> None:
    watch = limits(hysteresis=0.2)
    assert feed(watch, [3.6, 3.45, 3.55, 3.4, 3.29]) == [
        [(Level.NORMAL, Level.RED)],
        [],  # below red, but not by the 0.2 band
        [],
        [],
        [(Level.RED, Level.YELLOW)],  # 3.29 < 3.5 - 0.2
    ]


def test_clearing_takes_the_same_persistence_as_tripping() -> None:
    watch = limits(persistence_samples=2)
    transitions = feed(watch, [3.6, 3.6, 2.0, 3.6, 2.0, 2.0])
    assert transitions[1] == [(Level.NORMAL, Level.RED)]
    assert transitions[2:5] == [[], [], []], "one sample back inside is not enough"
    assert transitions[5] == [(Level.RED, Level.NORMAL)]


def test_persistence_in_time_counts_the_samples_own_timestamps() -> None:
    watch = limits(persistence_s=0.025)  # 25 ms: the 4th cycle 10 ms apart
    transitions = feed(watch, [3.6, 3.6, 3.6, 3.6])
    assert transitions == [[], [], [], [(Level.NORMAL, Level.RED)]]


@pytest.mark.parametrize("quality", [Quality.STALE, Quality.INVALID, Quality.REPLAYED])
def test_a_sample_that_cannot_be_trusted_confirms_nothing_and_resets_persistence(
    quality: Quality,
) -> None:
    watch = limits(persistence_samples=2)
    assert watch.update(cycle(0, 3.6)) == []
    assert watch.update(cycle(1, 3.6, quality=quality)) == []
    assert watch.update(cycle(2, 3.6)) == [], "the count started again"
    assert [t.after for t in watch.update(cycle(3, 3.6))] == [Level.RED]


def test_not_a_number_confirms_nothing() -> None:
    watch = limits()
    assert watch.update(cycle(0, float("nan"))) == []
    assert watch.levels()[PRESSURE] is Level.NORMAL


def test_rules_are_independent_within_a_batch() -> None:
    watch = limits()
    transitions = watch.update(cycle(0, 3.6, wind=16.0))
    assert {(t.channel, t.after) for t in transitions} == {
        (PRESSURE, Level.RED),
        (WIND, Level.RED),
    }


def test_a_channel_twice_in_one_batch_is_taken_in_order() -> None:
    watch = limits(persistence_samples=2)
    batch = SampleBatch(
        source="umbilical",
        seq=0,
        channel=np.array([PRESSURE, PRESSURE], dtype=np.uint32),
        time_ns=np.array([T0, T0 + 10 * MS], dtype=np.int64),
        value=np.array([3.6, 3.7]),
        quality=np.zeros(2, dtype=np.uint8),
    )
    (transition,) = watch.update(batch)
    assert transition.after is Level.RED
    assert transition.value == 3.7
    assert transition.time_ns == T0 + 10 * MS


def test_low_limits_work_the_same_way() -> None:
    watch = LimitSet([LimitRule(channel=0, red_low=19.5, yellow_low=20.0, name="pad O2")], 1)
    batch = cycle(0, 0.0)
    low = SampleBatch(
        source="wx",
        seq=0,
        channel=np.array([0], dtype=np.uint32),
        time_ns=batch.time_ns[:1],
        value=np.array([19.0]),
        quality=np.zeros(1, dtype=np.uint8),
    )
    assert [t.after for t in watch.update(low)] == [Level.RED]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"yellow_high": 4.0, "red_high": 3.0}, "expected red_low <= yellow_low"),
        ({"persistence_samples": 0}, "persistence >= 1 sample"),
        ({"hysteresis": -1.0}, "hysteresis >= 0"),
    ],
)
def test_a_bad_rule_is_refused_with_its_name(rule: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LimitRule(channel=0, name="lox ullage", **rule)  # type: ignore[arg-type]


def test_two_rules_for_one_channel_are_refused() -> None:
    with pytest.raises(ValueError, match="one limit rule per channel"):
        LimitSet([LimitRule(channel=0), LimitRule(channel=0)], 1)
