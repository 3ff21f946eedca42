"""Commanding: the countdown, pad commands (through the gate), armings, alarms, sessions.

Every request is audited with its user. Countdown requests and pad commands are refused
when the audit log cannot be written, except hold and abort: stopping must always work.
Pad commands answer once verified by readback (or vetoed, refused, not verified); the
request waits for the gate, which is the round trip an operator sees.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from groundseg.api.auth import allow, context
from groundseg.api.context import ApiContext
from groundseg.api.errors import ApiError
from groundseg.api.schemas import (
    Answer,
    Argument,
    Empty,
    PollAnswer,
    Reason,
    RecyclePoint,
    Revoke,
    Shelve,
    StartRequest,
)
from groundseg.api.sessions import Session
from groundseg.sequencer.countdown import (
    Abort,
    CountdownState,
    Hold,
    Poll,
    Recycle,
    Resume,
    Scrub,
)
from groundseg.sequencer.machine import Operator, StartCount

__all__ = ["router"]

router = APIRouter(prefix="/api")
Api = Annotated[ApiContext, Depends(context)]
JSON = dict[str, Any]
CommandId = Annotated[str, Path(min_length=1, max_length=200)]
Token = Annotated[str, Path(min_length=1, max_length=200)]
AlarmId = Annotated[str, Path(min_length=1, max_length=200)]


def _limited(api: ApiContext, caller: Session) -> None:
    wait = api.command_limiter.take(caller.user.name, now=api.now())
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            f"{caller.user.name}: too many requests; wait {wait:.1f} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )


def _countdown(
    api: ApiContext, caller: Session, action: str, request: Operator, details: JSON, *, stop: bool
) -> JSON:
    if not stop:
        _limited(api, caller)
    # A stop is recorded after it took effect (the disk never delays it); anything else is
    # on disk first, or refused.
    runner = api.live().runner
    if not stop:
        api.record(caller.user.name, f"countdown.{action}", details, required=True)
    runner.request(request)
    if stop:
        api.record(caller.user.name, f"countdown.{action}", details, required=False)
    return runner.state()


@router.post("/countdown/start", operation_id="countdown_start", tags=["countdown"])
async def countdown_start(
    body: StartRequest, api: Api, caller: Annotated[Session, Depends(allow("countdown_start"))]
) -> JSON:
    close = (
        None if body.window_s is None else api.live().runner.count_clock.monotonic() + body.window_s
    )
    request = StartCount(by=caller.user.name, window_close=close)
    return _countdown(api, caller, "start", request, body.model_dump(), stop=False)


@router.post("/countdown/hold", operation_id="countdown_hold", tags=["countdown"])
async def countdown_hold(
    body: Reason, api: Api, caller: Annotated[Session, Depends(allow("countdown_hold"))]
) -> JSON:
    request = Hold(reason=body.reason, by=caller.user.name)
    return _countdown(api, caller, "hold", request, body.model_dump(), stop=True)


@router.post("/countdown/resume", operation_id="countdown_resume", tags=["countdown"])
async def countdown_resume(
    body: Empty, api: Api, caller: Annotated[Session, Depends(allow("countdown_resume"))]
) -> JSON:
    return _countdown(api, caller, "resume", Resume(by=caller.user.name), {}, stop=False)


@router.post("/countdown/recycle", operation_id="countdown_recycle", tags=["countdown"])
async def countdown_recycle(
    body: RecyclePoint, api: Api, caller: Annotated[Session, Depends(allow("countdown_recycle"))]
) -> JSON:
    request = Recycle(to_t_s=body.to_t_s, by=caller.user.name)
    return _countdown(api, caller, "recycle", request, body.model_dump(), stop=False)


@router.post("/countdown/scrub", operation_id="countdown_scrub", tags=["countdown"])
async def countdown_scrub(
    body: Reason, api: Api, caller: Annotated[Session, Depends(allow("countdown_scrub"))]
) -> JSON:
    request = Scrub(reason=body.reason, by=caller.user.name)
    return _countdown(api, caller, "scrub", request, body.model_dump(), stop=False)


@router.post("/countdown/abort", operation_id="countdown_abort", tags=["countdown"])
async def countdown_abort(
    body: Reason, api: Api, caller: Annotated[Session, Depends(allow("countdown_abort"))]
) -> JSON:
    request = Abort(reason=body.reason, by=caller.user.name)
    return _countdown(api, caller, "abort", request, body.model_dump(), stop=True)


@router.post("/countdown/poll", operation_id="countdown_poll", tags=["countdown"])
async def countdown_poll(
    body: PollAnswer, api: Api, caller: Annotated[Session, Depends(allow("countdown_poll"))]
) -> JSON:
    no_go = tuple(body.no_go)
    countdown = api.live().runner.sequencer.countdown
    # Checked before the audit record: a misnamed station is a typing error, not an answer.
    if countdown.state is CountdownState.POLLING and (
        problem := countdown.poll_answer_problem(body.go, no_go)
    ):
        field = f"body.no_go: {problem}"
        raise ApiError(422, "invalid", field, fields=[field])
    request = Poll(go=body.go, by=caller.user.name, no_go=no_go)
    return _countdown(api, caller, "poll", request, body.model_dump(), stop=False)


# -- pad commands ---------------------------------------------------------------------------


def _known(api: ApiContext, command: str) -> None:
    if command not in api.pad.commands:
        raise ApiError(404, "unknown_command", f"no command {command!r} on this pad")


@router.post("/commands/{command}", operation_id="command_send", tags=["commands"])
async def command_send(
    command: CommandId,
    body: Argument,
    api: Api,
    caller: Annotated[Session, Depends(allow("command_send"))],
) -> JSON:
    """An ordinary (or safing) command: the gate's checks, the write, the readback."""
    _known(api, command)
    _limited(api, caller)
    outcome = await api.live().gate.send(command, body.argument, user=caller.user, now=api.now())
    return {
        "command": outcome.command,
        "argument": outcome.argument,
        "verified_after_s": round(outcome.verified_after_s, 4),
    }


@router.get("/commands/{command}/check", operation_id="interlocks_check", tags=["commands"])
async def command_check(
    command: CommandId,
    api: Api,
    caller: Annotated[Session, Depends(allow("interlocks_check"))],
) -> JSON:
    """Whether the command's interlocks permit it now, and which withhold it and why.
    Nothing is sent: a bench proves its interlocks with this without risking an actuation."""
    _known(api, command)
    runner = api.live().runner
    vetoes = runner.monitor.vetoes(command, round(runner.clock.monotonic() * 1e9))
    return {
        "command": command,
        "permitted": not vetoes,
        "vetoes": [
            {"interlock": v.interlock, "reason": v.reason, "truth": v.truth.name} for v in vetoes
        ],
    }


@router.post("/commands/{command}/arm", operation_id="command_arm", tags=["commands"])
async def command_arm(
    command: CommandId,
    body: Argument,
    api: Api,
    caller: Annotated[Session, Depends(allow("command_arm"))],
) -> JSON:
    _known(api, command)
    _limited(api, caller)
    now = api.now()
    arming = api.live().gate.arm(command, body.argument, user=caller.user, now=now)
    return {
        "token": arming.token,
        "command": arming.command,
        "argument": arming.argument,
        "expires_in_s": round(arming.expires_at - now, 1),
        "two_person": api.live().gate.authority.policy(command).two_person,
    }


@router.post("/armings/{token}/approve", operation_id="arming_approve", tags=["commands"])
async def arming_approve(
    token: Token,
    body: Empty,
    api: Api,
    caller: Annotated[Session, Depends(allow("arming_approve"))],
) -> JSON:
    _limited(api, caller)
    arming = api.live().gate.approve(token, user=caller.user, now=api.now())
    return {"command": arming.command, "approved_by": arming.approved_by}


@router.post("/armings/{token}/execute", operation_id="arming_execute", tags=["commands"])
async def arming_execute(
    token: Token,
    body: Empty,
    api: Api,
    caller: Annotated[Session, Depends(allow("arming_execute"))],
) -> JSON:
    _limited(api, caller)
    outcome = await api.live().gate.execute(token, user=caller.user, now=api.now())
    return {
        "command": outcome.command,
        "argument": outcome.argument,
        "verified_after_s": round(outcome.verified_after_s, 4),
    }


@router.post("/armings/{token}/disarm", operation_id="arming_disarm", tags=["commands"])
async def arming_disarm(
    token: Token,
    body: Empty,
    api: Api,
    caller: Annotated[Session, Depends(allow("arming_disarm"))],
) -> Answer:
    arming = api.live().gate.authority.disarm(token, caller.user, now=api.now())
    api.record(caller.user.name, "disarm", {"command": arming.command}, required=False)
    return Answer(detail=f"{arming.command} disarmed")


# -- alarms and sessions --------------------------------------------------------------------


@router.post("/alarms/{alarm}/acknowledge", operation_id="alarm_acknowledge", tags=["alarms"])
async def alarm_acknowledge(
    alarm: AlarmId,
    body: Empty,
    api: Api,
    caller: Annotated[Session, Depends(allow("alarm_acknowledge"))],
) -> Answer:
    api.live().runner.acknowledge(alarm, by=caller.user.name)
    api.record(caller.user.name, "alarm.acknowledge", {"alarm": alarm}, required=False)
    return Answer(detail=f"{alarm} acknowledged")


@router.post("/alarms/{alarm}/shelve", operation_id="alarm_shelve", tags=["alarms"])
async def alarm_shelve(
    alarm: AlarmId,
    body: Shelve,
    api: Api,
    caller: Annotated[Session, Depends(allow("alarm_shelve"))],
) -> Answer:
    api.live().runner.shelve(alarm, by=caller.user.name, for_s=body.for_s)
    api.record(
        caller.user.name, "alarm.shelve", {"alarm": alarm, "for_s": body.for_s}, required=False
    )
    return Answer(detail=f"{alarm} shelved for {body.for_s:g} s")


@router.post("/sessions/revoke", operation_id="sessions_revoke", tags=["accounts"])
async def sessions_revoke(
    body: Revoke, api: Api, caller: Annotated[Session, Depends(allow("sessions_revoke"))]
) -> Answer:
    ended = api.sessions.revoke_user(body.username)
    api.record(caller.user.name, "sessions.revoke", {"user": body.username}, required=False)
    return Answer(detail=f"{ended} session(s) of {body.username} ended")
