"""Reading: who am I, the pad, the countdown, channels, history, alarms, events, the
permissive matrix, the audit trail, the accounts; and logging in and out."""

from __future__ import annotations

import asyncio
import fnmatch
import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from groundseg.api.access import ACCESS
from groundseg.api.auth import allow, context
from groundseg.api.context import ApiContext
from groundseg.api.errors import ApiError
from groundseg.api.schemas import Answer, Empty, Login
from groundseg.api.sessions import Session
from groundseg.api.views import pad_view

__all__ = ["router"]

router = APIRouter(prefix="/api")
Api = Annotated[ApiContext, Depends(context)]
JSON = dict[str, Any]


@router.get("/health", operation_id="health", tags=["reading"])
async def health(api: Api) -> JSON:
    """Alive and serving (no token needed)."""
    return {"ok": True, "pad": api.pad.name}


@router.post("/login", operation_id="login", tags=["session"])
async def login(body: Login, request: Request, api: Api) -> JSON:
    address = request.client.host if request.client else "unknown"
    wait = api.login_limiter.take(address, now=api.now())
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            "too many login attempts; wait and try again",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    # argon2 is slow on purpose (tens of milliseconds of CPU): on the event loop it would
    # hold up the polls and the sequencer, so it runs in a thread (argon2 releases the GIL),
    # a few at a time.
    async with api.password_checks:
        user = await asyncio.to_thread(api.users.authenticate, body.username, body.password)
    if user is None:
        api.record(body.username, "login.refused", {"address": address}, required=False)
        raise ApiError(401, "unauthenticated", "wrong user name or password")
    token, session = api.sessions.start(user, now=api.now())
    api.record(user.name, "login", {"address": address}, required=False)
    return {
        "token": token,
        "expires_in_s": round(session.remaining(api.now()), 1),
        "user": user.name,
        "roles": sorted(user.roles),
    }


@router.post("/logout", operation_id="logout", tags=["session"])
async def logout(
    body: Empty, request: Request, api: Api, caller: Annotated[Session, Depends(allow("logout"))]
) -> Answer:
    api.sessions.end(request.state.token)
    api.record(caller.user.name, "logout", {}, required=False)
    return Answer(detail="logged out")


@router.get("/me", operation_id="me", tags=["session"])
async def me(api: Api, caller: Annotated[Session, Depends(allow("me"))]) -> JSON:
    return {
        "user": caller.user.name,
        "roles": sorted(caller.user.roles),
        "expires_in_s": round(caller.remaining(api.now()), 1),
        # The matrix itself, so a console greys out what would be refused without a copy.
        "access": {endpoint: sorted(roles) for endpoint, roles in ACCESS.items()},
    }


@router.get("/pad", operation_id="pad", tags=["reading"])
async def pad(api: Api, caller: Annotated[Session, Depends(allow("pad"))]) -> JSON:
    return pad_view(api.pad, api.plan, api.authority)


@router.get("/state", operation_id="state", tags=["reading"])
async def state(api: Api, caller: Annotated[Session, Depends(allow("state"))]) -> JSON:
    return api.desk.state()


@router.get("/channels", operation_id="channels", tags=["reading"])
async def channels(
    api: Api,
    caller: Annotated[Session, Depends(allow("channels"))],
    match: Annotated[str, Query(max_length=200)] = "*",
) -> list[JSON]:
    latest = api.hub.latest
    now_s = api.hub.now()
    out = []
    for index, channel_id in enumerate(api.hub.channel_ids):
        if not fnmatch.fnmatchcase(channel_id, match):
            continue
        value = float(latest.value[index])
        seen = latest.updates[index] > 0
        out.append(
            {
                "id": channel_id,
                "value": None if math.isnan(value) or not seen else value,
                "quality": int(latest.quality[index]),
                "age_s": round(now_s - latest.time_ns[index] / 1e9, 3) if seen else None,
            }
        )
    return out


@router.get("/history", operation_id="history", tags=["reading"])
async def history(
    api: Api,
    caller: Annotated[Session, Depends(allow("history"))],
    channel: Annotated[str, Query(min_length=1, max_length=200)],
    seconds: Annotated[float, Query(gt=0, le=86400)] = 900.0,
) -> JSON:
    index = api.hub.index(channel)
    if index is None:
        raise ApiError(404, "unknown_channel", f"no channel {channel!r} on this pad")
    times, values = api.hub.history.channel(index, seconds=seconds, now_unix=api.hub.now())
    return {"channel": channel, "t": times, "v": values}


@router.get("/alarms", operation_id="alarms", tags=["reading"])
async def alarms(api: Api, caller: Annotated[Session, Depends(allow("alarms"))]) -> list[JSON]:
    return api.desk.alarms()


@router.get("/events", operation_id="events", tags=["reading"])
async def events(
    api: Api,
    caller: Annotated[Session, Depends(allow("events"))],
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[JSON]:
    return api.hub.events.after(after, limit)


@router.get("/permissives", operation_id="permissives", tags=["reading"])
async def permissives(api: Api, caller: Annotated[Session, Depends(allow("permissives"))]) -> JSON:
    return api.desk.permissives()


@router.get("/audit", operation_id="audit", tags=["reading"])
async def audit(
    api: Api,
    caller: Annotated[Session, Depends(allow("audit"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[JSON]:
    if api.audit is None:
        raise ApiError(503, "audit_unavailable", "the audit log is not open (see the log)")
    return api.audit.recent(limit)


@router.get("/users", operation_id="users", tags=["accounts"])
async def users(api: Api, caller: Annotated[Session, Depends(allow("users"))]) -> list[JSON]:
    active = api.sessions.active(now=api.now())
    return [
        {
            "name": a.name,
            "roles": sorted(a.roles),
            "sessions": sum(1 for s in active if s.user.name == a.name),
        }
        for a in api.users.accounts()
    ]
