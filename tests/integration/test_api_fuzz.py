"""Schemathesis against the running API's own OpenAPI spec: whatever it sends, the
controller answers with a client error or a success, never a server error.

The controller runs on the simulated pad in a thread of its own (its own event loop), and
schemathesis calls it over a real socket as a director, with every request it can derive
from the spec: wrong types, unknown fields, extreme numbers, odd strings in paths.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from groundseg.api import ApiLimits
from groundseg.config import load_pad
from tests.conftest import PAD_FILE
from tests.integration.api_rig import ApiRig, operator_api, password


class LiveApi:
    """The rig in a background thread, until `stop()`."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.rig: ApiRig | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="live-api", daemon=True)
        self.failure: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread, which fails on it
            self.failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        limits = ApiLimits(
            logins_per_s=1000, login_burst=1000, commands_per_s=1000, command_burst=1000
        )
        async with operator_api(load_pad(PAD_FILE), self.state_dir, limits=limits) as rig:
            self.rig = rig
            self._ready.set()
            await self._stop.wait()

    def start(self) -> ApiRig:
        self._thread.start()
        assert self._ready.wait(60), "the API did not start within 60 s"
        if self.failure is not None:
            raise self.failure
        assert self.rig is not None
        return self.rig

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive(), "the API did not stop within 60 s"


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiRig]:
    live = LiveApi(tmp_path_factory.mktemp("fuzzed-controller"))
    try:
        yield live.start()
    finally:
        live.stop()


@pytest.fixture(scope="module")
def director_token(live_api: ApiRig) -> str:
    answer = requests.post(
        f"{live_api.url}/api/login",
        json={"username": "director", "password": password("director")},
        timeout=10,
    )
    answer.raise_for_status()
    token: str = answer.json()["token"]
    return token


MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_no_request_derived_from_the_spec_gets_a_server_error(
    live_api: ApiRig, director_token: str, mode: schemathesis.GenerationMode
) -> None:
    """Every operation, valid requests and invalid ones (schemathesis's pytest plugin does
    not run under this pytest, so the operations are walked here)."""
    api_schema = schemathesis.openapi.from_url(f"{live_api.url}/api/openapi.json")
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), f"the spec does not load: {result.err()}"
        operations.append(result.ok())
    assert len(operations) >= 25
    headers = {"Authorization": f"Bearer {director_token}"}
    called: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=10,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)

        try:
            call()
        except Unsatisfiable:
            # No invalid request exists for it (an operation with no parameters and no body).
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            continue
        called.append(operation.label)
    assert len(called) >= len(operations) // 2, called
