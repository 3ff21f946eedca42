"""The automation re-run over a recorded count: it decides what the controller decided,
and a changed limit changes exactly the decisions it should."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

from groundseg.config import parse_pad
from groundseg.journal.reader import JournalReader
from groundseg.replay.rerun import Decision, Difference, contexts_from_events, differences, rerun
from groundseg.replay.resequence import resequence
from tests.conftest import PAD_FILE
from tests.integration.recording import (
    RULE,
    Recording,
    automation_decided,
    automation_recorded,
    raised_redline,
)


def rerun_with(recording: Recording, pad_text: str | None = None) -> list[Decision]:
    pad = recording.pad if pad_text is None else parse_pad(pad_text, source="changed")
    reader = JournalReader(recording.journal)
    contexts = contexts_from_events(e for _, e in reader.events())
    return rerun(pad, reader.channel_names(), reader.runs(), contexts)


def test_the_rerun_holds_where_the_count_held_and_raises_the_same_alarms(
    recording: Recording,
) -> None:
    decided = rerun_with(recording)
    trip = next(d for d in decided if d.rule == RULE and d.active)
    hold = recording.hold()
    assert trip.reaction == "hold"
    # The finding carries the time of the sample that completed the persistence; the
    # recorded hold was announced once that sample reached the runner.
    assert 0 <= hold.time_ns - trip.time_ns < 1_000_000_000, (hold.time_ns, trip.time_ns)
    raised = {e.fields["alarm"] for e in recording.events if e.kind == "alarm.raised"}
    tripped = {d.rule for d in decided if d.active and d.time_ns <= recording.events[-1].time_ns}
    assert raised == tripped, f"recorded only {raised - tripped}, re-run only {tripped - raised}"


def test_a_raised_limit_removes_exactly_that_redline_s_decisions(recording: Recording) -> None:
    flown = rerun_with(recording)
    changed = rerun_with(recording, raised_redline(3.5))
    expected = [Difference(decision=d, only_in="baseline") for d in flown if d.rule == RULE]
    assert [d.decision.active for d in expected] == [True, False], "a trip, then its clear"
    assert differences(flown, changed) == expected


def test_the_rerun_command_lists_the_differences(recording: Recording, tmp_path: Path) -> None:
    changed = tmp_path / "changed.toml"
    changed.write_text(raised_redline(3.5))
    shown = subprocess.run(
        [
            sys.executable, "-m", "groundseg", "rerun",
            "--journal", str(recording.journal),
            "--pad", str(recording.pad.source),
            "--with", str(changed),
            "--json",
        ],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    assert sorted((d["rule"], d["active"], d["only_in"]) for d in lines) == sorted(
        [
            (RULE, True, "baseline"),
            ("command", True, "baseline"),
            ("countdown.hold", True, "baseline"),
            (RULE, False, "baseline"),
        ]
    )
    assert "samples in" in shown.stderr, "the final progress line"


def resequenced(recording: Recording, pad_text: str | None = None) -> list[Decision]:
    pad = recording.pad if pad_text is None else parse_pad(pad_text, source="changed")
    reader = JournalReader(recording.journal)
    events = [e for _, e in reader.events()]
    return resequence(pad, reader.channel_names(), (b for _, b in reader.samples()), events)


def test_the_whole_automation_rerun_decides_what_the_count_decided(recording: Recording) -> None:
    decided = resequenced(recording)
    ours = automation_decided(decided)
    recorded = automation_recorded(recording.events)
    assert sorted(k for k in ours if k[0] != "countdown.hold") == sorted(
        k for k in recorded if k[0] != "countdown.hold"
    )
    assert [k[:2] for k in ours if k[0] == "countdown.hold"] == [
        k[:2] for k in recorded if k[0] == "countdown.hold"
    ]
    hold = next(d for d in decided if d.rule == "countdown.hold")
    recorded_hold = recording.hold()
    assert 0 <= recorded_hold.time_ns - hold.time_ns < 1_000_000_000
    # The same hold at the same T-time (to the poll cycle that decided it: 10 Hz).
    assert hold.t_s is not None
    assert abs(hold.t_s - float(recorded_hold.fields["t_s"])) < 0.11


def test_a_changed_step_changes_exactly_what_follows_from_it(recording: Recording) -> None:
    """The first step's wait made impossible, with a 100 ms deadline: the step never
    completes, and the count holds for it before the redline trips."""
    text = PAD_FILE.read_text()
    changed, found = re.subn(
        r'(id = "pad.checks"\n(?:.*\n)*?)deadline = "5min"',
        r'\g<1>deadline = "100ms"',
        text.replace(
            "and ker.s2.vent_valve.open_ls == ON\n",
            "and ker.s2.vent_valve.open_ls == ON and pad.estop == STOP\n",
            1,
        ),
        count=1,
    )
    assert found == 1, "the step's deadline is where this test expects it"
    flown = resequenced(recording)
    other = resequenced(recording, changed)
    overdue = next(d for d in other if d.message.startswith("hold: step pad.checks"))
    assert "not reached within 0.1 s" in overdue.message
    meop = f"hold: {recording.hold().message.removeprefix('hold: ')}"
    flown_hold = next(d for d in flown if d.message == meop)
    changed_hold = next(d for d in other if d.message == meop)
    # The redline still trips, at the same moment; the count it holds again was already
    # stopped by the overdue step, at that step's T-time.
    assert changed_hold.time_ns == flown_hold.time_ns
    assert changed_hold.t_s == overdue.t_s
    assert flown_hold.t_s is not None
    assert overdue.t_s is not None
    assert overdue.t_s < flown_hold.t_s
    assert sorted(
        ((d.only_in, d.decision.rule, d.decision.message) for d in differences(flown, other)),
    ) == sorted(
        [
            ("baseline", "sequence.step_done", "step pad.checks done"),
            ("baseline", "countdown.hold", meop),
            ("changed", "countdown.hold", overdue.message),
            ("changed", "countdown.hold", meop),
        ]
    )


def test_a_raised_limit_takes_the_hold_and_the_vent_out_of_the_automation(
    recording: Recording,
) -> None:
    flown = resequenced(recording)
    changed = resequenced(recording, raised_redline(3.5))
    gone = [(d.decision.rule, d.decision.active) for d in differences(flown, changed)]
    assert all(d.only_in == "baseline" for d in differences(flown, changed))
    assert sorted(gone) == sorted(
        [(RULE, True), ("command", True), ("countdown.hold", True), (RULE, False)]
    ), gone


def test_a_rerun_from_mid_record_starts_as_the_controller_stood(recording: Recording) -> None:
    """From between the redline's trip and its clear: the rules read the record before
    first, so the re-run shows the clear, no second trip, and no start-up noise."""
    raised = next(
        e for e in recording.events if e.kind == "alarm.raised" and e.fields["alarm"] == RULE
    )
    cleared = next(
        e for e in recording.events if e.kind == "alarm.cleared" and e.fields["alarm"] == RULE
    )
    middle = (raised.time_ns + cleared.time_ns) // 2
    assert cleared.time_ns - raised.time_ns > 200_000_000, "two samples apart, at least"
    start = datetime.datetime.fromtimestamp(middle / 1e9, tz=datetime.UTC).isoformat()
    shown = subprocess.run(
        [
            sys.executable, "-m", "groundseg", "rerun",
            "--journal", str(recording.journal),
            "--pad", str(recording.pad.source),
            "--from", start,
            "--monitors-only",
            "--json",
        ],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    assert min(d["time_ns"] for d in lines) >= middle
    assert [(d["rule"], d["active"]) for d in lines if d["rule"] == RULE] == [(RULE, False)]
    assert [d for d in lines if d["rule"].startswith("vote.") and not d["active"]] == []
