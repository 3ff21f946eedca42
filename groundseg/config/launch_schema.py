"""The launch part of the pad definition file: countdown, phases, votes, interlocks,
redlines, the sequence, safing and the gate's policies, checked by pydantic.

These models check what they can locally (types, known words, durations and T-times
written correctly). Conditions stay text here: `groundseg.sequencer.plan` parses them
against the pad's channels and reports each mistake at its dotted key, with a caret.

Durations are written `500ms`, `2s`, `10min`, `1h30min`; T-times `T-6h`, `T-10min`,
`T-0`.
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CommandCall",
    "CountdownSpec",
    "GatePolicySpec",
    "GateSpec",
    "HoldSpec",
    "InterlockSpec",
    "LaunchSpec",
    "PhaseSpec",
    "Reaction",
    "RedlineSpec",
    "SafingSpec",
    "StepSpec",
    "VoteSpec",
    "parse_duration",
    "parse_t_time",
]

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=80)]
Reaction = Literal["alarm", "hold", "safing"]
RoleName = Literal["viewer", "operator", "director", "safety"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|min|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as `1h30min`, `2s`, `500ms`; ValueError if malformed."""
    compact = text.replace(" ", "")
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        position = match.end()
    if position == 0 or position != len(compact):
        raise ValueError(f"expected a duration such as 90s, 10min or 1h30min, got {text!r}")
    return total


def parse_t_time(text: str) -> float:
    """The T-clock reading (seconds, negative before T-0) of `T-10min`; `T-0` is 0."""
    compact = text.replace(" ", "")
    if compact in ("T-0", "T0", "T+0"):
        return 0.0
    if not compact.startswith("T-"):
        raise ValueError(f"expected a T-time such as T-6h, T-10min or T-0, got {text!r}")
    try:
        return -parse_duration(compact[2:])
    except ValueError:
        raise ValueError(f"expected a T-time such as T-6h, T-10min or T-0, got {text!r}") from None


def _duration(text: str) -> str:
    parse_duration(text)
    return text


def _t_time(text: str) -> str:
    parse_t_time(text)
    return text


def _optional_duration(text: str | None) -> str | None:
    return None if text is None else _duration(text)


def _optional_t_time(text: str | None) -> str | None:
    return None if text is None else _t_time(text)


Duration = Annotated[str, Field(min_length=1)]
TTime = Annotated[str, Field(min_length=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class HoldSpec(_Spec):
    at: TTime
    duration: Duration
    poll: list[str] = []
    """Who answers the GO/NO-GO poll that ends it (shown to the operators)."""

    _at = field_validator("at")(_t_time)
    _duration = field_validator("duration")(_duration)


class CountdownSpec(_Spec):
    start: TTime
    window: Duration
    """How long the launch window stays open after the planned T-0."""
    holds: list[HoldSpec] = []
    recycle_points: list[TTime] = []

    _start = field_validator("start")(_t_time)
    _window = field_validator("window")(_duration)

    @field_validator("recycle_points")
    @classmethod
    def _t_times(cls, points: list[str]) -> list[str]:
        for point in points:
            parse_t_time(point)
        return points


class PhaseSpec(_Spec):
    id: Identifier
    description: str = ""


class VoteSpec(_Spec):
    id: Identifier
    channels: Annotated[list[Identifier], Field(min_length=2)]
    need: Annotated[int, Field(ge=1)]
    tolerance: Annotated[float, Field(gt=0)]
    degraded: Reaction = "alarm"
    failed: Reaction = "hold"

    @model_validator(mode="after")
    def _need_fits(self) -> VoteSpec:
        if self.need > len(self.channels):
            raise ValueError(f"need {self.need} is more than its {len(self.channels)} channels")
        return self


class CommandCall(_Spec):
    command: Identifier
    argument: float | None = None


CommandItem = Identifier | CommandCall


class InterlockSpec(_Spec):
    id: Identifier
    commands: Annotated[list[Identifier], Field(min_length=1)]
    permit: Annotated[str, Field(min_length=1)]
    """A condition: the commands are permitted only while it is true on fresh data."""
    reason: str = ""


class RedlineSpec(_Spec):
    """One of three forms: a limit on a channel or vote (`on` with `above`/`below`), a
    condition that must not hold (`when`), or channels that must stay fresh (`stale`)."""

    id: Identifier
    on: Identifier | None = None
    above: float | None = None
    below: float | None = None
    warn_above: float | None = None
    warn_below: float | None = None
    persistence: Annotated[int, Field(ge=1)] = 1
    """Consecutive samples beyond the limit before it trips."""
    persist_for: Duration | None = None
    """...and for at least this long (sample time)."""
    hysteresis: Annotated[float, Field(ge=0)] = 0.0
    when: str | None = None
    stale: list[Identifier] = []
    reaction: Reaction = "alarm"
    actions: list[CommandItem] = []
    """Commands the reaction sends (with safing priority), such as opening a vent."""
    phases: list[Identifier] = []
    """Armed only in these phases; empty: armed whenever the count is under way."""
    always: bool = False
    """Armed even when no count is under way (its reaction is then an alarm)."""
    latched: bool = False
    message: str = ""

    _persist_for = field_validator("persist_for")(_optional_duration)

    @model_validator(mode="after")
    def _one_form(self) -> RedlineSpec:
        forms = [self.on is not None, self.when is not None, bool(self.stale)]
        if sum(forms) != 1:
            raise ValueError("a redline has exactly one of 'on' (a limit), 'when' or 'stale'")
        limits = (self.above, self.below, self.warn_above, self.warn_below)
        if self.on is not None and all(limit is None for limit in limits):
            raise ValueError("a limit redline needs above, below, warn_above or warn_below")
        if self.on is None and any(limit is not None for limit in limits):
            raise ValueError("above/below/warn_above/warn_below belong to a redline with 'on'")
        ordered = [
            (name, value)
            for name, value in (
                ("below", self.below),
                ("warn_below", self.warn_below),
                ("warn_above", self.warn_above),
                ("above", self.above),
            )
            if value is not None
        ]
        for (low_name, low), (high_name, high) in itertools.pairwise(ordered):
            if low >= high:
                raise ValueError(f"{low_name} {low:g} must be under {high_name} {high:g}")
        return self


class StepSpec(_Spec):
    id: Identifier
    at: TTime | None = None
    """Not before this T-time; if the previous step is still running then, the count holds."""
    phase: Identifier | None = None
    require: str | None = None
    """A precondition; false or unknown when the step is due holds the count."""
    commands: list[CommandItem] = []
    wait: str | None = None
    """The step completes when this condition holds..."""
    deadline: Duration | None = None
    """...within this long, or the count holds."""
    on_complete: list[CommandItem] = []
    """Sent once the wait holds, even in a hold: they end what the step started."""
    description: str = ""

    _at = field_validator("at")(_optional_t_time)
    _deadline = field_validator("deadline")(_optional_duration)

    @model_validator(mode="after")
    def _deadline_needs_wait(self) -> StepSpec:
        if self.deadline is not None and self.wait is None:
            raise ValueError("a deadline belongs to a step with a wait")
        if self.wait is not None and self.deadline is None:
            raise ValueError("a step that waits needs a deadline")
        return self


class SafingSpec(_Spec):
    commands: Annotated[list[CommandItem], Field(min_length=1)]
    confirm: str | None = None
    """A condition the pad reaches once safe (reported; the safing sequence never stops)."""
    deadline: Duration = "10min"

    _deadline = field_validator("deadline")(_duration)


class GatePolicySpec(_Spec):
    commands: Annotated[list[Identifier], Field(min_length=1)]
    roles: Annotated[list[RoleName], Field(min_length=1)]
    hazardous: bool = False
    two_person: bool = False
    lease: Duration = "30s"

    _lease = field_validator("lease")(_duration)

    @model_validator(mode="after")
    def _two_person_is_hazardous(self) -> GatePolicySpec:
        if self.two_person and not self.hazardous:
            raise ValueError("two_person applies to hazardous commands only")
        return self


class GateSpec(_Spec):
    policies: list[GatePolicySpec] = []


class LaunchSpec(_Spec):
    """Everything under the launch keys of a pad file; all empty when a file has none."""

    countdown: CountdownSpec | None = None
    phases: list[PhaseSpec] = []
    votes: list[VoteSpec] = []
    interlocks: list[InterlockSpec] = []
    redlines: list[RedlineSpec] = []
    sequence: list[StepSpec] = []
    safing: SafingSpec | None = None
    gate: GateSpec = GateSpec()
