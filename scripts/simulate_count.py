"""A dry run of the pad file's launch count against the plant physics, in accelerated time.

For whoever edits a step, a threshold or a deadline: it answers in seconds whether the
count still reaches T-0 on the simulated plant, before the slower end-to-end runs.

    .venv/bin/python scripts/simulate_count.py                      # 600x, terminal at 60x
    .venv/bin/python scripts/simulate_count.py --terminal-speed 600 # 600x to T-0
    .venv/bin/python scripts/simulate_count.py --compare-steps      # 0.05 s vs 0.5 s physics

No sockets and no asyncio: `hw_sim.plant.model.PadPlant` is driven directly, and the count
is groundseg's own pure sequencer and monitor (`groundseg.sequencer`), compiled from the
pad file, so the steps, waits, deadlines, interlocks, votes and redlines are exactly the
shipped ones. What the runner, the drivers and the gate do around them is emulated here:

  * telemetry: every channel is sampled at its own rate in *real* (link) time, through
    hw_sim's sensor model (noise, span clipping); at 600x a 10 Hz channel is one sample per
    60 s of plant time. The monitor runs on link time, the count on plant time.
  * the gate: a sequence command is vetoed by the interlocks (fresh data only), else
    written to the plant and verified by re-reading its readbacks every 20 ms of real time
    (as `verify_command` does) within max(window / speed, 0.5 s real), plus a fixed
    overhead per command (audit sync, write round trip).
  * operators: the built-in hold's poll is answered GO; any other hold is a failure (the
    harness resumes it once nothing holds, so the rest of the count is still shown).

The run passes when the count reaches T-0 with no hold but the built-in one, every
command verified, no redline acting, no tank above 100.5 % at any time, every tank's
ullage pressure under its MEOP while loading, and every tank at flight level at T-0.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from groundseg.config import PadDefinition, SentenceSource, load_pad
from groundseg.config.launch_schema import parse_duration, parse_t_time
from groundseg.quality import Quality
from groundseg.sequencer.countdown import (
    CountdownError,
    CountdownState,
    Hold,
    Poll,
    Recycle,
    Resume,
)
from groundseg.sequencer.machine import Action, Announce, CommandDone, Send, Sequencer, StartCount
from groundseg.sequencer.monitor import Finding, Monitor
from groundseg.sequencer.plan import LaunchPlan, compile_plan
from groundseg.telemetry.batch import SampleBatch
from hw_sim.plant.model import KEROSENE, LOX, MAX_STEP_S, PadPlant, step_for_speed
from hw_sim.sensors import SensorArray

ROOT = Path(__file__).resolve().parent.parent
TANKS = ("ker.s1", "ker.s2", "lox.s1", "lox.s2")
MEOP = {
    "lox.s1": LOX.meop_bar[0],
    "lox.s2": LOX.meop_bar[1],
    "ker.s1": KEROSENE.meop_bar[0],
    "ker.s2": KEROSENE.meop_bar[1],
}
OVERFILL = 100.5
FLIGHT_LEVEL = 99.0
"""A tank at T-0 at or above this (and never above OVERFILL) is at flight level."""
CHILLED_K = 110.0


@dataclass(slots=True)
class InFlight:
    send: Send
    written_real: float
    deadline_real: float
    next_check_real: float


@dataclass(slots=True)
class StepRecord:
    id: str
    at_t_s: float | None
    started_t: float = math.nan
    started_plant: float = math.nan
    wait_met_t: float = math.nan
    wait_met_plant: float = math.nan
    done_t: float = math.nan
    done_plant: float = math.nan
    levels: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Result:
    steps: list[StepRecord]
    events: list[str]
    holds: list[str]
    failures: list[str]
    findings: list[str]
    max_level: dict[str, float]
    max_ullage_loading: dict[str, float]
    max_ullage_terminal: dict[str, float]
    t0_levels: dict[str, float]
    t0_ullage: dict[str, float]
    chilled_at_plant: float
    launched: bool
    fired: bool
    plant_s: float
    wall_s: float
    commands: int

    @property
    def problems(self) -> list[str]:
        out = list(self.failures)
        out += [f"hold: {h}" for h in self.holds]
        out += [f"redline: {f}" for f in self.findings if "[hold]" in f or "[safing]" in f]
        if not self.launched:
            out.append("the count did not reach T-0")
        if not self.fired:
            out.append("the vehicle did not receive the ignition command")
        for tank in TANKS:
            if self.max_level[tank] > OVERFILL:
                out.append(f"{tank} overfilled: {self.max_level[tank]:.2f} %")
            if self.max_ullage_loading[tank] >= MEOP[tank]:
                out.append(
                    f"{tank} ullage {self.max_ullage_loading[tank]:.2f} bar while loading "
                    f"(MEOP {MEOP[tank]:g})"
                )
            if self.max_ullage_terminal[tank] >= MEOP[tank] + 0.25:
                out.append(
                    f"{tank} ullage {self.max_ullage_terminal[tank]:.2f} bar in the terminal "
                    f"count: the relief valve lifts"
                )
            level = self.t0_levels.get(tank, math.nan)
            if not FLIGHT_LEVEL <= level <= OVERFILL:
                out.append(
                    f"{tank} at {level:.2f} % at T-0 (flight level {FLIGHT_LEVEL:g}-{OVERFILL:g})"
                )
        return out


class Bench:
    def __init__(
        self,
        pad: PadDefinition,
        plan: LaunchPlan,
        *,
        speed: float,
        terminal_speed: float,
        terminal_at_t: float,
        max_step_s: float,
        seed: int,
        grid_real_s: float = 0.02,
        overhead_real_s: float = 0.01,
        verify_floor_s: float = 0.5,
        quiet: bool = False,
        warm_up_real_s: float = 2.0,
        hold_at_t: float | None = None,
        hold_for_s: float = 0.0,
        recycle: tuple[float, float] | None = None,
    ) -> None:
        self.recycle = recycle
        self.warm_up_real_s = warm_up_real_s
        self.hold_at_t = hold_at_t
        self.hold_for_s = hold_for_s
        self.operator_hold_until: float | None = None
        self.pad = pad
        self.plan = plan
        self.speed = speed
        self.terminal_speed = terminal_speed
        self.terminal_at_t = terminal_at_t
        self.grid_real_s = grid_real_s
        self.overhead_real_s = overhead_real_s
        self.verify_floor_s = verify_floor_s
        self.quiet = quiet
        self.plant = PadPlant(seed=seed, max_step_s=max_step_s)
        self.sensors = SensorArray(
            pad.channels, self.plant.signals, np.random.default_rng(seed + 1)
        )
        self.monitor = Monitor(pad, plan)
        self.sequencer = Sequencer(plan, self.monitor)
        self.plant_s = 0.0
        self.real_s = 0.0
        self.period = np.array([c.period_s for c in pad.channels])
        self.next_due = np.zeros(len(pad.channels))
        self.low = np.array([c.valid_range[0] if c.valid_range else -np.inf for c in pad.channels])
        self.high = np.array([c.valid_range[1] if c.valid_range else np.inf for c in pad.channels])
        self.empty = np.array(
            [
                c.source.empty_value
                if isinstance(c.source, SentenceSource) and c.source.empty_value is not None
                else np.nan
                for c in pad.channels
            ]
        )
        self.seq = 0
        self.inflight: list[InFlight] = []
        self.context: tuple[str | None, bool] = (None, False)
        self.steps = [StepRecord(id=s.id, at_t_s=s.at_t_s) for s in plan.steps]
        self.events: list[str] = []
        self.holds: list[str] = []
        self.failures: list[str] = []
        self.findings: list[str] = []
        self.commands = 0
        self.unplanned_hold = False
        self.stuck = False
        self.signal = {name: self.plant.signals.index(name) for name in self.plant.signals.names}
        self.max_level = dict.fromkeys(TANKS, 0.0)
        self.max_ullage_loading = dict.fromkeys(TANKS, 0.0)
        self.max_ullage_terminal = dict.fromkeys(TANKS, 0.0)
        self.t0_levels: dict[str, float] = {}
        self.t0_ullage: dict[str, float] = {}
        self.chilled_at = math.nan
        self.fired = False

    # -- clocks ---------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        return round(self.real_s * 1e9)

    def t(self) -> float:
        return self.sequencer.countdown.t(self.plant_s)

    def truth(self, name: str) -> float:
        return float(self.plant.values()[self.signal[name]])

    def log(self, text: str) -> None:
        line = f"T{self.t():+9.0f} s  plant {self.plant_s:8.0f} s  {text}"
        self.events.append(line)
        if not self.quiet:
            print(line)

    # -- the loop -------------------------------------------------------------------------

    def run(self, limit_plant_s: float = 9 * 3600.0) -> Result:
        wall = time.perf_counter()
        self.warm_up(self.warm_up_real_s)
        self.apply(self.sequencer.handle(StartCount(by="director"), self.plant_s))
        while self.plant_s < limit_plant_s:
            if self.speed != self.terminal_speed and self.t() >= self.terminal_at_t:
                self.log(f"simulation speed {self.speed:g}x -> {self.terminal_speed:g}x")
                self.speed = self.terminal_speed
            self.plant.advance(self.grid_real_s * self.speed)
            self.plant_s += self.grid_real_s * self.speed
            self.real_s += self.grid_real_s
            self.track()
            actions: list[Action] = []
            for finding in self.sample() + self.monitor.tick(self.now_ns):
                actions += self.finding(finding)
            actions += self.sequencer.tick(self.plant_s)
            self.apply(actions)
            self.verify()
            self.operate()
            state = self.sequencer.countdown.state
            if state is CountdownState.LAUNCHED and not self.inflight:
                break
            if self.stuck:
                break
            if state in (CountdownState.ABORTED, CountdownState.SCRUBBED):
                self.failures.append(f"count ended {state.value}")
                break
        return Result(
            steps=self.steps,
            events=self.events,
            holds=self.holds,
            failures=self.failures,
            findings=self.findings,
            max_level=self.max_level,
            max_ullage_loading=self.max_ullage_loading,
            max_ullage_terminal=self.max_ullage_terminal,
            t0_levels=self.t0_levels,
            t0_ullage=self.t0_ullage,
            chilled_at_plant=self.chilled_at,
            launched=self.sequencer.countdown.state is CountdownState.LAUNCHED,
            fired=self.fired,
            plant_s=self.plant_s,
            wall_s=time.perf_counter() - wall,
            commands=self.commands,
        )

    def warm_up(self, real_s: float = 2.0) -> None:
        """Telemetry flows before the director starts the count (fresh data everywhere)."""
        while self.real_s < real_s:
            self.plant.advance(self.grid_real_s * self.speed)
            self.plant_s += self.grid_real_s * self.speed
            self.real_s += self.grid_real_s
            for finding in self.sample() + self.monitor.tick(self.now_ns):
                self.finding(finding)
        self.plant_s = 0.0  # the plant's clock is only ours; the count starts at plant 0
        self.plant.time_s = 0.0

    def track(self) -> None:
        values = self.plant.values()
        terminal = self.sequencer.phase == "terminal"
        for tank in TANKS:
            level = float(values[self.signal[f"{tank}.level"]])
            ullage = float(values[self.signal[f"{tank}.ullage_pressure"]])
            self.max_level[tank] = max(self.max_level[tank], level)
            bucket = self.max_ullage_terminal if terminal else self.max_ullage_loading
            bucket[tank] = max(bucket[tank], ullage)
        if math.isnan(self.chilled_at) and values[self.signal["lox.line.temp.6"]] < CHILLED_K:
            self.chilled_at = self.plant_s

    def sample(self) -> list[Finding]:
        due = np.flatnonzero(self.next_due <= self.real_s + 1e-9)
        if len(due) == 0:
            return []
        self.next_due[due] = self.real_s + self.period[due]
        readings = self.readings()
        values = readings[due]
        quality = np.where(
            np.isnan(values) | (values < self.low[due]) | (values > self.high[due]),
            int(Quality.INVALID),
            int(Quality.GOOD),
        ).astype(np.uint8)
        self.seq += 1
        batch = SampleBatch.at(
            source="bench",
            seq=self.seq,
            time_ns=self.now_ns,
            channel=due.astype(np.uint32),
            value=values,
            quality=quality,
        )
        return self.monitor.take(batch, self.now_ns)

    def readings(self) -> npt.NDArray[np.float64]:
        readings = self.sensors.read(self.plant.values(), self.plant_s).copy()
        missing = np.isnan(readings) & ~np.isnan(self.empty)
        readings[missing] = self.empty[missing]
        return readings

    def finding(self, finding: Finding) -> list[Action]:
        if finding.active:
            self.findings.append(f"{finding.rule} [{finding.reaction}] {finding.message}")
            self.log(f"FINDING {finding.rule} ({finding.reaction}): {finding.message}")
        return self.sequencer.react(finding, self.plant_s)

    # -- actions: the runner and the gate, emulated ----------------------------------------

    def apply(self, actions: list[Action]) -> None:
        pending = list(actions)
        while pending:
            action = pending.pop(0)
            if isinstance(action, Announce):
                self.announce(action)
            else:
                self.send(action)
            if not pending:
                context = (self.sequencer.phase, self.sequencer.under_way)
                if context != self.context:
                    self.context = context
                    for finding in self.monitor.set_context(
                        phase=context[0], counting=context[1], now_ns=self.now_ns
                    ):
                        pending += self.finding(finding)
        self.note_wait()

    def announce(self, announce: Announce) -> None:
        kind = announce.kind
        index = self.sequencer._run.index
        if kind == "sequence.step":
            record = self.steps[index]
            record.started_t, record.started_plant = self.t(), self.plant_s
            self.log(f"step {record.id} started")
        elif kind == "sequence.step_done":
            record = self.steps[index - 1] if index > 0 else self.steps[0]
            record.done_t, record.done_plant = self.t(), self.plant_s
            record.levels = {tank: self.truth(f"{tank}.level") for tank in TANKS}
            if math.isnan(record.wait_met_t):
                record.wait_met_t, record.wait_met_plant = record.done_t, record.done_plant
            self.log(f"step {record.id} done")
        elif kind == "countdown.hold":
            by = str(announce.fields.get("by", ""))
            if by not in ("countdown", "operator"):
                self.unplanned_hold = True
                self.holds.append(f"T{self.t():+.0f} s by {by}: {announce.message}")
            self.log(f"HOLD ({by}): {announce.message}")
        elif kind == "countdown.t0":
            self.t0_levels = {tank: self.truth(f"{tank}.level") for tank in TANKS}
            self.t0_ullage = {tank: self.truth(f"{tank}.ullage_pressure") for tank in TANKS}
            self.log(f"{kind}: {announce.message}")
        elif kind in ("sequence.command_failed", "sequence.fault"):
            self.failures.append(f"T{self.t():+.0f} s {announce.message}")
            self.log(f"{kind}: {announce.message}")
        elif kind != "sequence.phase":
            self.log(f"{kind}: {announce.message}")

    def note_wait(self) -> None:
        run = self.sequencer._run
        if run.index < len(self.steps) and run.completing is not None:
            record = self.steps[run.index]
            if math.isnan(record.wait_met_t):
                record.wait_met_t, record.wait_met_plant = self.t(), self.plant_s

    def send(self, send: Send) -> None:
        call = send.call
        self.commands += 1
        if not send.safing:
            vetoes = self.monitor.vetoes(call.command, self.now_ns)
            if vetoes:
                reason = "; ".join(f"{v.interlock}: {v.reason}" for v in vetoes)
                self.log(f"VETO {call}: {reason}")
                self.done(send, ok=False, reason=f"vetoed: {reason}")
                return
        command = self.pad.commands[call.command]
        for write in command.writes:
            value = write.value if write.value is not None else call.argument
            assert value is not None
            self.plant.command(self.pad.channel(write.channel).sim, value)
        if call.command == "umb.vehicle.ignition.fire":
            self.log("ignition command written")
        window = max(command.window_s / self.speed, self.verify_floor_s)
        self.inflight.append(
            InFlight(
                send=send,
                written_real=self.real_s,
                deadline_real=self.real_s + self.overhead_real_s + window,
                next_check_real=self.real_s + self.overhead_real_s,
            )
        )

    def verify(self) -> None:
        if not self.inflight:
            return
        readings = self.readings()
        for item in list(self.inflight):
            if self.real_s + 1e-9 < item.next_check_real:
                continue
            command = self.pad.commands[item.send.call.command]
            ok = all(
                abs(
                    readings[self.pad.channel(check.channel).index]
                    - check.expected(item.send.call.argument)
                )
                <= check.tolerance + 1e-9
                for check in command.verify
            )
            if ok or self.real_s >= item.deadline_real:
                self.inflight.remove(item)
                if item.send.call.command == "umb.vehicle.ignition.fire" and ok:
                    self.fired = True
                self.done(item.send, ok=ok, reason="" if ok else "verification timed out")

    def done(self, send: Send, *, ok: bool, reason: str) -> None:
        self.apply(
            self.sequencer.command_done(
                CommandDone(token=send.token, ok=ok, reason=reason), self.plant_s
            )
        )

    def operate(self) -> None:
        countdown = self.sequencer.countdown
        if (
            self.recycle is not None
            and countdown.state is CountdownState.COUNTING
            and self.t() >= self.recycle[0]
        ):
            # The director holds and recycles to an earlier T-point, then resumes.
            to_t = self.recycle[1]
            self.recycle = None
            self.apply(self.sequencer.handle(Hold(reason="anomaly", by="operator"), self.plant_s))
            self.apply(self.sequencer.handle(Recycle(to_t_s=to_t, by="director"), self.plant_s))
            self.log(f"recycled to T{to_t:+.0f} s")
            try:
                self.apply(self.sequencer.handle(Resume(by="director"), self.plant_s))
            except CountdownError as exc:
                self.failures.append(f"T{self.t():+.0f} s resume after the recycle refused: {exc}")
                self.stuck = True
        elif (
            self.hold_at_t is not None
            and countdown.state is CountdownState.COUNTING
            and self.t() >= self.hold_at_t
        ):
            # An operator's hold (say, for weather), as long as the window allows.
            self.hold_at_t = None
            self.operator_hold_until = self.plant_s + self.hold_for_s
            self.apply(
                self.sequencer.handle(Hold(reason="operator hold", by="operator"), self.plant_s)
            )
        elif self.operator_hold_until is not None and self.plant_s >= self.operator_hold_until:
            self.operator_hold_until = None
            try:
                self.apply(self.sequencer.handle(Resume(by="operator"), self.plant_s))
            except CountdownError as exc:
                self.failures.append(f"T{self.t():+.0f} s the operator's resume refused: {exc}")
                self.stuck = True
        elif countdown.state is CountdownState.POLLING:
            self.apply(self.sequencer.handle(Poll(go=True, by="director"), self.plant_s))
        elif (
            countdown.state is CountdownState.HOLDING
            and self.unplanned_hold
            and not self.monitor.acting_holds()
            and not self.inflight
        ):
            # Resume as an operator would once nothing holds, to show the rest of the count.
            self.unplanned_hold = False
            before = len(self.holds)
            self.apply(self.sequencer.handle(Resume(by="harness"), self.plant_s))
            if (
                len(self.holds) > before
                and self.holds[-1].split(": ", 1)[-1] == self.holds[before - 1].split(": ", 1)[-1]
            ):
                # The resume held again at once, for the same reason: nothing an operator's
                # resume can fix (a step behind schedule cannot send while the count holds).
                self.failures.append(f"stuck: {self.holds[-1]}")
                self.stuck = True


# -- reports ------------------------------------------------------------------------------


def t_text(t_s: float | None) -> str:
    if t_s is None or math.isnan(t_s):
        return "-"
    sign = "-" if t_s < 0 else "+"
    total = abs(round(t_s))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"T{sign}{hours}:{minutes:02d}:{seconds:02d}"


def report(plan: LaunchPlan, result: Result) -> None:
    print()
    print(
        f"{'step':28} {'at':>10} {'started':>10} {'wait met':>10} {'done':>10} {'slack':>8}  levels at done (ker s1/s2, lox s1/s2 %)"
    )
    for i, record in enumerate(result.steps):
        upcoming = next((s.at_t_s for s in plan.steps[i + 1 :] if s.at_t_s is not None), None)
        slack = (
            ""
            if upcoming is None or math.isnan(record.done_t)
            else f"{(upcoming - record.done_t) / 60:6.1f}m"
        )
        levels = " ".join(f"{record.levels[t]:6.2f}" for t in TANKS) if record.levels else ""
        print(
            f"{record.id:28} {t_text(record.at_t_s):>10} {t_text(record.started_t):>10} "
            f"{t_text(record.wait_met_t):>10} {t_text(record.done_t):>10} {slack:>8}  {levels}"
        )
    print()
    print(
        "tank      max level  max ullage loading  max ullage terminal  level at T-0  ullage at T-0"
    )
    for tank in TANKS:
        print(
            f"{tank:8} {result.max_level[tank]:9.2f} % {result.max_ullage_loading[tank]:12.3f} bar"
            f" {result.max_ullage_terminal[tank]:14.3f} bar {result.t0_levels.get(tank, math.nan):11.2f} %"
            f" {result.t0_ullage.get(tank, math.nan):10.3f} bar"
        )
    print(
        f"\nLOX line point 6 below {CHILLED_K:g} K at plant {result.chilled_at_plant:.0f} s; "
        f"{result.commands} commands; {result.plant_s / 3600:.2f} h of plant time in "
        f"{result.wall_s:.1f} s"
    )
    if result.findings:
        print("redline findings:")
        for finding in result.findings:
            print(f"  {finding}")
    problems = result.problems
    print("\nPASS" if not problems else "\nFAIL:\n  " + "\n  ".join(problems))


def compare(a: Result, b: Result, label_a: str, label_b: str) -> bool:
    print(f"\nstep-size comparison: {label_a} vs {label_b}")
    ok = True
    print(f"{'step':28} {'wait met a':>11} {'wait met b':>11} {'diff s':>7}  max level diff %")
    for x, y in zip(a.steps, b.steps, strict=True):
        diff = y.wait_met_plant - x.wait_met_plant
        level = (
            max((abs(x.levels[t] - y.levels[t]) for t in TANKS), default=0.0)
            if x.levels and y.levels
            else 0.0
        )
        flag = ""
        if abs(diff) > 60.0 or level > 0.5:
            flag, ok = "  <-- differs", False
        print(
            f"{x.id:28} {x.wait_met_plant:11.0f} {y.wait_met_plant:11.0f} {diff:7.0f}  {level:6.3f}{flag}"
        )
    chill = b.chilled_at_plant - a.chilled_at_plant
    print(
        f"LOX line point 6 below {CHILLED_K:g} K: {a.chilled_at_plant:.1f} s vs {b.chilled_at_plant:.1f} s ({chill:+.1f} s)"
    )
    for tank in TANKS:
        d = abs(a.t0_levels.get(tank, math.nan) - b.t0_levels.get(tank, math.nan))
        print(
            f"{tank}: level at T-0 {a.t0_levels.get(tank, math.nan):.3f} vs {b.t0_levels.get(tank, math.nan):.3f} % (diff {d:.3f})"
        )
        if not d <= 0.5:
            ok = False
    if abs(chill) > 60.0:
        ok = False
    print("steps agree" if ok else "steps DIFFER")
    return ok


def scripted_loading(max_step_s: float) -> dict[str, float]:
    """LOX chilldown and fill commanded by hand, read every plant second: the line's
    crossing times and the levels, to compare step sizes finer than the count's samples."""
    plant = PadPlant(seed=1, max_step_s=max_step_s)
    index = {name: plant.signals.index(name) for name in plant.signals.names}
    out: dict[str, float] = {}
    for valve in ("lox.storage.outlet_valve", "lox.chilldown_valve", "lox.line.bleed_valve"):
        plant.command(f"{valve}.cmd", 1.0)
    second = 0
    while second < 1800:
        plant.advance(1.0)
        second += 1
        line = plant.values()[index["lox.line.temp.6"]]
        for kelvin in (150.0, 120.0, 110.0, 100.0):
            if line < kelvin:
                out.setdefault(f"line below {kelvin:g} K (s)", float(second))
    for valve in ("lox.s1.fill_valve", "lox.s2.fill_valve", "lox.fast_fill_valve"):
        plant.command(f"{valve}.cmd", 1.0)
    plant.command("lox.pump.speed_sp", 3000.0)
    plant.command("lox.pump.cmd", 1.0)
    plant.advance(600.0)
    for tank in ("lox.s1", "lox.s2"):
        out[f"{tank} level after 10 min fast fill (%)"] = float(
            plant.values()[index[f"{tank}.level"]]
        )
    for valve in ("lox.s1.vent_valve", "lox.s2.vent_valve"):
        plant.command(f"{valve}.cmd", 0.0)
    plant.advance(120.0)
    for tank in ("lox.s1", "lox.s2"):
        out[f"{tank} ullage 2 min after the vents close (bar)"] = float(
            plant.values()[index[f"{tank}.ullage_pressure"]]
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pad", default=str(ROOT / "pads" / "baiterek.toml"))
    parser.add_argument("--speed", type=float, default=600.0, help="plant and count speed")
    parser.add_argument(
        "--terminal-speed",
        type=float,
        default=60.0,
        help="speed from --terminal-at on (as the nominal-count bench does)",
    )
    parser.add_argument("--terminal-at", default="T-11min")
    parser.add_argument(
        "--max-step", type=float, default=None, help="plant step (default: hw_sim's for the speed)"
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--overhead-ms", type=float, default=10.0, help="real time per command besides readback"
    )
    parser.add_argument(
        "--compare-steps", action="store_true", help="run at 0.05 s and 0.5 s steps and compare"
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=2.0,
        help="real seconds of telemetry before the start (shifts the sample phase)",
    )
    parser.add_argument(
        "--hold-at", default=None, help="an operator holds the count at this T-time..."
    )
    parser.add_argument(
        "--hold-for", default="0s", help="...for this long (count time), then resumes"
    )
    parser.add_argument(
        "--recycle",
        default=None,
        metavar="AT:TO",
        help="hold at AT, recycle to TO, resume (T-1min15s:T-10min)",
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    pad = load_pad(args.pad)

    def bench(max_step: float, quiet: bool) -> Result:
        plan = compile_plan(pad)  # fresh `for` timers each run
        return Bench(
            pad,
            plan,
            speed=args.speed,
            terminal_speed=args.terminal_speed,
            terminal_at_t=parse_t_time(args.terminal_at),
            max_step_s=max_step,
            seed=args.seed,
            overhead_real_s=args.overhead_ms / 1000.0,
            quiet=quiet,
            warm_up_real_s=args.warm_up,
            hold_at_t=parse_t_time(args.hold_at) if args.hold_at else None,
            hold_for_s=parse_duration(args.hold_for),
            recycle=(
                (parse_t_time(args.recycle.split(":")[0]), parse_t_time(args.recycle.split(":")[1]))
                if args.recycle
                else None
            ),
        ).run()

    plan = compile_plan(pad)
    if args.compare_steps:
        fine = bench(MAX_STEP_S, True)
        coarse = bench(step_for_speed(args.speed), True)
        report(plan, coarse)
        agree = compare(fine, coarse, f"{MAX_STEP_S:g} s", f"{step_for_speed(args.speed):g} s")
        a, b = scripted_loading(MAX_STEP_S), scripted_loading(step_for_speed(args.speed))
        print("\nscripted LOX loading, read every plant second:")
        for key in a:
            print(f"  {key:45} {a[key]:9.3f} {b[key]:9.3f}  ({b[key] - a[key]:+.3f})")
            if key.startswith("line") and abs(b[key] - a[key]) > 60.0:
                agree = False
            if "level" in key and abs(b[key] - a[key]) > 0.5:
                agree = False
        return 0 if agree and not coarse.problems and not fine.problems else 1
    result = bench(args.max_step if args.max_step else step_for_speed(args.speed), args.quiet)
    report(plan, result)
    return 0 if not result.problems else 1


if __name__ == "__main__":
    sys.exit(main())
