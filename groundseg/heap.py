"""Short garbage-collector pauses for a process that must answer within milliseconds.

A full collection walks every object the collector tracks, and the event loop stands still
meanwhile: the polls, the monitors, the links' staleness margins (three poll periods,
300 ms at 10 Hz). With a pad's channels, its plan, its rules and the libraries loaded, a
full pass was measured at 250-770 ms on the two-core machines we test on, long enough for
every link to look lost at once. What exists once a process has started lives as long as
it does: `frozen_heap` moves it out of the collector's reach (`gc.freeze`), so a full pass
walks only what came since.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["frozen_heap"]


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Collect once, then freeze everything alive; thawed again when the block ends."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
