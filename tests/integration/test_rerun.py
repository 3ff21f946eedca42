"""The automation re-run over a recorded count: it decides what the controller decided,
and a changed limit changes exactly the decisions it should."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from groundseg.config import parse_pad
from groundseg.journal.reader import JournalReader
from groundseg.replay.rerun import Decision, Difference, contexts_from_events, differences, rerun
from tests.integration.recording import RULE, Recording, raised_redline


def rerun_with(recording: Recording, pad_text: str | None = None) -> list[Decision]:
    pad = recording.pad if pad_text is None else parse_pad(pad_text, source="changed")
    reader = JournalReader(recording.journal)
    contexts = contexts_from_events(e for _, e in reader.events())
    return rerun(pad, reader.channel_names(), (b for _, b in reader.samples()), contexts)


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
    assert [(d["rule"], d["active"], d["only_in"]) for d in lines] == [
        (RULE, True, "baseline"),
        (RULE, False, "baseline"),
    ]
    assert "samples in" in shown.stderr, "the final progress line"
