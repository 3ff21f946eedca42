"""Voting redundant transmitters: one failed is an alarm, two failed leave no value."""

from __future__ import annotations

import numpy as np
import pytest

from groundseg.quality import Quality
from groundseg.rules.voting import VoteGroup, VoteStatus

A, B, C = 0, 1, 2
T = 1_000_000_000_000
ULLAGE = VoteGroup(name="lox.s1.ullage_pressure", channels=(A, B, C), need=2, tolerance=0.05)


class Latest:
    def __init__(self, values: list[float], qualities: list[Quality] | None = None) -> None:
        self.value = np.array(values, dtype=np.float64)
        self.time_ns = np.full(len(values), T, dtype=np.int64)
        self.quality = np.array(qualities or [Quality.GOOD] * len(values), dtype=np.uint8)


def test_three_healthy_transmitters_vote_their_median() -> None:
    vote = ULLAGE.vote(Latest([3.01, 3.00, 3.03]), T)
    assert vote.status is VoteStatus.OK
    assert vote.value == 3.01
    assert vote.unhealthy == ()


def test_one_failed_transmitter_is_an_alarm_and_the_others_carry_the_value() -> None:
    vote = ULLAGE.vote(Latest([3.01, 3.00, 0.0], [Quality.GOOD, Quality.GOOD, Quality.INVALID]), T)
    assert vote.status is VoteStatus.DEGRADED
    assert vote.unhealthy == (C,)
    assert vote.value == pytest.approx(3.005)


def test_a_transmitter_that_strays_is_voted_out() -> None:
    vote = ULLAGE.vote(Latest([3.01, 3.00, 3.40]), T)
    assert vote.status is VoteStatus.DEGRADED
    assert vote.unhealthy == (C,)
    assert vote.value == pytest.approx(3.005)


def test_two_failed_transmitters_leave_no_value() -> None:
    vote = ULLAGE.vote(Latest([3.01, 0.0, 0.0], [Quality.GOOD, Quality.STALE, Quality.INVALID]), T)
    assert vote.status is VoteStatus.FAILED
    assert vote.value is None


def test_two_trusted_that_disagree_cannot_be_told_apart() -> None:
    vote = ULLAGE.vote(Latest([3.0, 3.5, float("nan")]), T)
    assert vote.status is VoteStatus.FAILED
    assert vote.unhealthy == (A, B, C)


def test_an_old_value_is_not_trusted() -> None:
    latest = Latest([3.01, 3.00, 3.02])
    latest.time_ns[B] = T - 5_000_000_000
    vote = ULLAGE.vote(latest, T, np.full(3, 1_000_000_000, dtype=np.int64))
    assert vote.status is VoteStatus.DEGRADED
    assert vote.unhealthy == (B,)


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ({"channels": (A, A, B), "need": 2, "tolerance": 0.1}, "two distinct channels"),
        ({"channels": (A, B, C), "need": 4, "tolerance": 0.1}, "need between 1 and 3"),
        ({"channels": (A, B, C), "need": 2, "tolerance": 0.0}, "tolerance must be positive"),
    ],
)
def test_a_bad_group_is_refused(group: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VoteGroup(name="g", **group)  # type: ignore[arg-type]
