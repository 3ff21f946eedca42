"""Decision latency: from a sample batch on the bus to the hold (and the redline's vent
command entering the gate), under the full telemetry load of the backbone benchmark; and
from a sensor change in hw_sim to the hold, through the real links.

    python -m bench --only decisions

The first runs the launch runner, the monitor and the sequencer of the shipped pad on the
controller's bus while a load generator offers 250k samples/s on channels the rules do not
read (so the rules see only the trigger, as on a calm pad), with the count's phase set to
the terminal count (its steps left out). Each trial puts the stage-1 LOX ullage
transmitters over their MEOP redline for its persistence, times the last of those batches
to the hold, clears, resumes. The second runs a controller against the simulated
pad at real speed, sticks the pad's area-clear switch at OCCUPIED and times the fault to
the hold of a persistence-1 redline added for the bench.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.harness import Result, percentile
from groundseg.clock import SystemClock
from groundseg.config import PadDefinition, load_pad, parse_pad
from groundseg.controller import Controller, ControllerSettings
from groundseg.gate.gate import CommandGate
from groundseg.gate.policies import authority_for
from groundseg.launch.runner import LaunchRunner
from groundseg.quality import Quality
from groundseg.rules.conditions import trusted_value
from groundseg.rules.discrepancy import DiscrepancyMonitor
from groundseg.sequencer.countdown import CountdownState, Resume
from groundseg.sequencer.machine import StartCount
from groundseg.sequencer.monitor import Monitor
from groundseg.sequencer.plan import LaunchPlan, compile_plan
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.bus import Bus, Overflow
from groundseg.telemetry.events import Event
from hw_sim.pad import SimulatedPad

__all__ = ["run_decision_benchmarks"]

PAD_FILE = Path(__file__).resolve().parents[1] / "pads" / "baiterek.toml"
LOAD_RATE = 250_000
LOAD_BATCH = 500
KEEP_FRESH_EVERY = 10
"""Load batches between two samples of the kept-fresh channels: 50 Hz, well inside their
staleness (three 10 Hz periods), and no busier than the real transmitters."""
ALIVE = 2.0
"""What the kept-fresh channels read: under every armed limit (ullage pressures in bar)."""
TRIGGER = ("lox.s1.ullage_pressure.a", "lox.s1.ullage_pressure.b", "lox.s1.ullage_pressure.c")
BENCH_REDLINE = """
[[redlines]]
id = "bench.area_occupied"
when = "pad.area_clear == OCCUPIED"
reaction = "hold"
message = "bench: pad area occupied"
"""


def _histogram(values_ms: list[float]) -> str:
    edges = [0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0, 1e9]
    counts, _ = np.histogram(values_ms, bins=edges)
    labels = [f"<{e:g}" for e in edges[1:-1]] + [f">={edges[-2]:g}"]
    return " ".join(f"{label}ms:{int(n)}" for label, n in zip(labels, counts, strict=True) if n)


class _Watch:
    """Times when events of a kind (raised by a given rule, if one is named) are published
    on the bus."""

    def __init__(self, bus: Bus, kind: str, *, by: str | None = None) -> None:
        self.times: list[float] = []
        publish = bus.publish

        def timed(item: SampleBatch | Event) -> None:
            if (
                isinstance(item, Event)
                and item.kind == kind
                and (by is None or item.fields.get("by") == by)
            ):
                self.times.append(time.perf_counter())
            publish(item)

        bus.publish = timed  # type: ignore[method-assign]


def _unread_channels(pad: PadDefinition, plan: LaunchPlan) -> np.ndarray:
    """Channels no rule reads: load on them exercises the bus and the monitor's updates
    without tripping anything (valves' commands and limit switches are read by the
    discrepancy checks)."""
    read = {c for r in plan.redlines for c in ((r.channel,) if r.channel is not None else ())}
    read |= {c for r in plan.redlines if r.when for c in r.when.channels}
    read |= {c for v in plan.votes for c in v.group.channels}
    read |= {c for r in plan.redlines for c in r.stale}
    read |= {c for i in plan.interlocks for c in i.permit.channels}
    read |= set(DiscrepancyMonitor(pad).channels)
    return np.array([c.index for c in pad.channels if c.index not in read], dtype=np.uint32)


def _batch(clock: SystemClock, channels: np.ndarray, value: float) -> SampleBatch:
    return SampleBatch.at(
        source="plc",
        seq=0,
        time_ns=clock.time_ns(),
        channel=channels,
        value=np.full(len(channels), value),
        quality=Quality.GOOD,
    )


def _runner(
    pad: PadDefinition, plan: LaunchPlan, bus: Bus, clock: SystemClock, state: Path
) -> LaunchRunner:
    """The launch runner as the controller builds it, without drivers: the redline's vent
    command goes through the gate up to the write, which has no device to reach."""
    monitor = Monitor(pad, plan)
    gate = CommandGate(
        pad,
        {},
        authority=authority_for(plan),
        vetoes=monitor.vetoes,
        audit=None,
        publish=bus.publish,
        link_clock=clock,
    )
    return LaunchRunner(
        pad,
        plan,
        bus=bus,
        gate=gate,
        monitor=monitor,
        telemetry_clock=clock,
        count_clock=clock,
        state_file=state / "sequencer.json",
    )


class _Load:
    """The telemetry load on channels no rule reads; the links' liveness channels, and the
    trigger transmitters at a calm value between trials, kept fresh (stale, they would
    hold the count)."""

    def __init__(
        self,
        bus: Bus,
        clock: SystemClock,
        plan: LaunchPlan,
        *,
        quiet: np.ndarray,
        trigger: np.ndarray,
        calm: float,
    ) -> None:
        self.bus, self.clock, self.trigger, self.calm = bus, clock, trigger, calm
        # Links' liveness channels and the other voted transmitters: stale or failed, they
        # would hold the count.
        alive = {c for r in plan.redlines for c in r.stale}
        alive |= {c for v in plan.votes for c in v.group.channels} - set(trigger.tolist())
        self.alive = np.array(sorted(alive), dtype=np.uint32)
        self.channels = np.resize(quiet, LOAD_BATCH).astype(np.uint32)
        self.drain = bus.subscribe("drain", capacity=1_000_000, overflow=Overflow.DROP_OLDEST)
        self.offered = 0
        self.in_trial = False

    async def run(self) -> None:
        period = LOAD_BATCH / LOAD_RATE
        next_at = time.perf_counter()
        while True:
            self.bus.publish(_batch(self.clock, self.channels, 1.0))
            self.offered += LOAD_BATCH
            if self.offered % (LOAD_BATCH * KEEP_FRESH_EVERY) == 0:
                self.bus.publish(_batch(self.clock, self.alive, ALIVE))
                if not self.in_trial:
                    self.bus.publish(_batch(self.clock, self.trigger, self.calm))
            while self.drain.get_nowait() is not None:
                pass
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


Attachment = Callable[[Bus, LaunchRunner], contextlib.AbstractAsyncContextManager[object]]


async def bus_to_hold(trials: int, *, attach: Attachment | None = None) -> tuple[list[float], int]:
    """Latencies (ms) from the batch that completes a redline's persistence to the hold.
    `attach`: more on the same event loop during the trials (consoles watching)."""
    pad = load_pad(PAD_FILE)
    # The count's steps are left out: they would wait on telemetry this bench never sends.
    plan = replace(compile_plan(pad), steps=())
    redline = next(r for r in plan.redlines if r.id == "lox.s1.ullage.meop")
    assert redline.above is not None
    over, calm = redline.above + 0.3, redline.above - 0.5
    bus = Bus()
    hold = _Watch(bus, "countdown.hold", by=redline.id)
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as state:
        runner = _runner(pad, plan, bus, clock, Path(state))
        monitor = runner.monitor
        quiet = _unread_channels(pad, plan)
        trigger = np.array([pad.channel(c).index for c in TRIGGER], dtype=np.uint32)
        load = _Load(bus, clock, plan, quiet=quiet, trigger=trigger, calm=calm)
        latencies: list[float] = []
        async with asyncio.TaskGroup() as tasks:
            running = tasks.create_task(runner.run(), name="launch")
            await runner.ready.wait()
            loader = tasks.create_task(load.run(), name="load")
            await _until(lambda: _fresh(runner.monitor, trigger), 5.0)
            runner.request(StartCount(by="bench"))
            runner.arm_phase(sorted(redline.phases)[0])
            consoles = attach(bus, runner) if attach else contextlib.nullcontext()
            async with consoles:
                started = time.perf_counter()
                for _ in range(trials):
                    load.in_trial = True
                    for _ in range(redline.persistence - 1):
                        bus.publish(_batch(clock, trigger, over))
                        await asyncio.sleep(0.002)
                    before = len(hold.times)
                    sent = time.perf_counter()
                    bus.publish(_batch(clock, trigger, over))
                    await _until(lambda before=before: len(hold.times) > before, 5.0)  # type: ignore[misc]
                    latencies.append((hold.times[before] - sent) * 1000)
                    load.in_trial = False
                    await _until(lambda: not monitor.acting_holds(), 5.0)
                    runner.request(Resume(by="bench"))
                    await _until(
                        lambda: runner.sequencer.countdown.state is CountdownState.COUNTING, 5.0
                    )
                elapsed = time.perf_counter() - started
            loader.cancel()
            running.cancel()
    return latencies, round(load.offered / elapsed)


async def sensor_to_hold(trials: int) -> tuple[list[float], float]:
    """Latencies (ms) from a fault in hw_sim to the hold, and the switch's poll period."""
    pad = parse_pad(PAD_FILE.read_text() + BENCH_REDLINE, source="bench pad")
    period_s = pad.channel("pad.area_clear").period_s
    latencies: list[float] = []
    async with SimulatedPad(pad, speed=1.0, seed=3) as sim:
        with tempfile.TemporaryDirectory() as state:
            controller = Controller(
                pad, ControllerSettings(state_dir=Path(state), endpoints=sim.endpoints)
            )
            hold = _Watch(controller.bus, "countdown.hold", by="bench.area_occupied")
            async with asyncio.TaskGroup() as tasks:
                running = tasks.create_task(controller.run(), name="controller")
                await controller.ready.wait()
                launch = controller.launch
                assert launch is not None
                await _until(lambda: _all_fresh(controller), 15.0)
                launch.request(StartCount(by="bench"))
                rng = np.random.default_rng(3)
                for _ in range(trials):
                    # A trial starts right after the poll that saw the last one clear: without
                    # a random offset every fault would land just after a poll and wait the
                    # whole period, which measures the trial's rhythm, not the path.
                    await asyncio.sleep(float(rng.uniform(0.0, period_s)))
                    before = len(hold.times)
                    faulted = time.perf_counter()
                    await sim.inject("stuck:pad.area_clear:value=0")
                    await _until(lambda before=before: len(hold.times) > before, 5.0)  # type: ignore[misc]
                    latencies.append((hold.times[before] - faulted) * 1000)
                    await sim.clear("stuck:pad.area_clear:value=0")
                    await _until(lambda: not controller.monitor.acting_holds(), 5.0)
                    with contextlib.suppress(Exception):
                        launch.request(Resume(by="bench"))
                    await _until(
                        lambda: launch.sequencer.countdown.state is CountdownState.COUNTING, 5.0
                    )
                running.cancel()
    return latencies, period_s


def _fresh(monitor: Monitor, channels: np.ndarray) -> bool:
    now_ns = time.monotonic_ns()
    return all(
        trusted_value(monitor.latest, int(c), now_ns=now_ns, stale_after_ns=monitor.stale_after_ns)
        is not None
        for c in channels
    )


def _all_fresh(controller: Controller) -> bool:
    return _fresh(controller.monitor, np.arange(len(controller.pad.channels)))


async def _until(check: Callable[[], bool], within: float) -> None:
    deadline = time.perf_counter() + within
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(0.0005)


async def run_decision_benchmarks(*, quick: bool) -> list[Result]:
    latencies, rate = await bus_to_hold(100 if quick else 500)
    p99, worst = percentile(latencies, 99), max(latencies)
    sensor, period_s = await sensor_to_hold(15 if quick else 60)
    limit_ms = period_s * 1000 + 5
    sensor_p99 = percentile(sensor, 99)
    return [
        Result(
            name="Decision latency: batch on the bus to hold, under full telemetry load",
            value=p99,
            unit="ms p99",
            target="p99 <= 1 ms, max <= 5 ms",
            passed=p99 <= 1.0 and worst <= 5.0,
            detail=f"{len(latencies)} trials while {rate:,} samples/s flowed; median {percentile(latencies, 50):.3f} ms, max {worst:.3f} ms; histogram {_histogram(latencies)}",
            trials=tuple(round(v, 4) for v in latencies),
        ),
        Result(
            name="Sensor change in hw_sim to hold issued",
            value=sensor_p99,
            unit="ms p99",
            target=f"<= one poll period + 5 ms ({limit_ms:g} ms)",
            passed=sensor_p99 <= limit_ms,
            detail=f"{len(sensor)} trials; pad.area_clear polled every {period_s * 1000:g} ms; median {percentile(sensor, 50):.1f} ms, max {max(sensor):.1f} ms",
            trials=tuple(round(v, 2) for v in sensor),
        ),
    ]


if __name__ == "__main__":
    for result in asyncio.run(run_decision_benchmarks(quick=True)):
        print(result)
