"""A third-party Modbus master (mbpoll, on libmodbus) reads the simulated devices the same way.

The PLC is read over TCP and the gas panel over its pty; every block the drivers read is
read by mbpoll too, and the raw words and decoded values must agree.
"""

from __future__ import annotations

import asyncio
import re
import shutil

import numpy as np
import numpy.typing as npt

from groundseg.config import PadDefinition, Table
from groundseg.drivers.modbus import BlockRead, ModbusDriver, plan_reads
from hw_sim.pad import SimulatedPad
from tests.helpers import run_drivers

_MBPOLL_TABLE = {
    Table.COIL: "0",
    Table.DISCRETE_INPUT: "1",
    Table.INPUT_REGISTER: "3",
    Table.HOLDING_REGISTER: "4",
}
_LINE = re.compile(r"^\[(\d+)\]:\s+(-?\d+)", re.MULTILINE)


async def mbpoll(target: list[str], read: BlockRead, unit: int) -> npt.NDArray[np.int64]:
    """The block's words (or bits) as mbpoll reads them."""
    executable = shutil.which("mbpoll")
    assert executable is not None, "mbpoll is installed by `make test` (Debian package mbpoll)"
    args = [
        executable,
        *target,
        "-a",
        str(unit),
        "-t",
        _MBPOLL_TABLE[read.table],
        "-0",
        "-r",
        str(read.block.start),
        "-c",
        str(read.block.count),
        "-1",
        "-o",
        "2",
    ]
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(15):
        out, err = await process.communicate()
    assert process.returncode == 0, f"mbpoll failed: {err.decode()} {out.decode()}"
    values = {int(ref): int(value) & 0xFFFF for ref, value in _LINE.findall(out.decode())}
    assert sorted(values) == list(range(read.block.start, read.block.start + read.block.count)), (
        out.decode()
    )
    return np.array([values[r] for r in sorted(values)], dtype=np.int64)


async def driver_words(driver: ModbusDriver, read: BlockRead) -> npt.NDArray[np.int64]:
    if read.table.is_bit:
        return (await driver.link.read_bits(read.table, read.block.start, read.block.count)).astype(
            np.int64
        )
    return (await driver.link.read_words(read.table, read.block.start, read.block.count)).astype(
        np.int64
    )


def decode(read: BlockRead, raw: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    if read.table.is_bit:
        return read.codec.decode(raw.astype(bool))
    return read.codec.decode(raw.astype(np.uint16))


async def test_mbpoll_reads_the_plc_over_tcp_as_the_driver_does(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    host, port = sim.endpoints["plc"].rsplit(":", 1)
    async with run_drivers(pad, sim.endpoints, only=["plc"]) as rig:
        driver = rig.drivers["plc"]
        assert isinstance(driver, ModbusDriver)
        sim.pause()
        blocks = [read for reads in driver.plans.values() for read in reads]
        assert len(blocks) >= 4
        for read in blocks:
            theirs = await mbpoll(["-m", "tcp", "-p", port, host], read, driver.device.unit_id)
            ours = await driver_words(driver, read)
            assert list(theirs) == list(ours), f"{read.table} {read.block.start}+{read.block.count}"
            assert np.array_equal(decode(read, theirs), decode(read, ours))


async def test_mbpoll_reads_the_gas_panel_over_its_pty_as_the_driver_does(
    pad: PadDefinition, sim: SimulatedPad
) -> None:
    """mbpoll first (one master on the line at a time, as on RS-485), then the driver."""
    sim.pause()
    path = sim.endpoints["gas_panel"]
    serial = ["-m", "rtu", "-b", "115200", "-P", "none", path]
    device = pad.devices["gas_panel"]
    blocks = [
        read
        for reads in plan_reads(device, pad.channels_of("gas_panel")).values()
        for read in reads
    ]
    theirs = [await mbpoll(serial, read, device.unit_id) for read in blocks]
    async with run_drivers(pad, sim.endpoints, only=["gas_panel"]) as rig:
        driver = rig.drivers["gas_panel"]
        assert isinstance(driver, ModbusDriver)
        for read, their_words in zip(blocks, theirs, strict=True):
            ours = await driver_words(driver, read)
            assert list(their_words) == list(ours), (
                f"{read.table} {read.block.start}+{read.block.count}"
            )
            assert np.array_equal(decode(read, their_words), decode(read, ours))
