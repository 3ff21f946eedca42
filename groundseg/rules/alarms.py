"""The pad operators' alarm list: raise, acknowledge, shelve, clear (ISA-18.2 flavoured).

Theory of operation. A monitor (redline, interlock, staleness watchdog) reports the
condition behind an alarm with `condition()`; operators answer with `acknowledge`,
`shelve` and `unshelve`; the runner's one timer calls `handle_timer(now)` at
`next_deadline()` to end shelves. Every call returns the `AlarmChange`s it caused.

    (not on the board) ──condition present──> ACTIVE ──acknowledge──> ACKNOWLEDGED
    ACTIVE, ACKNOWLEDGED ──condition gone──> off the board   (latched ACTIVE: UNACK_CLEARED)
    UNACK_CLEARED ──acknowledge──> off the board;  ──condition present──> ACTIVE again
    any state ──shelve──> SHELVED ──unshelve or expiry──> ACTIVE (condition present)
                                                      or off the board (condition gone)

A condition reported again in the state it already shows changes nothing, and so does a
second acknowledgement: a monitor may report every cycle. While an alarm is shelved its
condition is tracked silently; when the shelve ends it comes back unacknowledged if the
condition is still present, so nobody can acknowledge an alarm by shelving it.

Shelving only hides an alarm from annunciation. It never disables an interlock or a
redline's reaction: the monitor keeps acting on the condition whatever the board shows;
the board only tracks what the operators see and what they have answered.

The lifecycle is one table, `{state: {input: step}}`, None standing for "not on the
board"; an input a state does not take raises `AlarmError` with the reason, changing
nothing. Time is the monotonic clock passed in as `now` (seconds).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from enum import StrEnum

from groundseg.errors import GroundsegError

__all__ = [
    "CHANGE_KINDS",
    "SEVERITIES",
    "Alarm",
    "AlarmBoard",
    "AlarmChange",
    "AlarmError",
    "AlarmState",
    "AlarmStatistics",
]

SEVERITIES = ("warning", "alarm", "critical")

_RAISED = "alarm.raised"
_ACKNOWLEDGED = "alarm.acknowledged"
_SHELVED = "alarm.shelved"
_UNSHELVED = "alarm.unshelved"
_CLEARED = "alarm.cleared"
_RETURNED = "alarm.returned"
CHANGE_KINDS = (_RAISED, _ACKNOWLEDGED, _SHELVED, _UNSHELVED, _CLEARED, _RETURNED)


class AlarmError(GroundsegError):
    """An operation on the alarm board that cannot be done (unknown alarm, bad argument)."""

    def __init__(self, alarm_id: str, reason: str) -> None:
        self.alarm_id = alarm_id
        self.reason = reason
        super().__init__(f"alarm {alarm_id}: {reason}")


class AlarmState(StrEnum):
    ACTIVE = "active"
    """Condition present, not acknowledged."""
    ACKNOWLEDGED = "acknowledged"
    """Condition present, acknowledged."""
    UNACK_CLEARED = "unacknowledged-cleared"
    """Latched alarms only: the condition went away, nobody has acknowledged yet."""
    SHELVED = "shelved"
    """Hidden from annunciation until a time; the condition is still tracked."""


_WAITING = (AlarmState.ACTIVE, AlarmState.UNACK_CLEARED)
"""The states waiting for an acknowledgement."""


def _check_severity(alarm_id: str, severity: str) -> None:
    if severity not in SEVERITIES:
        raise ValueError(f"alarm {alarm_id}: severity {severity!r} is not one of {SEVERITIES}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm:
    """One alarm on the board, as the operators see it."""

    id: str
    severity: str
    """`warning`, `alarm` or `critical`."""
    message: str
    latched: bool
    """Stays on the board after its condition went away, until acknowledged."""
    state: AlarmState
    condition_active: bool
    """Whether the monitor last reported the condition present (tracked while shelved)."""
    raised_at: float
    acknowledged_by: str = ""
    shelved_by: str = ""
    shelved_until: float | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("an alarm needs an id")
        _check_severity(self.id, self.severity)
        shelved = self.state is AlarmState.SHELVED
        if shelved != (self.shelved_until is not None) or shelved != bool(self.shelved_by):
            raise ValueError(f"alarm {self.id}: shelved_by, shelved_until only when shelved")
        present = self.state in (AlarmState.ACTIVE, AlarmState.ACKNOWLEDGED)
        if present and not self.condition_active:
            raise ValueError(f"alarm {self.id}: {self.state} needs the condition present")
        if self.state is AlarmState.UNACK_CLEARED and (self.condition_active or not self.latched):
            raise ValueError(f"alarm {self.id}: only a latched alarm whose condition went away")
        if self.state is AlarmState.ACKNOWLEDGED and not self.acknowledged_by:
            raise ValueError(f"alarm {self.id}: acknowledged needs acknowledged_by")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmChange:
    """What changed on the board, for the bus, the journal and the console."""

    alarm_id: str
    kind: str
    """`alarm.raised`, `alarm.acknowledged`, `alarm.shelved`, `alarm.unshelved`,
    `alarm.cleared` (left the board) or `alarm.returned` (a latched alarm whose condition
    went away, still waiting for acknowledgement)."""
    at: float
    by: str
    """The operator; `monitor` for a condition report, `shelve timer` for an expiry."""
    message: str
    alarm: Alarm | None
    """The alarm after the change; None when it left the board."""

    def __post_init__(self) -> None:
        if self.kind not in CHANGE_KINDS:
            raise ValueError(f"alarm {self.alarm_id}: not a change kind: {self.kind!r}")
        if (self.alarm is None) != (self.kind == _CLEARED):
            raise ValueError(f"alarm {self.alarm_id}: exactly a cleared alarm leaves the board")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmStatistics:
    """A snapshot of the board."""

    active: int
    acknowledged: int
    unack_cleared: int
    shelved: int
    raised_total: int
    """Raises since the board was made, counting an alarm raised again."""


# -- the lifecycle table --------------------------------------------------------------------


class _Input(StrEnum):
    """What happened to an alarm, as the table knows it."""

    PRESENT = "condition present"
    GONE = "condition gone"
    GONE_LATCHED = "condition gone (latched)"
    ACKNOWLEDGE = "acknowledge"
    SHELVE = "shelve"
    UNSHELVE_PRESENT = "unshelve, condition present"
    UNSHELVE_GONE = "unshelve, condition gone"


@dataclass(frozen=True, slots=True)
class _Step:
    """Where an input takes an alarm (None: off the board), and what to report ("": nothing)."""

    to: AlarmState | None
    kind: str = ""


_TABLE: dict[AlarmState | None, dict[_Input, _Step]] = {
    None: {
        _Input.PRESENT: _Step(AlarmState.ACTIVE, _RAISED),
        _Input.GONE: _Step(None),
        _Input.GONE_LATCHED: _Step(None),
    },
    AlarmState.ACTIVE: {
        _Input.PRESENT: _Step(AlarmState.ACTIVE),
        _Input.GONE: _Step(None, _CLEARED),
        _Input.GONE_LATCHED: _Step(AlarmState.UNACK_CLEARED, _RETURNED),
        _Input.ACKNOWLEDGE: _Step(AlarmState.ACKNOWLEDGED, _ACKNOWLEDGED),
        _Input.SHELVE: _Step(AlarmState.SHELVED, _SHELVED),
    },
    AlarmState.ACKNOWLEDGED: {
        _Input.PRESENT: _Step(AlarmState.ACKNOWLEDGED),
        _Input.GONE: _Step(None, _CLEARED),
        _Input.GONE_LATCHED: _Step(None, _CLEARED),
        _Input.ACKNOWLEDGE: _Step(AlarmState.ACKNOWLEDGED),
        _Input.SHELVE: _Step(AlarmState.SHELVED, _SHELVED),
    },
    AlarmState.UNACK_CLEARED: {
        _Input.PRESENT: _Step(AlarmState.ACTIVE, _RAISED),
        _Input.GONE: _Step(AlarmState.UNACK_CLEARED),
        _Input.GONE_LATCHED: _Step(AlarmState.UNACK_CLEARED),
        _Input.ACKNOWLEDGE: _Step(None, _CLEARED),
        _Input.SHELVE: _Step(AlarmState.SHELVED, _SHELVED),
    },
    AlarmState.SHELVED: {
        _Input.PRESENT: _Step(AlarmState.SHELVED),
        _Input.GONE: _Step(AlarmState.SHELVED),
        _Input.GONE_LATCHED: _Step(AlarmState.SHELVED),
        _Input.SHELVE: _Step(AlarmState.SHELVED, _SHELVED),
        _Input.UNSHELVE_PRESENT: _Step(AlarmState.ACTIVE, _UNSHELVED),
        _Input.UNSHELVE_GONE: _Step(None, _CLEARED),
    },
}
_REFUSED = {
    _Input.ACKNOWLEDGE: "shelved; unshelve first",
    _Input.UNSHELVE_PRESENT: "not shelved",
    _Input.UNSHELVE_GONE: "not shelved",
}
"""Why an input a state does not list is refused (an alarm off the board: not on it)."""


# -- the board ------------------------------------------------------------------------------


class AlarmBoard:
    """The alarms on the operators' list, and the rules by which they move."""

    def __init__(self, max_shelve_s: float = 8 * 3600) -> None:
        if not max_shelve_s > 0:
            raise ValueError(f"max_shelve_s must be positive, got {max_shelve_s!r}")
        self.max_shelve_s = max_shelve_s
        self._alarms: dict[str, Alarm] = {}
        self._raised_total = 0

    # -- input -----------------------------------------------------------------------------

    def condition(
        self,
        alarm_id: str,
        active: bool,
        *,
        now: float,
        severity: str = "alarm",
        message: str = "",
        latched: bool = False,
    ) -> list[AlarmChange]:
        """The monitor reports the condition behind an alarm; a report that changes nothing
        is ignored. Severity, message and latching are taken at each raise: pass them always."""
        _check_severity(alarm_id, severity)
        alarm = self._alarms.get(alarm_id)
        event = _Input.PRESENT if active else _Input.GONE
        if not active and alarm is not None and alarm.latched:
            event = _Input.GONE_LATCHED
        step = self._step(alarm_id, event)
        after: Alarm | None = None
        if step.kind == _RAISED:
            after = Alarm(
                id=alarm_id,
                severity=severity,
                message=message,
                latched=latched,
                state=AlarmState.ACTIVE,
                condition_active=True,
                raised_at=now,
            )
        elif alarm is not None and step.to is not None:
            after = replace(alarm, state=step.to, condition_active=active)
        text = {
            _RAISED: message or "condition present",
            _RETURNED: "condition cleared; waiting for acknowledgement",
        }.get(step.kind, "condition cleared")
        return self._settle(alarm_id, step, after, now=now, by="monitor", message=text)

    def acknowledge(self, alarm_id: str, *, by: str, now: float) -> list[AlarmChange]:
        """An operator acknowledges an alarm; acknowledging it again changes nothing."""
        _check_user(alarm_id, by, "acknowledging")
        step = self._step(alarm_id, _Input.ACKNOWLEDGE)
        alarm = self._alarms[alarm_id]
        after = None
        if step.to is not None:
            after = replace(alarm, state=step.to, acknowledged_by=alarm.acknowledged_by or by)
        text = f"acknowledged by {by}" + (" after it cleared" if step.to is None else "")
        return self._settle(alarm_id, step, after, now=now, by=by, message=text)

    def acknowledge_all(self, *, by: str, now: float) -> list[AlarmChange]:
        """Acknowledge every alarm waiting for it; shelved alarms are left shelved."""
        _check_user("*", by, "acknowledging")
        changes: list[AlarmChange] = []
        for alarm in self.alarms():
            if alarm.state in _WAITING:
                changes += self.acknowledge(alarm.id, by=by, now=now)
        return changes

    def shelve(self, alarm_id: str, *, by: str, until: float, now: float) -> list[AlarmChange]:
        """Hide an alarm from annunciation until `until`; its monitor keeps acting."""
        _check_user(alarm_id, by, "shelving")
        step = self._step(alarm_id, _Input.SHELVE)
        if not until > now:
            raise AlarmError(alarm_id, f"shelve until {until:g} s is not after now ({now:g} s)")
        if not until - now <= (longest := self.max_shelve_s):
            raise AlarmError(alarm_id, f"shelving for {until - now:g} s exceeds {longest:g} s")
        after = replace(
            self._alarms[alarm_id], state=AlarmState.SHELVED, shelved_by=by, shelved_until=until
        )
        text = f"shelved by {by} for {until - now:g} s"
        return self._settle(alarm_id, step, after, now=now, by=by, message=text)

    def unshelve(self, alarm_id: str, *, by: str, now: float) -> list[AlarmChange]:
        """End a shelve early; the alarm comes back as when its shelve expires."""
        _check_user(alarm_id, by, "unshelving")
        return self._unshelve(alarm_id, by=by, now=now, why=f"unshelved by {by}")

    def handle_timer(self, now: float) -> list[AlarmChange]:
        """The runner's timer fired: end the shelves that are due, earliest first."""
        due = sorted(
            (alarm.shelved_until, alarm.raised_at, alarm.id)
            for alarm in self._alarms.values()
            if alarm.shelved_until is not None and alarm.shelved_until <= now
        )
        changes: list[AlarmChange] = []
        for _, _, alarm_id in due:
            changes += self._unshelve(alarm_id, by="shelve timer", now=now, why="shelve expired")
        return changes

    # -- queries ---------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The monotonic time the runner's timer must fire at: the earliest shelve expiry."""
        return min(
            (a.shelved_until for a in self._alarms.values() if a.shelved_until is not None),
            default=None,
        )

    def alarms(self) -> tuple[Alarm, ...]:
        """Everything on the board, oldest raise first (then by id)."""
        return tuple(sorted(self._alarms.values(), key=lambda a: (a.raised_at, a.id)))

    def get(self, alarm_id: str) -> Alarm | None:
        return self._alarms.get(alarm_id)

    def unacknowledged(self) -> int:
        """Alarms waiting for an acknowledgement (shelved ones are not counted)."""
        return sum(1 for a in self._alarms.values() if a.state in _WAITING)

    def statistics(self) -> AlarmStatistics:
        count = Counter(a.state for a in self._alarms.values())
        return AlarmStatistics(
            active=count[AlarmState.ACTIVE],
            acknowledged=count[AlarmState.ACKNOWLEDGED],
            unack_cleared=count[AlarmState.UNACK_CLEARED],
            shelved=count[AlarmState.SHELVED],
            raised_total=self._raised_total,
        )

    # -- helpers ---------------------------------------------------------------------------

    def _step(self, alarm_id: str, event: _Input) -> _Step:
        """Look the step up in the table; an input the state does not take raises."""
        alarm = self._alarms.get(alarm_id)
        state = None if alarm is None else alarm.state
        step = _TABLE[state].get(event)
        if step is None:
            raise AlarmError(alarm_id, "not on the board" if state is None else _REFUSED[event])
        return step

    def _unshelve(self, alarm_id: str, *, by: str, now: float, why: str) -> list[AlarmChange]:
        alarm = self._alarms.get(alarm_id)
        present = alarm is not None and alarm.condition_active
        step = self._step(alarm_id, _Input.UNSHELVE_PRESENT if present else _Input.UNSHELVE_GONE)
        after = None
        if alarm is not None and step.to is not None:
            # Back unacknowledged: an acknowledgement from before the shelve does not count.
            after = replace(
                alarm, state=step.to, acknowledged_by="", shelved_by="", shelved_until=None
            )
        text = f"{why}; condition {'still present' if present else 'gone'}"
        return self._settle(alarm_id, step, after, now=now, by=by, message=text)

    def _settle(
        self, alarm_id: str, step: _Step, after: Alarm | None, *, now: float, by: str, message: str
    ) -> list[AlarmChange]:
        """Put `after` on the board, or take the alarm off (`after` None); report the step's
        change, if it has one."""
        self._alarms.pop(alarm_id, None)
        if after is not None:
            self._alarms[alarm_id] = after
        if not step.kind:
            return []
        if step.kind == _RAISED:
            self._raised_total += 1
        change = AlarmChange(
            alarm_id=alarm_id, kind=step.kind, at=now, by=by, message=message, alarm=after
        )
        return [change]


def _check_user(alarm_id: str, by: str, doing: str) -> None:
    if not by.strip():
        raise AlarmError(alarm_id, f"{doing} needs a user name")
