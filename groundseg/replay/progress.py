"""Progress of a long run (replay, re-run, report, export): done, total, time left.

Pure: the caller passes the clock's readings in; `ProgressLine` decides when a line is
worth printing (at most every `every_s`) and what it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ProgressLine"]


@dataclass(slots=True)
class ProgressLine:
    what: str
    """What is counted, plural: "samples"."""
    total: int
    """An estimate; a run may count past it (the journal's newest segment is unindexed)."""
    started_s: float
    every_s: float = 1.0
    _last_s: float = field(default=float("-inf"), init=False)

    def update(self, done: int, now_s: float, *, final: bool = False) -> str | None:
        """The line to show now, or None when the last one is recent enough."""
        if not final and now_s - self._last_s < self.every_s:
            return None
        self._last_s = now_s
        elapsed = max(now_s - self.started_s, 1e-9)
        rate = done / elapsed
        if final:
            return f"{done:,} {self.what} in {elapsed:.1f} s ({_si(rate)} {self.what}/s)"
        if self.total <= 0:
            return f"{done:,} {self.what} so far, {_si(rate)}/s (total unknown)"
        total = max(self.total, done)
        share = f"{100 * done / total:.0f}%"
        left = (total - done) / rate if rate > 0 else None
        eta = f", about {_duration(left)} left" if left is not None else ""
        return f"{share} ({done:,} of ~{total:,} {self.what}, {_si(rate)}/s{eta})"


def _si(rate: float) -> str:
    for factor, suffix in ((1e6, "M"), (1e3, "k")):
        if rate >= factor:
            return f"{rate / factor:.1f}{suffix}"
    return f"{rate:.0f}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
