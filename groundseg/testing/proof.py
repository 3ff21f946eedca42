"""The proof-test campaign: every redline and interlock of a pad definition, made to act.

For each rule in turn, on the simulated pad: the rule is armed (a count under way, in one
of its phases), the stimulus is injected at the sensors through hw_sim's faults (a limit's
transmitters stuck past it, a condition's channels at values that make it true, a
freshness rule's device silenced, an interlock's permit made false), and the time from the
injection to the automation's reaction is measured: the redline's trip, or the interlock's
veto. The faults are cleared and the pad settles before the next rule.

On a bench (`run_bench_campaign`) nothing is injected and nothing is sent: an interlock
withholding its command now is proven by the controller's own check of it, and the rest
are listed with the stimulus to apply at the bench by hand.

The automation here is the controller's own monitor, fed by the real drivers over the
simulator's real sockets and ptys, so the reaction time is sensor to decision: the poll,
the decode, persistence and `for` timers, the vote. A rule with no stimulus the simulator
can give is reported as such, never as passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from groundseg.clock import SystemClock
from groundseg.config import PadDefinition
from groundseg.drivers.factory import build_drivers, with_endpoints
from groundseg.rules.witness import NoWitness, condition_witness, limit_witness
from groundseg.sequencer.monitor import Finding, Monitor
from groundseg.sequencer.plan import Interlock, LaunchPlan, Redline, compile_plan
from groundseg.simulator import SimulatorHandle, simulator
from groundseg.telemetry.batch import SampleBatch
from groundseg.testing.bench import Bench

__all__ = [
    "ProofResult",
    "Stimulus",
    "for_durations",
    "interlock_stimulus",
    "plan_stimuli",
    "redline_stimulus",
    "run_bench_campaign",
    "run_campaign",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stimulus:
    rule: str
    kind: str
    """"redline" or "interlock"."""
    faults: tuple[str, ...]
    """hw_sim fault specs; empty: the simulator cannot give this rule's stimulus."""
    setup: tuple[str, ...] = ()
    """Faults first, to bring the rule to rest (an interlock's permit made true)."""
    phase: str | None
    within_s: float
    """How long the rule may take: its persistence and `for` time, and the polls."""
    why: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProofResult:
    rule: str
    kind: str
    result: str
    """"pass", "fail" or "not testable"."""
    reaction_ms: float | None
    stimulus: str
    note: str = ""


def plan_stimuli(
    pad: PadDefinition, plan: LaunchPlan | None = None, *, margin_s: float = 2.0
) -> list[Stimulus]:
    """Every redline and interlock with the faults that make it act (`margin_s`: the
    scheduling slack on top of what its persistence and the polls allow)."""
    plan = plan or compile_plan(pad)
    out = [redline_stimulus(pad, plan, r, margin_s=margin_s) for r in plan.redlines]
    return out + [interlock_stimulus(pad, i, margin_s=margin_s) for i in plan.interlocks]


def redline_stimulus(
    pad: PadDefinition, plan: LaunchPlan, redline: Redline, *, margin_s: float
) -> Stimulus:
    """Faults that trip `redline` (witnesses computed from the rule itself, inside the
    channels' valid ranges), and how long its reaction may take."""
    phase = min(redline.phases) if redline.phases else None
    if redline.stale:
        channels = [pad.channels[c] for c in redline.stale]
        devices = sorted({c.device for c in channels})
        slowest = max(c.period_s for c in channels)
        return Stimulus(
            rule=redline.id,
            kind="redline",
            faults=tuple(f"dropout:{d}" for d in devices),
            phase=phase,
            within_s=3 * slowest + margin_s,
        )
    try:
        if redline.when is not None:
            values = condition_witness(redline.when, pad, want=True)
            slowest = max(pad.channel(c).period_s for c in values)
            within = slowest * 2 + for_durations(redline.when.text) + margin_s
        else:
            if redline.vote is not None:
                vote = next(v for v in plan.votes if v.group.name == redline.vote)
                ids = [pad.channels[c].id for c in vote.group.channels]
            else:
                assert redline.channel is not None
                ids = [pad.channels[redline.channel].id]
            value = limit_witness(pad, ids[0], above=redline.above, below=redline.below)
            values = dict.fromkeys(ids, value)
            slowest = max(pad.channel(c).period_s for c in ids)
            within = slowest * (redline.persistence + 1) + redline.persist_s + margin_s
    except NoWitness as exc:
        return Stimulus(
            rule=redline.id, kind="redline", faults=(), phase=phase, within_s=0.0, why=str(exc)
        )
    return Stimulus(
        rule=redline.id, kind="redline", faults=_stuck(values), phase=phase, within_s=within
    )


def interlock_stimulus(pad: PadDefinition, interlock: Interlock, *, margin_s: float) -> Stimulus:
    """The permit made true (the command permitted), then false: the veto is timed."""
    try:
        permitted = condition_witness(interlock.permit, pad, want=True)
        withheld = condition_witness(interlock.permit, pad, want=False)
    except NoWitness as exc:
        return Stimulus(
            rule=interlock.id, kind="interlock", faults=(), phase=None, within_s=0.0, why=str(exc)
        )
    slowest = max(pad.channel(c).period_s for c in withheld)
    return Stimulus(
        rule=interlock.id,
        kind="interlock",
        faults=_stuck(withheld),
        setup=_stuck(permitted),
        phase=None,
        within_s=3 * slowest + margin_s,
    )


def _stuck(values: Mapping[str, float]) -> tuple[str, ...]:
    return tuple(f"stuck:{channel}:value={value!r}" for channel, value in values.items())


def for_durations(text: str) -> float:
    """Upper bound of the `for` durations in a condition's text (seconds)."""
    total = 0.0
    for number, unit in re.findall(r"\bfor\s+(\d+(?:\.\d+)?)\s*(ms|s|min)\b", text):
        total += float(number) * {"ms": 0.001, "s": 1.0, "min": 60.0}[unit]
    return total


# -- running ---------------------------------------------------------------------------


class _Watch:
    """The controller's monitor on the drivers' batches, with its timer."""

    def __init__(self, pad: PadDefinition, plan: LaunchPlan, stale_periods: float) -> None:
        self.monitor = Monitor(pad, plan, stale_periods=stale_periods)
        self.acting: dict[str, int] = {}
        """Rule -> monotonic ns it started acting."""
        self.changed = asyncio.Event()

    def take(self, batch: SampleBatch) -> None:
        self._found(self.monitor.take(batch, time.monotonic_ns()))

    def tick(self) -> None:
        self._found(self.monitor.tick(time.monotonic_ns()))

    def _found(self, findings: Sequence[Finding]) -> None:
        for finding in findings:
            if finding.active:
                self.acting.setdefault(finding.rule, time.monotonic_ns())
            else:
                self.acting.pop(finding.rule, None)
        self.changed.set()

    async def until(self, done: Callable[[], bool], within_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                while not done():
                    self.changed.clear()
                    await self.changed.wait()
                return True
        return False


@contextlib.asynccontextmanager
async def _watching(
    pad: PadDefinition, plan: LaunchPlan, endpoints: dict[str, str], stale_periods: float
) -> AsyncIterator[_Watch]:
    watch = _Watch(pad, plan, stale_periods)
    drivers = build_drivers(
        with_endpoints(pad, endpoints, source="hw_sim"), watch.take, SystemClock()
    )

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.05)  # the runner's timer, at its tick
            watch.tick()

    async with asyncio.TaskGroup() as tasks:
        running = [tasks.create_task(d.run(), name=f"driver-{k}") for k, d in drivers.items()]
        running.append(tasks.create_task(tick(), name="proof-timer"))
        try:
            yield watch
        finally:
            for task in running:
                task.cancel()


async def run_campaign(
    pad_file: Path,
    pad: PadDefinition,
    *,
    only: Sequence[str] = (),
    settle_s: float = 30.0,
    stale_periods: float = 3.0,
    progress: Callable[[ProofResult], None] | None = None,
) -> list[ProofResult]:
    """Every rule's proof test on a simulated pad started here; results in rule order."""
    plan = compile_plan(pad)
    stimuli = [s for s in plan_stimuli(pad, plan) if not only or s.rule in only]
    results: list[ProofResult] = []
    async with (
        simulator(pad_file) as sim,
        _watching(pad, plan, sim.endpoints, stale_periods) as watch,
    ):
        for planned in stimuli:
            result = await _prove(sim, watch, plan, planned, settle_s)
            results.append(result)
            if progress is not None:
                progress(result)
    return results


async def _prove(
    sim: SimulatorHandle, watch: _Watch, plan: LaunchPlan, planned: Stimulus, settle_s: float
) -> ProofResult:
    shown = ", ".join(planned.faults) or "none"
    if planned.setup:
        shown = f"at rest with {', '.join(planned.setup)}; then {shown}"

    def outcome(result: str, note: str, reaction_ms: float | None = None) -> ProofResult:
        return ProofResult(
            rule=planned.rule,
            kind=planned.kind,
            result=result,
            reaction_ms=reaction_ms,
            stimulus=shown,
            note=note,
        )

    if not planned.faults:
        return outcome("not testable", planned.why)
    monitor = watch.monitor
    await sim.control("clear all")
    for fault in planned.setup:
        await sim.control(f"fault {fault}")
    monitor.set_context(phase=planned.phase, counting=True, now_ns=time.monotonic_ns())
    reacted_at: list[int] = []
    if planned.kind == "interlock":
        interlock = next(i for i in plan.interlocks if i.id == planned.rule)
        command = min(interlock.commands)

        def acting() -> bool:
            return any(v.interlock == planned.rule for v in monitor.vetoes(command))
    else:

        def acting() -> bool:
            return planned.rule in watch.acting

    def reacted() -> bool:
        if acting():
            reacted_at.append(watch.acting.get(planned.rule, time.monotonic_ns()))
            return True
        return False

    if not await watch.until(lambda: not acting(), settle_s):
        rest = f" of {', '.join(planned.setup)}" if planned.setup else ""
        return outcome(
            "fail", f"acting before the stimulus (not at rest within {settle_s:g} s{rest})"
        )
    # A channel the setup holds is released first: the stimulus holds it at its own value.
    stimulated = {f.split(":")[1] for f in planned.faults}
    for fault in planned.setup:
        if fault.split(":")[1] in stimulated:
            await sim.control(f"clear {fault}")
    started = time.monotonic_ns()
    for fault in planned.faults:
        await sim.control(f"fault {fault}")
    seen = await watch.until(reacted, planned.within_s)
    await sim.control("clear all")
    if not seen or not reacted_at:
        return outcome("fail", f"no reaction within {planned.within_s:g} s")
    note = "vetoed" if planned.kind == "interlock" else "tripped"
    return outcome("pass", note, round((reacted_at[0] - started) / 1e6, 1))


async def run_bench_campaign(
    url: str,
    pad: PadDefinition,
    *,
    user: str,
    password: str,
    progress: Callable[[ProofResult], None] | None = None,
) -> list[ProofResult]:
    """The safe subset on a bench's controller: nothing is injected and nothing is sent.
    An interlock withholding its command now is proven by the controller's own check; one
    permitting it, and every redline, is listed with the stimulus to apply at the bench."""
    plan = compile_plan(pad)
    results: list[ProofResult] = []
    async with Bench.connect(url, user=user, password=password) as bench:
        for planned in plan_stimuli(pad, plan):
            to_apply = "; ".join(_instruction(f) for f in planned.faults) or planned.why
            if planned.kind == "redline":
                result = ProofResult(
                    rule=planned.rule,
                    kind=planned.kind,
                    result="not testable",
                    reaction_ms=None,
                    stimulus=to_apply,
                    note="a bench has no fault injection: apply the stimulus and watch the trip",
                )
            else:
                interlock = next(i for i in plan.interlocks if i.id == planned.rule)
                command = min(interlock.commands)
                started = time.monotonic_ns()
                mine = [v for v in await bench.check(command) if v["interlock"] == planned.rule]
                answered_ms = round((time.monotonic_ns() - started) / 1e6, 1)
                result = ProofResult(
                    rule=planned.rule,
                    kind=planned.kind,
                    result="pass" if mine else "not testable",
                    reaction_ms=answered_ms if mine else None,
                    stimulus="none: the bench as it is" if mine else to_apply,
                    note=f"withholds {command} now: {mine[0]['reason']}"
                    if mine
                    else f"permits {command} now (sending it would actuate): apply the stimulus",
                )
            results.append(result)
            if progress is not None:
                progress(result)
    return results


def _instruction(fault: str) -> str:
    """A fault spec as what to do at a bench: `ch = v`, or a device silenced."""
    kind, _, rest = fault.partition(":")
    if kind == "stuck":
        channel, _, value = rest.partition(":value=")
        return f"{channel} = {value}"
    return f"{rest} silent" if kind == "dropout" else fault
