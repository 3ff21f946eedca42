"""Running a service until it is told to stop.

SIGINT (Ctrl-C) and SIGTERM (a service manager, `kill`) cancel the main task, so every
task group unwinds in order: drivers release their ports, the journal and the spool close
whole, the simulator child is stopped. A signal handler that raised KeyboardInterrupt
instead would land at an arbitrary line (inside a journal append, say) and could leave a
task group waiting forever.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

__all__ = ["run_until_stopped"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_until_stopped(main: Coroutine[Any, Any, None]) -> None:
    """`asyncio.run(main)`; a stop signal ends it cleanly (and returns normally)."""
    asyncio.run(_guarded(main))


async def _guarded(main: Coroutine[Any, Any, None]) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        task.cancel()

    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, stop)
    try:
        await main
    except asyncio.CancelledError:
        if not stopped:
            raise
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)
