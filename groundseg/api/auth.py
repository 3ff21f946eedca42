"""Who is calling, and may they: bearer tokens into sessions, roles against the matrix.

`allow("endpoint")` is a FastAPI dependency: it answers 401 (with `WWW-Authenticate`) for a
missing, unknown, expired or revoked token and 403 naming the roles that may for a role
the matrix does not list; otherwise it hands the route the caller's session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from groundseg.api.access import ACCESS, may
from groundseg.api.context import ApiContext
from groundseg.api.errors import ApiError
from groundseg.api.sessions import Session, SessionRefused

__all__ = ["Caller", "allow", "context"]

log = structlog.get_logger("groundseg.api")

_bearer = HTTPBearer(auto_error=False, description="the token from POST /api/login")


def context(request: Request) -> ApiContext:
    api: ApiContext = request.app.state.api
    return api


def session_of(api: ApiContext, token: str) -> Session:
    try:
        return api.sessions.check(token, now=api.now())
    except SessionRefused as exc:
        log.info("token refused", reason=exc.reason)
        raise ApiError(
            401,
            "unauthenticated",
            "log in again: the token is missing, expired or not valid",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


Caller = Annotated[Session, "the caller's session"]


def allow(endpoint: str) -> Callable[..., Awaitable[Session]]:
    permitted = ACCESS[endpoint]
    roles_text = ", ".join(sorted(r.value for r in permitted))

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Session:
        api = context(request)
        session = session_of(api, credentials.credentials if credentials else "")
        if not may(session.user.roles, endpoint):
            raise ApiError(
                403,
                "forbidden",
                f"{endpoint} needs one of the roles {roles_text}; "
                f"{session.user.name} has {', '.join(sorted(session.user.roles)) or 'none'}",
            )
        request.state.session = session
        request.state.token = credentials.credentials if credentials else ""
        return session

    check.__name__ = f"allow_{endpoint}"
    return check
