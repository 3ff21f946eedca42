"""Integration fixtures: the simulated pad on real sockets and ptys, in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from groundseg.config import PadDefinition
from hw_sim.pad import SimulatedPad


@pytest.fixture
async def sim(pad: PadDefinition) -> AsyncIterator[SimulatedPad]:
    """The whole simulated pad at real-time speed."""
    async with SimulatedPad(pad, speed=1.0, seed=7) as simulated:
        yield simulated
