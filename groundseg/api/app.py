"""The operator API and the console as one ASGI application.

    /api/...          the API (docs/api.md; OpenAPI at /api/openapi.json, docs at /api/docs)
    /api/stream       the live WebSocket
    /                 the console: static files shipped in the package, no build step

Limits sit in front of everything: a body over the limit is refused before it is read.
Responses carry headers that keep the console out of frames and scripts to its own origin.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from groundseg import __version__
from groundseg.api import routes_control, routes_read, stream_route
from groundseg.api.context import ApiContext
from groundseg.api.errors import install_error_handlers
from groundseg.api.limits import BodyLimit

__all__ = ["CONSOLE", "create_app"]

CONSOLE = Path(__file__).resolve().parent.parent / "console" / "static"

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    ),
}


def create_app(api: ApiContext, *, console: Path | None = CONSOLE) -> FastAPI:
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

    @app.middleware("http")
    async def security_headers(request: Request, call_next: object) -> Response:
        response: Response = await call_next(request)  # type: ignore[operator]
        response.headers.update(_SECURITY_HEADERS)
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    if console is not None and console.is_dir():
        app.mount("/", StaticFiles(directory=console, html=True), name="console")
    app.add_middleware(BodyLimit, max_bytes=api.limits.max_body_bytes)
    return app
