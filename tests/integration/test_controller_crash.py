"""SIGKILL the controller mid fast fill: it comes back holding where it was, reports the
valves' actual positions, and sends nothing again by itself. The controller runs as
`groundseg controller` with its operator API, the way a pad runs it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from groundseg.simulator import SimulatorHandle, simulator
from tests.conftest import PAD_FILE, ROOT
from tests.helpers import eventually
from tests.integration.api_rig import password, rig_users
from tests.integration.launch_rig import TOLERANT_PERIODS, tolerant_pad_text

SPEED = 300.0
POLL_S = 0.05
"""How often the test asks the controller's API (each request costs the controller CPU)."""


class ControllerProcess:
    """`groundseg controller` as a child process, asked through its operator API."""

    def __init__(self, process: asyncio.subprocess.Process, client: httpx.AsyncClient) -> None:
        self.process = process
        self.client = client
        """One client for the test: making one costs a TLS context, tens of milliseconds of
        the CPU the plant and the controller need."""
        self.last: dict[str, object] = {}

    async def state(self) -> dict[str, object]:
        answer = await self.client.get("/api/state")
        answer.raise_for_status()
        self.last = answer.json()
        return self.last

    async def start(self) -> dict[str, object]:
        answer = await self.client.post("/api/countdown/start", json={})
        assert answer.status_code == 200, answer.text
        started: dict[str, object] = answer.json()
        return started


@contextlib.asynccontextmanager
async def controller(
    sim: SimulatorHandle, pad_file: Path, state_dir: Path
) -> AsyncIterator[ControllerProcess]:
    users = pad_file.parent / "users.json"
    if not users.exists():
        rig_users().save(users)
    command = [
        sys.executable, "-m", "groundseg", "controller", "--pad", str(pad_file),
        "--state-dir", str(state_dir), "--speed", str(SPEED),
        "--stale-periods", str(TOLERANT_PERIODS),
        "--api", "127.0.0.1:0", "--users", str(users),
    ]  # fmt: skip
    for device, endpoint in sim.endpoints.items():
        command += ["--endpoint", f"{device}={endpoint}"]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20.0):
            ready = json.loads(await process.stdout.readline())
        url = str(ready["console"]).rstrip("/")
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            login = await client.post(
                "/api/login", json={"username": "director", "password": password("director")}
            )
            assert login.status_code == 200, login.text
            client.headers["Authorization"] = f"Bearer {login.json()['token']}"
            yield ControllerProcess(process, client)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_a_controller_killed_mid_fast_fill_restarts_holding_and_sends_nothing(
    tmp_path: Path,
) -> None:
    pad_file = tmp_path / "pad.toml"
    pad_file.write_text(tolerant_pad_text(PAD_FILE.read_text()))
    async with simulator(pad_file, speed=SPEED, seed=5) as sim:
        async with controller(sim, pad_file, tmp_path / "state") as first:
            await eventually(
                lambda: _fresh_enough(first),
                within=20.0,
                what="the links up and data fresh",
                interval=POLL_S,
            )
            await first.start()
            await eventually(
                lambda: _in_fast_fill(first),
                within=90.0,
                interval=POLL_S,
                what="LOX fast fill under way",
                seen=lambda: {
                    k: first.last.get(k) for k in ("state", "t_s", "step", "hold_reason")
                },
            )
            before = await first.state()
            first.process.send_signal(signal.SIGKILL)
            await first.process.wait()
        writes_at_kill = (await sim.control("status"))["writes"]
        fast_fill_open = (await sim.control("signal lox.fast_fill_valve.position"))["value"]
        async with controller(sim, pad_file, tmp_path / "state") as second:
            state = await second.state()
            assert state["state"] == "holding"
            assert "restarted" in str(state["hold_reason"])
            assert isinstance(state["t_s"], float)
            assert isinstance(before["t_s"], float)
            # Saved every second of a running count: at most that much count time is lost.
            assert abs(state["t_s"] - before["t_s"]) <= SPEED * 1.5
            await eventually(
                lambda: _reconciled(second),
                within=10.0,
                what="positions read back, reconciled",
                interval=POLL_S,
            )
            later = await second.state()
            assert later["state"] == "holding", "a restarted count never resumes by itself"
            status = await sim.control("status")
            count = int(str(status["writes"])) - int(str(writes_at_kill))
            last = status["last_writes"]
            assert isinstance(last, list)
            new_writes = last[len(last) - count :] if count else []
            # The only writes allowed: the fast-fill step ending what it started (closing a
            # full stage's fill valve), never a command sent before the crash.
            assert all(
                channel in ("lox.s2.fill_valve.cmd", "lox.fast_fill_valve.cmd") and value == 0.0
                for channel, value in new_writes
            ), new_writes
        assert float(str(fast_fill_open)) >= 98.0, "fast fill was under way when it died"


async def _fresh_enough(proc: ControllerProcess) -> bool:
    state = await proc.state()
    return state.get("acting") == []


async def _in_fast_fill(proc: ControllerProcess) -> bool:
    state = await proc.state()
    return state.get("phase") == "lox_fast_fill"


async def _reconciled(proc: ControllerProcess) -> bool:
    state = await proc.state()
    return bool(state.get("reconciled"))
