"""The command gate: the one door to the hardware.

    request ──> authorise (roles; hazardous: arm, [approve], execute within the lease)
            ──> interlocks on fresh data (safing skips them)
            ──> audit record (synced) ──> write ──> readback within the window ──> audit

Every stage puts a lifecycle event on the bus: `command.issued`, `command.permitted` or
`command.vetoed` (with the reasons), `command.written`, `command.verified` or
`command.verify_timeout` (or `command.failed` when the write itself failed). Nothing but
safing is written unless its audit record is on disk first; if the audit log cannot be
written, every command but safing is refused (holds are not commands: they never pass
here). Safing writes first and records right after, so a slow disk never delays it.

Safing commands always pass: no role check, no interlocks, and they go first: a normal
command waiting for its turn waits while any safing command is under way.

The sequence's own commands are authorised by the count itself (a director started it and
every step is declared in the pad file): they skip the role check but never the
interlocks. Verification windows are the command's, on the count clock; when the count
runs faster than real time (tests, demos), never less than `verify_floor_s` of real
time, because links keep real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import structlog

from groundseg.clock import Clock
from groundseg.config import PadDefinition
from groundseg.drivers.actuation import CommandOutcome, verify_command, write_command
from groundseg.drivers.base import Driver
from groundseg.errors import (
    AuditUnavailable,
    CommandError,
    CommandRejected,
    InterlockVetoed,
    VerificationFailed,
)
from groundseg.gate.audit import AuditLog
from groundseg.gate.authority import Arming, Authority, NotAuthorized, User
from groundseg.sequencer.monitor import Veto
from groundseg.telemetry.events import Event, Severity

__all__ = ["CommandGate", "GateStatistics", "Origin"]

log = structlog.get_logger("groundseg.gate")


class Origin(StrEnum):
    OPERATOR = "operator"
    SEQUENCE = "sequence"
    SAFING = "safing"


@dataclass(frozen=True, slots=True, kw_only=True)
class GateStatistics:
    issued: int
    vetoed: int
    refused: int
    verified: int
    failed: int
    safing_active: int


class CommandGate:
    def __init__(
        self,
        pad: PadDefinition,
        drivers: Mapping[str, Driver],
        *,
        authority: Authority,
        vetoes: Callable[[str], list[Veto]],
        audit: AuditLog | None,
        publish: Callable[[Event], None],
        link_clock: Clock,
        count_speed: Callable[[], float] = lambda: 1.0,
        verify_floor_s: float = 0.5,
    ) -> None:
        self.pad = pad
        self.drivers = drivers
        self.authority = authority
        self._vetoes = vetoes
        self.audit = audit
        self._publish = publish
        self.clock = link_clock
        self.count_speed = count_speed
        self.verify_floor_s = verify_floor_s
        self._safing = 0
        self._safing_idle = asyncio.Event()
        self._safing_idle.set()
        self._counts = dict.fromkeys(("issued", "vetoed", "refused", "verified", "failed"), 0)

    # -- the doors -------------------------------------------------------------------------

    async def send(
        self, command: str, argument: float | None = None, *, user: User, now: float
    ) -> CommandOutcome:
        """An operator's command that needs no arming."""
        self._issued(command, argument, user.name, Origin.OPERATOR)
        try:
            self.authority.authorize(command, argument, user, now=now)
        except NotAuthorized as exc:
            self._refused(command, user.name, exc.reason)
            raise
        return await self._carry_out(command, argument, user.name, Origin.OPERATOR)

    def arm(self, command: str, argument: float | None, *, user: User, now: float) -> Arming:
        arming = self.authority.arm(command, argument, user, now=now)
        self._audit_or_refuse(command, user.name, "arm", {"argument": argument})
        self._event("command.armed", command, user.name, f"{command} armed by {user.name}")
        return arming

    def approve(self, token: str, *, user: User, now: float) -> Arming:
        arming = self.authority.approve(token, user, now=now)
        self._audit_or_refuse(arming.command, user.name, "approve", {"token": token})
        self._event(
            "command.approved",
            arming.command,
            user.name,
            f"{arming.command} approved by {user.name}",
        )
        return arming

    async def execute(self, token: str, *, user: User, now: float) -> CommandOutcome:
        """Execute an armed hazardous command (the argument is the armed one)."""
        try:
            arming = self.authority.execute(token, user, now=now)
        except NotAuthorized as exc:
            self._refused(exc.command, user.name, exc.reason)
            raise
        self._issued(arming.command, arming.argument, user.name, Origin.OPERATOR)
        return await self._carry_out(arming.command, arming.argument, user.name, Origin.OPERATOR)

    async def run_sequence_command(
        self, command: str, argument: float | None, *, purpose: str
    ) -> CommandOutcome:
        """A command of the declared sequence: interlocks apply, roles do not."""
        self._issued(command, argument, "sequencer", Origin.SEQUENCE, purpose=purpose)
        return await self._carry_out(command, argument, "sequencer", Origin.SEQUENCE, purpose)

    async def run_safing_command(
        self, command: str, argument: float | None, *, by: str, purpose: str = "safing"
    ) -> CommandOutcome:
        """Safing: always passes, goes first."""
        self._issued(command, argument, by, Origin.SAFING, purpose=purpose)
        return await self._carry_out(command, argument, by, Origin.SAFING, purpose)

    def statistics(self) -> GateStatistics:
        return GateStatistics(**self._counts, safing_active=self._safing)

    # -- the path --------------------------------------------------------------------------

    async def _carry_out(
        self, command: str, argument: float | None, actor: str, origin: Origin, purpose: str = ""
    ) -> CommandOutcome:
        if command not in self.pad.commands:
            self._refused(command, actor, "unknown command")
            raise CommandRejected(command, "unknown command")
        safing = origin is Origin.SAFING
        if safing:
            self._safing += 1
            self._safing_idle.clear()
        try:
            if not safing:
                await self._safing_idle.wait()
                self._check_interlocks(command, actor)
            details = {"argument": argument, "origin": origin.value, "purpose": purpose}
            if not safing:
                self._audit_or_refuse(command, actor, "send", details)
            return await self._write_and_verify(
                command, argument, actor, audit_after_write=details if safing else None
            )
        finally:
            if safing:
                self._safing -= 1
                if self._safing == 0:
                    self._safing_idle.set()

    def _check_interlocks(self, command: str, actor: str) -> None:
        vetoes = self._vetoes(command)
        if vetoes:
            reasons = [f"{v.interlock}: {v.reason}" for v in vetoes]
            self._counts["vetoed"] += 1
            self._event(
                "command.vetoed",
                command,
                actor,
                f"{command} vetoed: " + "; ".join(reasons),
                severity=Severity.WARNING,
                reasons="; ".join(reasons),
            )
            self._audit_best_effort(command, actor, "vetoed", {"reasons": reasons})
            log.warning("interlock veto", command=command, by=actor, reasons=reasons)
            raise InterlockVetoed(command, reasons)
        self._event("command.permitted", command, actor, f"{command} permitted")

    async def _write_and_verify(
        self,
        command: str,
        argument: float | None,
        actor: str,
        *,
        audit_after_write: Mapping[str, object] | None = None,
    ) -> CommandOutcome:
        started = self.clock.monotonic()
        try:
            await write_command(self.pad, self.drivers, command, argument)
        except CommandError as exc:
            self._finished(command, actor, "command.failed", str(exc), ok=False)
            raise
        finally:
            if audit_after_write is not None:
                # Safing does not wait for the disk: the record follows the write.
                self._audit_best_effort(command, actor, "send", audit_after_write)
        self._event("command.written", command, actor, f"{command} written")
        window = max(self.pad.commands[command].window_s / self.count_speed(), self.verify_floor_s)
        try:
            outcome = await verify_command(
                self.pad,
                self.drivers,
                command,
                argument,
                clock=self.clock,
                started=started,
                window_s=window,
            )
        except VerificationFailed as exc:
            self._finished(command, actor, "command.verify_timeout", str(exc), ok=False)
            raise
        except CommandError as exc:
            self._finished(command, actor, "command.failed", str(exc), ok=False)
            raise
        self._finished(
            command,
            actor,
            "command.verified",
            f"{command} verified in {outcome.verified_after_s * 1000:.0f} ms",
            ok=True,
            verified_ms=f"{outcome.verified_after_s * 1000:.1f}",
        )
        return outcome

    # -- records ---------------------------------------------------------------------------

    def _issued(
        self, command: str, argument: float | None, actor: str, origin: Origin, purpose: str = ""
    ) -> None:
        self._counts["issued"] += 1
        text = command if argument is None else f"{command}({argument:g})"
        self._event(
            "command.issued",
            command,
            actor,
            f"{text} issued by {actor}",
            origin=origin.value,
            purpose=purpose,
        )

    def _refused(self, command: str, actor: str, reason: str) -> None:
        self._counts["refused"] += 1
        self._event(
            "command.refused",
            command,
            actor,
            f"{command} refused: {reason}",
            severity=Severity.WARNING,
        )

    def _finished(
        self, command: str, actor: str, kind: str, message: str, *, ok: bool, **fields: str
    ) -> None:
        self._counts["verified" if ok else "failed"] += 1
        self._event(
            kind,
            command,
            actor,
            message,
            severity=Severity.INFO if ok else Severity.ALARM,
            **fields,
        )
        self._audit_best_effort(command, actor, kind.removeprefix("command."), {"detail": message})
        if not ok:
            log.error("command not verified", command=command, by=actor, detail=message)

    def _audit_or_refuse(
        self, command: str, actor: str, action: str, details: Mapping[str, object]
    ) -> None:
        if self.audit is None:
            self._refused(command, actor, "no audit log")
            raise CommandRejected(command, "no audit log: only safing commands pass")
        try:
            self.audit.append(
                time_ns=self.clock.time_ns(),
                actor=actor,
                action=action,
                details={"command": command, **details},
            )
        except AuditUnavailable as exc:
            self._refused(command, actor, f"audit log unavailable ({exc})")
            raise CommandRejected(command, f"audit log unavailable: {exc}") from None

    def _audit_best_effort(
        self, command: str, actor: str, action: str, details: Mapping[str, object]
    ) -> None:
        try:
            self._audit_or_refuse(command, actor, action, details)
        except CommandRejected:
            log.error("audit record lost", command=command, action=action)

    def _event(
        self,
        kind: str,
        command: str,
        actor: str,
        message: str,
        *,
        severity: Severity = Severity.INFO,
        **fields: str,
    ) -> None:
        self._publish(
            Event(
                kind=kind,
                source="gate",
                time_ns=self.clock.time_ns(),
                severity=severity,
                message=message,
                fields={"command": command, "by": actor, **fields},
            )
        )
