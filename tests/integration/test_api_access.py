"""The role x endpoint matrix, every cell, against the running API: a role the matrix does
not list gets 403 `forbidden` naming the roles that may; a role it lists gets past the
first check (the gate or the countdown may still refuse, for their own reasons)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import websockets

from groundseg.api import ACCESS, ApiLimits, routes_control, routes_read
from groundseg.config import PadDefinition
from tests.integration.api_rig import ROLES, ApiRig, operator_api

# One harmless request per endpoint: (method, path, body).
REQUESTS: dict[str, tuple[str, str, dict[str, object] | None]] = {
    "me": ("GET", "/api/me", None),
    "pad": ("GET", "/api/pad", None),
    "state": ("GET", "/api/state", None),
    "channels": ("GET", "/api/channels?match=lox.s1.*", None),
    "history": ("GET", "/api/history?channel=lox.s1.level.a&seconds=60", None),
    "alarms": ("GET", "/api/alarms", None),
    "events": ("GET", "/api/events?after=0&limit=10", None),
    "permissives": ("GET", "/api/permissives", None),
    "audit": ("GET", "/api/audit?limit=5", None),
    "users": ("GET", "/api/users", None),
    "countdown_start": ("POST", "/api/countdown/start", {}),
    "countdown_hold": ("POST", "/api/countdown/hold", {"reason": "matrix test"}),
    "countdown_resume": ("POST", "/api/countdown/resume", {}),
    "countdown_recycle": ("POST", "/api/countdown/recycle", {"to_t_s": -21600}),
    "countdown_scrub": ("POST", "/api/countdown/scrub", {"reason": "matrix test"}),
    "countdown_abort": ("POST", "/api/countdown/abort", {"reason": "matrix test"}),
    "countdown_poll": ("POST", "/api/countdown/poll", {"go": True}),
    "command_send": ("POST", "/api/commands/lox.s1.set_press_setpoint", {"argument": 2.4}),
    "command_arm": ("POST", "/api/commands/umb.mast.retract/arm", {}),
    "interlocks_check": ("GET", "/api/commands/lox.fast_fill_valve.open/check", None),
    "arming_approve": ("POST", "/api/armings/no-such-token/approve", {}),
    "arming_execute": ("POST", "/api/armings/no-such-token/execute", {}),
    "arming_disarm": ("POST", "/api/armings/no-such-token/disarm", {}),
    "alarm_acknowledge": ("POST", "/api/alarms/no.such.alarm/acknowledge", {}),
    "alarm_shelve": ("POST", "/api/alarms/no.such.alarm/shelve", {"for_s": 60}),
    "sessions_revoke": ("POST", "/api/sessions/revoke", {"username": "nobody"}),
    "logout": ("POST", "/api/logout", {}),
}
STREAM = "stream"


def test_every_endpoint_of_the_app_is_in_the_matrix_and_in_this_test() -> None:
    """A new endpoint cannot slip in without a row in the matrix and a cell test here."""
    operations = _operation_ids()
    assert operations - {"health", "login"} == set(ACCESS) - {STREAM}
    assert set(REQUESTS) | {STREAM} == set(ACCESS)


def _operation_ids() -> set[str]:
    return {
        route.operation_id  # type: ignore[attr-defined]
        for router in (routes_read.router, routes_control.router)
        for route in router.routes
    }


@pytest.fixture
async def rig(pad: PadDefinition, tmp_path: Path) -> object:
    # Generous limits: this test logs in often and sends many requests on purpose.
    limits = ApiLimits(logins_per_s=100, login_burst=100, commands_per_s=100, command_burst=100)
    async with operator_api(pad, tmp_path, limits=limits) as running:
        await running.launch.wait_fresh(within=15.0)
        yield running


async def test_every_cell_of_the_role_x_endpoint_matrix(rig: ApiRig) -> None:
    seen: dict[tuple[str, str], int] = {}
    for role in ROLES:
        for endpoint, (method, path, body) in REQUESTS.items():
            token = await rig.login(role) if endpoint != "logout" else await _fresh_login(rig, role)
            async with rig.client(token) as client:
                answer = await client.request(method, path, json=body)
            permitted = bool(set(ROLES[role]) & ACCESS[endpoint])
            refused_by_matrix = answer.status_code == 403 and answer.json()["error"] == "forbidden"
            assert refused_by_matrix != permitted, (role, endpoint, answer.status_code, answer.text)
            assert answer.status_code < 500, (role, endpoint, answer.text)
            if refused_by_matrix:
                assert endpoint in answer.json()["detail"]
            seen[(role, endpoint)] = answer.status_code
    assert len(seen) == len(ROLES) * len(REQUESTS)


async def _fresh_login(rig: ApiRig, role: str) -> str:
    rig.tokens.pop(role, None)
    token = await rig.login(role)
    rig.tokens.pop(role, None)
    return token


async def test_every_role_may_watch_the_stream(rig: ApiRig) -> None:
    ws_url = rig.url.replace("http://", "ws://") + "/api/stream"
    for role in ROLES:
        async with websockets.connect(ws_url) as socket:
            await socket.send(json.dumps({"token": await rig.login(role)}))
            hello = json.loads(await socket.recv())
            snapshot = json.loads(await socket.recv())
        assert hello["type"] == "hello"
        assert hello["user"] == role
        assert snapshot["type"] == "snapshot"
