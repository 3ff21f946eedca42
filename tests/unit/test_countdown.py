"""The countdown machine, driven synchronously with time as an argument: a six-hour count
runs in microseconds, exactly as the runner would drive it."""

from __future__ import annotations

import re

import pytest

from groundseg.sequencer.countdown import (
    Abort,
    BuiltInHold,
    Countdown,
    CountdownError,
    CountdownPlan,
    CountdownState,
    Hold,
    Notice,
    Poll,
    Recycle,
    Resume,
    Scrub,
    Start,
    Timer,
)

HOURS = 3600.0
PLAN = CountdownPlan(
    start_t_s=-6 * HOURS,
    holds=(BuiltInHold(t_s=-600.0, duration_s=900.0),),
    recycle_points=(-600.0,),
)


def state(countdown: Countdown) -> CountdownState:
    return countdown.state


def started(*, window_after: float = 10 * HOURS) -> Countdown:
    countdown = Countdown(PLAN)
    countdown.handle(Start(window_close=window_after), 0.0)
    return countdown


def run_timers(countdown: Countdown, until: float) -> list[Notice]:
    """What the runner does: sleep to the next deadline, fire the timer, repeat."""
    notices: list[Notice] = []
    while (deadline := countdown.next_deadline()) is not None and deadline <= until:
        notices += countdown.handle(Timer(), deadline)
        if countdown.state in (CountdownState.POLLING, CountdownState.LAUNCHED):
            break
    return notices


def test_the_t_clock_runs_from_the_start_point() -> None:
    countdown = started()
    assert state(countdown) is CountdownState.COUNTING
    assert countdown.t(0.0) == -6 * HOURS
    assert countdown.t(60.0) == -6 * HOURS + 60


def test_a_built_in_hold_stops_the_clock_then_asks_for_a_poll() -> None:
    countdown = started()
    notices = run_timers(countdown, until=8 * HOURS)
    reached = 6 * HOURS - 600
    assert [n.kind for n in notices] == ["countdown.hold", "countdown.poll"]
    assert notices[0].t_s == -600.0
    assert state(countdown) is CountdownState.POLLING
    assert countdown.t(reached + 900 + 5) == -600.0, "the clock stands during the hold and poll"


def test_a_go_poll_resumes_and_the_count_reaches_t0() -> None:
    countdown = started()
    run_timers(countdown, until=8 * HOURS)
    polled_at = 6 * HOURS - 600 + 900
    countdown.handle(Poll(go=True, by="launch director"), polled_at + 30)
    assert state(countdown) is CountdownState.COUNTING
    notices = run_timers(countdown, until=9 * HOURS)
    assert [n.kind for n in notices] == ["countdown.t0"]
    assert state(countdown) is CountdownState.LAUNCHED
    assert countdown.t(polled_at + 30 + 600 + 100) == 0.0, "the T-clock stops at zero"


def test_a_no_go_poll_holds_until_a_person_resumes() -> None:
    countdown = started()
    run_timers(countdown, until=8 * HOURS)
    now = 6 * HOURS + 300
    notices = countdown.handle(Poll(go=False, by="director", no_go=("weather",)), now)
    assert state(countdown) is CountdownState.HOLDING
    assert "weather" in notices[0].message
    assert run_timers(countdown, until=now + 3 * HOURS - 1) == [], "nothing resumes by itself"
    countdown.handle(Resume(by="director"), now + 60)
    assert state(countdown) is CountdownState.COUNTING


POLLED_PLAN = CountdownPlan(
    start_t_s=-6 * HOURS,
    holds=(BuiltInHold(t_s=-600.0, duration_s=900.0, poll=("director", "weather", "range")),),
)


def polling() -> Countdown:
    countdown = Countdown(POLLED_PLAN)
    countdown.handle(Start(window_close=10 * HOURS), 0.0)
    run_timers(countdown, until=8 * HOURS)
    assert state(countdown) is CountdownState.POLLING
    return countdown


def test_the_open_poll_names_its_stations_and_only_while_it_is_open() -> None:
    countdown = Countdown(POLLED_PLAN)
    countdown.handle(Start(window_close=10 * HOURS), 0.0)
    seen = [countdown.poll_stations]
    run_timers(countdown, until=8 * HOURS)
    seen.append(countdown.poll_stations)
    countdown.handle(Poll(go=True, by="director"), 6 * HOURS + 400)
    seen.append(countdown.poll_stations)
    assert seen == [(), ("director", "weather", "range"), ()]


@pytest.mark.parametrize(
    ("go", "no_go", "problem"),
    [
        (False, ("weather", "pad"), "not a station of this poll: pad (the stations: director"),
        (False, (), "a NO-GO names the stations that said it, of director, weather, range"),
        (True, ("weather",), "a GO names no NO-GO stations"),
    ],
)
def test_a_poll_answer_that_misnames_its_stations_is_refused_and_changes_nothing(
    go: bool, no_go: tuple[str, ...], problem: str
) -> None:
    countdown = polling()
    with pytest.raises(CountdownError, match=re.escape(problem)):
        countdown.handle(Poll(go=go, by="director", no_go=no_go), 6 * HOURS + 400)
    assert state(countdown) is CountdownState.POLLING
    assert countdown.hold_reason == "built-in hold at T-00:10:00"


def test_a_no_go_from_declared_stations_holds_and_names_them() -> None:
    countdown = polling()
    notices = countdown.handle(
        Poll(go=False, by="director", no_go=("weather", "range")), 6 * HOURS + 400
    )
    assert state(countdown) is CountdownState.HOLDING
    assert notices[0].message == "NO-GO: weather, range"


def test_an_unplanned_hold_stands_until_resumed() -> None:
    countdown = started()
    countdown.handle(Hold(reason="ullage pressure redline", by="monitor"), 100.0)
    assert state(countdown) is CountdownState.HOLDING
    assert countdown.t(5000.0) == -6 * HOURS + 100
    countdown.handle(Resume(by="operator"), 5000.0)
    assert countdown.t(5010.0) == -6 * HOURS + 110


def test_a_reason_given_again_during_a_hold_is_kept_once() -> None:
    countdown = started()
    countdown.handle(Hold(reason="operator hold", by="operator"), 100.0)
    for n in range(50):
        countdown.handle(Hold(reason="link to the PLC lost", by="monitor"), 101.0 + n)
    assert countdown.hold_reason == "operator hold; link to the PLC lost"


def test_a_built_in_hold_cannot_be_resumed_around_its_poll() -> None:
    countdown = started()
    countdown.handle(Timer(), 6 * HOURS - 600)
    with pytest.raises(CountdownError, match="GO/NO-GO poll"):
        countdown.handle(Resume(by="operator"), 6 * HOURS)


def test_a_second_hold_during_a_built_in_hold_makes_it_open_ended() -> None:
    countdown = started()
    countdown.handle(Timer(), 6 * HOURS - 600)
    countdown.handle(Hold(reason="lightning", by="monitor"), 6 * HOURS)
    assert countdown.next_deadline() == 10 * HOURS, "only the window is left to watch"
    assert "lightning" in countdown.hold_reason


def test_recycle_returns_to_a_defined_t_point_and_holds() -> None:
    countdown = started()
    run_timers(countdown, until=8 * HOURS)
    countdown.handle(Poll(go=True, by="director"), 6 * HOURS + 300)
    now = 6 * HOURS + 300 + 540  # T-1 min
    countdown.handle(Hold(reason="engine purge", by="operator"), now)
    assert countdown.t(now) == -60.0
    countdown.handle(Recycle(to_t_s=-600.0, by="director"), now + 10)
    assert state(countdown) is CountdownState.HOLDING
    assert countdown.t(now + 20) == -600.0
    countdown.handle(Resume(by="director"), now + 30)
    assert countdown.t(now + 40) == -590.0


@pytest.mark.parametrize(
    ("to_t_s", "message"),
    [(-300.0, "not a recycle point"), (-600.0, "a recycle goes back")],
)
def test_a_recycle_to_anywhere_else_is_refused(to_t_s: float, message: str) -> None:
    countdown = started()
    countdown.handle(Hold(reason="check", by="operator"), 100.0)  # at T-5 h 58 min
    with pytest.raises(CountdownError, match=message):
        countdown.handle(Recycle(to_t_s=to_t_s, by="director"), 200.0)
    assert countdown.t(300.0) == -6 * HOURS + 100, "nothing changed"


def test_no_resume_past_the_window_it_is_a_scrub() -> None:
    countdown = started(window_after=6.5 * HOURS)
    countdown.handle(Hold(reason="valve stuck", by="monitor"), 1000.0)
    notices = countdown.handle(Resume(by="director"), 2 * HOURS)
    assert state(countdown) is CountdownState.SCRUBBED
    assert "after the window closes" in notices[0].message


def test_the_window_closing_during_a_hold_scrubs() -> None:
    countdown = started(window_after=3 * HOURS)
    countdown.handle(Hold(reason="weather", by="monitor"), 1000.0)
    notices = run_timers(countdown, until=4 * HOURS)
    assert [n.kind for n in notices] == ["countdown.scrubbed"]
    assert state(countdown) is CountdownState.SCRUBBED


def test_abort_from_any_running_state() -> None:
    for prepare in (
        lambda c: None,
        lambda c: c.handle(Hold(reason="x", by="o"), 10.0),
        lambda c: run_timers(c, until=8 * HOURS),
    ):
        countdown = started()
        prepare(countdown)
        notices = countdown.handle(Abort(reason="LOX leak", by="director"), 7 * HOURS)
        assert state(countdown) is CountdownState.ABORTED
        assert notices[0].kind == "countdown.aborted"
        assert countdown.next_deadline() is None


@pytest.mark.parametrize("event", [Resume(by="o"), Hold(reason="x", by="o"), Poll(go=True, by="o")])
def test_nothing_moves_a_finished_count(event: Resume | Hold | Poll) -> None:
    countdown = started()
    countdown.handle(Scrub(reason="weather", by="director"), 10.0)
    with pytest.raises(CountdownError, match="SCRUBBED"):
        countdown.handle(event, 20.0)


def test_an_event_the_state_does_not_take_is_refused_by_name() -> None:
    countdown = started()
    with pytest.raises(CountdownError) as refused:
        countdown.handle(Resume(by="operator"), 10.0)
    assert str(refused.value) == "Resume in COUNTING: not possible in this state"
    assert state(countdown) is CountdownState.COUNTING


def test_a_start_after_the_window_is_refused() -> None:
    with pytest.raises(CountdownError, match="already closed"):
        Countdown(PLAN).handle(Start(window_close=5.0), 10.0)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CountdownPlan(start_t_s=10.0), "must start before T-0"),
        (lambda: BuiltInHold(t_s=5.0, duration_s=60.0), "before T-0"),
        (lambda: BuiltInHold(t_s=-5.0, duration_s=0.0), "duration must be positive"),
        (lambda: BuiltInHold(t_s=-5.0, duration_s=1.0, poll=("a", "a")), "named once"),
        (
            lambda: CountdownPlan(
                start_t_s=-100.0, holds=(BuiltInHold(t_s=-200.0, duration_s=1.0),)
            ),
            "comes before the start",
        ),
    ],
)
def test_a_bad_plan_is_refused_on_construction(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_built_in_holds_after_the_recycle_point_come_again() -> None:
    plan = CountdownPlan(
        start_t_s=-1200.0,
        holds=(BuiltInHold(t_s=-600.0, duration_s=60.0), BuiltInHold(t_s=-120.0, duration_s=60.0)),
        recycle_points=(-600.0,),
    )
    countdown = Countdown(plan)
    countdown.handle(Start(window_close=10 * HOURS), 0.0)
    now = 600.0
    countdown.handle(Timer(), now)  # T-600: built-in hold
    countdown.handle(Timer(), now + 60)  # its poll
    countdown.handle(Poll(go=True, by="director"), now + 60)
    countdown.handle(Timer(), now + 540)  # T-120: built-in hold
    countdown.handle(Timer(), now + 600)
    countdown.handle(Poll(go=True, by="director"), now + 600)
    countdown.handle(Hold(reason="purge", by="operator"), now + 660)  # T-60
    countdown.handle(Recycle(to_t_s=-600.0, by="director"), now + 700)
    countdown.handle(Resume(by="director"), now + 800)
    assert countdown.next_deadline() == now + 800 + 480, "the T-120 hold is ahead again"
    notices = countdown.handle(Timer(), now + 800 + 480)
    assert [n.kind for n in notices] == ["countdown.hold"]
    assert notices[0].t_s == -120.0
