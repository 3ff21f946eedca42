"""`groundseg procedure run`: the example procedures pass against hw_sim, a wrong
expectation fails with a readable message, the JUnit XML is well-formed JUnit, and a dry
run writes nothing to any device."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from groundseg.config import Table, load_pad
from groundseg.drivers.modbus import plan_reads
from groundseg.testing import simulated_pad
from tests.conftest import PAD_FILE, ROOT

EXAMPLES = ROOT / "examples" / "procedures"

WRONG = '''
from groundseg.testing import Bench

VALVE = "gn2.purge.s1_engine_bay.valve"


async def test_the_valve_opens(bench: Bench) -> None:
    """Deliberately wrong: after opening, expects the closed switch."""
    await bench.send(f"{VALVE}.close")
    await bench.send_and_assert(f"{VALVE}.open", expect=f"{VALVE}.closed_ls == ON", within=1)
'''


def run(
    path: Path, out: Path, *options: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if password is not None:
        env["GROUNDSEG_PASSWORD"] = password
    return subprocess.run(
        [
            sys.executable, "-m", "groundseg", "procedure", "run", str(path),
            "--pad", str(PAD_FILE), "--out", str(out), *options,
        ],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env, check=False,
    )  # fmt: skip


def junit(path: Path) -> ET.Element:
    """The file, checked against the JUnit format CI servers read (xunit2): suites of test
    cases with their counts and times, a failure carrying its message."""
    root = ET.parse(path).getroot()  # noqa: S314  our own run's file
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert suites
    for suite in suites:
        cases = suite.findall("testcase")
        for attribute in ("name", "tests", "failures", "errors", "skipped", "time"):
            assert attribute in suite.attrib, attribute
        assert int(suite.attrib["tests"]) == len(cases)
        failed = [c for c in cases if c.find("failure") is not None]
        assert int(suite.attrib["failures"]) == len(failed)
        assert int(suite.attrib["errors"]) == sum(1 for c in cases if c.find("error") is not None)
        float(suite.attrib["time"])
        for case in cases:
            assert case.attrib["classname"]
            assert case.attrib["name"]
            float(case.attrib["time"])
            for failure in case.findall("failure"):
                assert failure.attrib["message"]
    return root


def test_the_examples_pass_and_a_wrong_expectation_fails_readably(tmp_path: Path) -> None:
    """The example procedures beside a deliberately wrong one, in one run against hw_sim."""
    procedures = tmp_path / "procedures"
    shutil.copytree(EXAMPLES, procedures)
    (procedures / "test_wrong.py").write_text(WRONG)
    done = run(procedures, tmp_path / "out")
    assert done.returncode == 1, done.stdout + done.stderr
    root = junit(tmp_path / "out" / "junit.xml")
    assert len(root.findall("testsuite/testcase")) == 6
    (failure,) = root.findall(".//failure")
    text = (failure.text or "") + failure.attrib["message"]
    assert "expected gn2.purge.s1_engine_bay.valve.closed_ls == ON within 1 s" in text, text
    assert "gn2.purge.s1_engine_bay.valve.closed_ls = 0 (OFF), GOOD, sampled" in text, text
    report = (tmp_path / "out" / "report.html").read_text()
    assert "FAILED</span> (5 of 6 steps passed)" in report
    assert report.count("<span class=passed>PASSED</span>") == 5
    assert "expected gn2.purge.s1_engine_bay.valve.closed_ls == ON within 1 s" in report
    assert "sent gn2.purge.s1_engine_bay.valve.open: verified by readback" in report
    assert "<svg" in report, "the touched channels are plotted"
    assert "sha256" in report


PLC_PROCEDURE = """
from groundseg.testing import Bench


async def test_fill(bench: Bench) -> None:
    await bench.send_and_assert(
        "lox.s1.fill_valve.open", expect="lox.s1.fill_valve.open_ls == ON", within=10
    )
"""


def writable(endpoint: str) -> dict[tuple[str, int], int]:
    """Every coil and holding register the controller may write on the PLC, read by mbpoll
    over TCP (a second master beside the controller's)."""
    pad = load_pad(PAD_FILE)
    device = pad.devices["plc"]
    host, port = endpoint.rsplit(":", 1)
    words: dict[tuple[str, int], int] = {}
    tables = {Table.COIL: "0", Table.HOLDING_REGISTER: "4"}
    for reads in plan_reads(device, pad.channels_of("plc")).values():
        for read in reads:
            if read.table not in tables:
                continue
            shown = subprocess.run(
                [
                    "mbpoll", "-m", "tcp", "-p", port, "-a", str(device.unit_id),
                    "-t", tables[read.table], "-0", "-r", str(read.block.start),
                    "-c", str(read.block.count), "-1", "-o", "2", host,
                ],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout  # fmt: skip
            for ref, value in re.findall(r"^\[(\d+)\]:\s+(-?\d+)", shown, re.MULTILINE):
                words[(read.table.name, int(ref))] = int(value)
    assert words, "the PLC has writable registers"
    return words


def test_a_dry_run_writes_nothing_to_any_device(tmp_path: Path) -> None:
    """Against a live controller on hw_sim: the dry run leaves every writable register as it
    was; the same procedure run for real changes them (so the check can see a write)."""
    procedures = tmp_path / "procedures"
    shutil.copytree(EXAMPLES, procedures)
    procedure = procedures / "test_plc.py"
    procedure.write_text(PLC_PROCEDURE)
    with simulated_pad(PAD_FILE, tmp_path / "rig") as rig:
        target = ["--target", "bench", "--url", rig.url]
        password = rig.accounts["conductor"]
        before = writable(rig.endpoints["plc"])
        dry = run(procedures, tmp_path / "dry", "--dry-run", *target, password=password)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert writable(rig.endpoints["plc"]) == before
        real = run(procedure, tmp_path / "real", *target, password=password)
        assert real.returncode == 0, real.stdout + real.stderr
        assert writable(rig.endpoints["plc"]) != before
    report = (tmp_path / "dry" / "report.html").read_text()
    assert "dry run: nothing sent" in report
    for line in (
        "would send lox.s1.fill_valve.open",
        "would send gn2.purge.s1_engine_bay.valve.close",
        "would inject the fault stuck:lox.s1.ullage_pressure.a:value=1.234",
    ):
        assert line in report
