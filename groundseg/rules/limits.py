"""Yellow and red limits with persistence and hysteresis, evaluated a batch at a time.

Each rule watches one channel. A sample's raw level is RED beyond a red limit, YELLOW beyond
a yellow one, else NORMAL. A rule's level rises only when the raw level has stayed higher
for `persistence_samples` consecutive usable samples and for `persistence_s` seconds (both
conditions; either may be 1 sample / 0 s), and falls only when the value has come back
inside the limit by the hysteresis deadband for as long. Every sample is evaluated (no
sampling down): a redline that trips on the third sample trips on the third sample.

A sample whose quality is not usable (stale, invalid, replayed) or that is not a number
confirms nothing: it resets both counters and leaves the level where it is; staleness is
its own monitor. Everything is numpy over the batch, so replaying a campaign through the
limits runs at millions of samples per second; pure, time is the samples' own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from groundseg.quality import USABLE
from groundseg.telemetry.batch import SampleBatch

__all__ = ["Level", "LimitRule", "LimitSet", "LimitTransition"]

_INF = np.inf


class Level(IntEnum):
    NORMAL = 0
    YELLOW = 1
    RED = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitRule:
    channel: int
    """Index of the channel in the pad definition."""
    red_low: float = -_INF
    yellow_low: float = -_INF
    yellow_high: float = _INF
    red_high: float = _INF
    persistence_samples: int = 1
    persistence_s: float = 0.0
    hysteresis: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        if not self.red_low <= self.yellow_low < self.yellow_high <= self.red_high:
            raise ValueError(
                f"limit {self.name or self.channel}: expected red_low <= yellow_low <"
                f" yellow_high <= red_high, got {self.red_low}, {self.yellow_low},"
                f" {self.yellow_high}, {self.red_high}"
            )
        if self.persistence_samples < 1 or self.persistence_s < 0 or self.hysteresis < 0:
            raise ValueError(
                f"limit {self.name or self.channel}: persistence >= 1 sample, >= 0 s and"
                " hysteresis >= 0"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitTransition:
    rule: int
    """Index of the rule in its LimitSet."""
    channel: int
    before: Level
    after: Level
    value: float
    time_ns: int


class LimitSet:
    """Rules for distinct channels, and their state."""

    def __init__(self, rules: Sequence[LimitRule], channels: int) -> None:
        self.rules = tuple(rules)
        seen = [r.channel for r in self.rules]
        if len(set(seen)) != len(seen):
            raise ValueError("one limit rule per channel (phase-dependent limits replace it)")
        self._rule_of = np.full(channels, -1, dtype=np.intp)
        self._rule_of[seen] = np.arange(len(seen))
        self._red_low = np.array([r.red_low for r in self.rules], dtype=np.float64)
        self._yellow_low = np.array([r.yellow_low for r in self.rules], dtype=np.float64)
        self._yellow_high = np.array([r.yellow_high for r in self.rules], dtype=np.float64)
        self._red_high = np.array([r.red_high for r in self.rules], dtype=np.float64)
        self._hysteresis = np.array([r.hysteresis for r in self.rules], dtype=np.float64)
        self._need = np.array([r.persistence_samples for r in self.rules], dtype=np.int64)
        self._need_ns = np.array([round(r.persistence_s * 1e9) for r in self.rules], dtype=np.int64)
        n = len(self.rules)
        self._slot = np.zeros(n, dtype=np.intp)
        """Scratch space for spotting a rule twice in one batch."""
        self.level = np.zeros(n, dtype=np.int8)
        self._pending = np.zeros(n, dtype=np.int8)
        """The level the rule is moving to; equal to `level` when nothing is pending."""
        self._count = np.zeros(n, dtype=np.int64)
        self._since_ns = np.zeros(n, dtype=np.int64)

    def watches(self, channel: int) -> bool:
        """Whether a rule of this set reads `channel`."""
        return bool(self._rule_of[channel] >= 0)

    def _raw(
        self, rule: npt.NDArray[np.intp], value: npt.NDArray[np.float64], shrink: float
    ) -> npt.NDArray[np.int8]:
        """Raw levels; with `shrink` 1 the limits are pulled in by the hysteresis band (a
        value must be this far inside to count as back)."""
        band = self._hysteresis[rule] * shrink
        red = (value >= self._red_high[rule] - band) | (value <= self._red_low[rule] + band)
        yellow = (value >= self._yellow_high[rule] - band) | (
            value <= self._yellow_low[rule] + band
        )
        return np.where(red, 2, np.where(yellow, 1, 0)).astype(np.int8)

    def update(self, batch: SampleBatch) -> list[LimitTransition]:
        """Take a batch; returns the level changes it caused, in sample order."""
        rule = self._rule_of[batch.channel]
        watched = np.flatnonzero(rule >= 0)
        if len(watched) == 0:
            return []
        rule = rule[watched]
        order = np.arange(len(rule))
        self._slot[rule] = order
        if (self._slot[rule] != order).any():
            # A channel twice in one batch (several timestamps): one sample at a time.
            out: list[LimitTransition] = []
            for i in watched:
                out += self._step(batch, np.array([i]))
            return out
        # Most samples are quiet: a rule at NORMAL, nothing pending, the value between its
        # yellow limits. They change nothing; only the others are worked through.
        value = batch.value[watched]
        quiet = (
            (self.level[rule] == 0)
            & (self._count[rule] == 0)
            & (value < self._yellow_high[rule])
            & (value > self._yellow_low[rule])
        )
        if quiet.all():
            return []
        return self._step(batch, watched[~quiet])

    def steady(
        self,
        channel: npt.NDArray[np.uint32],
        value: npt.NDArray[np.float64],
        usable: npt.NDArray[np.bool_],
    ) -> bool:
        """Whether these samples would leave every rule where it is: each rule they read
        settled (nothing pending) and each usable value keeping it at its level. (An
        unusable sample only resets the counters, which settled rules have at zero.)"""
        rule = self._rule_of[channel]
        watched = rule >= 0
        rule = rule[watched]
        if (self._count[rule] != 0).any():
            return False
        counted = usable[watched]
        rule = rule[counted]
        value = value[watched][counted]
        level = self.level[rule]
        return bool(
            ((self._raw(rule, value, 0.0) <= level) & (self._raw(rule, value, 1.0) >= level)).all()
        )

    def steady_between(self, channel: int, low: float, high: float) -> bool:
        """Whether any value in [low, high] would leave the rule on `channel` (if any)
        where it is: settled, no value beyond its level's limits, and, above NORMAL, all
        of them on one side beyond its limits pulled in by the deadband."""
        k = int(self._rule_of[channel])
        if k < 0:
            return True
        level = int(self.level[k])
        rule = np.array([k, k])
        # Below-or-at-the-level is one interval: its two ends decide.
        if self._count[k] != 0 or (self._raw(rule, np.array([low, high]), 0.0) > level).any():
            return False
        if level == Level.NORMAL:
            return True
        band = self._hysteresis[k]
        red = level == Level.RED
        below = (self._red_low[k] if red else self._yellow_low[k]) + band
        above = (self._red_high[k] if red else self._yellow_high[k]) - band
        return bool(high <= below or low >= above)

    def _step(self, batch: SampleBatch, samples: npt.NDArray[np.intp]) -> list[LimitTransition]:
        rule = self._rule_of[batch.channel[samples]]
        value = batch.value[samples]
        time_ns = batch.time_ns[samples]
        usable = USABLE[batch.quality[samples]] & ~np.isnan(value)
        level = self.level[rule]
        raw = self._raw(rule, value, 0.0)
        inside = self._raw(rule, value, 1.0)
        # Where is each rule heading: up to the raw level, or down to the level it is
        # inside of by the deadband; otherwise nowhere.
        target = np.where(raw > level, raw, np.where(inside < level, inside, level))
        moving = usable & (target != level)
        same_way = moving & (target == self._pending[rule]) & (self._count[rule] > 0)
        count = np.where(same_way, self._count[rule] + 1, np.where(moving, 1, 0))
        since = np.where(same_way, self._since_ns[rule], time_ns)
        done = moving & (count >= self._need[rule]) & (time_ns - since >= self._need_ns[rule])
        self._count[rule] = np.where(done, 0, count)
        self._since_ns[rule] = since
        self._pending[rule] = np.where(moving & ~done, target, level)
        new_level = np.where(done, target, level).astype(np.int8)
        self.level[rule] = new_level
        return [
            LimitTransition(
                rule=int(rule[i]),
                channel=self.rules[int(rule[i])].channel,
                before=Level(int(level[i])),
                after=Level(int(new_level[i])),
                value=float(value[i]),
                time_ns=int(time_ns[i]),
            )
            for i in np.flatnonzero(done)
        ]

    def levels(self) -> dict[int, Level]:
        """Each watched channel's current level."""
        return {r.channel: Level(int(lv)) for r, lv in zip(self.rules, self.level, strict=True)}
