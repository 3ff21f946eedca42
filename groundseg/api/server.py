"""Serving the operator API inside the controller's task group (uvicorn, optionally TLS).

The listening socket is bound before anything is served, so `port=0` works and `ready`
tells the bound port. uvicorn's own signal handling is left out: the controller's process
owns SIGINT and SIGTERM, and stopping the server is cancelling its task.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import uvicorn
from fastapi import FastAPI

from groundseg.api.context import ApiLimits
from groundseg.errors import ConfigError, ConfigProblem

__all__ = ["ApiServer", "ApiSettings"]

log = structlog.get_logger("groundseg.api")


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 8443
    """0: any free port (tests, the demo)."""
    users_file: Path | None = None
    """None: the accounts are given in code (the demo's)."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    session_hours: float = 8.0
    display_hz: float = 10.0
    limits: ApiLimits = field(default_factory=ApiLimits)

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError(
                "--tls-cert/--tls-key",
                [ConfigProblem(key="", expected="both a certificate and its key, or neither")],
            )

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class ApiServer:
    def __init__(self, app: FastAPI, settings: ApiSettings) -> None:
        self.app = app
        self.settings = settings
        self.ready = asyncio.Event()
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = self.settings.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 (a display choice)
        return f"{self.settings.scheme}://{shown}:{self.port}/"

    async def run(self) -> None:
        settings = self.settings
        if settings.tls_cert is not None:
            _check_tls(settings.tls_cert, settings.tls_key)
        listener = _listen(settings.host, settings.port)
        self.port = listener.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="websockets-sansio",
            ws_max_size=64 * 1024,
            timeout_graceful_shutdown=2,
            ssl_certfile=settings.tls_cert,
            ssl_keyfile=settings.tls_key,
            server_header=False,
        )
        server = _Server(config)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(server.serve(sockets=[listener]), name="api-serve")
                await server.listening.wait()
                self.ready.set()
                log.info("operator API serving", url=self.url)
        except asyncio.CancelledError:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await server.shutdown(sockets=[listener])
            raise
        finally:
            listener.close()


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose connections send at once.

    asyncio turns Nagle's algorithm off only for sockets whose protocol number says TCP,
    and `socket.create_server` leaves it 0: every response, written as headers then body,
    then waited for the client's delayed acknowledgement, 40 ms a request."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind((host, port))
        listener.listen(128)
        listener.setblocking(False)
    except OSError:
        listener.close()
        raise
    return listener


def _check_tls(cert: Path, key: Path | None) -> None:
    """A certificate problem named at start, not as a failed handshake later."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            str(cert), [ConfigProblem(key="", expected=f"a certificate and key that load ({exc})")]
        ) from None
