"""The re-run's steady stretches decide exactly what the monitor decides batch by batch.

Recordings of the shipped pad's channels (every device at 10 Hz) with faults injected at
random: limit excursions past yellow and red, devices falling silent, invalid and
not-a-number readings, valves commanded with switches late or never following, a vote's
transmitter drifting, phase changes and counts starting and ending. The re-run over runs
of batches (skipping what cannot change) must list the same decisions, at the same times,
as the monitor fed one batch at a time; and it must have skipped most of the record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from groundseg.config import PadDefinition, parse_pad
from groundseg.quality import Quality
from groundseg.replay.rerun import Context, Decision, Rerunner, rerun
from groundseg.sequencer.plan import LaunchPlan, Redline, compile_plan
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.run import SampleRun
from tests.unit.test_launch_plan import LAUNCH
from tests.unit.test_pad_definition import VALID_PAD

SMALL_PAD = parse_pad(
    VALID_PAD
    + LAUNCH
    + '\n[[redlines]]\nid = "plc.link"\nstale = ["plc.status.healthy"]\nreaction = "hold"\n'
)
T0 = 1_800_000_000_000_000_000
PERIOD_NS = 100_000_000
CYCLES = 500
"""50 s of recording."""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    first: int
    """First and last poll cycle affected."""
    last: int
    target: int | str | tuple[int, ...]
    amount: float = 0.0


def nominal(pad: PadDefinition) -> np.ndarray:
    """Every analog channel a third into its range; valves closed and showing it."""
    value = np.array(
        [
            0.0
            if c.states or c.valid_range is None
            else c.valid_range[0] + 0.3 * float(np.ptp(c.valid_range))
            for c in pad.channels
        ]
    )
    for valve in pad.valves.values():
        value[pad.channel(valve.closed_switch).index] = 1.0
    return value


def faults(pad: PadDefinition, rng: np.random.Generator, count: int) -> list[Fault]:
    plan = compile_plan(pad)
    limits = [r for r in plan.redlines if r.channel is not None or r.vote is not None]
    kinds = ["silent", "invalid", "nan", "jump"]
    kinds += ["limit"] * bool(limits) + ["valve", "stuck"] * bool(pad.valves)
    kinds += ["drift"] * bool(plan.votes)
    out = []
    for _ in range(count):
        first = int(rng.integers(20, CYCLES - 100))
        last = first + int(rng.integers(1, 80))
        kind = str(rng.choice(kinds))
        if kind == "limit":
            redline = limits[int(rng.integers(len(limits)))]
            beyond = redline.above if redline.above is not None else redline.below
            assert beyond is not None
            step = 0.02 * max(abs(beyond), 1.0) * (1 if redline.above is not None else -1)
            out.append(Fault("limit", first, last, limit_channels(plan, redline), beyond + step))
        elif kind in ("silent", "invalid"):
            device = list(pad.devices)[int(rng.integers(len(pad.devices)))]
            out.append(Fault(kind, first, last, device))
        elif kind in ("valve", "stuck"):
            valve = list(pad.valves.values())[int(rng.integers(len(pad.valves)))]
            delay = float(rng.uniform(0.2, 1.5)) * valve.window_s
            out.append(Fault(kind, first, last + 60, valve.id, delay))
        elif kind == "drift":
            group = plan.votes[int(rng.integers(len(plan.votes)))].group
            member = group.channels[int(rng.integers(len(group.channels)))]
            out.append(Fault("drift", first, last, member, 3 * group.tolerance))
        else:
            channel = int(rng.integers(len(pad.channels)))
            out.append(Fault(kind, first, last, channel, float(rng.uniform(0.5, 2.0))))
    return out


def limit_channels(plan: LaunchPlan, redline: Redline) -> tuple[int, ...]:
    """The channel a limit reads, or all of its vote's transmitters."""
    if redline.channel is not None:
        return (redline.channel,)
    return next(v.group.channels for v in plan.votes if v.group.name == redline.vote)


def recording(pad: PadDefinition, injected: list[Fault], seed: int) -> list[SampleBatch]:
    rng = np.random.default_rng(seed)
    base = nominal(pad)
    devices: dict[str, list[int]] = {}
    for channel in pad.channels:
        devices.setdefault(channel.device, []).append(channel.index)
    batches = []
    for n in range(CYCLES):
        value = base * (1 + 0.001 * rng.standard_normal(len(base)))
        quality = np.zeros(len(base), dtype=np.uint8)
        silent = {str(f.target) for f in injected if f.kind == "silent" and f.first <= n <= f.last}
        for fault in injected:
            inject(pad, fault, n, value=value, quality=quality, devices=devices)
        for device, members in devices.items():
            if device in silent:
                continue
            index = np.array(members, dtype=np.uint32)
            # Devices answer a little apart within a cycle, as polled.
            offset = int(rng.integers(0, 20_000_000))
            batches.append(
                SampleBatch(
                    source=device,
                    seq=n,
                    channel=index,
                    time_ns=np.full(len(index), T0 + n * PERIOD_NS + offset, dtype=np.int64),
                    value=value[index],
                    quality=quality[index],
                )
            )
    return batches


def inject(
    pad: PadDefinition,
    fault: Fault,
    n: int,
    *,
    value: np.ndarray,
    quality: np.ndarray,
    devices: dict[str, list[int]],
) -> None:
    """Cycle `n`'s values and qualities with the fault in them (silence aside)."""
    if fault.kind in ("valve", "stuck"):
        if n >= fault.first:
            valve = pad.valves[str(fault.target)]
            value[pad.channel(valve.command).index] = 1.0
            moved = n - fault.first >= fault.amount * 10 and fault.kind == "valve"
            value[pad.channel(valve.open_switch).index] = 1.0 if moved else 0.0
            value[pad.channel(valve.closed_switch).index] = 0.0 if moved else 1.0
        return
    if not fault.first <= n <= fault.last:
        return
    if fault.kind == "limit":
        assert isinstance(fault.target, tuple)
        value[list(fault.target)] = fault.amount
    elif fault.kind == "invalid":
        quality[devices[str(fault.target)]] = Quality.INVALID
    elif fault.kind == "nan":
        value[fault.target] = np.nan
    elif fault.kind == "drift":
        value[fault.target] += fault.amount
    elif fault.kind == "jump":
        value[fault.target] *= fault.amount


def contexts(pad: PadDefinition, rng: np.random.Generator) -> list[Context]:
    phases = [None, *compile_plan(pad).phases]
    out = [Context(time_ns=T0, phase=phases[1] if len(phases) > 1 else None, counting=True)]
    for _ in range(4):
        at = T0 + int(rng.integers(1, CYCLES)) * PERIOD_NS + int(rng.integers(0, PERIOD_NS))
        phase = phases[int(rng.integers(len(phases)))]
        out.append(Context(time_ns=at, phase=phase, counting=bool(rng.integers(0, 4))))
    return out


def one_by_one(
    pad: PadDefinition, batches: list[SampleBatch], ctx: list[Context]
) -> list[Decision]:
    names = [c.id for c in pad.channels]
    runner = Rerunner(pad, names, ctx)
    return [d for batch in batches for d in runner.take(batch)]


def in_runs(batches: list[SampleBatch], size: int) -> Iterator[SampleRun]:
    return SampleRun.grouped(batches, size)


@pytest.mark.parametrize("seed", range(5))
def test_steady_stretches_decide_exactly_as_batch_by_batch(pad: PadDefinition, seed: int) -> None:
    steady_stretches_decide_exactly(pad, seed)


@pytest.mark.parametrize("seed", range(5))
def test_on_a_small_pad_too(seed: int) -> None:
    """The test pad: few rules, so a stretch is skipped unless its own rule changes."""
    steady_stretches_decide_exactly(SMALL_PAD, seed)


def steady_stretches_decide_exactly(pad: PadDefinition, seed: int) -> None:
    rng = np.random.default_rng(seed)
    injected = faults(pad, rng, count=int(rng.integers(1, 8)))
    ctx = contexts(pad, rng)
    batches = recording(pad, injected, seed)
    exact = one_by_one(pad, batches, ctx)
    names = [c.id for c in pad.channels]
    for size in (97, 512):
        assert rerun(pad, names, in_runs(batches, size), ctx) == exact, (size, injected)
    assert len(exact) > 0


def test_a_quiet_recording_is_mostly_skipped(pad: PadDefinition) -> None:
    batches = recording(pad, [], seed=1)
    ctx = [Context(time_ns=T0, phase=None, counting=True)]
    runner = Rerunner(pad, [c.id for c in pad.channels], ctx)
    decided = [d for run in in_runs(batches, 512) for d in runner.take_run(run)]
    assert decided == one_by_one(pad, batches, ctx)
    assert runner.skipped >= 0.9 * len(batches)


def test_a_fault_is_worked_through_batch_by_batch_and_the_rest_skipped(
    pad: PadDefinition,
) -> None:
    plan = compile_plan(pad)
    redline = next(r for r in plan.redlines if r.vote is not None and not r.phases)
    assert redline.above is not None
    members = limit_channels(plan, redline)
    below = Fault("limit", 0, CYCLES, members, redline.above * 0.5)
    beyond = Fault("limit", 300, 340, members, redline.above * 1.05)
    batches = recording(pad, [below, beyond], seed=2)
    ctx = [Context(time_ns=T0, phase=None, counting=True)]
    runner = Rerunner(pad, [c.id for c in pad.channels], ctx)
    decided = [d for run in in_runs(batches, 512) for d in runner.take_run(run)]
    assert decided == one_by_one(pad, batches, ctx)
    assert (redline.id, True) in [(d.rule, d.active) for d in decided]
    assert (redline.id, False) in [(d.rule, d.active) for d in decided]
    assert 0.5 * len(batches) <= runner.skipped < len(batches)
