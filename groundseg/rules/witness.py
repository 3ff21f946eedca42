"""Witnesses: channel values that make a condition true (or false).

Proof tests are generated from the pad definition with these: for every redline, values
that trip it; for every interlock, values that withhold its permit. A test bench injects
them into the simulator (or a real transmitter's calibrator) and checks the reaction.
Values stay inside each channel's valid range, so the proof shows the rule acting on
good data (stale or invalid data is a different proof).
"""

from __future__ import annotations

from collections.abc import Iterator

from groundseg.config import PadDefinition
from groundseg.config.checks import representable_span
from groundseg.rules.condition_syntax import (
    COMPARE,
    AllOf,
    AnyOf,
    AtLeast,
    ChannelRef,
    Compare,
    For,
    Node,
    Not,
    Number,
)
from groundseg.rules.conditions import Condition

__all__ = ["NoWitness", "condition_witness", "limit_witness"]

Assignment = dict[str, float]

_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class NoWitness(ValueError):
    """No values within the channels' ranges satisfy the condition as asked."""


def condition_witness(condition: Condition, pad: PadDefinition, *, want: bool) -> Assignment:
    """Channel values (engineering units) under which `condition` is `want`."""
    for found in _solve(condition._root, want, pad, {}):
        return found
    raise NoWitness(f"no values make {condition.text!r} {str(want).lower()}")


def limit_witness(
    pad: PadDefinition, channel_id: str, *, above: float | None, below: float | None
) -> float:
    """A value beyond a limit (above it if given, else below), inside the valid range."""
    channel = pad.channel(channel_id)
    low, high = _span(pad, channel_id)
    step = _step(low, high)
    if above is not None and above < high:
        return min(above + step, (above + high) / 2)
    if below is not None and below > low:
        return max(below - step, (below + low) / 2)
    raise NoWitness(f"{channel.id}: no value beyond its limits inside {low:g} to {high:g}")


def _solve(node: Node, want: bool, pad: PadDefinition, given: Assignment) -> Iterator[Assignment]:
    match node:
        case For(operand=operand):
            yield from _solve(operand, want, pad, given)
        case Not(operand=operand):
            yield from _solve(operand, not want, pad, given)
        case AllOf(operands=operands) | AnyOf(operands=operands):
            every = want == isinstance(node, AllOf)
            if every:
                yield from _all(operands, want, pad, given)
            else:
                for operand in operands:
                    yield from _solve(operand, want, pad, given)
        case AtLeast(count=count, operands=operands):
            need = count if want else len(operands) - count + 1
            yield from _all(operands[:need], want, pad, given)
            if need < len(operands):
                yield from _all(operands[-need:], want, pad, given)
        case Compare():
            found = _compare(node, want, pad, given)
            if found is not None:
                yield found


def _all(
    operands: tuple[Node, ...], want: bool, pad: PadDefinition, given: Assignment
) -> Iterator[Assignment]:
    if not operands:
        yield given
        return
    for partial in _solve(operands[0], want, pad, given):
        yield from _all(operands[1:], want, pad, partial)


def _compare(node: Compare, want: bool, pad: PadDefinition, given: Assignment) -> Assignment | None:
    comparison = node.comparison if want else _NEGATE[node.comparison]
    left, right = node.left, node.right
    if isinstance(left, Number) and isinstance(right, ChannelRef):
        left, right, comparison = right, left, _MIRROR[comparison]
    assert isinstance(left, ChannelRef)
    if isinstance(right, ChannelRef):
        low, high = _span(pad, right.channel_id)
        reference = given.get(right.channel_id, (low + high) / 2)
        given = {**given, right.channel_id: reference}
        target = reference
    else:
        target = right.value
    value = _value_for(pad, left.channel_id, comparison, target)
    if value is None:
        return None
    if left.channel_id in given and given[left.channel_id] != value:
        held = given[left.channel_id]
        return given if COMPARE[comparison](held, target) else None
    return {**given, left.channel_id: value}


def _value_for(pad: PadDefinition, channel_id: str, comparison: str, target: float) -> float | None:
    channel = pad.channel(channel_id)
    low, high = _span(pad, channel_id)
    candidates: list[float]
    if channel.states:
        candidates = [float(state) for state in sorted(channel.states)]
    else:
        # A margin from the limit first: a reading exactly on it proves little.
        step = _step(low, high)
        candidates = [target + step, target - step, target, low, high]
    for value in candidates:
        if low <= value <= high and COMPARE[comparison](value, target):
            return float(value)
    return None


def _span(pad: PadDefinition, channel_id: str) -> tuple[float, float]:
    channel = pad.channel(channel_id)
    spans = [s for s in (channel.valid_range, representable_span(channel)) if s is not None]
    if not spans:
        return (-1e6, 1e6)
    return max(s[0] for s in spans), min(s[1] for s in spans)


def _step(low: float, high: float) -> float:
    return max((high - low) * 0.05, 1e-3) if high - low < 1e6 else 1.0
