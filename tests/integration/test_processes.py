"""The simulator and the poll view as processes, the way a bench engineer runs them."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundseg.journal.reader import JournalReader
from tests.conftest import PAD_FILE

DEVICES = {"plc", "gas_panel", "umbilical", "weather"}


@pytest.fixture
def hw_sim() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "hw_sim", "--pad", str(PAD_FILE), "--speed", "5"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _line(process: subprocess.Popen[str], within: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], within)
    assert ready, f"no output within {within} s"
    return process.stdout.readline()


def test_hw_sim_prints_endpoints_then_runs_until_sigterm(hw_sim: subprocess.Popen[str]) -> None:
    endpoints = json.loads(_line(hw_sim, 30))
    assert set(endpoints) == DEVICES
    host, port = endpoints["plc"].rsplit(":", 1)
    assert host == "127.0.0.1"
    assert int(port) > 0
    for device in ("gas_panel", "umbilical", "weather"):
        assert stat.S_ISCHR(os.stat(endpoints[device]).st_mode), f"{device} is a real pty"
    assert hw_sim.poll() is None
    hw_sim.send_signal(signal.SIGTERM)
    assert hw_sim.wait(timeout=10) == 0


def test_hw_sim_takes_faults_on_its_control_input_and_exits_0_on_sigint(
    hw_sim: subprocess.Popen[str],
) -> None:
    json.loads(_line(hw_sim, 30))
    assert hw_sim.stdin is not None
    for command, check in (
        ("fault dropout:plc", lambda r: r == {"ok": True, "fault": "dropout:plc"}),
        (
            "fault stuck_valve:no.such.valve",
            lambda r: r["ok"] is False and "no.such.valve" in r["error"],
        ),
        ("status", lambda r: r["ok"] and r["faults"] == ["dropout:plc"]),
        ("clear all", lambda r: r == {"ok": True, "faults": []}),
        ("explode", lambda r: r["ok"] is False and "unknown command" in r["error"]),
    ):
        hw_sim.stdin.write(command + "\n")
        hw_sim.stdin.flush()
        reply = json.loads(_line(hw_sim, 10))
        assert check(reply), f"{command}: {reply}"
    hw_sim.send_signal(signal.SIGINT)
    assert hw_sim.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pad", "/nonexistent/pad.toml"], "cannot read file"),
        (["--pad", str(PAD_FILE), "--fault", "melt:plc"], "unknown fault kind 'melt'"),
        (
            ["--pad", str(PAD_FILE), "--fault", "dropout:no_such_device"],
            "no device 'no_such_device'",
        ),
        (["--pad", str(PAD_FILE), "--speed", "0"], "--speed must be positive"),
    ],
)
def test_hw_sim_refuses_bad_arguments_with_a_message(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hw_sim", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_poll_once_shows_good_values_from_the_simulated_pad() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "groundseg",
            "poll",
            "--pad",
            str(PAD_FILE),
            "--sim",
            "--speed",
            "5",
            "--once",
            "--channels",
            "lox.s1.ullage_pressure.*",
            "--channels",
            "wx.wind.*",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [
        line
        for line in result.stdout.splitlines()
        if "lox.s1.ullage_pressure." in line or "wx.wind." in line
    ]
    assert len(rows) == 3 + 9
    assert all("GOOD" in row for row in rows), "\n".join(rows)
    assert "bar" in result.stdout
    assert "m/s" in result.stdout
    for device in DEVICES:
        assert device in result.stdout, "the link table lists every device"


def test_poll_redraws_in_place_on_a_terminal() -> None:
    """On a terminal the table is redrawn in place (alternate screen), not scrolled."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "groundseg",
            "poll",
            "--pad",
            str(PAD_FILE),
            "--sim",
            "--speed",
            "5",
            "--duration",
            "3",
            "--refresh-hz",
            "4",
            "--channels",
            "wx.wind.m10.*",
        ],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=os.environ | {"TERM": "xterm-256color", "COLUMNS": "160", "LINES": "50"},
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    assert process.wait(timeout=30) == 0
    os.close(leader)
    text = output.decode(errors="replace")
    assert "\x1b[?1049h" in text, "switches to the alternate screen"
    assert text.count("wx.wind.m10.gust") >= 3, "redrawn several times"
    assert "\x1b[?1049l" in text, "restores the screen on exit"


def test_check_config_runs_as_the_console_script() -> None:
    script = Path(sys.executable).with_name("groundseg")
    result = subprocess.run(
        [str(script), "check-config", str(PAD_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "is valid" in result.stdout


def test_hw_sim_with_stop_on_eof_exits_when_its_control_input_closes() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hw_sim", "--pad", str(PAD_FILE), "--stop-on-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        json.loads(_line(process, 30))
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _gone(pid: int, *, within: float) -> bool:
    """Whether `pid` exits within the deadline (a zombie counts: it only awaits reaping)."""
    deadline = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # polling /proc for another process to exit, under a deadline


def test_a_killed_poll_leaves_no_simulator_behind() -> None:
    """Even SIGKILL of `groundseg poll --sim` stops the simulator it started."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "groundseg",
            "poll",
            "--pad",
            str(PAD_FILE),
            "--sim",
            "--duration",
            "60",
            "--channels",
            "wx.*",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (children := _children(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling /proc for the child to appear, under a deadline
        assert children, "the poll started its simulator"
        simulator = children[0]
        process.kill()
        process.wait(timeout=10)
        alive = not _gone(simulator, within=10)
        assert not alive, "the simulator outlived the poll that started it"
    finally:
        if process.poll() is None:
            process.kill()


def _controller_command(state: Path, *extra: str) -> list[str]:
    """The controller on the simulated pad at 10x, on embedded defaults."""
    return [
        sys.executable,
        "-m",
        "groundseg",
        "controller",
        "--pad",
        str(PAD_FILE),
        "--sim",
        "--speed",
        "10",
        "--state-dir",
        str(state),
        *extra,
    ]


def test_the_demo_controller_runs_on_embedded_defaults_and_shows_the_view(tmp_path: Path) -> None:
    """What `make demo` runs: hw_sim, an in-process broker, the journal, the live table."""
    leader, follower = pty.openpty()
    state = tmp_path / "demo"
    process = subprocess.Popen(
        _controller_command(state, "--view", "--duration", "4", "--channels", "umb.power.*"),
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=os.environ | {"TERM": "xterm-256color", "COLUMNS": "160", "LINES": "50"},
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                output += os.read(leader, 65536)
            except OSError:
                break
    assert process.wait(timeout=30) == 0
    os.close(leader)
    text = output.decode(errors="replace")
    announcement = json.loads(text[text.index("{") : text.index("}") + 1])
    assert announcement["mqtt"].startswith("127.0.0.1:"), "an in-process broker on loopback"
    assert text.count("umb.power.source") >= 2, "the live table was drawn and redrawn"
    assert "GOOD" in text
    assert list((state / "journal").glob("samples-*.arrows")), "the journal recorded the run"


def _headless_controller(state: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _controller_command(state, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_headless_controller_stops_after_its_duration(tmp_path: Path) -> None:
    """`--duration` bounds a run without the view too (a bench or a scripted capture)."""
    process = _headless_controller(tmp_path / "state", "--duration", "2")
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr[-2000:]
    batches = list(JournalReader(tmp_path / "state" / "journal").samples())
    assert batches, "the run was journaled"


def test_sigterm_stops_the_controller_cleanly_with_its_journal_whole(tmp_path: Path) -> None:
    """A service manager's stop: exit 0, simulator gone, journal readable to its last record."""
    process = _headless_controller(tmp_path / "state")
    try:
        assert process.stdout is not None
        announcement = json.loads(process.stdout.readline())
        journal = Path(announcement["journal"])
        deadline = time.monotonic() + 30
        while not list(JournalReader(journal).samples()) and time.monotonic() < deadline:
            time.sleep(0.1)  # polling the journal another process writes, under a deadline
        simulator = _children(process.pid)
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr[-2000:]
    assert simulator, "the controller started its simulator"
    assert _gone(simulator[0], within=10), "the simulator stopped with the controller"
    records = [record for record, _ in JournalReader(journal).samples()]
    assert records, "the journal holds the run"
    assert records == list(range(len(records))), "record numbers run without a gap"
