"""What a procedure expects of the pad, and why an expectation failed, said plainly.

An expectation is a condition in the pad definition's own language (`lox.s1.fill_valve.
open_switch == ON`, `lox.line.temp.a < -170 for 5 s`: `groundseg.rules.conditions`),
parsed against the channels the controller serves, and checked on every update of the
latest values. When a wait runs out, `ExpectationFailed` says what was expected, what was
seen (each comparison with the values it read, their quality and sample time) and when:
a reviewer reads the failure without rerunning the procedure.

Pure: the values come in, the text goes out; nothing here does I/O.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from groundseg.errors import GroundsegError
from groundseg.quality import Quality
from groundseg.rules.conditions import Condition, parse_condition

__all__ = [
    "ChannelTable",
    "ExpectationFailed",
    "Latest",
    "ProcedureError",
    "clock_text",
    "expectation",
]

NEVER_NS = np.iinfo(np.int64).min


class ProcedureError(GroundsegError):
    """A procedure asked for something the pad does not have (a channel, a command)."""


class ExpectationFailed(AssertionError):
    """A procedure's expectation did not come true in time (or a count was wrong)."""

    def __init__(self, *, expected: str, seen: str, when: str) -> None:
        self.expected = expected
        self.seen = seen
        self.when = when
        super().__init__(f"expected {expected}\n{when}\nseen:\n{seen}")


@dataclass(frozen=True, slots=True)
class ChannelTable:
    """The pad's channels as the controller serves them (`GET /api/pad`)."""

    ids: tuple[str, ...]
    states: tuple[Mapping[int, str], ...]
    _index: Mapping[str, int] = field(repr=False, compare=False)

    @classmethod
    def of(cls, channels: Sequence[Mapping[str, object]]) -> ChannelTable:
        ids = tuple(str(c["id"]) for c in channels)
        states = tuple(
            {int(k): str(v) for k, v in dict(c.get("states") or {}).items()}  # type: ignore[call-overload]
            for c in channels
        )
        return cls(ids, states, {name: k for k, name in enumerate(ids)})

    def has_channel(self, channel_id: str) -> bool:
        return channel_id in self._index

    def channel_index(self, channel_id: str) -> int:
        try:
            return self._index[channel_id]
        except KeyError:
            raise ProcedureError(f"the pad has no channel {channel_id!r}") from None

    def channel_states(self, channel_id: str) -> dict[int, str]:
        return dict(self.states[self.channel_index(channel_id)])


class Latest:
    """The latest value, quality and sample time of every channel, as streamed."""

    def __init__(self, table: ChannelTable) -> None:
        self.table = table
        n = len(table.ids)
        self.value = np.full(n, np.nan)
        self.time_ns = np.full(n, NEVER_NS, dtype=np.int64)
        self.quality: npt.NDArray[np.uint8] = np.full(n, Quality.STALE, dtype=np.uint8)

    def update(self, values: Mapping[str, Sequence[float | int | None]]) -> None:
        """`{channel id: [value, quality, sample time in s]}` from the stream."""
        for channel_id, (value, quality, at_s) in values.items():
            k = self.table._index.get(channel_id)
            if k is None:
                continue
            self.value[k] = math.nan if value is None else float(value)
            self.quality[k] = int(quality or 0)
            self.time_ns[k] = round(float(at_s or 0.0) * 1e9)

    def describe(self, channel: int) -> str:
        """`lox.s1.fill_valve.open_switch = 0 (OFF), GOOD, sampled 18:03:15.050`."""
        name = self.table.ids[channel]
        if self.time_ns[channel] == NEVER_NS:
            return f"{name}: never received"
        value = float(self.value[channel])
        state = self.table.states[channel].get(round(value)) if not math.isnan(value) else None
        shown = "no value" if math.isnan(value) else f"{value:g}" + (f" ({state})" if state else "")
        quality = Quality(int(self.quality[channel])).name
        return f"{name} = {shown}, {quality}, sampled {clock_text(int(self.time_ns[channel]))}"


def expectation(text: str, table: ChannelTable) -> Condition:
    """A condition of the pad's language; a ProcedureError pointing at what is wrong."""
    try:
        return parse_condition(text, table)
    except ProcedureError:
        raise
    except GroundsegError as exc:
        raise ProcedureError(f"expectation {text!r}: {exc}") from None


def seen_text(condition: Condition, latest: Latest, now_ns: int) -> str:
    """Each comparison with its truth, then every channel it reads as last received."""
    lines = [f"  {term.text}: {term.truth.name}" for term in condition.terms(latest, now_ns)]
    lines += [f"    {latest.describe(c)}" for c in condition.channels]
    return "\n".join(lines)


def clock_text(time_ns: int) -> str:
    """A wall time as `18:03:15.050` (UTC), as the console shows it."""
    seconds = time_ns / 1e9
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}"
