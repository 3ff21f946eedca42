"""The countdown: T-clock, L-clock, holds, GO/NO-GO polls, recycle, scrub and abort.

Theory of operation. The T-clock counts up towards zero (T-6 h is -21600 s) while the
count runs and stops in every hold. The L-clock is the time left until the launch window
closes; it never stops. Both run on the monotonic clock passed in as `now` (seconds), so a
wall-clock jump changes nothing and a test can run six hours in a second.

    READY ──start──> COUNTING ──hold──────────────> HOLDING ──resume──> COUNTING
                       │  └─ T reaches a built-in hold ─> HOLDING (built-in, timed)
                       │                                   └─ its time is up ─> POLLING
                       │                    POLLING ──poll GO──> COUNTING
                       │                            ──poll NO-GO──> HOLDING
                       └─ T reaches 0 ─> LAUNCHED                HOLDING ──recycle──> HOLDING
    any state but LAUNCHED, SCRUBBED, ABORTED: ──abort──> ABORTED (the safing sequence runs)
    any state but those:  ──scrub──> SCRUBBED; also when the window closes, or when a resume
                          could no longer reach T-0 inside it

Resuming is always a person's decision: nothing here resumes by itself. The machine is a
table, `{state: {event type: handler}}`; an event its state does not take raises
`CountdownError` naming both, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from groundseg.errors import GroundsegError

__all__ = [
    "TERMINAL",
    "Abort",
    "BuiltInHold",
    "Countdown",
    "CountdownError",
    "CountdownPlan",
    "CountdownState",
    "Hold",
    "Notice",
    "Poll",
    "Recycle",
    "Resume",
    "Scrub",
    "Start",
    "Timer",
    "t_text",
]


def t_text(t_s: float) -> str:
    """A T-clock reading as operators read it: T-00:40:00, T+00:00:12."""
    sign = "-" if t_s < 0 else "+"
    seconds = round(abs(t_s))
    return f"T{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class CountdownError(GroundsegError):
    """An event the countdown cannot take in its current state, or a bad argument."""

    def __init__(self, state: CountdownState, event: object, reason: str) -> None:
        self.state = state
        self.event = event
        super().__init__(f"{type(event).__name__} in {state.name}: {reason}")


class CountdownState(StrEnum):
    READY = "ready"
    COUNTING = "counting"
    HOLDING = "holding"
    POLLING = "polling"
    LAUNCHED = "launched"
    SCRUBBED = "scrubbed"
    ABORTED = "aborted"


TERMINAL = frozenset({CountdownState.LAUNCHED, CountdownState.SCRUBBED, CountdownState.ABORTED})


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltInHold:
    t_s: float
    """Where the T-clock stops (negative: before T-0)."""
    duration_s: float
    """How long the hold lasts before its GO/NO-GO poll."""
    poll: tuple[str, ...] = ()
    """The stations that answer the poll; a NO-GO names some of them (empty: any names)."""

    def __post_init__(self) -> None:
        if self.t_s >= 0:
            raise ValueError(f"a built-in hold must come before T-0, got T{self.t_s:+g} s")
        if self.duration_s <= 0:
            raise ValueError(f"built-in hold at T{self.t_s:+g} s: duration must be positive")
        if len(set(self.poll)) != len(self.poll) or not all(self.poll):
            raise ValueError(f"built-in hold at T{self.t_s:+g} s: poll stations must be named once")


@dataclass(frozen=True, slots=True, kw_only=True)
class CountdownPlan:
    start_t_s: float
    """The T-time the count starts from (T-6 h: -21600)."""
    holds: tuple[BuiltInHold, ...] = ()
    recycle_points: tuple[float, ...] = ()
    """T-times a recycle may return to."""

    def __post_init__(self) -> None:
        if self.start_t_s >= 0:
            raise ValueError(f"the count must start before T-0, got T{self.start_t_s:+g} s")
        for hold in self.holds:
            if hold.t_s <= self.start_t_s:
                raise ValueError(f"built-in hold at T{hold.t_s:+g} s comes before the start")
        if len({h.t_s for h in self.holds}) != len(self.holds):
            raise ValueError("two built-in holds at the same T-time")


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    window_close: float
    """Monotonic time when the launch window closes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    reason: str
    by: str
    """An operator's name, or the monitor that asked."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Poll:
    go: bool
    by: str
    no_go: tuple[str, ...] = ()
    """Stations that said NO-GO."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Recycle:
    to_t_s: float
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Scrub:
    reason: str
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Abort:
    reason: str
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Timer:
    """The runner's one timer fired (`next_deadline()` was reached)."""


Event = Start | Hold | Resume | Poll | Recycle | Scrub | Abort | Timer


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """What changed, for the bus, the log and the console."""

    kind: str
    """`countdown.started`, `countdown.hold`, `countdown.poll`, `countdown.resumed`,
    `countdown.recycled`, `countdown.scrubbed`, `countdown.aborted`, `countdown.t0`."""
    t_s: float
    message: str
    fields: dict[str, str | float] = field(default_factory=dict)


# -- the machine ----------------------------------------------------------------------------


class Countdown:
    def __init__(self, plan: CountdownPlan) -> None:
        self.plan = plan
        self.state = CountdownState.READY
        self.hold_reason = ""
        self.window_close = float("inf")
        self._t_at_anchor = plan.start_t_s
        self._anchor: float | None = None
        """Monotonic time the T-clock last started running; None while it stands."""
        self._hold_ends: float | None = None
        self._holds_done: set[float] = set()
        self._table: dict[CountdownState, dict[type, Callable[[Event, float], list[Notice]]]] = {
            CountdownState.READY: {Start: self._start, Abort: self._abort, Scrub: self._scrub},
            CountdownState.COUNTING: {
                Hold: self._hold,
                Timer: self._timer,
                Abort: self._abort,
                Scrub: self._scrub,
            },
            CountdownState.HOLDING: {
                Hold: self._hold_again,
                Resume: self._resume,
                Recycle: self._recycle,
                Timer: self._timer,
                Abort: self._abort,
                Scrub: self._scrub,
            },
            CountdownState.POLLING: {
                Poll: self._poll,
                Hold: self._hold,
                Recycle: self._recycle,
                Timer: self._timer,
                Abort: self._abort,
                Scrub: self._scrub,
            },
        }

    @classmethod
    def restored(
        cls,
        plan: CountdownPlan,
        *,
        state: CountdownState,
        t_s: float,
        holds_done: tuple[float, ...],
        window_close: float,
        hold_reason: str,
    ) -> Countdown:
        """A countdown brought back after a restart: a count that was under way comes back
        holding (never running: resuming is a person's decision)."""
        countdown = cls(plan)
        countdown._t_at_anchor = t_s
        countdown._holds_done = set(holds_done)
        countdown.window_close = window_close
        if state in TERMINAL or state is CountdownState.READY:
            countdown.state = state
            countdown.hold_reason = hold_reason
        else:
            countdown.state = CountdownState.HOLDING
            countdown.hold_reason = hold_reason
        return countdown

    @property
    def holds_done(self) -> tuple[float, ...]:
        return tuple(sorted(self._holds_done))

    # -- queries ---------------------------------------------------------------------------

    def t(self, now: float) -> float:
        """The T-clock in seconds (negative before T-0)."""
        if self._anchor is None:
            return self._t_at_anchor
        return min(self._t_at_anchor + (now - self._anchor), self._next_stop())

    def l_remaining(self, now: float) -> float:
        """Seconds until the window closes."""
        return self.window_close - now

    def next_deadline(self) -> float | None:
        """The monotonic time the runner's timer must fire at, if any."""
        deadlines = []
        if self.state not in TERMINAL and self.state is not CountdownState.READY:
            deadlines.append(self.window_close)
        if self._anchor is not None:
            deadlines.append(self._anchor + (self._next_stop() - self._t_at_anchor))
        if self._hold_ends is not None:
            deadlines.append(self._hold_ends)
        return min(deadlines, default=None)

    # -- input -----------------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Notice]:
        """Take an event at monotonic time `now`; returns what changed."""
        handlers = self._table.get(self.state, {})
        handler = handlers.get(type(event))
        if handler is None:
            raise CountdownError(self.state, event, "not possible in this state")
        return handler(event, now)

    # -- handlers --------------------------------------------------------------------------

    def _start(self, event: Event, now: float) -> list[Notice]:
        assert isinstance(event, Start)
        if event.window_close <= now:
            raise CountdownError(self.state, event, "the window is already closed")
        self.window_close = event.window_close
        self._run(now)
        return [self._notice("countdown.started", now, "count started")]

    def _hold(self, event: Event, now: float) -> list[Notice]:
        assert isinstance(event, Hold)
        self._stop(now)
        self.state = CountdownState.HOLDING
        self.hold_reason = event.reason
        self._hold_ends = None
        return [
            self._notice(
                "countdown.hold", now, f"hold: {event.reason}", by=event.by, reason=event.reason
            )
        ]

    def _hold_again(self, event: Event, now: float) -> list[Notice]:
        assert isinstance(event, Hold)
        # Already holding: a built-in hold becomes an open-ended one; the reason is added,
        # once (a rule that trips again and again must not grow the reason without end).
        self._hold_ends = None
        if event.reason not in self.hold_reason.split("; "):
            self.hold_reason = f"{self.hold_reason}; {event.reason}"
        return [
            self._notice(
                "countdown.hold", now, f"hold: {event.reason}", by=event.by, reason=event.reason
            )
        ]

    def _resume(self, event: Event, now: float) -> list[Notice]:
        assert isinstance(event, Resume)
        if self._hold_ends is not None:
            raise CountdownError(self.state, event, "a built-in hold ends with its GO/NO-GO poll")
        if self._t0_after_window(now):
            return self._scrub_now(now, "T-0 would fall after the window closes", event.by)
        self._run(now)
        self.hold_reason = ""
        return [self._notice("countdown.resumed", now, "count resumed", by=event.by)]

    def _poll(self, event: Event, now: float) -> list[Notice]:
        assert isinstance(event, Poll)
        if problem := self.poll_answer_problem(event.go, event.no_go):
            raise CountdownError(self.state, event, problem)
        if not event.go:
            self.state = CountdownState.HOLDING
            self.hold_reason = "NO-GO: " + ", ".join(event.no_go or ("unspecified",))
            return [self._notice("countdown.hold", now, self.hold_reason, by=event.by)]
        if self._t0_after_window(now):
            return self._scrub_now(now, "T-0 would fall after the window closes", event.by)
        self._run(now)
        self.hold_reason = ""
        return [self._notice("countdown.resumed", now, "poll GO, count resumed", by=event.by)]

    def _recycle(self, event: Event, now: float) -> list[Notice]:
        assert isinstance(event, Recycle)
        if event.to_t_s not in self.plan.recycle_points:
            points = ", ".join(t_text(p) for p in self.plan.recycle_points) or "none"
            raise CountdownError(
                self.state, event, f"{t_text(event.to_t_s)} is not a recycle point ({points})"
            )
        if event.to_t_s <= self.plan.start_t_s or event.to_t_s > self.t(now):
            raise CountdownError(
                self.state, event, f"a recycle goes back, not to T{event.to_t_s:+g} s"
            )
        self._t_at_anchor = event.to_t_s
        # Built-in holds after the recycle point come again; one at the point itself is
        # this hold (resuming from it is the director's call, as after its poll).
        self._holds_done = {h for h in self._holds_done if h <= event.to_t_s}
        self.state = CountdownState.HOLDING
        self._hold_ends = None
        self.hold_reason = f"recycled to T{event.to_t_s:+g} s"
        return [self._notice("countdown.recycled", now, self.hold_reason, by=event.by)]

    def _scrub(self, event: Event, now: float) -> list[Notice]:
        assert isinstance(event, Scrub)
        return self._scrub_now(now, event.reason, event.by)

    def _abort(self, event: Event, now: float) -> list[Notice]:
        assert isinstance(event, Abort)
        self._stop(now)
        self.state = CountdownState.ABORTED
        self._hold_ends = None
        return [
            self._notice(
                "countdown.aborted", now, f"abort: {event.reason}", by=event.by, reason=event.reason
            )
        ]

    def _timer(self, event: Event, now: float) -> list[Notice]:
        if now >= self.window_close:
            return self._scrub_now(now, "the launch window closed", "countdown")
        if self._hold_ends is not None and now >= self._hold_ends:
            self._hold_ends = None
            self.state = CountdownState.POLLING
            return [self._notice("countdown.poll", now, "built-in hold over: GO/NO-GO poll")]
        if self._anchor is None or self.t(now) < self._next_stop():
            return []
        stop = self._next_stop()
        if stop >= 0:
            self._stop(now)
            self.state = CountdownState.LAUNCHED
            return [self._notice("countdown.t0", now, "T-0: ignition")]
        hold = next(h for h in self.plan.holds if h.t_s == stop)
        self._stop(now)
        self._holds_done.add(stop)
        self.state = CountdownState.HOLDING
        self._hold_ends = now + hold.duration_s
        self.hold_reason = f"built-in hold at {t_text(stop)}"
        return [
            self._notice(
                "countdown.hold", now, self.hold_reason, by="countdown", duration_s=hold.duration_s
            )
        ]

    @property
    def poll_stations(self) -> tuple[str, ...]:
        """Who answers the poll now open (empty when none is, or its hold names nobody)."""
        if self.state is not CountdownState.POLLING:
            return ()
        return next((h.poll for h in self.plan.holds if h.t_s == self._t_at_anchor), ())

    def poll_answer_problem(self, go: bool, no_go: tuple[str, ...]) -> str | None:
        """What is wrong with this answer to the open poll, if anything."""
        if go:
            return "a GO names no NO-GO stations" if no_go else None
        stations = self.poll_stations
        if not stations:
            return None
        if not no_go:
            return f"a NO-GO names the stations that said it, of {', '.join(stations)}"
        unknown = [name for name in no_go if name not in stations]
        if unknown:
            return (
                f"not a station of this poll: {', '.join(unknown)} "
                f"(the stations: {', '.join(stations)})"
            )
        return None

    # -- helpers ---------------------------------------------------------------------------

    def _next_stop(self) -> float:
        """The next T-time the clock stops at by itself: a built-in hold, or T-0."""
        ahead = [
            h.t_s
            for h in self.plan.holds
            if h.t_s >= self._t_at_anchor and h.t_s not in self._holds_done
        ]
        return min(ahead, default=0.0)

    def _t0_after_window(self, now: float) -> bool:
        """Whether T-0, counting from now through the built-in holds still ahead, would come
        after the window closes."""
        t = self.t(now)
        ahead = sum(
            h.duration_s for h in self.plan.holds if h.t_s >= t and h.t_s not in self._holds_done
        )
        return now - t + ahead > self.window_close

    def _run(self, now: float) -> None:
        self.state = CountdownState.COUNTING
        self._anchor = now

    def _stop(self, now: float) -> None:
        self._t_at_anchor = self.t(now)
        self._anchor = None

    def _scrub_now(self, now: float, reason: str, by: str) -> list[Notice]:
        self._stop(now)
        self.state = CountdownState.SCRUBBED
        self._hold_ends = None
        return [self._notice("countdown.scrubbed", now, f"scrub: {reason}", by=by, reason=reason)]

    def _notice(self, kind: str, now: float, message: str, **fields: str | float) -> Notice:
        return Notice(kind=kind, t_s=self.t(now), message=message, fields=dict(fields))
