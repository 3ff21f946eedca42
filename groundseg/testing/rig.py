"""A controller to test against: on hw_sim started here, or one already running.

`simulated_pad(pad_file, directory)` starts the simulator (its own process, real TCP
sockets and ptys) and a controller on it (its own process, operator API on a free loopback
port, accounts made for the run), and yields a `Rig`: where to connect, with which
accounts, and the simulator's fault-injection handle. `existing_pad(url, ...)` is the same
for a controller someone else runs (a bench PLC's): no faults to inject there.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from groundseg.api.users import UserStore
from groundseg.gate.authority import Role
from groundseg.testing.expect import ProcedureError

__all__ = [
    "Faults",
    "Rig",
    "controller_process",
    "existing_pad",
    "hw_sim_process",
    "simulated_pad",
]

ACCOUNTS: Mapping[str, frozenset[Role]] = {
    "conductor": frozenset({Role.DIRECTOR, Role.OPERATOR}),
    "approver": frozenset({Role.DIRECTOR, Role.SAFETY}),
}
"""The run's accounts: a test conductor, and a second person for two-person commands."""


class Faults:
    """The simulator's control lines: inject and clear faults, read a true signal, change
    the plant's speed (hw_sim.faults lists the fault specs)."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._lock = threading.Lock()

    def control(self, line: str) -> dict[str, Any]:
        with self._lock:
            self._stdin.write(line.encode() + b"\n")
            self._stdin.flush()
            reply = json.loads(self._stdout.readline() or b"{}")
        if not isinstance(reply, dict) or not reply.get("ok"):
            raise ProcedureError(f"the simulator refused {line!r}: {reply}")
        return reply

    async def inject(self, spec: str) -> str:
        """`stuck:lox.line.temp.a:value=-100`, `stuck_valve:lox.s1.fill_valve`, `dropout:plc`."""
        return str((await asyncio.to_thread(self.control, f"fault {spec}"))["fault"])

    async def clear(self, spec: str | None = None) -> None:
        await asyncio.to_thread(self.control, f"clear {spec or 'all'}")

    async def signal(self, name: str) -> float:
        """The plant's true value of a signal (what a sensor should read)."""
        return float((await asyncio.to_thread(self.control, f"signal {name}"))["value"])


@dataclass(frozen=True)
class Rig:
    url: str
    accounts: Mapping[str, str]
    """User name -> password."""
    faults: Faults | None = None
    """None against real hardware."""
    endpoints: Mapping[str, str] = field(default_factory=dict)

    @property
    def conductor(self) -> tuple[str, str]:
        return "conductor", self.accounts["conductor"]

    @property
    def approver(self) -> tuple[str, str] | None:
        password = self.accounts.get("approver")
        return None if password is None else ("approver", password)


@contextlib.contextmanager
def simulated_pad(
    pad_file: Path,
    directory: Path,
    *,
    speed: float = 1.0,
    seed: int = 0,
    stale_periods: float = 3.0,
    start_timeout_s: float = 60.0,
) -> Iterator[Rig]:
    """hw_sim and a controller on it, each in its own process; both stopped on exit."""
    with (
        hw_sim_process(
            pad_file, directory, speed=speed, seed=seed, start_timeout_s=start_timeout_s
        ) as (endpoints, faults),
        controller_process(
            pad_file,
            directory,
            endpoints=endpoints,
            speed=speed,
            stale_periods=stale_periods,
            start_timeout_s=start_timeout_s,
        ) as rig,
    ):
        yield dataclasses.replace(rig, faults=faults, endpoints=endpoints)


@contextlib.contextmanager
def hw_sim_process(
    pad_file: Path,
    directory: Path,
    *,
    devices: Sequence[str] = (),
    speed: float = 1.0,
    seed: int = 0,
    start_timeout_s: float = 60.0,
) -> Iterator[tuple[dict[str, str], Faults]]:
    """The simulator (every device, or those named): its endpoints and its fault handle."""
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "hw_sim", "--pad", str(pad_file),
        "--speed", str(speed), "--seed", str(seed), "--stop-on-eof",
    ]  # fmt: skip
    for device in devices:
        command += ["--device", device]
    with _process(command, directory / "hw_sim.log") as sim:
        assert sim.stdin is not None
        assert sim.stdout is not None
        endpoints = _first_line(sim, start_timeout_s, "the simulator")
        yield {str(k): str(v) for k, v in endpoints.items()}, Faults(sim.stdin, sim.stdout)


@contextlib.contextmanager
def controller_process(
    pad_file: Path,
    directory: Path,
    *,
    endpoints: Mapping[str, str] | None = None,
    speed: float = 1.0,
    stale_periods: float = 3.0,
    start_timeout_s: float = 60.0,
) -> Iterator[Rig]:
    """A controller on the endpoints given (devices the pad marks `simulated` and not
    given: on a simulator it starts itself), its API on a free port, accounts made for it."""
    directory.mkdir(parents=True, exist_ok=True)
    accounts = {name: secrets.token_urlsafe(12) for name in ACCOUNTS}
    users = directory / "users.json"
    UserStore.with_passwords(
        {name: (accounts[name], roles) for name, roles in ACCOUNTS.items()}
    ).save(users)
    command = [
        sys.executable, "-m", "groundseg", "controller", "--pad", str(pad_file),
        "--state-dir", str(directory / "state"), "--speed", str(speed),
        "--stale-periods", str(stale_periods),
        "--api", "127.0.0.1:0", "--users", str(users),
    ]  # fmt: skip
    for device, endpoint in (endpoints or {}).items():
        command += ["--endpoint", f"{device}={endpoint}"]
    with _process(command, directory / "controller.log") as controller:
        ready = _first_line(controller, start_timeout_s, "the controller")
        yield Rig(url=str(ready["console"]).rstrip("/"), accounts=accounts)


def existing_pad(url: str, accounts: Mapping[str, str]) -> Rig:
    """A controller already running (a bench's), with accounts made there."""
    return Rig(url=url.rstrip("/"), accounts=dict(accounts))


@contextlib.contextmanager
def _process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as errors:
        process = subprocess.Popen(  # noqa: S603  our own interpreter and modules
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()


def _first_line(process: subprocess.Popen[bytes], timeout_s: float, what: str) -> dict[str, Any]:
    """The JSON line a service prints once it is ready."""
    assert process.stdout is not None
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout_s)
    line = result[0] if result else b""
    if not line:
        process.kill()
        raise ProcedureError(f"{what} did not start within {timeout_s:g} s (see its log)")
    ready = json.loads(line)
    if not isinstance(ready, dict):
        raise ProcedureError(f"{what} printed {line!r} instead of its endpoints")
    return ready
