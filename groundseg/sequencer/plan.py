"""The launch plan: the pad file's countdown, rules, sequence and safing, compiled.

`compile_plan(pad)` parses every condition against the pad's channels, resolves every
command, vote, phase and T-time, and reports all mistakes at once, each at its dotted key
(`redlines[3].when`), a condition's with a caret under the fault. A plan exists only if
the whole launch part of the file is right; nothing half-loads.

Conditions keep state (`for D` timers), so each compile yields fresh ones: compile once
per running controller, or per replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from groundseg.config import PadDefinition
from groundseg.config.launch_schema import (
    CommandCall,
    RedlineSpec,
    StepSpec,
    parse_duration,
    parse_t_time,
)
from groundseg.errors import ConfigError, ConfigProblem
from groundseg.rules.conditions import Condition, ConditionError, PadChannels, parse_condition
from groundseg.rules.voting import VoteGroup
from groundseg.sequencer.countdown import BuiltInHold, CountdownPlan

__all__ = [
    "Call",
    "Interlock",
    "LaunchPlan",
    "Policy",
    "Redline",
    "Safing",
    "Step",
    "VotePlan",
    "compile_plan",
]

Reaction = Literal["alarm", "hold", "safing"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One command as a step, a reaction or safing sends it."""

    command: str
    argument: float | None = None

    def __str__(self) -> str:
        return self.command if self.argument is None else f"{self.command}({self.argument:g})"


@dataclass(frozen=True, slots=True, kw_only=True)
class VotePlan:
    group: VoteGroup
    degraded: Reaction
    failed: Reaction


@dataclass(frozen=True, slots=True, kw_only=True)
class Interlock:
    id: str
    commands: frozenset[str]
    permit: Condition
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Redline:
    """A limit (`channel` or `vote`, with limits), a condition (`when`) or freshness
    (`stale`): exactly one form."""

    id: str
    reaction: Reaction
    actions: tuple[Call, ...]
    phases: frozenset[str]
    always: bool
    latched: bool
    message: str
    channel: int | None = None
    vote: str | None = None
    above: float | None = None
    below: float | None = None
    warn_above: float | None = None
    warn_below: float | None = None
    persistence: int = 1
    persist_s: float = 0.0
    hysteresis: float = 0.0
    when: Condition | None = None
    stale: tuple[int, ...] = ()

    def armed_in(self, phase: str | None, counting: bool) -> bool:
        """Whether the redline acts now: in its phases (or any, while a count is under
        way), or always if so declared."""
        if self.always:
            return True
        if not counting:
            return False
        return not self.phases or phase in self.phases


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    id: str
    at_t_s: float | None
    phase: str | None
    require: Condition | None
    commands: tuple[Call, ...]
    wait: Condition | None
    deadline_s: float | None
    on_complete: tuple[Call, ...]
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Safing:
    commands: tuple[Call, ...]
    confirm: Condition | None
    deadline_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Who may send a command, and whether it is hazardous (arm, then execute)."""

    command: str
    roles: frozenset[str]
    hazardous: bool
    two_person: bool
    lease_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchPlan:
    countdown: CountdownPlan
    window_s: float
    phases: tuple[str, ...]
    votes: tuple[VotePlan, ...]
    interlocks: tuple[Interlock, ...]
    redlines: tuple[Redline, ...]
    steps: tuple[Step, ...]
    safing: Safing
    policies: tuple[Policy, ...]

    def interlocks_of(self, command: str) -> tuple[Interlock, ...]:
        return tuple(i for i in self.interlocks if command in i.commands)

    def safing_commands(self) -> frozenset[str]:
        return frozenset(
            {c.command for c in self.safing.commands}
            | {c.command for r in self.redlines for c in r.actions}
        )


def compile_plan(pad: PadDefinition) -> LaunchPlan:
    """Compile the launch part of `pad`; ConfigError lists every problem found."""
    return _Compiler(pad).compile()


class _Compiler:
    def __init__(self, pad: PadDefinition) -> None:
        self.pad = pad
        self.spec = pad.launch
        self.lookup = PadChannels(pad)
        self.problems: list[ConfigProblem] = []
        self.phases = tuple(p.id for p in self.spec.phases)
        self.votes = {v.id: v for v in self.spec.votes}

    def fail(self, key: str, expected: str) -> None:
        self.problems.append(ConfigProblem(key=key, expected=expected))

    def compile(self) -> LaunchPlan:
        countdown, window_s = self._countdown()
        votes = self._votes()
        interlocks = tuple(
            Interlock(
                id=spec.id,
                commands=frozenset(
                    self._command(f"interlocks[{i}].commands[{j}]", name)
                    for j, name in enumerate(spec.commands)
                ),
                permit=self._condition(f"interlocks[{i}].permit", spec.permit),
                reason=spec.reason or f"interlock {spec.id}",
            )
            for i, spec in enumerate(self.spec.interlocks)
        )
        redlines = tuple(
            self._redline(f"redlines[{i}]", s) for i, s in enumerate(self.spec.redlines)
        )
        steps = tuple(self._step(f"sequence[{i}]", s) for i, s in enumerate(self.spec.sequence))
        safing = self._safing()
        policies = self._policies()
        self._unique("phases", [p.id for p in self.spec.phases])
        self._unique("votes", [v.id for v in self.spec.votes])
        self._unique("interlocks", [i.id for i in self.spec.interlocks])
        self._unique("redlines", [r.id for r in self.spec.redlines])
        self._unique("sequence", [s.id for s in self.spec.sequence])
        self._step_order(steps, countdown)
        if self.problems:
            raise ConfigError(self.pad.source, self.problems)
        return LaunchPlan(
            countdown=countdown,
            window_s=window_s,
            phases=self.phases,
            votes=votes,
            interlocks=interlocks,
            redlines=redlines,
            steps=steps,
            safing=safing,
            policies=policies,
        )

    # -- sections --------------------------------------------------------------------------

    def _countdown(self) -> tuple[CountdownPlan, float]:
        spec = self.spec.countdown
        if spec is None:
            if self.spec.sequence:
                self.fail("countdown", "a pad with a sequence needs a [countdown]")
            return CountdownPlan(start_t_s=-60.0), 3600.0
        start = parse_t_time(spec.start)
        holds = []
        for i, hold in enumerate(spec.holds):
            at = parse_t_time(hold.at)
            if not start < at < 0:
                self.fail(f"countdown.holds[{i}].at", f"a T-time between {spec.start} and T-0")
                continue
            if len(set(hold.poll)) != len(hold.poll) or not all(hold.poll):
                self.fail(f"countdown.holds[{i}].poll", "each station named once")
                continue
            holds.append(
                BuiltInHold(t_s=at, duration_s=parse_duration(hold.duration), poll=tuple(hold.poll))
            )
        points = []
        for i, text in enumerate(spec.recycle_points):
            point = parse_t_time(text)
            if not start < point < 0:
                self.fail(
                    f"countdown.recycle_points[{i}]", f"a T-time between {spec.start} and T-0"
                )
                continue
            points.append(point)
        try:
            plan = CountdownPlan(start_t_s=start, holds=tuple(holds), recycle_points=tuple(points))
        except ValueError as exc:
            self.fail("countdown", str(exc))
            plan = CountdownPlan(start_t_s=start)
        return plan, parse_duration(spec.window)

    def _votes(self) -> tuple[VotePlan, ...]:
        out = []
        for i, spec in enumerate(self.spec.votes):
            key = f"votes[{i}]"
            channels = [
                self._channel(f"{key}.channels[{j}]", c) for j, c in enumerate(spec.channels)
            ]
            if any(c is None for c in channels):
                continue
            try:
                group = VoteGroup(
                    name=spec.id,
                    channels=tuple(c for c in channels if c is not None),
                    need=spec.need,
                    tolerance=spec.tolerance,
                )
            except ValueError as exc:
                self.fail(key, str(exc))
                continue
            out.append(VotePlan(group=group, degraded=spec.degraded, failed=spec.failed))
        return tuple(out)

    def _redline(self, key: str, spec: RedlineSpec) -> Redline:
        channel: int | None = None
        vote: str | None = None
        if spec.on is not None:
            if spec.on in self.votes:
                vote = spec.on
            else:
                channel = self._channel(f"{key}.on", spec.on, also="or a vote")
        when = self._condition(f"{key}.when", spec.when) if spec.when is not None else None
        stale = tuple(
            index
            for j, c in enumerate(spec.stale)
            if (index := self._channel(f"{key}.stale[{j}]", c)) is not None
        )
        for j, phase in enumerate(spec.phases):
            self._phase(f"{key}.phases[{j}]", phase)
        return Redline(
            id=spec.id,
            reaction=spec.reaction,
            actions=self._calls(f"{key}.actions", spec.actions),
            phases=frozenset(spec.phases),
            always=spec.always,
            latched=spec.latched,
            message=spec.message or f"redline {spec.id}",
            channel=channel,
            vote=vote,
            above=spec.above,
            below=spec.below,
            warn_above=spec.warn_above,
            warn_below=spec.warn_below,
            persistence=spec.persistence,
            persist_s=parse_duration(spec.persist_for) if spec.persist_for else 0.0,
            hysteresis=spec.hysteresis,
            when=when,
            stale=stale,
        )

    def _step(self, key: str, spec: StepSpec) -> Step:
        if spec.phase is not None:
            self._phase(f"{key}.phase", spec.phase)
        return Step(
            id=spec.id,
            at_t_s=parse_t_time(spec.at) if spec.at is not None else None,
            phase=spec.phase,
            require=self._condition(f"{key}.require", spec.require) if spec.require else None,
            commands=self._calls(f"{key}.commands", spec.commands),
            wait=self._condition(f"{key}.wait", spec.wait) if spec.wait else None,
            deadline_s=parse_duration(spec.deadline) if spec.deadline else None,
            on_complete=self._calls(f"{key}.on_complete", spec.on_complete),
            description=spec.description,
        )

    def _safing(self) -> Safing:
        spec = self.spec.safing
        if spec is None:
            if self.spec.sequence:
                self.fail("safing", "a pad with a sequence needs a [safing] sequence")
            return Safing(commands=(), confirm=None, deadline_s=600.0)
        return Safing(
            commands=self._calls("safing.commands", spec.commands),
            confirm=self._condition("safing.confirm", spec.confirm) if spec.confirm else None,
            deadline_s=parse_duration(spec.deadline),
        )

    def _policies(self) -> tuple[Policy, ...]:
        out: dict[str, Policy] = {}
        for i, spec in enumerate(self.spec.gate.policies):
            for j, name in enumerate(spec.commands):
                key = f"gate.policies[{i}].commands[{j}]"
                command = self._command(key, name)
                if command in out:
                    self.fail(key, f"{command} already has a policy")
                    continue
                out[command] = Policy(
                    command=command,
                    roles=frozenset(spec.roles),
                    hazardous=spec.hazardous,
                    two_person=spec.two_person,
                    lease_s=parse_duration(spec.lease),
                )
        return tuple(out.values())

    # -- cross-checks ----------------------------------------------------------------------

    def _step_order(self, steps: Sequence[Step], countdown: CountdownPlan) -> None:
        last = countdown.start_t_s
        for i, step in enumerate(steps):
            if step.at_t_s is None:
                continue
            if step.at_t_s < last:
                self.fail(
                    f"sequence[{i}].at",
                    f"T-times go forwards: T{step.at_t_s:+g} s comes before T{last:+g} s",
                )
            if step.at_t_s > 0:
                self.fail(f"sequence[{i}].at", "no step after T-0")
            last = max(last, step.at_t_s)

    def _unique(self, section: str, ids: Sequence[str]) -> None:
        seen: dict[str, int] = {}
        for i, item in enumerate(ids):
            if item in seen:
                self.fail(
                    f"{section}[{i}].id",
                    f"duplicate id {item!r} (first at {section}[{seen[item]}])",
                )
            seen.setdefault(item, i)

    # -- references ------------------------------------------------------------------------

    def _condition(self, key: str, text: str) -> Condition:
        try:
            return parse_condition(text, self.lookup)
        except ConditionError as exc:
            self.fail(key, str(exc))
            # A stand-in so the rest still compiles and reports; the plan is never built.
            first = self.pad.channels[0].id
            return parse_condition(f"{first} != {first}", self.lookup)

    def _channel(self, key: str, channel_id: str, *, also: str = "") -> int | None:
        if not self.pad.has_channel(channel_id):
            self.fail(key, f"no channel {channel_id!r} in the pad {also}".rstrip())
            return None
        return self.pad.channel(channel_id).index

    def _command(self, key: str, command: str) -> str:
        if command not in self.pad.commands:
            self.fail(key, f"no command {command!r} in the pad (valves yield <valve>.open/.close)")
        return command

    def _phase(self, key: str, phase: str) -> None:
        if phase not in self.phases:
            known = ", ".join(self.phases) or "none declared"
            self.fail(key, f"unknown phase {phase!r}; phases: {known}")

    def _calls(self, key: str, items: Sequence[str | CommandCall]) -> tuple[Call, ...]:
        calls = []
        for j, item in enumerate(items):
            call = (
                Call(command=item)
                if isinstance(item, str)
                else Call(command=item.command, argument=item.argument)
            )
            self._command(f"{key}[{j}]", call.command)
            parameter = (
                self.pad.commands[call.command].parameter
                if call.command in self.pad.commands
                else None
            )
            if parameter is not None and call.argument is None:
                self.fail(f"{key}[{j}]", f"{call.command} needs an argument ({parameter.name})")
            elif (
                parameter is None
                and call.argument is not None
                and call.command in self.pad.commands
            ):
                self.fail(f"{key}[{j}]", f"{call.command} takes no argument")
            elif (
                parameter is not None
                and call.argument is not None
                and not (parameter.low <= call.argument <= parameter.high)
            ):
                self.fail(
                    f"{key}[{j}]",
                    f"{parameter.name} {call.argument:g} is outside {parameter.low:g} to {parameter.high:g}",
                )
            calls.append(call)
        return tuple(calls)
