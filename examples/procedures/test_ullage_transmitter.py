"""Procedure LOX-PT-02: a stuck stage-1 LOX ullage transmitter is seen, and recovers.

Needs fault injection: runs on the simulated pad (hw_sim).
"""

from __future__ import annotations

from groundseg.testing import Bench, Faults

TRANSMITTER = "lox.s1.ullage_pressure.a"


async def test_1_a_transmitter_stuck_at_a_value_reads_it(bench: Bench, faults: Faults) -> None:
    """Stick transmitter A at 1.234 bar: the controller reads 1.234 within 5 s."""
    await faults.inject(f"stuck:{TRANSMITTER}:value=1.234")
    await bench.await_telemetry(f"{TRANSMITTER} == 1.234", within=5)


async def test_2_cleared_it_follows_the_tank_again(bench: Bench, faults: Faults) -> None:
    """Clear the fault: the reading moves off the stuck value within 5 s."""
    await faults.clear()
    await bench.await_telemetry(f"{TRANSMITTER} != 1.234", within=5)
