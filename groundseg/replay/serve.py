"""A replay served to the console: the replay's composition (bus, desk, hub, API).

    source ──ReplayDesk (playhead, recorded count and alarms, monitors)──> bus
        bus ──StreamHub (displays on the playhead's clock)──> /api/stream
    /api/... read routes + /api/replay time controls; control routes answer 409

The console is the live one, unchanged: it finds `replay` in the state and shows the time
controls instead of the command panels.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from groundseg.api import ApiContext, ApiServer, ApiSettings, Sessions, StreamHub, UserStore
from groundseg.api.app import create_app
from groundseg.clock import Clock, SystemClock
from groundseg.config import PadDefinition
from groundseg.gate.authority import Role
from groundseg.gate.policies import authority_for
from groundseg.replay.desk import ReplayDesk
from groundseg.replay.routes import replay_router
from groundseg.replay.sources import ReplaySource
from groundseg.telemetry.bus import Bus

__all__ = ["ANALYST", "ReplayConsole", "one_time_account"]

log = structlog.get_logger("groundseg.replay")

ANALYST = "analyst"


def one_time_account() -> tuple[UserStore, str]:
    """An account for this replay only (no accounts file given): the analyst, a viewer,
    with a password made now and shown once."""
    password = secrets.token_urlsafe(12)
    return UserStore.with_passwords({ANALYST: (password, [Role.VIEWER])}), password


@dataclass(kw_only=True)
class ReplayConsole:
    pad: PadDefinition
    source: ReplaySource
    span: tuple[int, int]
    settings: ApiSettings
    users: UserStore
    speed: float = 1.0
    start_ns: int | None = None
    paused: bool = False
    clock: Clock | None = None

    def __post_init__(self) -> None:
        clock = self.clock or SystemClock()
        self.bus = Bus()
        self.desk = ReplayDesk(
            self.pad,
            self.source,
            bus=self.bus,
            clock=clock,
            span=self.span,
            speed=self.speed,
            paused=self.paused,
        )
        if self.start_ns is not None:
            self.desk.seek(self.start_ns)
        self.hub = StreamHub(
            [c.id for c in self.pad.channels],
            bus=self.bus,
            desk=self.desk,
            rate_hz=self.settings.display_hz,
            now=self.desk.now_unix,
        )
        self.desk.restarted = self.hub.reset
        context = ApiContext(
            pad=self.pad,
            plan=self.desk.plan,
            desk=self.desk,
            authority=authority_for(self.desk.plan),
            commanding=None,
            audit=None,
            clock=clock,
            hub=self.hub,
            users=self.users,
            sessions=Sessions(lifetime_s=self.settings.session_hours * 3600),
            limits=self.settings.limits,
        )
        self.server = ApiServer(
            create_app(context, routers=[replay_router(self.desk)]), self.settings
        )

    async def run(self, ready: Callable[[str], None] = lambda url: None) -> None:
        """Serve until cancelled; `ready` gets the console's address once it listens."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.hub.run(), name="replay-stream")
            tasks.create_task(self.server.run(), name="replay-api")
            await self.server.ready.wait()
            tasks.create_task(self.desk.run(), name="replay-feed")
            log.info("replay console serving", url=self.server.url)
            ready(self.server.url)
