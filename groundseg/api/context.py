"""What the operator API works with: the controller's parts it may touch, its accounts and
sessions, and its limits. The composition root (the controller, or a replay) builds one;
the routes receive it through the app's state, never by importing the controller."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from groundseg.api.desk import Desk
from groundseg.api.errors import ApiError
from groundseg.api.limits import RateLimiter
from groundseg.api.sessions import Sessions
from groundseg.api.stream import StreamHub
from groundseg.api.users import UserStore
from groundseg.clock import Clock
from groundseg.config import PadDefinition
from groundseg.errors import AuditUnavailable
from groundseg.gate.audit import AuditLog
from groundseg.gate.authority import Authority
from groundseg.gate.gate import CommandGate
from groundseg.launch.runner import LaunchRunner
from groundseg.sequencer.plan import LaunchPlan

__all__ = ["ApiContext", "ApiLimits", "Commanding"]

log = structlog.get_logger("groundseg.api")


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiLimits:
    max_body_bytes: int = 16 * 1024
    commands_per_s: float = 10.0
    """Per user, averaged; bursts of `command_burst`."""
    command_burst: int = 20
    logins_per_s: float = 0.5
    """Per client address: a password guesser gets one try every two seconds."""
    login_burst: int = 5
    max_streams_per_user: int = 8


@dataclass(frozen=True, slots=True)
class Commanding:
    """What the control routes act through: a live pad's countdown and command gate."""

    runner: LaunchRunner
    gate: CommandGate


@dataclass(kw_only=True)
class ApiContext:
    pad: PadDefinition
    plan: LaunchPlan
    desk: Desk
    authority: Authority
    commanding: Commanding | None
    """None: a replay, which commands nothing (the control routes answer 409)."""
    audit: AuditLog | None
    clock: Clock
    """The links' clock: sessions, leases, rate limits."""
    hub: StreamHub
    users: UserStore
    sessions: Sessions
    limits: ApiLimits = field(default_factory=ApiLimits)
    command_limiter: RateLimiter = field(init=False)
    login_limiter: RateLimiter = field(init=False)
    password_checks: asyncio.Semaphore = field(init=False)
    """At most this many password hashes computed at once (each takes a core for a while)."""

    def __post_init__(self) -> None:
        self.command_limiter = RateLimiter(
            rate=self.limits.commands_per_s, burst=self.limits.command_burst
        )
        self.login_limiter = RateLimiter(
            rate=self.limits.logins_per_s, burst=self.limits.login_burst
        )
        self.password_checks = asyncio.Semaphore(1)

    def now(self) -> float:
        return self.clock.monotonic()

    def live(self) -> Commanding:
        """The live pad's countdown and gate; a replay refuses every request to act."""
        if self.commanding is None:
            raise ApiError(
                409,
                "replay",
                "this console shows a replay: recorded data commands nothing; "
                "send commands from the live pad's console",
            )
        return self.commanding

    def record(
        self, actor: str, action: str, details: Mapping[str, object], *, required: bool
    ) -> None:
        """Append a request to the audit log. `required`: refuse (AuditUnavailable) when it
        cannot be written; otherwise log the loss and go on (holds, aborts, logins)."""
        if self.audit is None:
            if self.commanding is None and not required:
                return  # a replay: nothing it does reaches the pad, nothing to audit
            if required:
                raise AuditUnavailable("no audit log: only holds, aborts and safing pass")
            log.error("audit record lost: no audit log", actor=actor, action=action)
            return
        try:
            self.audit.append(
                time_ns=self.clock.time_ns(), actor=actor, action=action, details=details
            )
        except AuditUnavailable:
            if required:
                raise
            log.error("audit record lost", actor=actor, action=action)
