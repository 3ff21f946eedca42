"""`/api/replay`: the time controls of a replay's console.

    GET  /api/replay           where the replay is: position, range, speed, paused
    POST /api/replay/pause     stand still
    POST /api/replay/play      go on at the current speed
    POST /api/replay/speed     {"speed": 10}: recorded seconds per second
    POST /api/replay/step      {"batches": 1}: while paused, release the next poll cycles
    POST /api/replay/seek      {"time": "2026-11-29T10:00:00Z"} or {"t": "T-01:00:00"}

Every signed-in user of the replay may use them: they move this replay's displays and
nothing else. Each answers with the replay's position as GET does.
"""

from __future__ import annotations

import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, model_validator

from groundseg.api.auth import context, session_of
from groundseg.api.errors import ApiError
from groundseg.api.schemas import Strict
from groundseg.api.sessions import Session
from groundseg.errors import ConfigError
from groundseg.replay.desk import ReplayDesk
from groundseg.replay.playhead import MAX_SPEED
from groundseg.replay.tclock import parse_t, parse_time, wall_time_at_t

__all__ = ["replay_router"]

JSON = dict[str, object]
_bearer = HTTPBearer(auto_error=False, description="the token from POST /api/login")


class Speed(Strict):
    speed: Annotated[float, Field(gt=0, le=MAX_SPEED)]


class Step(Strict):
    batches: Annotated[int, Field(ge=1, le=100_000)] = 1


class Seek(Strict):
    time: Annotated[str | None, Field(default=None, max_length=64)] = None
    """ISO 8601 (UTC unless a zone is given)."""
    t: Annotated[str | None, Field(default=None, max_length=32)] = None
    """A T-time the recorded clock read: T-01:00:00, or seconds (-3600)."""

    @model_validator(mode="after")
    def _one(self) -> Seek:
        if (self.time is None) == (self.t is None):
            raise ValueError("give either time or t")
        return self


async def _signed_in(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Session:
    return session_of(context(request), credentials.credentials if credentials else "")


Caller = Annotated[Session, Depends(_signed_in)]


def replay_router(desk: ReplayDesk) -> APIRouter:
    router = APIRouter(prefix="/api/replay", tags=["replay"])

    def where() -> JSON:
        return {**desk.playhead.view(desk.clock.monotonic()).as_json(), "samples": desk.samples}

    @router.get("", operation_id="replay")
    async def replay(caller: Caller) -> JSON:
        return where()

    @router.post("/pause", operation_id="replay_pause")
    async def pause(caller: Caller) -> JSON:
        desk.pause()
        return where()

    @router.post("/play", operation_id="replay_play")
    async def play(caller: Caller) -> JSON:
        desk.play()
        return where()

    @router.post("/speed", operation_id="replay_speed")
    async def speed(body: Speed, caller: Caller) -> JSON:
        desk.set_speed(body.speed)
        return where()

    @router.post("/step", operation_id="replay_step")
    async def step(body: Step, caller: Caller) -> JSON:
        if not desk.playhead.paused:
            raise ApiError(409, "playing", "pause the replay first: steps are taken while paused")
        desk.step(body.batches)
        return where()

    @router.post("/seek", operation_id="replay_seek")
    async def seek(body: Seek, caller: Caller) -> JSON:
        at = _seek_time(desk, body)
        first, last = desk.playhead.first_ns, desk.playhead.last_ns
        if not first <= at <= last:
            raise ApiError(
                422,
                "outside_record",
                f"{body.time or body.t} is outside the record ({_iso(first)} to {_iso(last)})",
            )
        desk.seek(at)
        return where()

    return router


def _seek_time(desk: ReplayDesk, body: Seek) -> int:
    if body.t is not None:
        try:
            t_s = parse_t("t", body.t)
        except ConfigError as exc:
            raise ApiError(422, "bad_t", f"t: {exc.key}: {exc.expected}") from None
        at = wall_time_at_t(desk.events, t_s)
        if at is None:
            raise ApiError(
                422, "bad_t", f"t: the recorded T-clock never read {body.t} while running"
            )
        return at
    try:
        at = parse_time("time", body.time)
    except ConfigError as exc:
        raise ApiError(422, "bad_time", f"time: {exc.key}: {exc.expected}") from None
    assert at is not None
    return at


def _iso(time_ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ns / 1e9, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds")
