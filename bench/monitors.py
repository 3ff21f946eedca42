"""Monitors over recorded data: limits with persistence and hysteresis on every channel of the
reference pad, fed recorded-style poll cycles, against a per-sample Python loop of the same
logic in the same run (the way a hand-written monitor would do it).

    python -m bench.monitors
"""

from __future__ import annotations

import sys
import time

import numpy as np

from bench.harness import Result, median
from groundseg.config import load_pad
from groundseg.quality import Quality
from groundseg.rules.limits import LimitRule, LimitSet
from groundseg.telemetry.batch import SampleBatch

__all__ = ["run_monitor_benchmarks"]

PAD = "pads/baiterek.toml"


def _rules(channels: int) -> list[LimitRule]:
    return [
        LimitRule(
            channel=c,
            yellow_high=2.0,
            red_high=3.0,
            yellow_low=-2.0,
            red_low=-3.0,
            persistence_samples=3,
            hysteresis=0.1,
        )
        for c in range(channels)
    ]


def _cycles(channels: int, count: int) -> list[SampleBatch]:
    rng = np.random.default_rng(5)
    return [
        SampleBatch.at(
            source="plc",
            seq=n,
            time_ns=1_800_000_000_000_000_000 + n * 10_000_000,
            channel=np.arange(channels, dtype=np.uint32),
            value=rng.standard_normal(channels),
            quality=Quality.GOOD,
        )
        for n in range(count)
    ]


def _vectorised(cycles: list[SampleBatch], channels: int) -> tuple[float, int]:
    limits = LimitSet(_rules(channels), channels)
    start = time.perf_counter()
    transitions = sum(len(limits.update(batch)) for batch in cycles)
    return sum(len(b) for b in cycles) / (time.perf_counter() - start), transitions


def _per_sample(cycles: list[SampleBatch], channels: int) -> tuple[float, int]:
    """The same rule, one sample at a time in Python."""
    rules = _rules(channels)
    level = [0] * channels
    pending = [0] * channels
    count = [0] * channels
    transitions = 0
    start = time.perf_counter()
    for batch in cycles:
        for c, v, q in zip(
            batch.channel.tolist(), batch.value.tolist(), batch.quality.tolist(), strict=True
        ):
            rule = rules[c]
            if q not in (0, 3) or v != v:  # noqa: PLR0124  NaN
                count[c] = 0
                continue
            raw = (
                2
                if v >= rule.red_high or v <= rule.red_low
                else 1
                if v >= rule.yellow_high or v <= rule.yellow_low
                else 0
            )
            band = rule.hysteresis
            inside = (
                2
                if v >= rule.red_high - band or v <= rule.red_low + band
                else 1
                if v >= rule.yellow_high - band or v <= rule.yellow_low + band
                else 0
            )
            target = raw if raw > level[c] else inside if inside < level[c] else level[c]
            if target == level[c]:
                count[c] = 0
                continue
            count[c] = count[c] + 1 if pending[c] == target and count[c] > 0 else 1
            pending[c] = target
            if count[c] >= rule.persistence_samples:
                level[c] = target
                count[c] = 0
                transitions += 1
    return sum(len(b) for b in cycles) / (time.perf_counter() - start), transitions


def run_monitor_benchmarks(*, quick: bool) -> list[Result]:
    channels = len(load_pad(PAD).channels)
    cycles = _cycles(channels, 2000 if quick else 10_000)
    ours, theirs = [], []
    for _ in range(3 if quick else 5):
        rate, ours_transitions = _vectorised(cycles, channels)
        ours.append(rate)
        rate, their_transitions = _per_sample(cycles, channels)
        theirs.append(rate)
        assert ours_transitions == their_transitions, (ours_transitions, their_transitions)
    return [
        Result(
            name="Limits over recorded data (persistence 3, hysteresis), every channel",
            value=median(ours) / 1e6,
            unit="M samples/s",
            target=">= 5M samples/s",
            passed=median(ours) >= 5e6,
            detail=(
                f"{len(cycles)} poll cycles of {channels} channels; a per-sample Python loop of"
                f" the same logic: {median(theirs) / 1e6:.2f}M samples/s"
                f" ({median(ours) / median(theirs):.1f}x); both found {ours_transitions}"
                " level changes"
            ),
            trials=tuple(ours),
        )
    ]


if __name__ == "__main__":
    for result in run_monitor_benchmarks(quick="--quick" in sys.argv):
        print(f"{result.name}: {result.value:.2f} {result.unit} ({result.detail})")
