"""`make demo` from a fresh clone: it starts the simulated pad and the controller, serves the
console with the demo accounts, runs the count, and stops cleanly on Ctrl-C.

The clone holds only what is committed, so a console asset or a module that was never
added fails here. It runs with this suite's interpreter (building a second virtual
environment would take minutes), importing the clone's code, not this checkout's.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.helpers import eventually
from tests.services import Mosquitto, VictoriaMetrics


def _children(pid: int) -> set[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in text:
            found.add(int(status.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    target = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", f"file://{ROOT}", str(target)],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture
def demo(clone: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "groundseg", "demo", "--speed", "60"]
    command += ["--api", "127.0.0.1:0", "--state-dir", str(tmp_path / "state")]
    process = subprocess.Popen(
        command,
        cwd=clone,
        env={**os.environ, "PYTHONPATH": str(clone)},
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


def _announcement(process: subprocess.Popen[str], within: float) -> dict[str, object]:
    """The demo's JSON line (after its human-readable greeting). A thread reads the lines:
    select() on a buffered pipe misses lines already read into the buffer."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, name="demo-stdout", daemon=True).start()
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line.startswith("{"):
            announced: dict[str, object] = json.loads(line)
            return announced
    raise AssertionError(f"no announcement within {within} s (exit status {process.poll()})")


def test_make_demo_runs_groundseg_demo(clone: Path) -> None:
    dry = subprocess.run(
        ["make", "-n", "demo"], cwd=clone, check=True, capture_output=True, text=True
    )
    assert "-m groundseg demo" in dry.stdout


async def test_the_demo_serves_the_console_runs_the_count_and_stops_on_ctrl_c(
    demo: subprocess.Popen[str], clone: Path
) -> None:
    announced = _announcement(demo, within=60)
    url = str(announced["console"])
    users = announced["users"]
    assert isinstance(users, dict)
    assert {"viewer", "operator", "director", "director2", "safety", "admin"} <= set(users)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert "<html" in page.text.lower()
        login = await client.post(
            "/api/login", json={"username": "director", "password": users["director"]}
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        state: dict[str, object] = {}

        async def counting() -> bool:
            state.update((await client.get("/api/state", headers=headers)).json())
            return state["state"] in ("counting", "holding")

        await eventually(counting, within=30, what="the demo's count started", seen=lambda: state)
    children = _children(demo.pid)
    assert children, "the simulated pad runs as a child process"
    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=30) == 0
    assert demo.stderr is not None
    assert "Traceback" not in demo.stderr.read()
    assert not [pid for pid in children if _alive(pid)], "the simulator stopped with the demo"


def test_the_demo_publishes_to_a_real_broker_and_archives_into_a_real_database(
    tmp_path: Path, broker: Mosquitto
) -> None:
    """`--mqtt` and `--influx`: telemetry goes through Mosquitto into VictoriaMetrics."""
    command = [sys.executable, "-m", "groundseg", "demo", "--no-start", "--api", "127.0.0.1:0"]
    command += ["--state-dir", str(tmp_path / "state"), "--mqtt", f"127.0.0.1:{broker.port}"]
    with VictoriaMetrics.running(tmp_path / "vm") as vm:
        process = subprocess.Popen(
            [*command, "--influx", vm.url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            announced = _announcement(process, within=60)
            assert announced["mqtt"] == f"127.0.0.1:{broker.port}"
            deadline = time.monotonic() + 60
            rows: list[dict[str, object]] = []
            while time.monotonic() < deadline and not rows:
                rows = vm.export('{__name__="telemetry_lox.s1.level.a"}')
            assert rows, "no lox.s1.level.a samples archived within 60 s"
            values = rows[0]["values"]
            assert isinstance(values, list)
            assert len(values) > 0
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
