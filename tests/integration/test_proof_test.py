"""`groundseg proof-test` on hw_sim: every redline and interlock of the shipped pad made to
act at the sensors, each with its measured reaction time, in a report that says what ran."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from groundseg.config import load_pad
from groundseg.sequencer.plan import compile_plan
from groundseg.testing import simulated_pad
from tests.conftest import PAD_FILE, ROOT
from tests.integration.test_procedures import writable


def test_the_proof_test_report_lists_every_rule_with_a_result(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "groundseg", "proof-test", "--pad", str(PAD_FILE),
            "--operator", "Test Operator", "--out", str(tmp_path), "--settle-s", "20",
        ],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
    )  # fmt: skip
    report = json.loads((tmp_path / "proof-test.json").read_text())
    plan = compile_plan(load_pad(PAD_FILE))
    rules = {r["rule"]: r for r in report["rules"]}
    assert set(rules) == {r.id for r in plan.redlines} | {i.id for i in plan.interlocks}
    failed = {k: r for k, r in rules.items() if r["result"] != "pass"}
    assert not failed, failed
    assert done.returncode == 0, done.stderr[-2000:]
    for rule in rules.values():
        assert 0 < rule["reaction_ms"] < 10_000, rule
        assert rule["stimulus"], rule
    head = report["head"]
    assert hashlib.sha256(PAD_FILE.read_bytes()).hexdigest() in head["pad definition"]
    assert head["operator"] == "Test Operator"
    assert head["build"]
    assert head["date"].endswith("UTC")
    page = (tmp_path / "proof-test.html").read_text()
    assert f"{len(rules)} of {len(rules)} rules passed" in page
    for rule_id in rules:
        assert f"<td>{rule_id}</td>" in page


def test_on_a_bench_the_safe_subset_proves_withheld_interlocks_and_sends_nothing(
    tmp_path: Path,
) -> None:
    """A controller on hw_sim stands in for a bench's: interlocks withholding their command
    at rest are proven by the controller's check, the rest listed with what to apply, and
    no register changes."""
    with simulated_pad(PAD_FILE, tmp_path / "rig") as rig:
        before = writable(rig.endpoints["plc"])
        done = subprocess.run(
            [
                sys.executable, "-m", "groundseg", "proof-test", "--pad", str(PAD_FILE),
                "--target", "bench", "--url", rig.url, "--user", "conductor",
                "--out", str(tmp_path / "out"),
            ],
            capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
            env={**os.environ, "GROUNDSEG_PASSWORD": rig.accounts["conductor"]},
        )  # fmt: skip
        assert writable(rig.endpoints["plc"]) == before, "nothing was sent"
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "proof-test.json").read_text())
    rules = {r["rule"]: r for r in report["rules"]}
    plan = compile_plan(load_pad(PAD_FILE))
    assert set(rules) == {r.id for r in plan.redlines} | {i.id for i in plan.interlocks}
    chilldown = rules["lox.fast_fill.needs_chilldown"]
    assert chilldown["result"] == "pass", chilldown
    assert chilldown["note"].startswith("withholds lox.fast_fill_valve.open now: ")
    meop = rules["ker.s1.ullage.meop"]
    assert meop["result"] == "not testable"
    assert meop["stimulus"].startswith("ker.s1.ullage_pressure.a = ")
    assert "safe subset" in report["head"]["target"]
