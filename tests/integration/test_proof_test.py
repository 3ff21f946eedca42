"""`groundseg proof-test` on hw_sim: every redline and interlock of the shipped pad made to
act at the sensors, each with its measured reaction time, in a report that says what ran."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from groundseg.config import load_pad
from groundseg.sequencer.plan import compile_plan
from tests.conftest import PAD_FILE, ROOT


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
