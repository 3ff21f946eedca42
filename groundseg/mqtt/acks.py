"""Which journal records are stored for good, as ingest instances report them (pure).

Each ingest instance publishes the record intervals it has stored durably. Merged, they
tell the publisher the contiguous prefix that can never be needed again (the cursor it
persists and the journal may retire) and the holes it must resend (a frame the broker
lost without telling anyone).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["IntervalSet", "merge"]

Interval = tuple[int, int]
"""Inclusive record range [first, last]."""


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, with touching ranges joined."""
    merged: list[Interval] = []
    for first, last in sorted(intervals):
        if last < first:
            raise ValueError(f"interval [{first}, {last}] ends before it starts")
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


class IntervalSet:
    """Records stored so far, as merged intervals, keeping at most `limit` of them."""

    def __init__(self, limit: int = 1024) -> None:
        self.limit = limit
        self.intervals: list[Interval] = []

    def add(self, first: int, last: int | None = None) -> None:
        self.intervals = merge([*self.intervals, (first, first if last is None else last)])
        if len(self.intervals) > self.limit:
            # Forgetting that something was stored only costs a resend; never claim the reverse.
            self.intervals = self.intervals[: self.limit]

    def update(self, intervals: Sequence[Interval]) -> None:
        self.intervals = merge([*self.intervals, *intervals])[: self.limit]

    def contiguous_from(self, start: int) -> int:
        """The highest record r with every record start..r stored (start - 1: none)."""
        for first, last in self.intervals:
            if first <= start <= last + 1:
                return max(last, start - 1)
        return start - 1

    def holes(self, start: int, below: int) -> list[Interval]:
        """Ranges in [start, below) that nobody has stored."""
        missing, cursor = [], start
        for first, last in self.intervals:
            if last < cursor:
                continue
            if first >= below:
                break
            if first > cursor:
                missing.append((cursor, min(first, below) - 1))
            cursor = max(cursor, last + 1)
        if cursor < below:
            missing.append((cursor, below - 1))
        return missing

    def forget_below(self, start: int) -> None:
        """Drop what is older than `start` (it is in the persisted cursor now)."""
        self.intervals = [
            (max(first, start), last) for first, last in self.intervals if last >= start
        ]
