"""The countdown and the alarm board as they stood at any moment of a recording.

A replay's console shows what the operators saw, not what a re-run would decide: the
count's state, T-time, hold reason, phase and step come from the recorded countdown and
sequence events, and the alarm board from the recorded alarm events. Both are worked out
once, as a timeline of states after each event, so any moment (a seek backwards too) is a
binary search.

T-time runs between a recorded event that set the clock going and the next countdown
event at the rate those two events show (a simulated count at 300x too); after the last
one, at the rate of the stretch before, or real time.

Pure.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from groundseg.sequencer.countdown import CountdownState
from groundseg.sequencer.machine import StepStatus
from groundseg.telemetry.events import Event, Severity

__all__ = ["RecordedAlarms", "RecordedCount", "WhereCount"]

_STATE_AFTER = {
    "countdown.started": CountdownState.COUNTING,
    "countdown.resumed": CountdownState.COUNTING,
    "countdown.hold": CountdownState.HOLDING,
    "countdown.recycled": CountdownState.HOLDING,
    "countdown.poll": CountdownState.POLLING,
    "countdown.t0": CountdownState.LAUNCHED,
    "countdown.scrubbed": CountdownState.SCRUBBED,
    "countdown.aborted": CountdownState.ABORTED,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class WhereCount:
    """The count from a recorded countdown event on (or from the start of the record)."""

    time_ns: int
    state: CountdownState = CountdownState.READY
    t_s: float | None = None
    """The T-time the event happened at."""
    rate: float = 0.0
    """T-seconds per recorded second from `time_ns` on (0 unless counting)."""
    hold_reason: str = ""

    def t_at(self, time_ns: int) -> float | None:
        if self.t_s is None:
            return None
        return self.t_s + self.rate * (time_ns - self.time_ns) / 1e9


@dataclass(frozen=True, slots=True, kw_only=True)
class _WhereSequence:
    time_ns: int
    phase: str | None = None
    step: str | None = None
    step_status: StepStatus = StepStatus.PENDING


class RecordedCount:
    def __init__(self, events: Iterable[Event]) -> None:
        count = [WhereCount(time_ns=0)]
        sequence = [_WhereSequence(time_ns=0)]
        for event in sorted(events, key=lambda e: e.time_ns):
            if event.kind in _STATE_AFTER:
                count.append(_count_after(count[-1], event))
            elif (moved := _sequence_after(sequence[-1], event)) is not None:
                sequence.append(moved)
            if event.kind in _ENDS:
                sequence.append(_WhereSequence(time_ns=event.time_ns))
        self._count = _with_rates(count)
        self._count_times = [w.time_ns for w in self._count]
        self._sequence = sequence
        self._sequence_times = [w.time_ns for w in sequence]

    def at(self, time_ns: int) -> WhereCount:
        return self._count[bisect.bisect_right(self._count_times, time_ns) - 1]

    def speeds(self) -> list[tuple[int, float]]:
        """(time, T-seconds per recorded second) where each counting stretch began: the
        count clock's recorded speed (a simulated count at 300x reads 300)."""
        return [(w.time_ns, w.rate) for w in self._count if w.rate > 0]

    def state(self, time_ns: int) -> dict[str, object]:
        """As the live runner's `state()` reads, at `time_ns`."""
        where = self.at(time_ns)
        sequence = self._sequence[bisect.bisect_right(self._sequence_times, time_ns) - 1]
        t_s = where.t_at(time_ns)
        return {
            "state": where.state.value,
            "t_s": None if t_s is None else round(t_s, 3),
            "l_s": None,
            "hold_reason": where.hold_reason,
            "phase": sequence.phase,
            "step": sequence.step,
            "step_status": sequence.step_status.value,
        }


_ENDS = {"countdown.scrubbed", "countdown.aborted"}
"""After these the sequence is nowhere: no phase, no step."""


def _sequence_after(before: _WhereSequence, event: Event) -> _WhereSequence | None:
    fields = event.fields
    if event.kind == "sequence.phase":
        phase = fields.get("phase", event.message.removeprefix("phase "))
        return dataclasses.replace(before, time_ns=event.time_ns, phase=str(phase))
    if event.kind in ("sequence.step", "sequence.step_done"):
        words = event.message.split()
        step = fields.get("step", words[1] if len(words) > 1 else None)
        done = event.kind == "sequence.step_done"
        return dataclasses.replace(
            before,
            time_ns=event.time_ns,
            step=None if step is None else str(step),
            step_status=StepStatus.DONE if done else StepStatus.SENDING,
        )
    return None


def _count_after(before: WhereCount, event: Event) -> WhereCount:
    state = _STATE_AFTER[event.kind]
    reason = before.hold_reason
    if state is CountdownState.HOLDING:
        given = str(event.fields.get("reason", event.message.removeprefix("hold: ")))
        if before.state is not CountdownState.HOLDING or not reason:
            reason = given
        elif given not in reason.split("; "):
            # Held again while holding: the live countdown adds the reason, once.
            reason = f"{reason}; {given}"
    elif state is CountdownState.COUNTING:
        reason = ""
    elif state is not CountdownState.POLLING:
        reason = event.message
    t_s = event.fields.get("t_s")
    return WhereCount(
        time_ns=event.time_ns,
        state=state,
        t_s=float(t_s) if isinstance(t_s, int | float) else before.t_at(event.time_ns),
        hold_reason=reason,
    )


def _with_rates(count: Sequence[WhereCount]) -> list[WhereCount]:
    """Each counting stretch's rate: T gained over time passed until the next countdown
    event; the last one runs at the rate of the stretch before (or real time)."""
    out = list(count)
    last_rate = 1.0
    for k, here in enumerate(out):
        if here.state is not CountdownState.COUNTING or here.t_s is None:
            continue
        rate = last_rate
        following = out[k + 1] if k + 1 < len(out) else None
        if following is not None and following.t_s is not None:
            elapsed = following.time_ns - here.time_ns
            if elapsed > 0:
                rate = max(0.0, (following.t_s - here.t_s) * 1e9 / elapsed)
        last_rate = rate or last_rate
        out[k] = dataclasses.replace(here, rate=rate)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
    id: str
    severity: str
    message: str
    state: str
    acknowledged_by: str = ""
    shelved_by: str = ""


class RecordedAlarms:
    """The alarm board after each recorded alarm event."""

    def __init__(self, events: Iterable[Event]) -> None:
        board: dict[str, _Entry] = {}
        self._times: list[int] = [0]
        self._boards: list[tuple[_Entry, ...]] = [()]
        for event in sorted(events, key=lambda e: e.time_ns):
            if not event.kind.startswith("alarm."):
                continue
            alarm_id = str(event.fields.get("alarm", ""))
            if not alarm_id:
                continue
            _apply(board, alarm_id, event)
            self._times.append(event.time_ns)
            self._boards.append(tuple(board.values()))

    def at(self, time_ns: int) -> list[dict[str, object]]:
        """The board as the console lists it (the live `alarm_view`'s fields)."""
        board = self._boards[bisect.bisect_right(self._times, time_ns) - 1]
        return [
            {
                "id": e.id,
                "severity": e.severity,
                "message": e.message,
                "latched": False,
                "state": e.state,
                "condition_active": e.state in ("active", "acknowledged"),
                "acknowledged_by": e.acknowledged_by,
                "shelved_by": e.shelved_by,
                "shelved_for_s": None,
            }
            for e in board
        ]

    def unacknowledged(self, time_ns: int) -> int:
        return sum(1 for a in self.at(time_ns) if a["state"] in _WAITING)


_WAITING = {"active", "unacknowledged-cleared"}


def _apply(board: dict[str, _Entry], alarm_id: str, event: Event) -> None:
    by = str(event.fields.get("by", ""))
    kind = event.kind
    entry = board.get(alarm_id)
    if kind == "alarm.cleared":
        board.pop(alarm_id, None)
    elif kind == "alarm.raised" or entry is None:
        severity = "warning" if event.severity is Severity.WARNING else "alarm"
        board[alarm_id] = _Entry(
            id=alarm_id, severity=severity, message=event.message, state="active"
        )
    elif kind == "alarm.acknowledged":
        board[alarm_id] = dataclasses.replace(entry, state="acknowledged", acknowledged_by=by)
    elif kind == "alarm.shelved":
        board[alarm_id] = dataclasses.replace(entry, state="shelved", shelved_by=by)
    elif kind == "alarm.unshelved":
        board[alarm_id] = dataclasses.replace(entry, state="active", shelved_by="")
    elif kind == "alarm.returned":
        board[alarm_id] = dataclasses.replace(entry, state="unacknowledged-cleared")
