"""`/api/stream`: the WebSocket a console watches the pad through.

The client authenticates with its first message (`{"token": ...}`) rather than in the URL,
where proxies and logs would keep it. It may then send `{"channels": [globs]}` at any time
to choose the values it receives. The session is checked again before every message, so a
logout, a revocation or an expiry ends the stream too (close code 4401).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from groundseg.api.access import may
from groundseg.api.context import ApiContext
from groundseg.api.sessions import Session, SessionRefused
from groundseg.api.stream import StreamClient

__all__ = ["router"]

log = structlog.get_logger("groundseg.api")

router = APIRouter(prefix="/api")
AUTH_TIMEOUT_S = 5.0
UNAUTHENTICATED = 4401
FORBIDDEN = 4403
TOO_MANY = 4429
BAD_REQUEST = 4400


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    api: ApiContext = websocket.app.state.api
    await websocket.accept()
    session, token = await _authenticate(websocket, api)
    if session is None:
        return
    mine = sum(1 for s in api.hub.clients() if s.owner == session.user.name)
    if mine >= api.limits.max_streams_per_user:
        await _refuse(websocket, TOO_MANY, "too many live streams for this user")
        return
    client = api.hub.connect(owner=session.user.name)
    try:
        await websocket.send_text(
            json.dumps(
                {
                    "type": "hello",
                    "user": session.user.name,
                    "roles": sorted(session.user.roles),
                    "rate_hz": round(1 / api.hub.period_s, 3),
                }
            )
        )
        async with asyncio.TaskGroup() as tasks:
            reader = tasks.create_task(_read(websocket, api, client), name=f"{client.name}-read")
            writer = tasks.create_task(
                _write(websocket, api, client, token), name=f"{client.name}-write"
            )
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            for task in (reader, writer):
                task.cancel()
    except* (WebSocketDisconnect, ConnectionError):
        pass
    finally:
        api.hub.disconnect(client)
        with contextlib.suppress(Exception):
            await websocket.close()


async def _authenticate(websocket: WebSocket, api: ApiContext) -> tuple[Session | None, str]:
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_S):
            first = json.loads(await websocket.receive_text())
        token = str(first["token"]) if isinstance(first, dict) else ""
    except (TimeoutError, ValueError, KeyError, WebSocketDisconnect):
        await _refuse(websocket, UNAUTHENTICATED, 'first message must be {"token": ...}')
        return None, ""
    try:
        session = api.sessions.check(token, now=api.now())
    except SessionRefused:
        await _refuse(websocket, UNAUTHENTICATED, "log in again: the token is not valid")
        return None, ""
    if not may(session.user.roles, "stream"):
        await _refuse(websocket, FORBIDDEN, "this role may not watch the stream")
        return None, ""
    return session, token


async def _read(websocket: WebSocket, api: ApiContext, client: StreamClient) -> None:
    while True:
        try:
            message = json.loads(await websocket.receive_text())
            patterns = message["channels"]
            if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            await websocket.send_text(
                json.dumps(
                    {"type": "error", "detail": 'send {"channels": ["glob", ...]} to choose values'}
                )
            )
            continue
        api.hub.choose(client, api.hub.select(patterns[:200]) if patterns else None)


async def _write(websocket: WebSocket, api: ApiContext, client: StreamClient, token: str) -> None:
    while True:
        message = await client.next()
        try:
            api.sessions.check(token, now=api.now())
        except SessionRefused:
            await _refuse(websocket, UNAUTHENTICATED, "session ended")
            return
        await websocket.send_text(message)


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(json.dumps({"type": "error", "detail": reason}))
        await websocket.close(code=code, reason=reason)
