"""The one exception tree of groundseg, split by who failed.

    GroundsegError
    ├── ConfigError             our configuration is wrong (file, dotted key, expectation)
    ├── LinkError               the link to a device failed (device)
    │   ├── LinkDown            not connected, cannot open, connection lost
    │   └── LinkTimeout         no (matching) reply within the timeout
    ├── ProtocolError           bytes from the remote end violate the protocol (device, reason)
    ├── DeviceError             the device understood and refused (device, code)
    ├── SubscriberStuck         a bus subscriber that must see everything fell behind
    ├── CommandError            a command could not be carried out (command)
    │   ├── CommandRejected     refused before anything was written (bad argument, not writable)
    │   │   └── InterlockVetoed  an interlock does not permit it now (reasons)
    │   ├── WriteFailed         a write did not reach the device (link or device error)
    │   └── VerificationFailed  written, but the readback did not confirm within the window
    ├── NotAuthorized       the user may not send this command now (gate/authority.py)
    ├── AlarmError          an alarm cannot be acknowledged or shelved so (rules/alarms.py)
    ├── AuditUnavailable        the audit log cannot be written (hazardous commands refused)
    ├── AuditBroken             the audit chain does not verify (path, line, reason)
    └── ProcedureError      a bench procedure asks for what the pad has not (testing/expect.py)

A procedure's failed expectation is a test's failure, not an error of groundseg:
`ExpectationFailed` and `CommandFailed` (groundseg.testing) are AssertionErrors, so pytest
reports them as failed assertions with their message.

Foreign exceptions (pymodbus, pyserial, OSError) are translated once, at the driver
boundary; nothing above a driver sees a library's exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AuditBroken",
    "AuditUnavailable",
    "CommandError",
    "CommandRejected",
    "ConfigError",
    "ConfigProblem",
    "DeviceError",
    "GroundsegError",
    "InterlockVetoed",
    "LinkDown",
    "LinkError",
    "LinkTimeout",
    "ProtocolError",
    "SubscriberStuck",
    "VerificationFailed",
    "VerifyMismatch",
    "WriteFailed",
]


class GroundsegError(Exception):
    """Base of every error groundseg raises on purpose."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigProblem:
    """One thing wrong in a configuration file: where, and what was expected there."""

    key: str
    expected: str
    line: int | None = None


class ConfigError(GroundsegError):
    """A configuration file is wrong; each problem names the dotted key and the expectation.

    All problems found in one pass are reported together, so a user fixes a file in one go.
    """

    def __init__(self, file: str, problems: Sequence[ConfigProblem]) -> None:
        if not problems:
            raise ValueError("a ConfigError needs at least one problem")
        self.file = file
        self.problems = tuple(problems)
        super().__init__("\n".join(self._describe(p) for p in self.problems))

    @property
    def key(self) -> str:
        return self.problems[0].key

    @property
    def expected(self) -> str:
        return self.problems[0].expected

    def _describe(self, problem: ConfigProblem) -> str:
        where = f"{self.file}:{problem.line}" if problem.line is not None else self.file
        return (
            f"{where}: {problem.key}: {problem.expected}"
            if problem.key
            else f"{where}: {problem.expected}"
        )


class LinkError(GroundsegError):
    """The link to a device failed; the device itself may be fine."""

    def __init__(self, device: str, reason: str) -> None:
        self.device = device
        self.reason = reason
        super().__init__(f"{device}: {reason}")


class LinkDown(LinkError):
    """Not connected: the port cannot be opened or the connection was lost."""


class LinkTimeout(LinkError):
    """No matching reply arrived within the timeout."""


class ProtocolError(GroundsegError):
    """Bytes from the remote end violate the protocol (bad checksum, malformed frame)."""

    def __init__(self, reason: str, *, device: str = "") -> None:
        self.device = device
        self.reason = reason
        super().__init__(f"{device}: {reason}" if device else reason)


class DeviceError(GroundsegError):
    """The device understood the request and refused it (exception response, NAK)."""

    def __init__(self, device: str, code: int, reason: str) -> None:
        self.device = device
        self.code = code
        self.reason = reason
        super().__init__(f"{device}: device refused (code {code}): {reason}")


class SubscriberStuck(GroundsegError):
    """A bus subscriber that must not miss an item (journal, monitors) has a full queue."""

    def __init__(self, names: Sequence[str], capacities: Sequence[int]) -> None:
        self.names = tuple(names)
        detail = ", ".join(f"{n} (capacity {c})" for n, c in zip(names, capacities, strict=True))
        super().__init__(f"bus subscriber stuck, queue full: {detail}")


class CommandError(GroundsegError):
    """A command could not be carried out."""

    def __init__(self, command: str, reason: str) -> None:
        self.command = command
        self.reason = reason
        super().__init__(f"{command}: {reason}")


class CommandRejected(CommandError):
    """Refused before anything was written to a device."""


class InterlockVetoed(CommandRejected):
    """Interlocks do not permit the command now (false, stale or unknown data)."""

    def __init__(self, command: str, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__(command, "vetoed: " + "; ".join(self.reasons))


class WriteFailed(CommandError):
    """A write did not reach the device; `cause` is the link or device error."""

    def __init__(self, command: str, cause: LinkError | DeviceError | ProtocolError) -> None:
        self.cause = cause
        super().__init__(command, f"write failed: {cause}")


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyMismatch:
    """One readback that did not reach its expected value."""

    channel: str
    expected: str
    seen: str


class VerificationFailed(CommandError):
    """The write went out but the readback did not confirm it within the window."""

    def __init__(self, command: str, window_s: float, mismatches: Sequence[VerifyMismatch]) -> None:
        self.window_s = window_s
        self.mismatches = tuple(mismatches)
        detail = "; ".join(
            f"{m.channel}: expected {m.expected}, saw {m.seen}" for m in self.mismatches
        )
        super().__init__(command, f"not verified within {window_s:g} s ({detail})")


class AuditUnavailable(GroundsegError):
    """The audit log cannot be written: hazardous commands must be refused."""


class AuditBroken(GroundsegError):
    """The audit chain does not verify: a record was edited, removed, inserted or moved."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}")
