"""Conditions: the small, safe expression language of interlocks, redlines and step waits.

    lox.line.temp.a < -170 and lox.s1.vent_valve.position == OPEN
    2 of (lox.s1.ullage_pressure.a > 3.2, lox.s1.ullage_pressure.b > 3.2,
          lox.s1.ullage_pressure.c > 3.2)
    wx.wind.m10.gust > 15 for 2 s
    not (umb.power.source == GROUND)

Grammar (lowest precedence first):

    condition  := either ("or" either)*
    either     := negation ("and" negation)*
    negation   := "not" negation | primary ["for" NUMBER ("ms" | "s" | "min")]
    primary    := "(" condition ")" | INT "of" "(" condition ("," condition)* ")"
                | operand ("<" | "<=" | ">" | ">=" | "==" | "!=") operand
    operand    := CHANNEL | NUMBER | STATE            (STATE: a state name, upper case)

A condition is parsed once, when the pad definition loads, against the pad's channels:
an unknown channel, a state the channel does not have, or a syntax error is a
`ConditionError` that points at the text. Nothing is ever evaluated with `eval`.

Evaluation is three-valued (Kleene): a comparison on a value that is stale, invalid,
replayed, never seen, or older than its channel allows is UNKNOWN, and UNKNOWN propagates
(`not UNKNOWN` is UNKNOWN; `FALSE and UNKNOWN` is FALSE; `TRUE or UNKNOWN` is TRUE). Whoever
asks decides what UNKNOWN means: a permissive permits only on TRUE, so stale or unknown
data never satisfies an interlock.

`X for D` is TRUE once X has been TRUE at every evaluation for at least D; it is pure and
takes time as an argument, and `next_deadline_ns()` says when to evaluate again even if no
sample arrives (when a `for` would complete).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from groundseg.quality import USABLE
from groundseg.rules.condition_syntax import (
    COMPARE,
    AllOf,
    AnyOf,
    AtLeast,
    ChannelLookup,
    ChannelRef,
    Compare,
    ConditionError,
    For,
    Node,
    Not,
    Number,
    Operand,
    PadChannels,
    parse_tree,
)

__all__ = [
    "Condition",
    "ConditionError",
    "ConditionInputs",
    "PadChannels",
    "Term",
    "Truth",
    "channels_of",
    "parse_condition",
    "trusted_value",
]


NEVER_NS = -(2**63)


class Truth(IntEnum):
    FALSE = 0
    TRUE = 1
    UNKNOWN = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    """One comparison of a condition, evaluated: why the whole is what it is."""

    text: str
    """`lox.line.temp.a < -170`."""
    truth: Truth
    seen: str
    """The values compared, as read now: `lox.line.temp.a = -181.2`, or `stale`."""


class ConditionInputs(Protocol):
    """The latest value of every channel (LatestValues or a snapshot of it)."""

    value: npt.NDArray[np.float64]
    time_ns: npt.NDArray[np.int64]
    quality: npt.NDArray[np.uint8]


def parse_condition(text: str, pad: ChannelLookup) -> Condition:
    """Parse once, at load; a ConditionError points at what is wrong."""
    root, timers = parse_tree(text, pad)
    return Condition(text, root, timers)


# -- evaluation -----------------------------------------------------------------------------

_NOT = {Truth.TRUE: Truth.FALSE, Truth.FALSE: Truth.TRUE, Truth.UNKNOWN: Truth.UNKNOWN}


class Condition:
    """A parsed condition and the state of its `for` timers."""

    def __init__(self, text: str, root: Node, timers: int) -> None:
        self.text = text
        self._root = root
        self._true_since: list[int | None] = [None] * timers
        self._durations: list[int] = [0] * timers
        self._evaluated_ns = NEVER_NS
        self._collect(root)
        self.channels: tuple[int, ...] = tuple(sorted(self._channels(root)))
        """Indices of the channels the condition reads."""

    def _collect(self, node: Node) -> None:
        if isinstance(node, For):
            self._durations[node.slot] = node.duration_ns
            self._collect(node.operand)
        elif isinstance(node, Not):
            self._collect(node.operand)
        elif isinstance(node, AllOf | AnyOf | AtLeast):
            for operand in node.operands:
                self._collect(operand)

    def _channels(self, node: Node) -> set[int]:
        if isinstance(node, Compare):
            return {o.index for o in (node.left, node.right) if isinstance(o, ChannelRef)}
        if isinstance(node, For | Not):
            return self._channels(node.operand)
        return set().union(*(self._channels(o) for o in node.operands))

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"

    def evaluate(
        self,
        inputs: ConditionInputs,
        now_ns: int,
        stale_after_ns: npt.NDArray[np.int64] | None = None,
    ) -> Truth:
        """The condition's truth now. `stale_after_ns[i]`: the age beyond which channel i's
        value no longer counts (several poll periods), whatever its quality says."""
        self._evaluated_ns = now_ns
        return self._eval(self._root, inputs, now_ns, stale_after_ns)

    def peek(
        self,
        inputs: ConditionInputs,
        now_ns: int,
        stale_after_ns: npt.NDArray[np.int64] | None = None,
    ) -> Truth:
        """What `evaluate` would say now, leaving the `for` timers where they were: a display
        must not start or reset the timing the sequencer and the monitor rely on."""
        saved = list(self._true_since)
        try:
            return self._eval(self._root, inputs, now_ns, stale_after_ns)
        finally:
            self._true_since = saved

    def terms(
        self,
        inputs: ConditionInputs,
        now_ns: int,
        stale_after_ns: npt.NDArray[np.int64] | None = None,
    ) -> list[Term]:
        """Every comparison in the condition with its truth now, for a display of why a
        permissive is red (does not touch the `for` timers)."""
        out: list[Term] = []
        for node in _compares(self._root):
            left = _value(node.left, inputs, now_ns, stale_after_ns)
            right = _value(node.right, inputs, now_ns, stale_after_ns)
            truth = (
                Truth.UNKNOWN
                if left is None or right is None
                else Truth.TRUE
                if COMPARE[node.comparison](left, right)
                else Truth.FALSE
            )
            seen = ", ".join(
                f"{o.channel_id} = {'stale or unknown' if v is None else f'{v:g}'}"
                for o, v in ((node.left, left), (node.right, right))
                if isinstance(o, ChannelRef)
            )
            text = f"{_operand_text(node.left)} {node.comparison} {_operand_text(node.right)}"
            out.append(Term(text=text, truth=truth, seen=seen))
        return out

    def steady(
        self,
        trusted: npt.NDArray[np.int8],
        low: npt.NDArray[np.float64],
        high: npt.NDArray[np.float64],
    ) -> bool:
        """Whether every comparison keeps one truth while each channel stays trusted
        (`trusted` 1) or untrusted (0) throughout and within [low, high]: then the
        condition's truth and its `for` timers go on as they were."""
        return all(_steady(node, trusted, low, high) for node in _compares(self._root))

    def reset(self) -> None:
        """Forget how long each `for` has held (a phase change re-arms them)."""
        self._true_since = [None] * len(self._true_since)

    def next_deadline_ns(self) -> int | None:
        """When a `for` that is holding completes: evaluate again then. A `for` that had
        completed when last evaluated has nothing left to wait for (a timer armed on it
        would fire at once, again and again)."""
        evaluated = self._evaluated_ns
        pending = [
            since + duration
            for since, duration in zip(self._true_since, self._durations, strict=True)
            if since is not None and since + duration > evaluated
        ]
        return min(pending, default=None)

    def _eval(
        self,
        node: Node,
        inputs: ConditionInputs,
        now_ns: int,
        stale_after_ns: npt.NDArray[np.int64] | None,
    ) -> Truth:
        if isinstance(node, Compare):
            left = _value(node.left, inputs, now_ns, stale_after_ns)
            right = _value(node.right, inputs, now_ns, stale_after_ns)
            if left is None or right is None:
                return Truth.UNKNOWN
            return Truth.TRUE if COMPARE[node.comparison](left, right) else Truth.FALSE
        if isinstance(node, Not):
            return _NOT[self._eval(node.operand, inputs, now_ns, stale_after_ns)]
        if isinstance(node, For):
            inner = self._eval(node.operand, inputs, now_ns, stale_after_ns)
            if inner is not Truth.TRUE:
                self._true_since[node.slot] = None
                return inner
            since = self._true_since[node.slot]
            if since is None:
                since = self._true_since[node.slot] = now_ns
            return Truth.TRUE if now_ns - since >= node.duration_ns else Truth.FALSE
        # Every operand is evaluated (no short cut): each `for` timer sees every evaluation.
        results = [self._eval(o, inputs, now_ns, stale_after_ns) for o in node.operands]
        true = results.count(Truth.TRUE)
        unknown = results.count(Truth.UNKNOWN)
        needed = (
            len(results)
            if isinstance(node, AllOf)
            else 1
            if isinstance(node, AnyOf)
            else node.count
        )
        if true >= needed:
            return Truth.TRUE
        if true + unknown >= needed:
            return Truth.UNKNOWN
        return Truth.FALSE


def _compares(node: Node) -> list[Compare]:
    if isinstance(node, Compare):
        return [node]
    if isinstance(node, For | Not):
        return _compares(node.operand)
    return [c for operand in node.operands for c in _compares(operand)]


def _steady(
    node: Compare,
    trusted: npt.NDArray[np.int8],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
) -> bool:
    spans = [
        (1, o.value, o.value)
        if isinstance(o, Number)
        else (int(trusted[o.index]), low[o.index], high[o.index])
        for o in (node.left, node.right)
    ]
    if any(trust < 0 for trust, _, _ in spans):
        return False
    if any(trust == 0 for trust, _, _ in spans):
        return True  # UNKNOWN throughout
    (_, a_low, a_high), (_, b_low, b_high) = spans
    apart = a_high < b_low or b_high < a_low
    return {
        "<": a_high < b_low or a_low >= b_high,
        "<=": a_high <= b_low or a_low > b_high,
        ">": a_low > b_high or a_high <= b_low,
        ">=": a_low >= b_high or a_high < b_low,
        "==": apart or a_low == a_high == b_low == b_high,
        "!=": apart or a_low == a_high == b_low == b_high,
    }[node.comparison]


def _operand_text(operand: Operand) -> str:
    return operand.channel_id if isinstance(operand, ChannelRef) else f"{operand.value:g}"


def _value(
    operand: Operand,
    inputs: ConditionInputs,
    now_ns: int,
    stale_after_ns: npt.NDArray[np.int64] | None,
) -> float | None:
    if isinstance(operand, Number):
        return operand.value
    return trusted_value(inputs, operand.index, now_ns=now_ns, stale_after_ns=stale_after_ns)


def trusted_value(
    inputs: ConditionInputs,
    channel: int,
    *,
    now_ns: int = 0,
    stale_after_ns: npt.NDArray[np.int64] | None = None,
) -> float | None:
    """A channel's latest value, or None when it cannot be trusted: its quality is not
    usable, it is not a number, or it is older than `stale_after_ns[channel]`."""
    value = float(inputs.value[channel])
    if not USABLE[int(inputs.quality[channel])] or math.isnan(value):
        return None
    if (
        stale_after_ns is not None
        and now_ns - int(inputs.time_ns[channel]) > stale_after_ns[channel]
    ):
        return None
    return value


def channels_of(conditions: Sequence[Condition]) -> tuple[int, ...]:
    """Every channel some condition reads."""
    return tuple(sorted({c for condition in conditions for c in condition.channels}))
