"""Real services for integration tests, started from Debian's packages on free loopback ports.

Each service runs in its own temporary directory, is stopped by its PID (never by name), and
can be killed and restarted on the same port to test outages.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Mosquitto", "free_port", "wait_for_port"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(
    port: int, *, within: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before listening on {port}"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            return
        time.sleep(0.02)  # polling a port for a service we just started, under a deadline
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {within:g} s")


class Mosquitto:
    """A Mosquitto broker of our own, with persistence in its directory."""

    def __init__(self, directory: Path) -> None:
        executable = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(executable).exists():
            raise RuntimeError("mosquitto is installed by `make test` (Debian package mosquitto)")
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {directory}/",
                    "autosave_interval 1",
                    "max_queued_messages 1000000",
                    "max_inflight_messages 0",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    # Started as root, mosquitto would switch to its own user and lose write
                    # access to this directory (DESIGN section 7).
                    "user root" if os.geteuid() == 0 else "",
                    "",
                ]
            )
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "-c", str(self.config)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, within=10.0, process=self.process)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    @classmethod
    @contextlib.contextmanager
    def running(cls, directory: Path) -> Iterator[Mosquitto]:
        broker = cls(directory)
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()
