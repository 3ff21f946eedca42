"""Reconnect backoff: exponential, jittered, capped.

Full jitter (a uniform draw up to the exponential bound) keeps a room full of drivers from
reconnecting in lockstep after a shared outage. The cap is the pad's requirement: a device
that comes back is polled again within about two seconds, never after minutes.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    def __init__(
        self, *, initial_s: float = 0.05, cap_s: float = 2.0, rng: random.Random | None = None
    ) -> None:
        if not 0 < initial_s <= cap_s:
            raise ValueError(f"backoff needs 0 < initial ({initial_s:g}) <= cap ({cap_s:g})")
        self.initial_s = initial_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()  # noqa: S311  jitter, not cryptography
        self._attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one failed attempt."""
        bound = min(self.cap_s, self.initial_s * 2.0**self._attempt)
        self._attempt = min(self._attempt + 1, 30)
        return self._rng.uniform(bound / 2.0, bound)

    def reset(self) -> None:
        """The link is back: the next failure starts from the initial delay again."""
        self._attempt = 0

    @property
    def attempts(self) -> int:
        return self._attempt
