"""Login sessions: random bearer tokens that expire.

A token is 32 random bytes (URL-safe text) handed to the client once; the server keeps
only its SHA-256, so a leaked session table (a core dump, a debugger) grants nothing.
A token is refused when it is unknown (forged, or from before a restart), expired, or
revoked (logout, an admin's revocation of a user). Sessions do not survive a controller
restart on purpose: operators log in again, and no token outlives the process that
checked its password.

Pure: `now` is monotonic seconds, passed in; the wall clock never decides an expiry.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from groundseg.gate.authority import User

__all__ = ["Session", "SessionRefused", "Sessions"]


class SessionRefused(Exception):
    """The bearer token does not open a session; `reason` says why (for the log, not the
    client: a client learns only that it must log in again)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    user: User
    started: float
    expires_at: float

    def remaining(self, now: float) -> float:
        return max(0.0, self.expires_at - now)


class Sessions:
    def __init__(
        self,
        *,
        lifetime_s: float = 8 * 3600,
        max_per_user: int = 20,
        token_source: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> None:
        if lifetime_s <= 0:
            raise ValueError(f"a session lifetime must be positive, got {lifetime_s!r}")
        self.lifetime_s = lifetime_s
        self.max_per_user = max_per_user
        self._token_source = token_source
        self._by_digest: dict[bytes, Session] = {}

    def start(self, user: User, *, now: float) -> tuple[str, Session]:
        """A new session; the oldest of the user's sessions ends beyond `max_per_user`."""
        self._expire(now)
        mine = sorted(
            (d for d, s in self._by_digest.items() if s.user.name == user.name),
            key=lambda d: self._by_digest[d].started,
        )
        for digest in mine[: max(0, len(mine) - self.max_per_user + 1)]:
            del self._by_digest[digest]
        token = self._token_source()
        session = Session(user=user, started=now, expires_at=now + self.lifetime_s)
        self._by_digest[_digest(token)] = session
        return token, session

    def check(self, token: str, *, now: float) -> Session:
        """The session of a bearer token, or SessionRefused."""
        if not token:
            raise SessionRefused("no token")
        digest = _digest(token)
        # A dict lookup by digest: timing may tell a digest's prefix, which does not help
        # anyone find a token that hashes to it.
        session = self._by_digest.get(digest)
        if session is None:
            raise SessionRefused("unknown token")
        if now >= session.expires_at:
            del self._by_digest[digest]
            raise SessionRefused("token expired")
        return session

    def end(self, token: str) -> None:
        self._by_digest.pop(_digest(token), None)

    def revoke_user(self, name: str) -> int:
        """End every session of a user; how many there were."""
        ended = [d for d, s in self._by_digest.items() if s.user.name == name]
        for digest in ended:
            del self._by_digest[digest]
        return len(ended)

    def active(self, *, now: float) -> list[Session]:
        self._expire(now)
        return sorted(self._by_digest.values(), key=lambda s: s.started)

    def _expire(self, now: float) -> None:
        for digest in [d for d, s in self._by_digest.items() if now >= s.expires_at]:
            del self._by_digest[digest]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
