"""Honour a cancellation that Python 3.11 lost on the way.

`asyncio.wait_for` in 3.11 (used inside pymodbus and aiomqtt) can swallow a cancellation
that arrives together with the awaited result. The task stays marked as cancelling, so a
loop that checks after each library call stops as it was asked to instead of running on
and holding its task group open forever.
"""

from __future__ import annotations

import asyncio

__all__ = ["raise_if_cancelling"]


def raise_if_cancelling() -> None:
    """Raise CancelledError if this task was asked to stop and a library swallowed it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
