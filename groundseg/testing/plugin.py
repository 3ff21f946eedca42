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

import dataclasses
import json
import os
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from groundseg.config import load_pad
from groundseg.testing.bench import Bench
from groundseg.testing.dry import DryBench, DryFaults
from groundseg.testing.expect import ProcedureError
from groundseg.testing.rig import Faults, Rig, existing_pad, simulated_pad

__all__ = [
    "bench",
    "faults",
    "groundseg_rig",
    "groundseg_tokens",
    "pytest_addoption",
    "pytest_runtest_makereport",
]

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
        "--groundseg-dry-run",
        action="store_true",
        help="walk the procedures: note every command and wait, connect to nothing",
    )
    group.addoption(
        "--groundseg-record",
        default=None,
        help="append each step's log, commands and touched channels here (JSON lines)",
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
def groundseg_tokens(groundseg_rig: Rig) -> dict[str, str]:
    """One session per account for the whole run: the controller limits logins."""

    tokens = {}
    with httpx.Client(base_url=groundseg_rig.url, timeout=30) as http:
        for name, password in groundseg_rig.accounts.items():
            answer = http.post("/api/login", json={"username": name, "password": password})
            if answer.status_code != 200:
                raise ProcedureError(
                    f"{groundseg_rig.url}: login as {name!r} refused: {answer.text}"
                )
            tokens[name] = str(answer.json()["token"])
    return tokens


@pytest_asyncio.fixture
async def bench(request: pytest.FixtureRequest) -> AsyncIterator[Bench]:
    """A connection to the controller, as the test conductor (in a dry run, a bench that
    notes what it would do and connects to nothing)."""
    option = request.config.getoption
    record = option("--groundseg-record")
    if option("--groundseg-dry-run"):
        dry = _dry_bench(request)
        yield dry  # type: ignore[misc]  # the same methods; nothing behind them
        if record:
            _record(Path(str(record)), request.node, dry)
        return
    rig: Rig = request.getfixturevalue("groundseg_rig")
    tokens: dict[str, str] = request.getfixturevalue("groundseg_tokens")
    user = str(option("--groundseg-user"))
    approver = str(option("--groundseg-approver") or "approver")
    async with Bench.connect(
        rig.url, token=tokens[user], approver_token=tokens.get(approver)
    ) as connected:
        yield connected
        if record:
            _record(Path(str(record)), request.node, connected)


@pytest.fixture
def faults(request: pytest.FixtureRequest) -> Iterator[Faults]:
    """Fault injection on the simulator; every fault is cleared after the test."""
    if request.config.getoption("--groundseg-dry-run"):
        yield DryFaults(_dry_bench(request))  # type: ignore[misc]
        return
    rig: Rig = request.getfixturevalue("groundseg_rig")
    if rig.faults is None:
        raise ProcedureError("fault injection needs the simulated target (--groundseg-target sim)")
    yield rig.faults
    rig.faults.control("clear all")


_DRY = pytest.StashKey[DryBench]()


def _dry_bench(request: pytest.FixtureRequest) -> DryBench:
    """The test's one dry bench, whichever of its fixtures asks first."""
    dry: DryBench | None = request.node.stash.get(_DRY, None)
    if dry is None:
        dry = DryBench(load_pad(str(request.config.getoption("--groundseg-pad"))))
        request.node.stash[_DRY] = dry
    return dry


_CALL = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL] = report
    return report


def _record(path: Path, item: pytest.Item, bench: Bench | DryBench) -> None:
    """One step's line for the procedure report."""
    report = item.stash.get(_CALL, None)
    function = getattr(item, "function", None)
    doc = (function.__doc__ or "").strip().splitlines() if function else []
    line = {
        "test": item.nodeid,
        "name": item.name,
        "doc": doc[0] if doc else "",
        "outcome": report.outcome if report else "error",
        "duration_s": round(report.duration, 3) if report else 0.0,
        "failure": report.longreprtext if report and report.failed else "",
        "log": bench.log,
        "sent": [dataclasses.asdict(s) for s in bench.sent],
        "touched": bench.touched,
    }
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
