"""The syntax of conditions: tokens, the tree, and the parser that builds it against a
pad's channels (grammar and semantics: groundseg/rules/conditions.py). Nothing here
evaluates anything; there is no `eval`."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from groundseg.config import PadDefinition
from groundseg.errors import GroundsegError

__all__ = [
    "COMPARE",
    "AllOf",
    "AnyOf",
    "AtLeast",
    "ChannelLookup",
    "ChannelRef",
    "Compare",
    "ConditionError",
    "For",
    "Node",
    "Not",
    "Number",
    "Operand",
    "PadChannels",
    "parse_tree",
]


class ConditionError(GroundsegError):
    """A condition's text is wrong; `position` is the offset of the fault in `text`."""

    def __init__(self, text: str, position: int, expected: str) -> None:
        self.text = text
        self.position = position
        self.expected = expected
        pointer = " " * position + "^"
        super().__init__(f"{expected}\n    {text}\n    {pointer}")


class ChannelLookup(Protocol):
    """What the parser needs to know of a pad: its channels' indices and state names."""

    def has_channel(self, channel_id: str) -> bool: ...

    def channel_index(self, channel_id: str) -> int: ...

    def channel_states(self, channel_id: str) -> dict[int, str]: ...


@dataclass(frozen=True, slots=True)
class PadChannels:
    """A pad definition as the parser sees it."""

    pad: PadDefinition

    def has_channel(self, channel_id: str) -> bool:
        return self.pad.has_channel(channel_id)

    def channel_index(self, channel_id: str) -> int:
        return self.pad.channel(channel_id).index

    def channel_states(self, channel_id: str) -> dict[int, str]:
        return dict(self.pad.channel(channel_id).states)


# -- syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelRef:
    channel_id: str
    index: int


@dataclass(frozen=True, slots=True)
class Number:
    value: float


Operand = ChannelRef | Number

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True, slots=True)
class Compare:
    left: Operand
    comparison: str
    right: Operand


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class AllOf:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AtLeast:
    count: int
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class For:
    operand: Node
    duration_ns: int
    slot: int
    """Index of this timer in the condition's state."""


Node = Compare | Not | AllOf | AnyOf | AtLeast | For

# -- tokens ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<operator><=|>=|==|!=|<|>)
  | (?P<punct>[(),])
  | (?P<state>[A-Z][A-Z0-9_]*)
  | (?P<word>[a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*)
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "of", "for"})
_UNITS_NS = {"ms": 1_000_000, "s": 1_000_000_000, "min": 60_000_000_000}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ConditionError(text, position, f"unexpected character {text[position]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            word = match.group()
            out.append(_Token("keyword" if word in _KEYWORDS else kind, word, position))
        position = match.end()
    out.append(_Token("end", "", len(text)))
    return out


# -- parser ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, pad: ChannelLookup) -> None:
        self.text = text
        self.pad = pad
        self.tokens = _tokens(text)
        self.at = 0
        self.timers = 0

    def fail(self, expected: str, token: _Token | None = None) -> ConditionError:
        return ConditionError(self.text, (token or self.peek()).position, expected)

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> _Token | None:
        token = self.peek()
        if token.kind == kind and (text is None or token.text == text):
            return self.take()
        return None

    def expect(self, kind: str, text: str, what: str) -> _Token:
        token = self.accept(kind, text)
        if token is None:
            raise self.fail(f"expected {what}")
        return token

    def condition(self) -> Node:
        operands = [self.either()]
        while self.accept("keyword", "or"):
            operands.append(self.either())
        return operands[0] if len(operands) == 1 else AnyOf(tuple(operands))

    def either(self) -> Node:
        operands = [self.negation()]
        while self.accept("keyword", "and"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else AllOf(tuple(operands))

    def negation(self) -> Node:
        if self.accept("keyword", "not"):
            return Not(self.negation())
        node = self.primary()
        if self.accept("keyword", "for"):
            number = self.accept("number")
            if number is None or float(number.text) <= 0:
                raise self.fail("expected a positive duration after 'for', such as 2 s", number)
            unit = self.accept("word")
            if unit is None or unit.text not in _UNITS_NS:
                raise self.fail("expected a unit of time: ms, s or min", unit)
            duration_ns = round(float(number.text) * _UNITS_NS[unit.text])
            node = For(node, duration_ns, self.timers)
            self.timers += 1
        return node

    def primary(self) -> Node:
        if self.accept("punct", "("):
            node = self.condition()
            self.expect("punct", ")", "')'")
            return node
        token = self.peek()
        if token.kind == "number" and self.tokens[self.at + 1].text == "of":
            return self.at_least()
        left_token = self.peek()
        left = self.operand()
        comparison = self.accept("operator")
        if comparison is None:
            raise self.fail("expected a comparison (<, <=, >, >=, == or !=)")
        right_token = self.peek()
        right = self.operand()
        if isinstance(left, str) or isinstance(right, str):
            return self.state_comparison(left, comparison.text, right, left_token, right_token)
        if isinstance(left, Number) and isinstance(right, Number):
            raise self.fail("a comparison needs at least one channel", left_token)
        return Compare(left, comparison.text, right)

    def at_least(self) -> Node:
        count_token = self.take()
        self.take()  # "of"
        if not count_token.text.isdigit() or int(count_token.text) < 1:
            raise self.fail("expected a whole number of conditions before 'of'", count_token)
        self.expect("punct", "(", "'(' opening the list of conditions")
        operands = [self.condition()]
        while self.accept("punct", ","):
            operands.append(self.condition())
        self.expect("punct", ")", "')' closing the list of conditions")
        count = int(count_token.text)
        if count > len(operands):
            raise self.fail(f"{count} of {len(operands)} condition(s) can never hold", count_token)
        return AtLeast(count, tuple(operands))

    def operand(self) -> Operand | str:
        token = self.take()
        if token.kind == "number":
            return Number(float(token.text))
        if token.kind == "state":
            return token.text
        if token.kind == "word":
            if not self.pad.has_channel(token.text):
                raise self.fail(f"unknown channel {token.text!r}", token)
            return ChannelRef(token.text, self.pad.channel_index(token.text))
        raise self.fail("expected a channel, a number or a state name", token)

    def state_comparison(
        self,
        left: Operand | str,
        comparison: str,
        right: Operand | str,
        left_token: _Token,
        right_token: _Token,
    ) -> Compare:
        if comparison not in ("==", "!="):
            raise self.fail("a state compares only with == or !=", right_token)
        channel, state, state_token = (
            (left, right, right_token) if isinstance(right, str) else (right, left, left_token)
        )
        if not isinstance(channel, ChannelRef) or not isinstance(state, str):
            raise self.fail("a state name compares with a channel", state_token)
        states = self.pad.channel_states(channel.channel_id)
        codes = {name: code for code, name in states.items()}
        if state not in codes:
            known = ", ".join(sorted(codes)) or "none"
            raise self.fail(
                f"{state} is not a state of {channel.channel_id} (its states: {known})",
                state_token,
            )
        return Compare(channel, comparison, Number(float(codes[state])))


def parse_tree(text: str, pad: ChannelLookup) -> tuple[Node, int]:
    """The tree of a condition, and how many `for` timers it holds."""
    parser = _Parser(text, pad)
    if parser.peek().kind == "end":
        raise parser.fail("expected a condition")
    root = parser.condition()
    if parser.peek().kind != "end":
        raise parser.fail("expected 'and', 'or' or the end of the condition")
    return root, parser.timers
