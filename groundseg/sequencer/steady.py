"""Steady stretches of a recording: what each channel did over a block of poll cycles.

Theory of operation. The monitor decides a batch at a time, and over a recorded count most
batches change nothing. For a block of consecutive batches, `Spans` summarise every channel:
whether its value could be trusted throughout the block (usable quality, a number, and not
older than its staleness limit at any moment a rule could look), untrusted throughout, or
changed its trust; and the range of its usable values, the value before the block included.
With those, each kind of rule can say whether it is *steady* over the block: whether it
would decide at every batch and tick what it decided last (a limit settled and kept at its
level, a comparison true throughout or false throughout, a vote's members within its
tolerance of one another, a valve's readbacks unchanged). The monitor applies a block in
one step only when every rule is steady and no timer runs out in it; otherwise the block is
worked through batch by batch, so a skip never changes a decision.

Age is bounded conservatively: a rule may look at a channel at any moment up to the newest
sample time seen so far (the monitor's `now`), so the age of a channel's previous value
when the next one arrives is measured from the running maximum of time at that sample.

Pure: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from groundseg.quality import USABLE
from groundseg.rules.conditions import ConditionInputs
from groundseg.telemetry.run import SampleRun

__all__ = ["Spans", "spans"]

THROUGHOUT = 1
NEVER = 0
CHANGES = -1
"""A channel's trust over a block: trusted throughout, untrusted throughout, or it changed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Spans:
    """Per channel, over a block (THROUGHOUT, NEVER or CHANGES)."""

    usable: npt.NDArray[np.int8]
    """Usable quality and a number, age aside (what a valve's readback needs)."""
    trusted: npt.NDArray[np.int8]
    """Usable and fresh (what conditions, votes and freshness redlines need)."""
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    """The range of the usable values, the one before the block included."""
    end_ns: int
    """The newest sample time once the block is in: the monitor's `now` after it."""
    last: npt.NDArray[np.intp]
    """Positions in the block of each sampled channel's last sample."""
    last_channel: npt.NDArray[np.uint32]


def spans(
    block: SampleRun,
    latest: ConditionInputs,
    stale_after_ns: npt.NDArray[np.int64],
    *,
    now_ns: int,
    last_tick_ns: int,
) -> Spans:
    """Every channel's trust and range over a block of batches, which follows `latest` at `now_ns`
    (the monitor's), the timer last having run at `last_tick_ns`."""
    n = len(stale_after_ns)
    before_value = latest.value[:n]
    before_time = latest.time_ns[:n]
    before_ok = USABLE[latest.quality[:n]] & ~np.isnan(before_value)

    order = np.argsort(block.channel, kind="stable")
    channel = block.channel[order]
    time_ns = block.time_ns[order]
    value = block.value[order]
    ok = USABLE[block.quality[order]] & ~np.isnan(value)
    seen = np.maximum(np.maximum.accumulate(block.time_ns), now_ns)
    end_ns = int(seen[-1])
    seen = seen[order]

    first = np.ones(len(channel), dtype=bool)
    first[1:] = channel[1:] != channel[:-1]
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:] - 1, len(channel) - 1)
    sampled = channel[starts]
    previous = np.empty_like(time_ns)
    previous[1:] = time_ns[:-1]
    previous[first] = before_time[sampled]
    limit = stale_after_ns[channel]
    in_time = seen - previous <= limit
    fresh_sampled = np.logical_and.reduceat(in_time, starts) & (
        end_ns - time_ns[ends] <= stale_after_ns[sampled]
    )
    all_ok = np.logical_and.reduceat(ok, starts) & before_ok[sampled]
    none_ok = ~np.logical_or.reduceat(ok, starts) & ~before_ok[sampled]

    usable = np.where(before_ok, THROUGHOUT, NEVER).astype(np.int8)
    usable[sampled] = np.where(all_ok, THROUGHOUT, np.where(none_ok, NEVER, CHANGES))
    age_end = end_ns - before_time
    fresh = np.where(
        age_end <= stale_after_ns,
        THROUGHOUT,
        np.where(last_tick_ns - before_time > stale_after_ns, NEVER, CHANGES),
    ).astype(np.int8)
    fresh[sampled] = np.where(fresh_sampled, THROUGHOUT, CHANGES)
    trusted = np.where(usable == THROUGHOUT, fresh, usable).astype(np.int8)

    low = np.where(before_ok, before_value, np.inf)
    high = np.where(before_ok, before_value, -np.inf)
    low[sampled] = np.minimum(
        low[sampled], np.minimum.reduceat(np.where(ok, value, np.inf), starts)
    )
    high[sampled] = np.maximum(
        high[sampled], np.maximum.reduceat(np.where(ok, value, -np.inf), starts)
    )
    return Spans(
        usable=usable,
        trusted=trusted,
        low=low,
        high=high,
        end_ns=end_ns,
        last=order[ends],
        last_channel=sampled,
    )
