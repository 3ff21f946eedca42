"""Real services for integration tests, started from Debian's packages on free loopback ports.

Each service runs in its own temporary directory, is stopped by its PID (never by name), and
can be killed and restarted on the same port to test outages.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "InfluxDB1",
    "Mosquitto",
    "VictoriaMetrics",
    "free_port",
    "make_certificates",
    "wait_for_port",
]


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


DEPLOY_ACL = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto.acl"
USERS = ("groundseg-controller", "groundseg-ingest", "viewer")


class Mosquitto:
    """A Mosquitto broker of our own, with persistence in its directory; `secure` runs it as
    deployed: TLS (a CA made for the test), a password per user and deploy/'s ACL file."""

    def __init__(self, directory: Path, *, secure: bool = False) -> None:
        executable = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(executable).exists():
            raise RuntimeError("mosquitto is installed by `make test` (Debian package mosquitto)")
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.passwords = {user: f"{user}-secret" for user in USERS} if secure else {}
        self.ca_file = directory / "certs" / "ca.crt" if secure else None
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    *(self._secure_settings() if secure else ["allow_anonymous true"]),
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

    def _secure_settings(self) -> list[str]:
        certs = self.directory / "certs"
        certs.mkdir(exist_ok=True)
        make_certificates(certs)
        passwd = self.directory / "passwd"
        for user, password in self.passwords.items():
            create = [] if passwd.exists() else ["-c"]
            subprocess.run(
                ["mosquitto_passwd", "-b", *create, str(passwd), user, password],
                check=True,
                capture_output=True,
            )
        passwd.chmod(0o600)
        return [
            f"cafile {certs / 'ca.crt'}",
            f"certfile {certs / 'broker.crt'}",
            f"keyfile {certs / 'broker.key'}",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {DEPLOY_ACL}",
        ]

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
    def running(cls, directory: Path, *, secure: bool = False) -> Iterator[Mosquitto]:
        broker = cls(directory, secure=secure)
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


def make_certificates(certs: Path) -> None:
    """A throwaway CA and a broker certificate for 127.0.0.1 (openssl, Debian's)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=certs)

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=groundseg test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
        "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    (certs / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "broker.crt", "-extfile", "san.ext",
    )  # fmt: skip


class InfluxDB1:
    """Debian's InfluxDB 1.6 (`/write` and InfluxQL `/query`), data in its own directory."""

    def __init__(self, directory: Path, database: str = "groundseg") -> None:
        executable = shutil.which("influxd") or "/usr/bin/influxd"
        if not Path(executable).exists():
            raise RuntimeError("influxd is installed by `make test` (Debian package influxdb)")
        self.executable = executable
        self.directory = directory
        self.database = database
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "influxdb.conf"
        self.config.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{directory}/meta"
[data]
  dir = "{directory}/data"
  wal-dir = "{directory}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-body-size = 0
[logging]
  level = "error"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "-config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, within=30.0, process=self.process)
        self.query(f'CREATE DATABASE "{self.database}"')

    def query(self, text: str) -> dict[str, Any]:
        body = urllib.parse.urlencode({"q": text, "db": self.database, "epoch": "ns"}).encode()
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/query", data=body, timeout=30) as response:  # noqa: S310  our own loopback server
                    result: dict[str, Any] = json.loads(response.read())
                    return result
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # the HTTP port opens before the service accepts queries

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    @classmethod
    @contextlib.contextmanager
    def running(cls, directory: Path) -> Iterator[InfluxDB1]:
        server = cls(directory)
        server.start()
        try:
            yield server
        finally:
            server.stop()


class VictoriaMetrics:
    """Debian's VictoriaMetrics, with retention long enough for replays of old data and
    deduplication so a sample written twice is stored once (DESIGN section 7)."""

    def __init__(self, directory: Path) -> None:
        executable = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
        if not Path(executable).exists():
            raise RuntimeError(
                "victoria-metrics is installed by `make test` (Debian package victoria-metrics)"
            )
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                f"-storageDataPath={self.directory}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                "-dedup.minScrapeInterval=1ms",
                "-loggerLevel=ERROR",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, within=30.0, process=self.process)

    def export(self, match: str) -> list[dict[str, Any]]:
        """Every series matching, as /api/v1/export returns them (after a flush)."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=30):  # noqa: S310  our own loopback server
            pass
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=60) as response:  # noqa: S310  our own loopback server
            return [json.loads(line) for line in response.read().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    @classmethod
    @contextlib.contextmanager
    def running(cls, directory: Path) -> Iterator[VictoriaMetrics]:
        server = cls(directory)
        server.start()
        try:
            yield server
        finally:
            server.stop()
