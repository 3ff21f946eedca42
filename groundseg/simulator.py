"""Run the simulated pad (`python -m hw_sim`) as a child process and learn its endpoints.

groundseg never imports the simulator: it starts it the way a bench engineer would, reads
the one JSON line that maps devices to endpoints, and stops it (by its PID) on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import structlog

from groundseg.config import load_pad
from groundseg.errors import GroundsegError

__all__ = [
    "SimulatorError",
    "SimulatorHandle",
    "simulated_unless_given",
    "simulator",
    "simulator_process",
]


log = structlog.get_logger("groundseg.simulator")


class SimulatorError(GroundsegError):
    """The simulated pad could not be started."""


class SimulatorHandle:
    """A running simulator: its endpoints, and its control lines (`fault SPEC`, `clear
    all`, `signal NAME`, `status`...), each answered with one JSON object."""

    def __init__(self, process: asyncio.subprocess.Process, endpoints: dict[str, str]) -> None:
        self.process = process
        self.endpoints = endpoints
        self._lock = asyncio.Lock()

    async def control(self, line: str, *, timeout_s: float = 10.0) -> dict[str, object]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        async with self._lock, asyncio.timeout(timeout_s):
            self.process.stdin.write(line.encode() + b"\n")
            await self.process.stdin.drain()
            reply = json.loads(await self.process.stdout.readline())
        if not isinstance(reply, dict) or not reply.get("ok"):
            raise SimulatorError(f"simulator refused {line!r}: {reply}")
        return reply


@contextlib.asynccontextmanager
async def simulator_process(
    pad_file: str | Path,
    *,
    speed: float = 1.0,
    faults: Sequence[str] = (),
    seed: int = 0,
    devices: Sequence[str] = (),
    start_timeout_s: float = 30.0,
) -> AsyncIterator[dict[str, str]]:
    """Start the simulator (every device, or those named); yields {device id: endpoint} once
    each is ready."""
    async with simulator(
        pad_file,
        speed=speed,
        faults=faults,
        seed=seed,
        devices=devices,
        start_timeout_s=start_timeout_s,
    ) as handle:
        yield handle.endpoints


@contextlib.asynccontextmanager
async def simulator(
    pad_file: str | Path,
    *,
    speed: float = 1.0,
    faults: Sequence[str] = (),
    seed: int = 0,
    devices: Sequence[str] = (),
    start_timeout_s: float = 30.0,
) -> AsyncIterator[SimulatorHandle]:
    """Start the simulator; yields a handle to its endpoints and control lines."""
    command = [
        sys.executable,
        "-m",
        "hw_sim",
        "--pad",
        str(pad_file),
        "--speed",
        str(speed),
        "--seed",
        str(seed),
    ]
    for fault in faults:
        command += ["--fault", fault]
    for device in devices:
        command += ["--device", device]
    # If this process dies without stopping it, the closed pipe stops the simulator too.
    command.append("--stop-on-eof")
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        try:
            async with asyncio.timeout(start_timeout_s):
                line = await process.stdout.readline()
        except TimeoutError:
            raise SimulatorError(
                f"the simulator did not report its endpoints within {start_timeout_s:g} s"
            ) from None
        if not line:
            assert process.stderr is not None
            reason = (await process.stderr.read()).decode(errors="replace").strip()
            raise SimulatorError(f"the simulator exited: {reason or 'no reason given'}")
        endpoints = json.loads(line)
        if not isinstance(endpoints, dict):
            raise SimulatorError(f"the simulator's first line is not an endpoint map: {line!r}")
        yield SimulatorHandle(process, {str(k): str(v) for k, v in endpoints.items()})
    finally:
        await _stop(process)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10.0):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def simulated_unless_given(
    simulate: bool,
    pad_file: str | Path,
    endpoints: dict[str, str],
    *,
    speed: float = 1.0,
    faults: Sequence[str] = (),
) -> AsyncIterator[dict[str, str]]:
    """The endpoints given; the simulator's for the devices to simulate: every device with
    `simulate`, else those the pad definition marks `simulated` (partial integration: a
    bench with only the gas panel runs the rest on hw_sim). An endpoint given wins."""
    pad = load_pad(pad_file)
    wanted = [
        d.id for d in pad.devices.values() if (simulate or d.simulated) and d.id not in endpoints
    ]
    if not wanted:
        yield endpoints
        return
    log.info("simulated devices", devices=wanted)
    every = len(wanted) == len(pad.devices)
    async with simulator_process(
        pad_file, speed=speed, faults=faults, devices=() if every else wanted
    ) as simulated:
        yield simulated | endpoints
