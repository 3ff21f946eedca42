"""The sequence re-run's pure parts: which recorded countdown events were people's requests,
the recorded count clock's speed, and the recorded outcome of each automated command."""

from __future__ import annotations

import pytest

from groundseg.config import load_pad
from groundseg.replay.resequence import CountTime, Outcome, operator_requests, recorded_outcomes
from groundseg.sequencer.countdown import Abort, Hold, Poll, Recycle, Resume
from groundseg.sequencer.machine import StartCount
from groundseg.sequencer.plan import compile_plan
from groundseg.telemetry.events import Event
from tests.conftest import PAD_FILE

S = 1_000_000_000
T0 = 1_800_000_000 * S
PLAN = compile_plan(load_pad(PAD_FILE))
RULE = PLAN.redlines[0].id


def _event(kind: str, at_s: float, message: str = "", **fields: str | float) -> Event:
    return Event(
        kind=kind, source="test", time_ns=T0 + round(at_s * S), message=message, fields=fields
    )


def test_people_s_countdown_requests_are_found_and_the_automation_s_are_not() -> None:
    events = [
        _event("countdown.started", 1, "count started", t_s=-21600.0),
        _event("countdown.hold", 2, f"hold: {RULE} tripped", by=RULE, reason="tripped"),
        _event("countdown.hold", 3, "hold: weather", by="korolev", reason="weather"),
        _event("countdown.resumed", 4, "count resumed", by="korolev"),
        _event("countdown.hold", 5, "built-in hold at T-2400 s", by="countdown"),
        _event("countdown.hold", 6, "NO-GO: range, weather", by="korolev"),
        _event("countdown.resumed", 7, "poll GO, count resumed", by="korolev"),
        _event("countdown.recycled", 8, "recycled to T-3600 s", by="korolev", t_s=-3600.0),
        _event("countdown.hold", 9, "hold: step x failed", by="sequencer"),
        _event("countdown.aborted", 10, "abort: leak", by="gagarin", reason="leak"),
    ]
    requests = [(round((t - T0) / S), r) for t, r in operator_requests(events, PLAN)]
    assert requests == [
        (1, StartCount(by="operator")),
        (3, Hold(reason="weather", by="korolev")),
        (4, Resume(by="korolev")),
        (6, Poll(go=False, by="korolev", no_go=("range", "weather"))),
        (7, Poll(go=True, by="korolev")),
        (8, Recycle(to_t_s=-3600.0, by="korolev")),
        (10, Abort(reason="leak", by="gagarin")),
    ]


def test_the_count_clock_runs_at_each_counting_stretch_s_recorded_speed() -> None:
    count = CountTime([(T0 + 10 * S, 300.0), (T0 + 20 * S, 60.0)], origin_ns=T0)
    assert count.at(T0) == 0.0
    assert count.at(T0 + 10 * S) == pytest.approx(3000.0)  # before the first: its speed
    assert count.at(T0 + 20 * S) == pytest.approx(6000.0)
    assert count.at(T0 + 25 * S) == pytest.approx(6300.0)
    assert count.speed(T0 + 15 * S) == 300.0
    assert count.speed(T0 + 25 * S) == 60.0
    assert CountTime([], origin_ns=T0).at(T0 + 2 * S) == pytest.approx(2.0)


def test_each_automated_command_ends_as_recorded_and_operators_commands_are_not_taken() -> None:
    events = [
        _event("command.issued", 1, command="lox.vent.open", by="sequencer"),
        _event("command.verified", 1.25, command="lox.vent.open", by="sequencer"),
        _event("command.issued", 2, command="lox.vent.open", by="korolev"),
        _event("command.verified", 2.5, command="lox.vent.open", by="korolev"),
        _event("command.issued", 3, command="ker.vent.open", by="reaction:ker.meop"),
        _event("command.verify_timeout", 5, "ker.vent.open not verified", command="ker.vent.open", by="reaction:ker.meop"),
    ]  # fmt: skip
    outcomes = {command: list(queue) for command, queue in recorded_outcomes(events).items()}
    assert outcomes == {
        "lox.vent.open": [Outcome(after_ns=S // 4, ok=True)],
        "ker.vent.open": [Outcome(after_ns=2 * S, ok=False, reason="ker.vent.open not verified")],
    }
