"""The startup heap leaves the collector's reach while a controller runs, and comes back."""

from __future__ import annotations

import gc

from groundseg.heap import frozen_heap


def test_what_lives_at_startup_is_out_of_the_collectors_reach_while_running() -> None:
    kept = [[n] for n in range(1000)]
    ids = {id(x) for x in kept}
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() >= len(kept)
        walked = {id(x) for x in gc.get_objects()}
        assert not ids & walked, "a full pass would walk the startup objects"
        later = [[n] for n in range(10)]
        assert {id(x) for x in later} <= {id(x) for x in gc.get_objects()}
    assert gc.get_freeze_count() == 0
    assert ids <= {id(x) for x in gc.get_objects()}
