"""Test-bench kit: procedures against a controller on hw_sim or on real hardware.

    from groundseg.testing import Bench

    async def test_lox_fill_valve_opens(bench: Bench) -> None:
        await bench.send_and_assert(
            "lox.s1.fill_valve.open", expect="lox.s1.fill_valve.open_switch == ON", within=3
        )

The pytest plugin (`groundseg.testing.plugin`, registered with pytest) provides the
`bench` and `faults` fixtures; docs/test-bench.md is the guide.
"""

from groundseg.testing.bench import Bench, CommandFailed, Seen, Sent
from groundseg.testing.expect import ExpectationFailed, ProcedureError
from groundseg.testing.rig import (
    Faults,
    Rig,
    controller_process,
    existing_pad,
    hw_sim_process,
    simulated_pad,
)

__all__ = [
    "Bench",
    "CommandFailed",
    "ExpectationFailed",
    "Faults",
    "ProcedureError",
    "Rig",
    "Seen",
    "Sent",
    "controller_process",
    "existing_pad",
    "hw_sim_process",
    "simulated_pad",
]
