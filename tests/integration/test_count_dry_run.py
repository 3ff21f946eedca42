"""The shipped count fits the plant: the dry run (the pad file's sequencer and monitor on
hw_sim's physics, no sockets) reaches T-0 with every tank at flight level."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import PAD_FILE

ROOT = PAD_FILE.parents[1]


def dry_run(pad: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "simulate_count.py"), "--pad", str(pad)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )


def test_the_dry_run_of_the_shipped_count_passes() -> None:
    run = dry_run(PAD_FILE)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout.rstrip().endswith("PASS")
    assert "ignition" in run.stdout


def test_a_count_that_cannot_fill_in_time_fails_the_dry_run(tmp_path: Path) -> None:
    text = PAD_FILE.read_text()
    slow = text.replace('id = "ker.fill"\nat = "T-5h30min"', 'id = "ker.fill"\nat = "T-3h35min"')
    assert slow != text, "the shipped pad no longer has ker.fill at T-5h30min"
    pad = tmp_path / "late.toml"
    pad.write_text(slow)
    run = dry_run(pad)
    assert run.returncode == 1, run.stdout[-3000:]
    assert "FAIL" in run.stdout
