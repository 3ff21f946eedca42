"""Honour a cancellation that Python 3.11 lost on the way.

`asyncio.wait_for` in 3.11 (used inside pymodbus and aiomqtt) can swallow a cancellation
that arrives together with the awaited result. The task stays marked as cancelling, so a
loop that checks after each library call stops as it was asked to instead of running on
and holding its task group open forever.
"""

from __future__ import annotations

import asyncio

__all__ = ["cancellations", "raise_if_cancelled_since", "raise_if_cancelling"]


def raise_if_cancelling() -> None:
    """Raise CancelledError if this task was asked to stop and a library swallowed it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def cancellations() -> int:
    """How many stop requests this task has pending (for `raise_if_cancelled_since`)."""
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def raise_if_cancelled_since(before: int) -> None:
    """Raise CancelledError if a stop request arrived since `cancellations()` said `before`
    and a library swallowed it.

    For a task that outlives a failed task group: 3.11's TaskGroup can leave its parent's
    count raised for good when a child fails while the group is exiting, so a bare
    `raise_if_cancelling` there would stop a task nobody asked to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling() > before:
        raise asyncio.CancelledError
