"""k-of-n voting of redundant sensors, with a deviation alarm.

Three ullage-pressure transmitters per tank: the voted value is the median of the healthy
ones. A transmitter is unhealthy when its value cannot be trusted (quality, NaN, age) or
when it strays from the median of the trusted ones by more than the group's tolerance.
With all healthy the vote is OK; with fewer, but still `need`, it is DEGRADED (an alarm;
the count goes on); with fewer than `need` it FAILED: there is no value to act on, which a
redline or an interlock must treat as unknown (a hold).

Two trusted transmitters that disagree cannot say which one is wrong: the median of two is
their midpoint, so both stray from it alike and both are unhealthy.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from groundseg.rules.conditions import ConditionInputs, trusted_value

__all__ = ["Vote", "VoteGroup", "VoteStatus"]


class VoteStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Vote:
    status: VoteStatus
    value: float | None
    """The median of the healthy sensors; None when the vote failed."""
    healthy: tuple[int, ...]
    unhealthy: tuple[int, ...]
    """Channel indices, each in the group's order."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VoteGroup:
    name: str
    channels: tuple[int, ...]
    need: int
    """How many healthy sensors make a value (2 of 3)."""
    tolerance: float
    """Largest distance from the median of the trusted sensors, in the channels' unit."""

    def __post_init__(self) -> None:
        if len(set(self.channels)) != len(self.channels) or len(self.channels) < 2:
            raise ValueError(f"vote {self.name}: at least two distinct channels")
        if not 1 <= self.need <= len(self.channels):
            raise ValueError(
                f"vote {self.name}: need between 1 and {len(self.channels)}, got {self.need}"
            )
        if not self.tolerance > 0:
            raise ValueError(f"vote {self.name}: tolerance must be positive")

    def vote(
        self,
        inputs: ConditionInputs,
        now_ns: int,
        stale_after_ns: npt.NDArray[np.int64] | None = None,
    ) -> Vote:
        trusted = [
            c
            for c in self.channels
            if trusted_value(inputs, c, now_ns=now_ns, stale_after_ns=stale_after_ns) is not None
        ]
        healthy: Sequence[int] = ()
        if trusted:
            values = [float(inputs.value[c]) for c in trusted]
            middle = statistics.median(values)
            healthy = [
                c for c, v in zip(trusted, values, strict=True) if abs(v - middle) <= self.tolerance
            ]
        unhealthy = tuple(c for c in self.channels if c not in healthy)
        if len(healthy) < self.need:
            return Vote(
                status=VoteStatus.FAILED, value=None, healthy=tuple(healthy), unhealthy=unhealthy
            )
        # statistics.median: a few sensors, where numpy's call overhead is most of the cost
        value = statistics.median(float(inputs.value[c]) for c in healthy)
        status = VoteStatus.OK if not unhealthy else VoteStatus.DEGRADED
        return Vote(status=status, value=value, healthy=tuple(healthy), unhealthy=unhealthy)
