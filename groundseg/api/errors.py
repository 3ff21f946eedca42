"""Our errors as HTTP answers, translated once at the API's edge.

Every error body is JSON: `{"error": kind, "detail": what is wrong, ...}` with the
attributes a client can act on (`reasons` of a veto, `fields` of a bad request). A user's
mistake never gets a stack trace; an unexpected failure gets 500 with no internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from groundseg.errors import (
    AuditUnavailable,
    CommandError,
    CommandRejected,
    GroundsegError,
    InterlockVetoed,
    VerificationFailed,
    WriteFailed,
)
from groundseg.gate.authority import NotAuthorized
from groundseg.rules.alarms import AlarmError
from groundseg.sequencer.countdown import CountdownError

__all__ = ["ApiError", "install_error_handlers"]

log = structlog.get_logger("groundseg.api")


class ApiError(GroundsegError):
    """An answer the API gives on purpose: status, kind, detail and any extra fields."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: object,
    ) -> None:
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(f"{status} {kind}: {detail}")


def _answer(error: ApiError) -> JSONResponse:
    return JSONResponse(
        {"error": error.kind, "detail": error.detail, **error.extra},
        status_code=error.status,
        headers=error.headers,
    )


def translate(exc: GroundsegError) -> ApiError:
    """One of our errors as the API's answer."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, NotAuthorized):
        return ApiError(403, "not_authorized", str(exc), command=exc.command, reason=exc.reason)
    if isinstance(exc, InterlockVetoed):
        return ApiError(409, "vetoed", str(exc), command=exc.command, reasons=list(exc.reasons))
    if isinstance(exc, CommandRejected):
        return ApiError(422, "rejected", str(exc), command=exc.command)
    if isinstance(exc, VerificationFailed):
        return ApiError(
            504,
            "not_verified",
            str(exc),
            command=exc.command,
            mismatches=[
                f"{m.channel}: expected {m.expected}, saw {m.seen}" for m in exc.mismatches
            ],
        )
    if isinstance(exc, WriteFailed):
        return ApiError(502, "write_failed", str(exc), command=exc.command)
    if isinstance(exc, CommandError):
        return ApiError(502, "command_failed", str(exc), command=exc.command)
    if isinstance(exc, CountdownError):
        return ApiError(409, "countdown", str(exc), state=exc.state.value)
    if isinstance(exc, AlarmError):
        return ApiError(409, "alarm", str(exc), alarm=exc.alarm_id)
    if isinstance(exc, AuditUnavailable):
        return ApiError(503, "audit_unavailable", f"refused: {exc}")
    return ApiError(400, "refused", str(exc))


def install_error_handlers(app: FastAPI) -> None:
    async def ours(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GroundsegError)
        return _answer(translate(exc))

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        fields = [_field_problem(e) for e in exc.errors()]
        return _answer(ApiError(422, "invalid", "; ".join(fields), fields=fields))

    async def http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return _answer(
            ApiError(
                exc.status_code,
                "http",
                str(exc.detail),
                headers=dict(exc.headers or {}),
            )
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("API request failed", path=request.url.path)
        return _answer(ApiError(500, "internal", "the controller could not answer; see its log"))

    app.add_exception_handler(GroundsegError, ours)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(Exception, unexpected)


def _field_problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid')}"
