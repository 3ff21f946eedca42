"""The pytest plugin: procedures get a connected `bench`, and `faults` on the simulator.

    pytest procedures/ --groundseg-pad pads/baiterek.toml                 # on hw_sim
    pytest procedures/ --groundseg-target bench --groundseg-url https://bench-7:8443 \\
        --groundseg-user conductor        # password in GROUNDSEG_PASSWORD

With the simulated target (the default) one simulator and one controller serve the whole
session, started on free loopback ports; each test gets its own connection. Against a
bench, the controller is the bench's own; a test asking for `faults` there fails, saying
why (a bench has no fault injection), rather than being skipped.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from groundseg.testing.bench import Bench, login
from groundseg.testing.expect import ProcedureError
from groundseg.testing.rig import Faults, Rig, existing_pad, simulated_pad

__all__ = ["bench", "faults", "groundseg_rig", "groundseg_tokens", "pytest_addoption"]

TARGETS = ("sim", "bench")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("groundseg", "groundseg test-bench procedures")
    group.addoption(
        "--groundseg-target",
        choices=TARGETS,
        default=os.environ.get("GROUNDSEG_TARGET", "sim"),
        help="sim: start hw_sim and a controller; bench: connect to --groundseg-url",
    )
    group.addoption(
        "--groundseg-pad",
        default=os.environ.get("GROUNDSEG_PAD", "pads/baiterek.toml"),
        help="pad definition of the simulated target",
    )
    group.addoption("--groundseg-url", default=os.environ.get("GROUNDSEG_URL"))
    group.addoption("--groundseg-user", default=os.environ.get("GROUNDSEG_USER", "conductor"))
    group.addoption(
        "--groundseg-approver",
        default=os.environ.get("GROUNDSEG_APPROVER"),
        help="second person for two-person commands (password in GROUNDSEG_APPROVER_PASSWORD)",
    )
    group.addoption(
        "--groundseg-speed",
        type=float,
        default=float(os.environ.get("GROUNDSEG_SPEED", "1")),
        help="the simulated plant's speed (and the count clock's)",
    )


@pytest.fixture(scope="session")
def groundseg_rig(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rig]:
    """The controller the session's procedures run against."""
    option = request.config.getoption
    if option("--groundseg-target") == "bench":
        url = option("--groundseg-url")
        if not url:
            raise ProcedureError("--groundseg-target bench needs --groundseg-url")
        accounts = {str(option("--groundseg-user")): os.environ.get("GROUNDSEG_PASSWORD", "")}
        approver = option("--groundseg-approver")
        if approver:
            accounts[str(approver)] = os.environ.get("GROUNDSEG_APPROVER_PASSWORD", "")
        yield existing_pad(str(url), accounts)
        return
    with simulated_pad(
        Path(str(option("--groundseg-pad"))),
        tmp_path_factory.mktemp("groundseg-rig"),
        speed=float(option("--groundseg-speed")),
    ) as rig:
        yield rig


@pytest.fixture(scope="session")
def groundseg_tokens(request: pytest.FixtureRequest, groundseg_rig: Rig) -> dict[str, str]:
    """One session per account for the whole run: the controller limits logins."""

    async def log_in() -> dict[str, str]:
        async with httpx.AsyncClient(base_url=groundseg_rig.url, timeout=30) as http:
            return {
                name: await login(http, name, password)
                for name, password in groundseg_rig.accounts.items()
            }

    return asyncio.run(log_in())


@pytest_asyncio.fixture
async def bench(
    request: pytest.FixtureRequest, groundseg_rig: Rig, groundseg_tokens: dict[str, str]
) -> AsyncIterator[Bench]:
    """A connection to the controller, as the test conductor."""
    option = request.config.getoption
    user = str(option("--groundseg-user"))
    approver = str(option("--groundseg-approver") or "approver")
    async with Bench.connect(
        groundseg_rig.url,
        token=groundseg_tokens[user],
        approver_token=groundseg_tokens.get(approver),
    ) as connected:
        yield connected


@pytest.fixture
def faults(groundseg_rig: Rig) -> Iterator[Faults]:
    """Fault injection on the simulator; every fault is cleared after the test."""
    if groundseg_rig.faults is None:
        raise ProcedureError("fault injection needs the simulated target (--groundseg-target sim)")
    yield groundseg_rig.faults
    groundseg_rig.faults.control("clear all")
