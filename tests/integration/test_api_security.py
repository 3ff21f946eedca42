"""The operator API's security, over real sockets: tokens, two-person approval, limits,
unknown fields, audit with the user, TLS."""

from __future__ import annotations

import secrets
import ssl
from pathlib import Path

import httpx
import pytest

from groundseg.api import ApiLimits
from groundseg.config import PadDefinition, parse_pad
from tests.conftest import PAD_FILE
from tests.helpers import eventually
from tests.integration.api_rig import ApiRig, operator_api, password
from tests.services import make_certificates


@pytest.fixture
async def rig(pad: PadDefinition, tmp_path: Path) -> object:
    async with operator_api(pad, tmp_path) as running:
        yield running


async def test_a_request_without_a_token_is_refused_with_401(rig: ApiRig) -> None:
    async with rig.client() as anonymous:
        answer = await anonymous.get("/api/state")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json()["error"] == "unauthenticated"


async def test_responses_keep_the_console_out_of_frames_and_api_answers_out_of_caches(
    rig: ApiRig,
) -> None:
    async with rig.client() as anonymous:
        page = await anonymous.get("/")
        refused = await anonymous.get("/api/state")
    for answer in (page, refused):
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert len(answer.headers.get_list("X-Frame-Options")) == 1
    assert refused.headers["Cache-Control"] == "no-store"
    assert "no-store" not in page.headers.get("Cache-Control", ""), "the console may be cached"


async def test_forged_tokens_are_refused(rig: ApiRig) -> None:
    real = await rig.login("director")
    altered = real[:-1] + ("A" if real[-1] != "A" else "B")
    for forged in (secrets.token_urlsafe(32), altered, "", "Bearer", "x" * 500):
        async with rig.client(forged or None) as client:
            answer = await client.get("/api/state")
        assert answer.status_code == 401, forged


async def test_an_expired_token_is_refused(pad: PadDefinition, tmp_path: Path) -> None:
    async with operator_api(pad, tmp_path, session_hours=1.5 / 3600) as rig:
        token = await rig.login("operator")
        async with rig.client(token) as client:
            assert (await client.get("/api/me")).status_code == 200

            async def refused() -> bool:
                return (await client.get("/api/me")).status_code == 401

            await eventually(refused, within=10.0, what="the token refused once 1.5 s passed")


async def test_a_logged_out_or_revoked_token_is_refused(rig: ApiRig) -> None:
    async with rig.as_user("operator") as operator:
        assert (await operator.post("/api/logout", json={})).status_code == 200
        assert (await operator.get("/api/me")).status_code == 401
    rig.tokens.pop("operator")
    async with rig.as_user("operator") as operator, rig.as_user("admin") as admin:
        revoked = await admin.post("/api/sessions/revoke", json={"username": "operator"})
        assert revoked.status_code == 200
        assert (await operator.get("/api/me")).status_code == 401


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(rig: ApiRig) -> None:
    async with rig.client() as anonymous:
        wrong = await anonymous.post(
            "/api/login", json={"username": "director", "password": "not-it"}
        )
        unknown = await anonymous.post(
            "/api/login", json={"username": "nobody", "password": password("director")}
        )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_nobody_approves_their_own_two_person_command(rig: ApiRig) -> None:
    """The director arms the ignition arming command; only a different director may approve
    it, and only the one who armed it may execute it."""
    async with rig.as_user("director") as director, rig.as_user("director2") as second:
        armed = await director.post("/api/commands/umb.vehicle.ignition.arm/arm", json={})
        assert armed.status_code == 200, armed.text
        token = armed.json()["token"]
        assert armed.json()["two_person"] is True

        own = await director.post(f"/api/armings/{token}/approve", json={})
        assert own.status_code == 403
        assert "someone else" in own.json()["detail"]

        early = await director.post(f"/api/armings/{token}/execute", json={})
        assert early.status_code == 403
        assert "approval" in early.json()["detail"]

        approved = await second.post(f"/api/armings/{token}/approve", json={})
        assert approved.status_code == 200, approved.text
        assert approved.json()["approved_by"] == "director2"

        not_theirs = await second.post(f"/api/armings/{token}/execute", json={})
        assert not_theirs.status_code == 403
        assert "only director may execute" in not_theirs.json()["detail"]

        state = (await director.get("/api/state")).json()
        [arming] = state["armings"]
        assert arming["approved_by"] == "director2"
        assert arming["armed_by"] == "director"


async def test_an_operator_cannot_arm_a_director_s_hazardous_command(rig: ApiRig) -> None:
    async with rig.as_user("operator") as operator:
        answer = await operator.post("/api/commands/umb.mast.retract/arm", json={})
    assert answer.status_code == 403
    assert answer.json()["error"] == "not_authorized"
    assert "director" in answer.json()["detail"]


async def test_unknown_fields_and_wrong_types_are_refused_naming_the_field(rig: ApiRig) -> None:
    async with rig.as_user("operator") as operator:
        extra = await operator.post("/api/countdown/hold", json={"reason": "x", "force": True})
        wrong = await operator.post("/api/alarms/a/shelve", json={"for_s": "forever"})
        missing = await operator.post("/api/countdown/hold", json={})
        state = (await operator.get("/api/state")).json()
    assert extra.status_code == wrong.status_code == missing.status_code == 422
    assert "force" in extra.json()["detail"]
    assert "for_s" in wrong.json()["detail"]
    assert "reason" in missing.json()["detail"]
    assert state["state"] == "ready", "a refused request changed nothing"


async def test_a_body_over_the_size_limit_is_refused_before_it_is_read(rig: ApiRig) -> None:
    async with rig.as_user("operator") as operator:
        answer = await operator.post(
            "/api/countdown/hold",
            content=b'{"reason": "' + b"x" * 20_000 + b'"}',
            headers={"content-type": "application/json"},
        )
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"


async def test_commands_are_rate_limited_but_a_hold_never_is(
    pad: PadDefinition, tmp_path: Path
) -> None:
    limits = ApiLimits(commands_per_s=0.01, command_burst=2)
    async with (
        operator_api(pad, tmp_path, limits=limits) as rig,
        rig.as_user("director") as director,
    ):
        await rig.launch.wait_fresh(within=15.0)
        answers = [
            await director.post("/api/commands/lox.s1.set_press_setpoint", json={"argument": 2.4})
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert int(answers[2].headers["Retry-After"]) > 0
        hold = await director.post("/api/countdown/hold", json={"reason": "rate test"})
        assert hold.status_code == 409  # not counting: the countdown's refusal, not the limit
        assert hold.json()["error"] == "countdown"


async def test_password_guessing_is_slowed_per_address(rig: ApiRig) -> None:
    async with rig.client() as anonymous:
        statuses = [
            (
                await anonymous.post(
                    "/api/login", json={"username": "director", "password": f"guess-{n}"}
                )
            ).status_code
            for n in range(8)
        ]
    assert statuses[:5] == [401] * 5
    assert 429 in statuses[5:]


async def test_every_command_is_audited_with_its_user(rig: ApiRig) -> None:
    await rig.launch.wait_fresh(within=15.0)
    async with rig.as_user("operator") as operator, rig.as_user("director") as director:
        sent = await operator.post(
            "/api/commands/lox.s1.set_press_setpoint", json={"argument": 2.2}
        )
        assert sent.status_code == 200, sent.text
        started = await director.post("/api/countdown/start", json={})
        assert started.status_code == 200, started.text
        held = await operator.post("/api/countdown/hold", json={"reason": "audit test"})
        assert held.status_code == 200, held.text
        records = (await director.get("/api/audit?limit=50")).json()
    actions = [(r["actor"], r["action"], r["details"].get("command")) for r in records]
    assert ("operator", "send", "lox.s1.set_press_setpoint") in actions
    assert ("operator", "verified", "lox.s1.set_press_setpoint") in actions
    assert ("director", "countdown.start", None) in actions
    assert ("operator", "countdown.hold", None) in actions
    hold = next(r for r in records if r["action"] == "countdown.hold")
    assert hold["details"]["reason"] == "audit test"


async def test_without_an_audit_log_commands_are_refused_but_a_hold_works(rig: ApiRig) -> None:
    await rig.launch.wait_fresh(within=15.0)
    async with rig.as_user("director") as director:
        assert (await director.post("/api/countdown/start", json={})).status_code == 200
        rig.launch.controller.gate.audit = None  # type: ignore[union-attr]
        context = rig.launch.controller.api_server.app.state.api  # type: ignore[union-attr]
        context.audit = None
        command = await director.post(
            "/api/commands/lox.s1.set_press_setpoint", json={"argument": 2.4}
        )
        hold = await director.post("/api/countdown/hold", json={"reason": "no audit"})
        resume = await director.post("/api/countdown/resume", json={})
    assert command.status_code == 422
    assert "audit" in command.json()["detail"]
    assert hold.status_code == 200
    assert hold.json()["state"] == "holding"
    assert resume.status_code == 503
    assert resume.json()["error"] == "audit_unavailable"


async def test_the_api_serves_https_with_the_site_s_certificate(
    pad: PadDefinition, tmp_path: Path
) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certificates(certs)
    trust = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    async with operator_api(
        pad,
        tmp_path / "state",
        tls=(certs / "broker.crt", certs / "broker.key"),
        verify=trust,
    ) as rig:
        assert rig.url.startswith("https://127.0.0.1:")
        async with rig.client() as client:
            health = await client.get("/api/health")
        assert health.status_code == 200
        await rig.login("viewer")
        plain = rig.url.replace("https://", "http://")
        async with httpx.AsyncClient(base_url=plain) as cleartext:
            with pytest.raises(httpx.HTTPError):
                await cleartext.get("/api/health")


SHIPPED_HOLD = 'holds = [{ at = "T-40min", duration = "10min", poll = '
EARLY_HOLD = 'holds = [{ at = "T-5h59min58s", duration = "1s", poll = '


async def test_a_no_go_must_name_stations_of_the_poll_and_a_misnamed_one_changes_nothing(
    tmp_path: Path,
) -> None:
    """The shipped pad's built-in hold, moved two seconds after the start: its poll lists
    who answers; a NO-GO naming someone else is refused naming the field, and not audited."""
    text = PAD_FILE.read_text()
    assert SHIPPED_HOLD in text
    early = parse_pad(text.replace(SHIPPED_HOLD, EARLY_HOLD), source=str(PAD_FILE))
    async with operator_api(early, tmp_path) as rig, rig.as_user("director") as director:
        await rig.launch.wait_fresh(within=15.0)
        assert (await director.post("/api/countdown/start", json={})).status_code == 200

        async def polling() -> bool:
            return bool((await director.get("/api/state")).json()["state"] == "polling")

        await eventually(polling, within=15.0, what="the built-in hold's poll")
        state = (await director.get("/api/state")).json()
        assert state["poll"] == ["director", "propellant", "weather", "range"]

        misnamed = await director.post(
            "/api/countdown/poll", json={"go": False, "no_go": ["weather", "pad"]}
        )
        assert misnamed.status_code == 422, misnamed.text
        assert misnamed.json()["fields"] == [
            "body.no_go: not a station of this poll: pad "
            "(the stations: director, propellant, weather, range)"
        ]
        assert (await director.get("/api/state")).json()["state"] == "polling"

        answered = await director.post(
            "/api/countdown/poll", json={"go": False, "no_go": ["weather"]}
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["state"] == "holding"
        assert answered.json()["hold_reason"] == "NO-GO: weather"
        polls = [
            r["details"]
            for r in (await director.get("/api/audit?limit=50")).json()
            if r["action"] == "countdown.poll"
        ]
        assert polls == [{"go": False, "no_go": ["weather"]}]
