"""Who may send which command, and the arm / approve / execute protocol for hazardous ones.

Theory of operation. Every command has a policy: the roles that may issue it, and whether
it is hazardous. A command without a declared policy may be sent by the default roles
(operator, director) and is not hazardous. The gate asks this module first; only what
passes here goes on to the interlocks and the write.

    ordinary:   authorize ──> (gate: interlocks, write)
    hazardous:  arm ──> token (lease_s) ──> execute(token) within the lease ──> (gate)
    two-person: arm ──> approve(token) by someone else ──> execute(token) by the armer

    a live arming ──execute──> consumed (a token works once)
                  ──disarm───> removed
                  ──arm the same command again──> replaced (the old token is dead)
                  ──now reaches expires_at──> expired (reported once by handle_timer)

The argument is fixed when the command is armed: execute returns the arming, and the gate
sends the argument recorded there, so what was approved is what is written. A lease is
live while `now < expires_at`; approval does not extend it. Safing commands (close, vent,
abort) are never hazardous here: any operator, director or range-safety officer may send
them directly, because making the pad safe must never wait for a second person.

Pure: no I/O and no clock. Time is `now`, monotonic seconds, passed in; the runner sleeps
until `next_deadline()` and calls `handle_timer(now)` to learn which armings expired.
Every refusal raises `NotAuthorized` naming the command, the user and the reason.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from groundseg.errors import GroundsegError

__all__ = [
    "DEFAULT_ROLES",
    "SAFING_ROLES",
    "UNKNOWN_COMMAND",
    "Arming",
    "Authority",
    "CommandPolicy",
    "NotAuthorized",
    "Role",
    "User",
]


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    DIRECTOR = "director"
    """The launch director or test conductor."""
    SAFETY = "safety"
    """Range safety."""
    ADMIN = "admin"
    """Accounts and sessions; reads the audit log; sends nothing to the pad."""


DEFAULT_ROLES = frozenset({Role.OPERATOR, Role.DIRECTOR})
"""Who may send a command that has no declared policy."""

SAFING_ROLES = frozenset({Role.OPERATOR, Role.DIRECTOR, Role.SAFETY})
"""Who may always send a safing command, whatever else its policy names."""

UNKNOWN_COMMAND = "(unknown)"
"""The command a refusal names when the token is not known (the token itself is secret)."""


class NotAuthorized(GroundsegError):
    """This user may not do this with this command now; nothing was written."""

    def __init__(self, command: str, user: str, reason: str) -> None:
        self.command = command
        self.user = user
        self.reason = reason
        super().__init__(f"{command}: refused for {user}: {reason}")


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    name: str
    roles: frozenset[Role]
    """A user may hold several roles, or none."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a user needs a name")


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandPolicy:
    command: str
    roles: frozenset[Role]
    """Who may issue it (for a safing command, SAFING_ROLES may as well)."""
    hazardous: bool = False
    """Must be armed, then executed within the lease."""
    two_person: bool = False
    """Also needs approval by a second person between arm and execute."""
    lease_s: float = 30.0
    """How long an arming stays live."""
    safing: bool = False
    """Makes the pad safe: never armed, and SAFING_ROLES may always send it."""

    def __post_init__(self) -> None:
        if not self.command:
            raise ValueError("a command policy needs a command name")
        if not self.roles:
            raise ValueError(f"{self.command}: a policy needs at least one role")
        if self.two_person and not self.hazardous:
            raise ValueError(f"{self.command}: two_person applies only to a hazardous command")
        if self.safing and self.hazardous:
            raise ValueError(f"{self.command}: a safing command cannot be hazardous")
        if not 0 < self.lease_s < math.inf:
            raise ValueError(f"{self.command}: lease_s must be positive, got {self.lease_s!r}")

    @property
    def permitted_roles(self) -> frozenset[Role]:
        """The roles that may issue the command, safing's included."""
        return self.roles | SAFING_ROLES if self.safing else self.roles


@dataclass(frozen=True, slots=True, kw_only=True)
class Arming:
    """A hazardous command armed with its argument, waiting to be executed."""

    token: str
    command: str
    argument: float | None
    armed_by: str
    armed_at: float
    expires_at: float
    """Live while `now < expires_at`."""
    approved_by: str = ""
    """The second person, for a two-person command; empty until approved."""

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("an arming needs a token")
        if not self.command:
            raise ValueError("an arming needs a command")
        if not self.armed_by:
            raise ValueError(f"{self.command}: an arming needs the name of who armed it")
        if not self.expires_at > self.armed_at:
            raise ValueError(f"{self.command}: an arming must expire after it was armed")
        if self.approved_by == self.armed_by:
            raise ValueError(f"{self.command}: the approver must differ from who armed it")

    def live(self, now: float) -> bool:
        return now < self.expires_at


class Authority:
    def __init__(
        self,
        policies: Mapping[str, CommandPolicy],
        *,
        default_roles: frozenset[Role] = DEFAULT_ROLES,
        token_source: Callable[[], str] | None = None,
    ) -> None:
        for command, declared in policies.items():
            if declared.command != command:
                raise ValueError(f"policy for {command!r} is declared for {declared.command!r}")
        if not default_roles:
            raise ValueError("default_roles must name at least one role")
        self.policies = dict(policies)
        self.default_roles = default_roles
        self._token_source = token_source if token_source is not None else _counted_tokens()
        self._live: dict[str, Arming] = {}
        """Live armings by token; at most one per command."""
        self._expired: list[Arming] = []
        """Expired armings not yet reported by `handle_timer`."""

    # -- queries ---------------------------------------------------------------------------

    def policy(self, command: str) -> CommandPolicy:
        """The declared policy, or the default one: default roles, not hazardous."""
        declared = self.policies.get(command)
        if declared is not None:
            return declared
        return CommandPolicy(command=command, roles=self.default_roles)

    def armed(self, now: float) -> tuple[Arming, ...]:
        """The live armings, oldest first (expired ones are dropped, and reported later by
        `handle_timer`)."""
        self._expire(now)
        return tuple(sorted(self._live.values(), key=lambda a: (a.armed_at, a.token)))

    def next_deadline(self) -> float | None:
        """When the runner's timer must fire: the earliest expiry, live or not yet reported."""
        return min(
            (a.expires_at for a in (*self._live.values(), *self._expired)),
            default=None,
        )

    def handle_timer(self, now: float) -> list[Arming]:
        """The armings that expired since the last call, each reported once, and removed."""
        self._expire(now)
        expired = sorted(self._expired, key=lambda a: (a.expires_at, a.token))
        self._expired.clear()
        return expired

    # -- decisions -------------------------------------------------------------------------

    def authorize(
        self, command: str, argument: float | None, user: User, *, now: float
    ) -> CommandPolicy:
        """Permit a command that needs no arming, or refuse it.

        `argument` and `now` are taken for symmetry with `arm`: the argument's range is the
        pad's to check, and an unarmed command has no lease."""
        policy = self.policy(command)
        self._check_roles(policy, user)
        if policy.hazardous:
            raise NotAuthorized(
                command, user.name, "hazardous: arm it first, then execute within the lease"
            )
        return policy

    def arm(self, command: str, argument: float | None, user: User, *, now: float) -> Arming:
        """Arm a hazardous command with its argument; the token is live for the lease.

        One live arming per command: arming it again replaces the earlier arming, whoever
        made it. The newest intent wins, and the old token can no longer be used, so an
        argument someone has since changed their mind about can never be executed."""
        policy = self.policy(command)
        self._check_roles(policy, user)
        if not policy.hazardous:
            raise NotAuthorized(command, user.name, "not hazardous: send it directly")
        self._expire(now)
        token = self._token_source()
        if token in self._live:
            raise ValueError(f"{command}: the token source repeated a live token")
        for earlier in [a for a in self._live.values() if a.command == command]:
            del self._live[earlier.token]
        arming = Arming(
            token=token,
            command=command,
            argument=argument,
            armed_by=user.name,
            armed_at=now,
            expires_at=now + policy.lease_s,
        )
        self._live[token] = arming
        return arming

    def approve(self, token: str, user: User, *, now: float) -> Arming:
        """The second person's approval of a two-person command (the lease is not extended)."""
        arming = self._take_live(token, user, now)
        policy = self.policy(arming.command)
        if not policy.two_person:
            raise NotAuthorized(
                arming.command, user.name, "needs no second person: the armer executes it"
            )
        if arming.approved_by:
            raise NotAuthorized(
                arming.command, user.name, f"already approved by {arming.approved_by}"
            )
        if user.name == arming.armed_by:
            raise NotAuthorized(arming.command, user.name, "the second person must be someone else")
        self._check_roles(policy, user)
        approved = replace(arming, approved_by=user.name)
        self._live[token] = approved
        return approved

    def execute(self, token: str, user: User, *, now: float) -> Arming:
        """Consume a live arming and return it: the gate sends its command and argument.

        A refusal for the wrong user or a missing approval leaves the arming in place for
        its rightful owner; an expired lease drops it."""
        arming = self._take_live(token, user, now)
        if user.name != arming.armed_by:
            raise NotAuthorized(
                arming.command,
                user.name,
                f"armed by {arming.armed_by}; only {arming.armed_by} may execute",
            )
        policy = self.policy(arming.command)
        # Roles are checked again: they may have been withdrawn since the command was armed.
        self._check_roles(policy, user)
        if policy.two_person and not arming.approved_by:
            raise NotAuthorized(arming.command, user.name, "needs a second person's approval")
        del self._live[token]
        return arming

    def disarm(self, token: str, user: User, *, now: float) -> Arming:
        """Withdraw a live arming: its armer, or anyone who may issue the command."""
        arming = self._take_live(token, user, now)
        if user.name != arming.armed_by:
            self._check_roles(self.policy(arming.command), user)
        del self._live[token]
        return arming

    # -- helpers ---------------------------------------------------------------------------

    def _check_roles(self, policy: CommandPolicy, user: User) -> None:
        permitted = policy.permitted_roles
        if user.roles & permitted:
            return
        has = _names(user.roles) or "no role"
        raise NotAuthorized(
            policy.command, user.name, f"needs one of the roles {_names(permitted)}; has {has}"
        )

    def _take_live(self, token: str, user: User, now: float) -> Arming:
        """The live arming for `token`, or a refusal (an expired one is dropped)."""
        arming = self._live.get(token)
        if arming is None:
            raise NotAuthorized(
                UNKNOWN_COMMAND, user.name, "no such arming (expired, used or never armed)"
            )
        if not arming.live(now):
            del self._live[token]
            self._expired.append(arming)
            raise NotAuthorized(arming.command, user.name, "lease expired")
        return arming

    def _expire(self, now: float) -> None:
        for arming in [a for a in self._live.values() if not a.live(now)]:
            del self._live[arming.token]
            self._expired.append(arming)


def _counted_tokens() -> Callable[[], str]:
    """Tokens "arm-1", "arm-2", ...: deterministic for tests (real use passes secrets)."""
    counter = itertools.count(1)

    def next_token() -> str:
        return f"arm-{next(counter)}"

    return next_token


def _names(roles: Iterable[Role]) -> str:
    return ", ".join(sorted(role.value for role in roles))
