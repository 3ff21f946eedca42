"""Modbus driver benchmarks (issue targets in bench/README.md).

Every benchmark polls the simulated PLC (`python -m hw_sim --device plc`) in its own
process over real TCP, so server and client never share an interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence

from pymodbus.client import AsyncModbusTcpClient

from bench.harness import Result, median, percentile
from groundseg.clock import SystemClock
from groundseg.config import PadDefinition, RegisterSource, Table, load_pad
from groundseg.drivers.base import LatenessLog
from groundseg.drivers.factory import with_endpoints
from groundseg.drivers.modbus import BlockRead, ModbusDriver
from groundseg.simulator import simulator_process
from groundseg.telemetry.latest import LatestValues

__all__ = ["run_modbus_benchmarks"]

PAD_FILE = "pads/baiterek.toml"
PLC_RESPONSE_DELAY_MS = 5
"""A real PLC answers in a few milliseconds; the scaling benchmark gives the simulator that delay."""


@contextlib.asynccontextmanager
async def _plc(faults: Sequence[str] = ()) -> AsyncIterator[str]:
    async with simulator_process(PAD_FILE, devices=["plc"], faults=faults) as endpoints:
        yield endpoints["plc"]


def _driver(pad: PadDefinition, endpoint: str) -> tuple[ModbusDriver, LatestValues]:
    pad = with_endpoints(pad, {"plc": endpoint})
    latest = LatestValues(len(pad.channels))
    return ModbusDriver(
        pad.devices["plc"], pad.channels_of("plc"), latest.update, SystemClock()
    ), latest


async def _raw_reads_per_s(endpoint: str, reads: Sequence[BlockRead], seconds: float) -> float:
    """The baseline: a bare pymodbus client loop reading the same blocks back to back."""
    host, port = endpoint.rsplit(":", 1)
    client = AsyncModbusTcpClient(host, port=int(port), timeout=2, retries=0, reconnect_delay=0)
    await client.connect()
    calls = {
        Table.COIL: client.read_coils,
        Table.DISCRETE_INPUT: client.read_discrete_inputs,
        Table.HOLDING_REGISTER: client.read_holding_registers,
        Table.INPUT_REGISTER: client.read_input_registers,
    }
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for read in reads:
            await calls[read.table](read.block.start, count=read.block.count, device_id=1)
            count += 1
    elapsed = time.perf_counter() - start
    client.close()
    return count / elapsed


async def _driver_reads_per_s(driver: ModbusDriver, seconds: float) -> float:
    await driver.link.connect()
    reads = driver.requests_per_scan
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await driver.scan()
        count += reads
    elapsed = time.perf_counter() - start
    driver.link.close()
    return count / elapsed


async def throughput_against_raw_pymodbus(
    pad: PadDefinition, *, trials: int, seconds: float
) -> list[Result]:
    async with _plc() as endpoint:
        driver, _ = _driver(pad, endpoint)
        reads = [read for group in driver.plans.values() for read in group]
        raw, ours = [], []
        for _ in range(trials):
            raw.append(await _raw_reads_per_s(endpoint, reads, seconds))
            ours.append(await _driver_reads_per_s(_driver(pad, endpoint)[0], seconds))
    ratios = [o / r for o, r in zip(ours, raw, strict=True)]
    ratio = median(ratios)
    return [
        Result(
            name="Modbus TCP reads/s per connection, driver / raw pymodbus loop",
            value=ratio,
            unit="x",
            target=">= 0.8x",
            passed=ratio >= 0.8,
            detail=f"median of {trials} alternating {seconds:g} s trials; driver {median(ours):.0f} reads/s (decode + batch), raw {median(raw):.0f} reads/s",
            trials=ratios,
        )
    ]


async def coalescing(pad: PadDefinition, *, seconds: float) -> list[Result]:
    """Requests per scan, coalesced against one request per channel; and the scan rates."""
    channels = pad.channels_of("plc")
    async with _plc() as endpoint:
        driver, _ = _driver(pad, endpoint)
        per_channel: list[BlockRead] = []
        for channel in channels:
            source = channel.source
            assert isinstance(source, RegisterSource)
            one = dataclasses.replace(channel, rate_hz=1.0)
            single = ModbusDriver(driver.device, [one], lambda _: None, SystemClock())
            per_channel.extend(read for group in single.plans.values() for read in group)
        coalesced_scans = await _driver_reads_per_s(driver, seconds) / driver.requests_per_scan
        per_channel_scans = await _raw_reads_per_s(endpoint, per_channel, seconds) / len(
            per_channel
        )
    fewer = len(channels) / driver.requests_per_scan
    return [
        Result(
            name="PLC requests per scan, one per channel / coalesced",
            value=fewer,
            unit="x fewer",
            target=">= 10x fewer",
            passed=fewer >= 10,
            detail=f"{len(channels)} channels in {driver.requests_per_scan} requests (max_gap {driver.device.max_gap}); full scans/s {coalesced_scans:.0f} coalesced vs {per_channel_scans:.1f} one request per channel",
        )
    ]


async def scaling(pad: PadDefinition, *, devices: int, trials: int, seconds: float) -> list[Result]:
    """N PLCs polled concurrently from one process, each answering in a few milliseconds."""
    delay = [f"slow:plc:delay_ms={PLC_RESPONSE_DELAY_MS}"]
    async with contextlib.AsyncExitStack() as stack:
        endpoints = [await stack.enter_async_context(_plc(delay)) for _ in range(devices)]
        singles, together = [], []
        for _ in range(trials):
            singles.append(await _driver_reads_per_s(_driver(pad, endpoints[0])[0], seconds))
            rates = await asyncio.gather(
                *(_driver_reads_per_s(_driver(pad, e)[0], seconds) for e in endpoints)
            )
            together.append(sum(rates))
    ratios = [t / (devices * s) for t, s in zip(together, singles, strict=True)]
    ratio = median(ratios)
    return [
        Result(
            name=f"{devices} PLCs polled concurrently / {devices} x one PLC",
            value=ratio,
            unit="x",
            target=">= 0.8",
            passed=ratio >= 0.8,
            detail=f"median of {trials} trials of {seconds:g} s; each PLC answers in {PLC_RESPONSE_DELAY_MS} ms; one: {median(singles):.0f} reads/s, {devices} together: {median(together):.0f} reads/s",
            trials=ratios,
        )
    ]


async def poll_jitter(pad: PadDefinition, *, seconds: float) -> list[Result]:
    """A 100 Hz rate group (the stage LOX tanks) polled for `seconds`; cycle start lateness."""
    fast = [
        dataclasses.replace(c, rate_hz=100.0)
        for c in pad.channels_of("plc")
        if c.id.startswith(("lox.s1.", "lox.s2."))
        and isinstance(c.source, RegisterSource)
        and c.source.table is Table.INPUT_REGISTER
    ]
    baseline = await _timer_lateness(seconds=min(seconds, 10.0))
    async with _plc() as endpoint:
        device = with_endpoints(pad, {"plc": endpoint}).devices["plc"]
        latest = LatestValues(len(pad.channels))
        driver = ModbusDriver(device, fast, latest.update, SystemClock())
        driver.core.lateness = LatenessLog(size=int(seconds * 100) + 100)
        async with asyncio.TaskGroup() as tasks:
            runner = tasks.create_task(driver.run())
            await driver.wait_connected()
            await asyncio.sleep(seconds)
            runner.cancel()
        late_ms = [abs(v) * 1000.0 for v in driver.core.lateness.values()]
        stats = driver.statistics()
    p99 = percentile(late_ms, 99)
    return [
        Result(
            name="Poll-cycle jitter at 100 Hz, p99 distance of cycle starts from schedule",
            value=p99,
            unit="ms",
            target="p99 <= 2 ms",
            passed=p99 <= 2.0,
            detail=(
                f"{len(late_ms)} cycles over {seconds:g} s, {driver.requests_per_scan} block(s) of {len(fast)} channels per cycle; "
                f"p50 {percentile(late_ms, 50):.2f} ms, max {max(late_ms):.2f} ms, {stats.overruns} overruns; "
                f"a bare asyncio sleep loop in the same run wakes late by p99 {percentile(baseline, 99):.2f} ms"
            ),
        )
    ]


async def _timer_lateness(*, seconds: float) -> list[float]:
    """How late a bare 100 Hz asyncio sleep loop wakes here: the floor any poll loop stands on."""
    loop = asyncio.get_running_loop()
    period, scheduled, late = 0.01, loop.time(), []
    end = scheduled + seconds
    while scheduled < end:
        scheduled += period
        await asyncio.sleep(max(scheduled - loop.time(), 0.0))
        late.append((loop.time() - scheduled) * 1000.0)
    return late


async def run_modbus_benchmarks(*, quick: bool) -> list[Result]:
    pad = load_pad(PAD_FILE)
    trials, seconds = (3, 1.5) if quick else (7, 3.0)
    results = []
    results += await throughput_against_raw_pymodbus(pad, trials=trials, seconds=seconds)
    results += await coalescing(pad, seconds=seconds)
    results += await scaling(pad, devices=4, trials=trials, seconds=seconds)
    results += await poll_jitter(pad, seconds=10.0 if quick else 60.0)
    return results
