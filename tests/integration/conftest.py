"""Integration fixtures: the simulated pad on real sockets and ptys, in this process; a
Mosquitto and an InfluxDB of each test's own, on free loopback ports; one recorded count
with a fault, shared by the analyst's tools' tests (they only read it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from groundseg.config import PadDefinition
from hw_sim.pad import SimulatedPad
from tests.integration.recording import Recording, record_a_held_count
from tests.services import InfluxDB1, Mosquitto


@pytest.fixture
async def sim(pad: PadDefinition) -> AsyncIterator[SimulatedPad]:
    """The whole simulated pad at real-time speed."""
    async with SimulatedPad(pad, speed=1.0, seed=7) as simulated:
        yield simulated


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    return record_a_held_count(tmp_path_factory.mktemp("recorded"))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto.running(tmp_path / "mosquitto") as running:
        yield running


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """As deployed: TLS, a password per service, deploy/'s ACL file."""
    with Mosquitto.running(tmp_path / "mosquitto-tls", secure=True) as running:
        yield running


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[InfluxDB1]:
    with InfluxDB1.running(tmp_path / "influx") as running:
        yield running
