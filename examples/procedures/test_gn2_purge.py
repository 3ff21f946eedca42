"""Procedure GN2-PURGE-01: the stage-1 engine bay purge valve opens and closes on command.

Steps run in order. Each command goes through the controller's command gate (interlocks,
audit, readback); the expectations are the plant's answer, read from the valve's own limit
switches.
"""

from __future__ import annotations

from groundseg.testing import Bench

VALVE = "gn2.purge.s1_engine_bay.valve"


async def test_1_the_valve_starts_closed(bench: Bench) -> None:
    """Close the valve; its closed limit switch shows it within 5 s."""
    await bench.send_and_assert(f"{VALVE}.close", expect=f"{VALVE}.closed_ls == ON", within=5)


async def test_2_the_valve_opens_and_leaves_its_closed_seat_first(bench: Bench) -> None:
    """Open it: the closed switch drops, then the open switch makes, within 5 s."""
    await bench.send(f"{VALVE}.open")
    await bench.await_sequence([f"{VALVE}.closed_ls == OFF", f"{VALVE}.open_ls == ON"], within=5)


async def test_3_the_valve_closes_again(bench: Bench) -> None:
    """Close it: the open switch drops and the closed switch makes within 5 s."""
    await bench.send_and_assert(
        f"{VALVE}.close", expect=f"{VALVE}.open_ls == OFF and {VALVE}.closed_ls == ON", within=5
    )
