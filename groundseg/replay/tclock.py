"""Finding a T-time in a recording: when did the T-clock read T-01:00:00?

The countdown's events carry the T-time they happened at (`t_s`). Between an event that
set the clock running (`countdown.started`, `countdown.resumed`) and the next countdown
event, T advanced steadily, so a T-time inside such a stretch is found by interpolation
(whatever the count's speed was: a simulated count at 300x works the same). A T-time the
recorded clock never showed while running (skipped in a hold, recycled, or beyond the
record) has no wall time.

Pure.
"""

from __future__ import annotations

import datetime
import itertools
import re
from collections.abc import Iterable

from groundseg.errors import ConfigError, ConfigProblem
from groundseg.telemetry.events import Event

__all__ = ["parse_t", "parse_time", "wall_time_at_t"]

RUNNING = {"countdown.started", "countdown.resumed"}
_T = re.compile(r"^T?([+-])(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def parse_t(option: str, text: str) -> float:
    """ "T-01:00:00", "-01:00:00" or seconds ("-3600") as seconds (negative before T-0)."""
    match = _T.match(text.strip())
    if match:
        sign, hours, minutes, seconds = match.groups()
        value = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        return -value if sign == "-" else value
    try:
        return float(text)
    except ValueError:
        raise ConfigError(
            option, [ConfigProblem(key=text, expected="a T-time: T-01:00:00 or -3600")]
        ) from None


def wall_time_at_t(events: Iterable[Event], t_s: float) -> int | None:
    """The wall time (ns) at which the recorded T-clock, running, read `t_s`."""
    countdown = sorted(
        (e for e in events if e.kind.startswith("countdown.") and "t_s" in e.fields),
        key=lambda e: e.time_ns,
    )
    for here, after in itertools.pairwise(countdown):
        if here.kind not in RUNNING:
            continue
        t_here, t_after = float(here.fields["t_s"]), float(after.fields["t_s"])
        if t_here <= t_s <= t_after and t_after > t_here:
            share = (t_s - t_here) / (t_after - t_here)
            return here.time_ns + round(share * (after.time_ns - here.time_ns))
        if t_s == t_here:
            return here.time_ns
    return None


def parse_time(option: str, text: str | None) -> int | None:
    """An ISO 8601 wall time as nanoseconds since the epoch (UTC unless a zone is given)."""
    if text is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            option, [ConfigProblem(key=text, expected="an ISO 8601 time, e.g. 2026-11-29T10:00Z")]
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return round(moment.timestamp() * 1e9)
