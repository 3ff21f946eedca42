"""The replay console's pure parts: the playhead's time controls, and the countdown and
alarm board as they stood at any moment of a recording."""

from __future__ import annotations

import pytest

from groundseg.errors import ConfigError
from groundseg.replay.playhead import Playhead
from groundseg.replay.recorded import RecordedAlarms, RecordedCount
from groundseg.telemetry.events import Event, Severity

S = 1_000_000_000
T0 = 1_800_000_000 * S
"""A recording's first moment."""


def test_the_playhead_runs_at_its_speed_and_stops_at_the_end_of_the_record() -> None:
    head = Playhead(T0, T0 + 100 * S, now_s=10.0, speed=2.0)
    assert head.position(10.0) == T0
    assert head.position(15.0) == T0 + 10 * S
    assert head.wait_s(T0 + 20 * S, 15.0) == pytest.approx(5.0)
    assert head.position(1000.0) == T0 + 100 * S
    assert head.view(1000.0).ended


def test_pause_holds_the_position_play_goes_on_from_it_and_speed_changes_from_now() -> None:
    head = Playhead(T0, T0 + 100 * S, now_s=0.0)
    head.pause(4.0)
    assert head.position(50.0) == T0 + 4 * S
    assert head.wait_s(T0 + 5 * S, 50.0) is None
    head.play(50.0)
    assert head.position(51.0) == T0 + 5 * S
    head.set_speed(10.0, 51.0)
    assert head.position(52.0) == T0 + 15 * S


def test_a_seek_moves_the_position_and_starts_a_new_generation() -> None:
    head = Playhead(T0, T0 + 100 * S, now_s=0.0)
    head.seek(T0 + 70 * S, 3.0)
    assert head.generation == 1
    assert head.position(3.0) == T0 + 70 * S
    head.seek(T0 + 10 * S, 4.0)
    assert head.position(5.0) == T0 + 11 * S


@pytest.mark.parametrize("where", [T0 - 1, T0 + 100 * S + 1])
def test_a_seek_outside_the_record_is_refused_and_changes_nothing(where: int) -> None:
    head = Playhead(T0, T0 + 100 * S, now_s=0.0)
    with pytest.raises(ConfigError, match="inside the record"):
        head.seek(where, 1.0)
    assert head.generation == 0
    assert head.position(1.0) == T0 + S


@pytest.mark.parametrize("speed", [0.0, -1.0, 1e9])
def test_a_speed_out_of_range_is_refused(speed: float) -> None:
    head = Playhead(T0, T0 + S, now_s=0.0)
    with pytest.raises(ConfigError, match="speed"):
        head.set_speed(speed, 0.0)
    assert head.speed == 1.0


def test_a_step_while_paused_stands_at_the_released_batch() -> None:
    head = Playhead(T0, T0 + 100 * S, now_s=0.0, paused=True)
    head.stepped_to(T0 + S // 10, 5.0)
    assert head.position(9.0) == T0 + S // 10


def _event(kind: str, at_s: float, message: str = "", **fields: str | float) -> Event:
    severity = Severity.ALARM if kind == "countdown.hold" else Severity.INFO
    return Event(
        kind=kind,
        source="sequencer",
        time_ns=T0 + round(at_s * S),
        severity=severity,
        message=message,
        fields=fields,
    )


COUNT = [
    _event("countdown.started", 10, "count started", t_s=-21600.0),
    _event("sequence.phase", 10, "phase pad_checks", phase="pad_checks"),
    _event("sequence.step", 10, "step pad.checks started", step="pad.checks"),
    # 300x: 100 s of record is 30,000 s of count
    _event("countdown.hold", 20, "hold: ullage high", t_s=-18600.0, reason="ullage high"),
    _event("countdown.hold", 21, "hold: vent open", t_s=-18600.0, reason="vent open"),
    _event("countdown.resumed", 30, "count resumed", t_s=-18600.0),
    _event("sequence.step_done", 31, "step pad.checks done", step="pad.checks"),
    _event("countdown.scrubbed", 40, "scrub: weather", t_s=-15600.0),
]


def test_the_recorded_count_reads_as_it_stood_with_t_running_at_the_recorded_rate() -> None:
    count = RecordedCount(COUNT)
    assert count.state(T0 + 5 * S)["state"] == "ready"
    counting = count.state(T0 + 15 * S)
    assert counting["state"] == "counting"
    assert counting["t_s"] == pytest.approx(-21600 + 5 * 300)
    assert counting["phase"] == "pad_checks"
    assert counting["step"] == "pad.checks"
    assert counting["step_status"] == "sending"
    held = count.state(T0 + 25 * S)
    assert held["state"] == "holding"
    assert held["t_s"] == -18600.0
    assert held["hold_reason"] == "ullage high; vent open"
    resumed = count.state(T0 + 35 * S)
    assert (resumed["state"], resumed["hold_reason"]) == ("counting", "")
    assert resumed["t_s"] == pytest.approx(-18600 + 5 * 300)
    assert resumed["step_status"] == "done"
    over = count.state(T0 + 50 * S)
    assert (over["state"], over["t_s"], over["phase"]) == ("scrubbed", -15600.0, None)


def test_the_last_counting_stretch_runs_at_the_rate_of_the_one_before() -> None:
    count = RecordedCount(COUNT[:6])
    assert count.state(T0 + 32 * S)["t_s"] == pytest.approx(-18600 + 2 * 300)


def _alarm(kind: str, at_s: float, alarm: str, by: str = "monitor") -> Event:
    return Event(
        kind=kind,
        source="alarms",
        time_ns=T0 + round(at_s * S),
        severity=Severity.WARNING if alarm.endswith("warning") else Severity.ALARM,
        message=f"{alarm} {kind}",
        fields={"alarm": alarm, "by": by},
    )


def test_the_recorded_alarm_board_at_any_moment() -> None:
    board = RecordedAlarms(
        [
            _alarm("alarm.raised", 1, "ullage"),
            _alarm("alarm.raised", 2, "temp.warning"),
            _alarm("alarm.acknowledged", 3, "ullage", by="korolev"),
            _alarm("alarm.cleared", 4, "temp.warning"),
            _alarm("alarm.returned", 5, "ullage"),
        ]
    )
    assert board.at(T0) == []
    assert [(a["id"], a["state"], a["severity"]) for a in board.at(T0 + 2 * S)] == [
        ("ullage", "active", "alarm"),
        ("temp.warning", "active", "warning"),
    ]
    assert board.unacknowledged(T0 + 2 * S) == 2
    acknowledged = board.at(T0 + 3 * S)[0]
    assert (acknowledged["state"], acknowledged["acknowledged_by"]) == ("acknowledged", "korolev")
    assert [a["id"] for a in board.at(T0 + 4 * S)] == ["ullage"]
    assert board.at(T0 + 6 * S)[0]["state"] == "unacknowledged-cleared"
    assert board.unacknowledged(T0 + 6 * S) == 1
