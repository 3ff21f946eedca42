"""The shipped count fits the plant: the dry run (the pad file's sequencer and monitor on
hw_sim's physics, no sockets) reaches T-0 with every tank at flight level."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PAD_FILE

ROOT = PAD_FILE.parents[1]


@dataclass(frozen=True)
class DryRun:
    returncode: int
    stdout: str
    stderr: str


def _started(pad: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "simulate_count.py"), "--pad", str(pad)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DryRun]]:
    """Both dry runs at once (each is one process on one core): the shipped count, and one
    whose kerosene loading starts too late to fill."""
    text = PAD_FILE.read_text()
    slow = text.replace('id = "ker.fill"\nat = "T-5h30min"', 'id = "ker.fill"\nat = "T-3h35min"')
    assert slow != text, "the shipped pad no longer has ker.fill at T-5h30min"
    late = tmp_path_factory.mktemp("dry-run") / "late.toml"
    late.write_text(slow)
    running = {"shipped": _started(PAD_FILE), "late": _started(late)}
    try:
        done = {}
        for name, process in running.items():
            stdout, stderr = process.communicate(timeout=300)
            done[name] = DryRun(process.returncode, stdout, stderr)
        yield done
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def test_the_dry_run_of_the_shipped_count_passes(dry_runs: dict[str, DryRun]) -> None:
    run = dry_runs["shipped"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout.rstrip().endswith("PASS")
    assert "ignition" in run.stdout


def test_a_count_that_cannot_fill_in_time_fails_the_dry_run(dry_runs: dict[str, DryRun]) -> None:
    run = dry_runs["late"]
    assert run.returncode == 1, run.stdout[-3000:]
    assert "FAIL" in run.stdout
