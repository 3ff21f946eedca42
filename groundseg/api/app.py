"""The operator API and the console as one ASGI application.

    /api/...          the API (docs/api.md; OpenAPI at /api/openapi.json, docs at /api/docs)
    /api/stream       the live WebSocket
    /                 the console: static files shipped in the package, no build step

Limits sit in front of everything: a body over the limit is refused before it is read.
Responses carry headers that keep the console out of frames and scripts to its own origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from groundseg import __version__
from groundseg.api import routes_control, routes_read, stream_route
from groundseg.api.context import ApiContext
from groundseg.api.errors import install_error_handlers
from groundseg.api.limits import BodyLimit

__all__ = ["CONSOLE", "create_app"]

CONSOLE = Path(__file__).resolve().parent.parent / "console" / "static"

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        b"style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ),
]
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """Adds the headers to every HTTP response; plain ASGI, because Starlette's
    `@app.middleware("http")` runs each request through extra tasks and memory streams,
    which cost milliseconds on the command path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*_SECURITY_HEADERS]
        if str(scope.get("path", "")).startswith("/api/"):
            extra.append(_NO_STORE)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                ours = {name for name, _ in extra}
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() not in ours),
                    *extra,
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(
    api: ApiContext, *, console: Path | None = CONSOLE, routers: Sequence[APIRouter] = ()
) -> FastAPI:
    """The API and the console; `routers`: more of the API (a replay's time controls)."""
    app = FastAPI(
        title="groundseg operator API",
        version=__version__,
        description="Countdown, pad commands through the command gate, alarms, live telemetry.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.api = api
    install_error_handlers(app)
    app.include_router(routes_read.router)
    app.include_router(routes_control.router)
    app.include_router(stream_route.router)
    for router in routers:
        app.include_router(router)

    if console is not None and console.is_dir():
        app.mount("/", StaticFiles(directory=console, html=True), name="console")
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=api.limits.max_body_bytes)
    return app
