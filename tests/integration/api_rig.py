"""A controller on the simulated pad serving the operator API on a free loopback port, and
an HTTP client per role: the operator's side of the tests, over real sockets."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from groundseg.api import ApiLimits, ApiSettings, UserStore
from groundseg.config import PadDefinition
from groundseg.demo import DEMO_USERS
from groundseg.simulator import SimulatorHandle, simulator
from tests.conftest import PAD_FILE
from tests.integration.launch_rig import Launch, launch_controller

__all__ = ["ROLES", "ApiRig", "operator_api", "password", "rig_users"]

ROLES = DEMO_USERS
"""One account per role, and a second director for two-person commands."""


def password(user: str) -> str:
    return f"{user}-test-password"


@functools.cache
def rig_users() -> UserStore:
    """Hashing is slow on purpose (argon2): once per test session."""
    return UserStore.with_passwords(
        {name: (password(name), roles) for name, roles in ROLES.items()}
    )


@dataclass
class ApiRig:
    launch: Launch
    sim: SimulatorHandle
    url: str
    verify: Any = True
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, verify=self.verify, timeout=30)

    async def login(self, user: str) -> str:
        if user not in self.tokens:
            async with self.client() as anonymous:
                answer = await anonymous.post(
                    "/api/login", json={"username": user, "password": password(user)}
                )
            assert answer.status_code == 200, answer.text
            self.tokens[user] = answer.json()["token"]
        return self.tokens[user]

    @contextlib.asynccontextmanager
    async def as_user(self, user: str) -> AsyncIterator[httpx.AsyncClient]:
        async with self.client(await self.login(user)) as client:
            yield client


@contextlib.asynccontextmanager
async def operator_api(
    pad: PadDefinition,
    state_dir: Path,
    *,
    speed: float = 1.0,
    limits: ApiLimits | None = None,
    session_hours: float = 8.0,
    tls: tuple[Path, Path] | None = None,
    verify: Any = True,
    endpoints: Mapping[str, str] | None = None,
    display_hz: float = 10.0,
    stale_periods: float = 3.0,
) -> AsyncIterator[ApiRig]:
    """The simulated pad, a controller with the operator API on 127.0.0.1:<free port>."""
    settings = ApiSettings(
        host="127.0.0.1",
        port=0,
        session_hours=session_hours,
        display_hz=display_hz,
        limits=limits or ApiLimits(),
        tls_cert=tls[0] if tls else None,
        tls_key=tls[1] if tls else None,
    )
    async with (
        simulator(PAD_FILE, speed=speed) as sim,
        launch_controller(
            pad,
            {**sim.endpoints, **(endpoints or {})},
            state_dir,
            users=rig_users(),
            api=settings,
            count_speed=speed,
            stale_periods=stale_periods,
        ) as launch,
    ):
        server = launch.controller.api_server
        assert server is not None
        yield ApiRig(launch=launch, sim=sim, url=server.url.rstrip("/"), verify=verify)
