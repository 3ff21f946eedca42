"""Commanded versus actual, and staleness by age.

Discrepancy: a valve commanded open must show its open limit switch ON and its closed one
OFF within the valve's travel window (and the reverse when commanded closed); a valve that
leaves its commanded position later (it drifted, or a switch failed) is a discrepancy at
once. The command's own readback is what counts as "commanded", so a command written by
anyone, or a PLC's own logic, is held to the same rule. Switch readings that cannot be
trusted cannot confirm a position: past the window, they are a discrepancy too.

Staleness: a channel whose newest sample is older than `k` of its poll periods is stale,
whatever the driver last said (a frozen link, a driver that died).

Both are pure: time is an argument, `next_deadline_ns()` says when a window runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.config import PadDefinition, Valve
from groundseg.rules.conditions import ConditionInputs, trusted_value

__all__ = ["Discrepancy", "DiscrepancyMonitor", "stale_after_ns"]

SECOND = 1_000_000_000


def stale_after_ns(pad: PadDefinition, periods: float = 3.0) -> npt.NDArray[np.int64]:
    """Per channel, the age beyond which its value no longer counts: `periods` poll periods."""
    return np.array([round(periods * c.period_s * SECOND) for c in pad.channels], dtype=np.int64)


@dataclass(frozen=True, slots=True, kw_only=True)
class Discrepancy:
    valve: str
    commanded: str
    """"open" or "closed"."""
    since_ns: int
    """When the command last changed, or the switches last stopped agreeing with it (the
    window started then)."""
    reason: str
    active: bool = True
    """False: a valve reported before shows its commanded position again (the alarm's
    condition clears; the operators still acknowledge it)."""


@dataclass(slots=True)
class _Watch:
    valve: Valve
    command: int
    open_switch: int
    closed_switch: int
    window_ns: int
    commanded: bool | None = None
    since_ns: int = 0
    reported: bool = False
    """Reported for the current window."""
    alarmed: bool = False
    """Reported, and not yet seen in its commanded position again."""
    agrees: bool = False


class DiscrepancyMonitor:
    def __init__(self, pad: PadDefinition, valves: Sequence[str] | None = None) -> None:
        chosen = (
            [pad.valves[v] for v in valves] if valves is not None else list(pad.valves.values())
        )
        self._watches = [
            _Watch(
                valve=v,
                command=pad.channel(v.command).index,
                open_switch=pad.channel(v.open_switch).index,
                closed_switch=pad.channel(v.closed_switch).index,
                window_ns=round(v.window_s * SECOND),
            )
            for v in chosen
        ]

    @property
    def channels(self) -> list[int]:
        """The channels it reads: each valve's command readback and limit switches."""
        return [c for w in self._watches for c in (w.command, w.open_switch, w.closed_switch)]

    def check(self, inputs: ConditionInputs, now_ns: int) -> list[Discrepancy]:
        """New discrepancies (each reported once until the valve agrees again), and the
        valves reported before that agree again (`active` False)."""
        found = []
        for watch in self._watches:
            commanded = trusted_value(inputs, watch.command)
            if commanded is None:
                continue  # the command's readback itself is unknown: staleness says so
            is_open = commanded >= 0.5
            if watch.commanded is None or watch.commanded != is_open:
                watch.commanded = is_open
                watch.since_ns = int(inputs.time_ns[watch.command])
                watch.reported = False
            agrees = self._agrees(inputs, watch, is_open)
            if agrees is not True and watch.agrees:
                # The window runs from when they parted (a valve that moved by itself, or
                # switches read before the command's readback), not from an old command.
                watch.since_ns = max(watch.since_ns, now_ns)
            watch.agrees = agrees is True
            position = "open" if is_open else "closed"
            if agrees:
                watch.reported = False
                if watch.alarmed:
                    watch.alarmed = False
                    found.append(
                        Discrepancy(
                            valve=watch.valve.id,
                            commanded=position,
                            since_ns=now_ns,
                            reason=f"{position} as commanded, confirmed by its limit switches",
                            active=False,
                        )
                    )
                continue
            if watch.reported or now_ns - watch.since_ns < watch.window_ns:
                continue
            watch.reported = True
            watch.alarmed = True
            found.append(
                Discrepancy(
                    valve=watch.valve.id,
                    commanded=position,
                    since_ns=watch.since_ns,
                    reason=(
                        f"commanded {position} and not confirmed by its limit switches"
                        f" within {watch.valve.window_s:g} s"
                        if agrees is False
                        else "its limit switches cannot be trusted"
                    ),
                )
            )
        return found

    def steady(
        self,
        usable: npt.NDArray[np.int8],
        low: npt.NDArray[np.float64],
        high: npt.NDArray[np.float64],
    ) -> bool:
        """Whether readbacks whose quality holds (`usable` 1 throughout, 0 never) within
        [low, high] leave every valve as it is: the same commanded position, agreeing or
        not as before (a window running out is `next_deadline_ns`'s)."""
        for watch in self._watches:
            command = _reading(watch.command, usable, low, high)
            if command == "unknown":
                continue  # the check skips a valve whose readback is unknown
            if command == "changes" or watch.commanded != (command == "on"):
                return False
            opened = _reading(watch.open_switch, usable, low, high)
            closed = _reading(watch.closed_switch, usable, low, high)
            if "changes" in (opened, closed):
                return False
            shown = "on" if watch.commanded else "off"
            hidden = "off" if watch.commanded else "on"
            if ((opened, closed) == (shown, hidden)) != watch.agrees:
                return False
        return True

    @staticmethod
    def _agrees(inputs: ConditionInputs, watch: _Watch, is_open: bool) -> bool | None:
        opened = trusted_value(inputs, watch.open_switch)
        closed = trusted_value(inputs, watch.closed_switch)
        if opened is None or closed is None:
            return None
        return (opened >= 0.5, closed >= 0.5) == (is_open, not is_open)

    def next_deadline_ns(self) -> int | None:
        """When a valve still travelling runs out of its window."""
        pending = [
            w.since_ns + w.window_ns
            for w in self._watches
            if w.commanded is not None and not w.reported and not w.agrees
        ]
        return min(pending, default=None)


def _reading(
    channel: int,
    usable: npt.NDArray[np.int8],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
) -> str:
    """A command or switch over a block: "on" or "off" throughout, "unknown" throughout,
    or "changes"."""
    if usable[channel] == 0:
        return "unknown"
    on = bool(low[channel] >= 0.5)
    if usable[channel] < 0 or on != bool(high[channel] >= 0.5):
        return "changes"
    return "on" if on else "off"
