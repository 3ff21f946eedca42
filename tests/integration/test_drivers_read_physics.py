"""Values read through the drivers equal the simulator's sensor readings, device by device."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from groundseg.config import DataType, GroupSource, PadDefinition, RegisterSource, SentenceSource
from groundseg.config.checks import representable_span
from groundseg.quality import Quality
from hw_sim.pad import SimulatedPad
from tests.helpers import eventually, run_drivers


def _tolerance(pad: PadDefinition, channel_id: str) -> float:
    """Half a quantum of the channel's encoding: the most encoding may change a reading."""
    channel = pad.channel(channel_id)
    source = channel.source
    if isinstance(source, SentenceSource):
        # The station sends directions and counts as whole numbers, the rest with decimals.
        return 0.5 + 1e-9 if source.field in ("direction", "count") else 0.05 + 1e-9
    if isinstance(source, RegisterSource | GroupSource) and source.type is DataType.FLOAT32:
        return 1e-6 * max(1.0, abs(channel.valid_range[1] if channel.valid_range else 1.0))
    return abs(channel.scale) / 2 + 1e-9


def _expected(sim: SimulatedPad, pad: PadDefinition, channel_id: str) -> float:
    """The sensor reading as its encoding carries it: saturated at what the type holds."""
    value = sim.reading(channel_id)
    channel = pad.channel(channel_id)
    if (
        math.isnan(value)
        and isinstance(channel.source, SentenceSource)
        and channel.source.empty_value is not None
    ):
        return channel.source.empty_value
    span = representable_span(channel)
    return value if span is None else min(max(value, span[0]), span[1])


@pytest.mark.parametrize("device_id", ["plc", "gas_panel", "umbilical"])
async def test_read_now_equals_sensor_readings(
    pad: PadDefinition, sim: SimulatedPad, device_id: str
) -> None:
    """With the plant frozen, every channel read on demand equals the simulator's reading."""
    async with run_drivers(pad, sim.endpoints, only=[device_id]) as rig:
        sim.pause()
        channels = [
            c.id
            for c in pad.channels_of(device_id)
            if not (isinstance(c.source, GroupSource) and c.source.group == 0)
        ]
        readings = await rig.drivers[device_id].read_now(channels)
        assert set(readings) == set(channels)
        for channel_id in channels:
            expected = _expected(sim, pad, channel_id)
            got = readings[channel_id]
            assert abs(got.value - expected) <= _tolerance(pad, channel_id), (
                f"{channel_id}: read {got.value}, sim {expected}"
            )
            assert got.quality is Quality.GOOD, f"{channel_id}: {got.quality.name}"


async def test_polled_batches_carry_every_channel_good(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """Polling all four devices brings every channel of the pad in, GOOD, within a few periods."""
    async with run_drivers(pad, sim.endpoints) as rig:
        await rig.wait_quality([c.id for c in pad.channels], Quality.GOOD, within=10.0)
        sources = {b.source for b in rig.batches}
        assert sources == set(pad.devices)
        seqs: dict[str, list[int]] = {}
        for batch in rig.batches:
            seqs.setdefault(batch.source, []).append(batch.seq)
        for source, numbers in seqs.items():
            assert numbers == list(range(len(numbers))), (
                f"{source}: batch sequence numbers have gaps or repeats"
            )


async def test_weather_and_heartbeat_channels_follow_the_stream(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """Streamed sentences and heartbeats, frozen at the source, arrive equal to the readings."""
    async with run_drivers(pad, sim.endpoints, only=["weather", "umbilical"]) as rig:
        sim.pause()
        streamed = [c.id for c in pad.channels_of("weather")] + [
            "umb.heartbeat.healthy",
            "umb.heartbeat.plates_mated",
        ]
        before = {c: rig.updates(c) for c in streamed}
        await eventually(
            lambda: all(rig.updates(c) >= before[c] + 2 for c in streamed),
            within=10.0,
            what="two fresh sentences and heartbeats after the freeze",
        )
        for channel_id in streamed:
            expected = _expected(sim, pad, channel_id)
            assert abs(rig.value(channel_id) - expected) <= _tolerance(pad, channel_id), channel_id
            assert rig.quality(channel_id) is Quality.GOOD
        index = pad.channel("umb.heartbeat.counter").index
        await rig.wait_updates(
            "umb.heartbeat.counter", rig.updates("umb.heartbeat.counter") + 5, within=5.0
        )
        beats = [
            int(batch.value[i])
            for batch in rig.batches
            for i in np.flatnonzero(batch.channel == index)
        ]
        assert len(beats) >= 6
        assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(beats)), (
            f"the heartbeat counter advances by one with every beat: {beats}"
        )
