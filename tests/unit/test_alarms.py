"""The alarm board: every lifecycle transition as a table row, then the details an operator
relies on (who acknowledged, when a shelve ends, what a refusal says), time as an argument."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from groundseg.errors import GroundsegError
from groundseg.rules.alarms import (
    SEVERITIES,
    Alarm,
    AlarmBoard,
    AlarmChange,
    AlarmError,
    AlarmState,
    AlarmStatistics,
)

LOX = "lox.tank.pressure.high"
T = 100.0
ACTIVE, ACKNOWLEDGED = AlarmState.ACTIVE, AlarmState.ACKNOWLEDGED
UNACK_CLEARED, SHELVED = AlarmState.UNACK_CLEARED, AlarmState.SHELVED


def board_with(state: AlarmState | None, *, latched: bool = False) -> AlarmBoard:
    """A board with the LOX alarm raised at T and brought to `state` (None: not on it)."""
    board = AlarmBoard(max_shelve_s=3600.0)
    if state is None:
        return board
    board.condition(LOX, True, now=T, latched=latched, message="LOX tank pressure high")
    if state is ACKNOWLEDGED:
        board.acknowledge(LOX, by="pad-lead", now=T + 1)
    elif state is UNACK_CLEARED:
        board.condition(LOX, False, now=T + 1)
    elif state is SHELVED:
        board.shelve(LOX, by="pad-lead", until=T + 600, now=T + 1)
    assert [a.state for a in board.alarms()] == [state]
    return board


def make_alarm(**fields: object) -> Alarm:
    """An ACTIVE alarm raised at T, with `fields` changed."""
    base: dict[str, object] = {
        "id": LOX,
        "severity": "alarm",
        "message": "LOX tank pressure high",
        "latched": False,
        "state": ACTIVE,
        "condition_active": True,
        "raised_at": T,
    }
    return Alarm(**(base | fields))  # type: ignore[arg-type]


Operation = Callable[[AlarmBoard], list[AlarmChange]]
OPERATIONS: dict[str, Operation] = {
    "present": lambda board: board.condition(LOX, True, now=T + 10),
    "gone": lambda board: board.condition(LOX, False, now=T + 10),
    "acknowledge": lambda board: board.acknowledge(LOX, by="console-2", now=T + 10),
    "shelve": lambda board: board.shelve(LOX, by="console-2", until=T + 300, now=T + 10),
    "unshelve": lambda board: board.unshelve(LOX, by="console-2", now=T + 10),
}
"""What the monitor and the operators can do, all at T + 10."""


RAISED, ACKED, SHELVE = ["alarm.raised"], ["alarm.acknowledged"], ["alarm.shelved"]
CLEARED, RETURNED, UNSHELVED = ["alarm.cleared"], ["alarm.returned"], ["alarm.unshelved"]

TRANSITIONS: list[tuple[AlarmState | None, bool, str, list[str], AlarmState | None]] = [
    # from, latched, operation, changes reported, state after (None: off the board)
    (None, False, "present", RAISED, ACTIVE),
    (None, False, "gone", [], None),
    (ACTIVE, False, "present", [], ACTIVE),
    (ACTIVE, False, "gone", CLEARED, None),
    (ACTIVE, True, "gone", RETURNED, UNACK_CLEARED),
    (ACTIVE, False, "acknowledge", ACKED, ACKNOWLEDGED),
    (ACTIVE, False, "shelve", SHELVE, SHELVED),
    (ACKNOWLEDGED, False, "present", [], ACKNOWLEDGED),
    (ACKNOWLEDGED, False, "gone", CLEARED, None),
    (ACKNOWLEDGED, True, "gone", CLEARED, None),
    (ACKNOWLEDGED, False, "acknowledge", [], ACKNOWLEDGED),
    (ACKNOWLEDGED, False, "shelve", SHELVE, SHELVED),
    (UNACK_CLEARED, True, "present", RAISED, ACTIVE),
    (UNACK_CLEARED, True, "gone", [], UNACK_CLEARED),
    (UNACK_CLEARED, True, "acknowledge", CLEARED, None),
    (UNACK_CLEARED, True, "shelve", SHELVE, SHELVED),
    (SHELVED, False, "present", [], SHELVED),
    (SHELVED, False, "gone", [], SHELVED),
    (SHELVED, False, "shelve", SHELVE, SHELVED),
    (SHELVED, False, "unshelve", UNSHELVED, ACTIVE),
]


@pytest.mark.parametrize(
    ("start", "latched", "op", "kinds", "after"),
    TRANSITIONS,
    ids=[f"{s}-{'latched' if la else 'plain'}-{op}" for s, la, op, _, _ in TRANSITIONS],
)
def test_each_transition_reports_its_change_and_leaves_the_alarm_in_the_next_state(
    start: AlarmState | None, latched: bool, op: str, kinds: list[str], after: AlarmState | None
) -> None:
    board = board_with(start, latched=latched)
    changes = OPERATIONS[op](board)
    assert [c.kind for c in changes] == kinds
    alarm = board.get(LOX)
    assert (alarm.state if alarm else None) is after
    for change in changes:
        assert change.alarm_id == LOX
        assert change.at == T + 10
        assert change.alarm == alarm


@pytest.mark.parametrize("state", [ACTIVE, ACKNOWLEDGED, UNACK_CLEARED])
def test_a_condition_reported_again_in_the_state_it_shows_changes_nothing(
    state: AlarmState,
) -> None:
    board = board_with(state, latched=True)
    before = board.get(LOX)
    again = board.condition(LOX, state is not UNACK_CLEARED, now=T + 50, message="other text")
    assert again == []
    assert board.get(LOX) == before
    assert board.statistics().raised_total == 1


def test_a_raise_records_the_reported_fields_and_its_message_from_the_monitor() -> None:
    board = AlarmBoard()
    [change] = board.condition(
        LOX, True, now=T, severity="critical", message="LOX tank pressure high", latched=True
    )
    assert change.by == "monitor"
    assert change.message == "LOX tank pressure high"
    assert change.alarm == make_alarm(severity="critical", latched=True)
    [change] = AlarmBoard().condition(LOX, True, now=T)
    assert change.message == "condition present", "a raise without a message says so"


def test_a_latched_alarm_raised_again_after_it_cleared_is_a_new_raise() -> None:
    board = board_with(UNACK_CLEARED, latched=True)
    board.condition(LOX, True, now=T + 40)
    assert [a.raised_at for a in board.alarms()] == [T + 40]
    assert board.statistics().raised_total == 2


def test_a_latched_alarm_that_returned_says_it_waits_for_acknowledgement() -> None:
    board = board_with(ACTIVE, latched=True)
    [change] = board.condition(LOX, False, now=T + 5)
    assert change.message == "condition cleared; waiting for acknowledgement"
    assert board.unacknowledged() == 1


def test_acknowledging_records_who_and_a_second_acknowledgement_keeps_the_first() -> None:
    board = board_with(ACTIVE)
    [change] = board.acknowledge(LOX, by="pad-lead", now=T + 5)
    assert (change.by, change.message) == ("pad-lead", "acknowledged by pad-lead")
    assert board.acknowledge(LOX, by="console-2", now=T + 6) == []
    assert [a.acknowledged_by for a in board.alarms()] == ["pad-lead"]


def test_acknowledging_a_latched_alarm_after_it_cleared_removes_it_and_says_so() -> None:
    board = board_with(UNACK_CLEARED, latched=True)
    [change] = board.acknowledge(LOX, by="pad-lead", now=T + 5)
    assert change.message == "acknowledged by pad-lead after it cleared"
    assert change.alarm is None
    assert board.alarms() == ()


REFUSALS: list[tuple[AlarmState | None, str, str]] = [
    (None, "acknowledge", "not on the board"),
    (None, "shelve", "not on the board"),
    (None, "unshelve", "not on the board"),
    (SHELVED, "acknowledge", "shelved; unshelve first"),
    (ACTIVE, "unshelve", "not shelved"),
    (ACKNOWLEDGED, "unshelve", "not shelved"),
    (UNACK_CLEARED, "unshelve", "not shelved"),
]


@pytest.mark.parametrize(
    ("start", "operation", "reason"),
    REFUSALS,
    ids=[f"{s}-{op}" for s, op, _ in REFUSALS],
)
def test_a_refused_operation_names_the_alarm_and_the_reason_and_changes_nothing(
    start: AlarmState | None, operation: str, reason: str
) -> None:
    board = board_with(start, latched=True)
    before = board.alarms()
    with pytest.raises(AlarmError) as caught:
        OPERATIONS[operation](board)
    assert (caught.value.alarm_id, caught.value.reason) == (LOX, reason)
    assert str(caught.value) == f"alarm {LOX}: {reason}"
    assert isinstance(caught.value, GroundsegError)
    assert board.alarms() == before


@pytest.mark.parametrize(
    ("until", "reason"),
    [
        (T, "shelve until 100 s is not after now (100 s)"),
        (T - 1, "shelve until 99 s is not after now (100 s)"),
        (float("nan"), "shelve until nan s is not after now (100 s)"),
        (T + 3601, "shelving for 3601 s exceeds 3600 s"),
        (float("inf"), "shelving for inf s exceeds 3600 s"),
    ],
)
def test_a_shelve_that_ends_now_or_before_or_lasts_too_long_is_refused(
    until: float, reason: str
) -> None:
    board = board_with(ACTIVE)
    with pytest.raises(AlarmError) as caught:
        board.shelve(LOX, by="pad-lead", until=until, now=T)
    assert caught.value.reason == reason
    assert [a.state for a in board.alarms()] == [ACTIVE]


def test_a_shelve_of_exactly_the_longest_duration_is_allowed() -> None:
    board = board_with(ACTIVE)
    [change] = board.shelve(LOX, by="pad-lead", until=T + 3600, now=T)
    assert change.message == "shelved by pad-lead for 3600 s"
    assert [(a.shelved_by, a.shelved_until) for a in board.alarms()] == [("pad-lead", T + 3600)]


@pytest.mark.parametrize(
    ("operation", "reason"),
    [
        (lambda b, by: b.acknowledge(LOX, by=by, now=T), "acknowledging needs a user name"),
        (lambda b, by: b.acknowledge_all(by=by, now=T), "acknowledging needs a user name"),
        (lambda b, by: b.shelve(LOX, by=by, until=T + 60, now=T), "shelving needs a user name"),
        (lambda b, by: b.unshelve(LOX, by=by, now=T), "unshelving needs a user name"),
    ],
)
@pytest.mark.parametrize("by", ["", "   "])
def test_an_operator_action_without_a_user_name_is_refused(
    operation: Callable[[AlarmBoard, str], list[AlarmChange]], reason: str, by: str
) -> None:
    board = board_with(SHELVED)
    with pytest.raises(AlarmError, match=reason):
        operation(board, by)


def test_a_shelved_alarm_tracks_its_condition_silently() -> None:
    board = board_with(SHELVED)
    for now, active in [(T + 20, False), (T + 30, True)]:
        assert board.condition(LOX, active, now=now) == []
        assert [(a.state, a.condition_active) for a in board.alarms()] == [(SHELVED, active)]


def test_shelving_keeps_whether_the_condition_is_present() -> None:
    board = board_with(UNACK_CLEARED, latched=True)
    board.shelve(LOX, by="pad-lead", until=T + 60, now=T + 5)
    assert [(a.state, a.condition_active) for a in board.alarms()] == [(SHELVED, False)]


def test_a_shelve_expiring_while_the_condition_is_present_returns_it_unacknowledged() -> None:
    board = board_with(ACKNOWLEDGED)
    board.shelve(LOX, by="pad-lead", until=T + 600, now=T + 2)
    assert board.handle_timer(T + 599) == []
    [change] = board.handle_timer(T + 600)
    assert (change.kind, change.by) == ("alarm.unshelved", "shelve timer")
    assert change.message == "shelve expired; condition still present"
    assert change.alarm is not None
    assert (change.alarm.state, change.alarm.acknowledged_by) == (ACTIVE, "")
    assert (change.alarm.shelved_by, change.alarm.shelved_until) == ("", None)
    assert board.unacknowledged() == 1


@pytest.mark.parametrize("latched", [False, True])
def test_a_shelve_expiring_after_the_condition_went_away_clears_the_alarm(latched: bool) -> None:
    board = board_with(SHELVED, latched=latched)
    board.condition(LOX, False, now=T + 20)
    [change] = board.handle_timer(T + 600)
    assert (change.kind, change.alarm) == ("alarm.cleared", None)
    assert change.message == "shelve expired; condition gone"
    assert board.get(LOX) is None


def test_unshelving_early_clears_an_alarm_whose_condition_went_away() -> None:
    board = board_with(SHELVED)
    board.condition(LOX, False, now=T + 20)
    [change] = board.unshelve(LOX, by="console-2", now=T + 30)
    assert (change.kind, change.by) == ("alarm.cleared", "console-2")
    assert change.message == "unshelved by console-2; condition gone"
    assert board.next_deadline() is None


def test_shelving_again_moves_the_expiry() -> None:
    board = board_with(SHELVED)
    board.shelve(LOX, by="console-2", until=T + 900, now=T + 10)
    assert board.next_deadline() == T + 900
    assert board.handle_timer(T + 600) == []
    assert [c.kind for c in board.handle_timer(T + 900)] == ["alarm.unshelved"]


def test_the_next_deadline_is_the_earliest_shelve_expiry_and_expiries_come_in_order() -> None:
    board = AlarmBoard()
    assert board.next_deadline() is None
    for alarm_id, until in [("fuel.vent", T + 90), ("lox.vent", T + 30), ("gn2.low", T + 60)]:
        board.condition(alarm_id, True, now=T)
        board.shelve(alarm_id, by="pad-lead", until=until, now=T)
    board.condition("gn2.low", False, now=T + 1)
    assert board.next_deadline() == T + 30
    assert [c.alarm_id for c in board.handle_timer(T + 30)] == ["lox.vent"]
    assert board.next_deadline() == T + 60
    changes = board.handle_timer(T + 200)
    assert [(c.alarm_id, c.kind) for c in changes] == [
        ("gn2.low", "alarm.cleared"),
        ("fuel.vent", "alarm.unshelved"),
    ]
    assert board.next_deadline() is None


def test_acknowledge_all_answers_every_waiting_alarm_and_leaves_shelved_ones_shelved() -> None:
    board = AlarmBoard()
    for i, alarm_id in enumerate(["a.active", "b.cleared", "c.acked", "d.shelved"]):
        board.condition(alarm_id, True, now=T + i, latched=True)
    board.condition("b.cleared", False, now=T + 5)
    board.acknowledge("c.acked", by="pad-lead", now=T + 5)
    board.shelve("d.shelved", by="pad-lead", until=T + 60, now=T + 5)
    changes = board.acknowledge_all(by="console-2", now=T + 6)
    assert [(c.alarm_id, c.kind) for c in changes] == [
        ("a.active", "alarm.acknowledged"),
        ("b.cleared", "alarm.cleared"),
    ]
    assert [(a.id, a.state) for a in board.alarms()] == [
        ("a.active", ACKNOWLEDGED),
        ("c.acked", ACKNOWLEDGED),
        ("d.shelved", SHELVED),
    ]
    assert board.unacknowledged() == 0


def test_the_board_lists_alarms_by_raise_time_then_id() -> None:
    board = AlarmBoard()
    for alarm_id, now in [("b", 5.0), ("a", 5.0), ("c", 3.0)]:
        board.condition(alarm_id, True, now=now)
    assert [a.id for a in board.alarms()] == ["c", "a", "b"]
    assert board.get("zzz") is None


def test_statistics_count_each_state_and_every_raise() -> None:
    board = AlarmBoard()
    for alarm_id in ["active", "acked", "returned", "shelved"]:
        board.condition(alarm_id, True, now=T, latched=True)
    board.acknowledge("acked", by="pad-lead", now=T + 1)
    board.condition("returned", False, now=T + 1)
    board.condition("returned", True, now=T + 2, latched=True)
    board.condition("returned", False, now=T + 3)
    board.shelve("shelved", by="pad-lead", until=T + 60, now=T + 1)
    assert board.statistics() == AlarmStatistics(
        active=1, acknowledged=1, unack_cleared=1, shelved=1, raised_total=5
    )
    assert board.unacknowledged() == 2


@pytest.mark.parametrize("severity", SEVERITIES)
def test_each_known_severity_is_accepted(severity: str) -> None:
    [change] = AlarmBoard().condition(LOX, True, now=T, severity=severity)
    assert change.alarm is not None
    assert change.alarm.severity == severity


def test_an_unknown_severity_is_refused_naming_it_and_raises_nothing() -> None:
    board = AlarmBoard()
    with pytest.raises(ValueError, match="severity 'fatal' is not one of"):
        board.condition(LOX, True, now=T, severity="fatal")
    assert board.alarms() == ()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"state": SHELVED}, "shelved_by, shelved_until only when shelved"),
        ({"shelved_by": "x", "shelved_until": T}, "shelved_by, shelved_until only when shelved"),
        ({"condition_active": False}, "active needs the condition present"),
        ({"state": UNACK_CLEARED, "condition_active": False}, "only a latched alarm"),
        ({"state": ACKNOWLEDGED}, "acknowledged needs acknowledged_by"),
        ({"id": ""}, "an alarm needs an id"),
        ({"severity": "fatal"}, "severity 'fatal' is not one of"),
    ],
)
def test_an_alarm_in_an_impossible_combination_cannot_be_made(
    fields: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        make_alarm(**fields)


def test_a_change_of_an_unknown_kind_or_leaving_the_board_wrongly_cannot_be_made() -> None:
    with pytest.raises(ValueError, match=r"'alarm\.exploded'"):
        AlarmChange(alarm_id=LOX, kind="alarm.exploded", at=T, by="x", message="", alarm=None)
    with pytest.raises(ValueError, match="exactly a cleared alarm leaves the board"):
        AlarmChange(alarm_id=LOX, kind="alarm.raised", at=T, by="x", message="", alarm=None)


@pytest.mark.parametrize("max_shelve_s", [0.0, -1.0, float("nan")])
def test_a_board_needs_a_positive_longest_shelve(max_shelve_s: float) -> None:
    with pytest.raises(ValueError, match="max_shelve_s must be positive"):
        AlarmBoard(max_shelve_s=max_shelve_s)
