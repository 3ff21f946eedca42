"""The Modbus devices: the propellant-loading PLC over TCP and the gas panel over RTU.

Both serve the same pymodbus datastore (a `SimDevice` with four tables) whose access hook
refreshes the tables from the plant before every read and forwards every write to the
plant. The PLC runs pymodbus's TCP server. The gas panel answers on a serial line; its
responder uses pymodbus's RTU framer and request PDUs and handles one request at a time,
in order, as a real RS-485 slave does, which is what lets a late reply reach the master
after it has moved on to its next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence

import structlog
from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from groundseg.config import Device, Table
from hw_sim.devices.images import Command, ModbusImage, Refresh
from hw_sim.devices.line import SerialLine
from hw_sim.faults import LinkFaults

__all__ = ["ModbusRtuDevice", "ModbusTcpDevice", "build_sim_device"]

log = structlog.get_logger(__name__)

_READ_TABLE = {
    1: Table.COIL,
    2: Table.DISCRETE_INPUT,
    3: Table.HOLDING_REGISTER,
    4: Table.INPUT_REGISTER,
}
_WRITE_TABLE = {
    5: Table.COIL,
    15: Table.COIL,
    6: Table.HOLDING_REGISTER,
    16: Table.HOLDING_REGISTER,
}


def build_sim_device(
    device: Device,
    image: ModbusImage,
    refresh: Refresh,
    command: Command,
    delay: Callable[[], float],
) -> SimDevice:
    """A pymodbus datastore over `image`: reads see fresh plant values, writes reach the plant."""
    register_map = device.register_map

    async def on_access(  # noqa: PLR0917  the signature is pymodbus's SimAction
        function_code: int,
        start: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        del start, count
        wait = delay()
        if wait > 0:
            await asyncio.sleep(wait)
        if values is not None and function_code in _WRITE_TABLE:
            try:
                writes = image.decode_write(_WRITE_TABLE[function_code], address, values)
            except ValueError as exc:
                log.info("write refused", device=device.id, reason=str(exc))
                return ExcCodes.ILLEGAL_ADDRESS
            for channel, value in writes:
                command(channel, value)
            return None
        table = _READ_TABLE.get(function_code)
        if table is None:
            return None
        refresh()
        fresh = image.packed_bits(table) if table.is_bit else image.words[table].tolist()
        registers[: len(fresh)] = fresh
        return None

    def block(size: int, datatype: DataType, values: bool | int) -> list[SimData]:
        # A table of size 0 still needs one (invalid) address so pymodbus accepts the layout.
        if size == 0:
            return [SimData(0, count=1, datatype=DataType.INVALID)]
        return [SimData(0, count=size, values=values, datatype=datatype)]

    return SimDevice(
        id=device.unit_id,
        simdata=(
            block(register_map.coils, DataType.BITS, False),
            block(register_map.discrete_inputs, DataType.BITS, False),
            block(register_map.holding_registers, DataType.REGISTERS, 0),
            block(register_map.input_registers, DataType.REGISTERS, 0),
        ),
        action=on_access,
    )


class ModbusTcpDevice:
    """The PLC: pymodbus's TCP server on a loopback port chosen at start."""

    def __init__(
        self,
        device: Device,
        sim_device: SimDevice,
        faults: Callable[[], LinkFaults],
        rng: random.Random,
        host: str,
    ) -> None:
        self.device = device
        self._sim_device = sim_device
        self._faults = faults
        self._rng = rng
        self._host = host
        self._server: ModbusTcpServer | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"{self._host}:{self.port}"

    async def start(self, port: int = 0) -> None:
        self._server = ModbusTcpServer(
            self._sim_device, address=(self._host, port), trace_packet=self._on_packet
        )
        await self._server.serve_forever(background=True)
        transport = self._server.transport
        assert isinstance(transport, asyncio.Server)
        self.port = transport.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it untyped
            self._server = None

    async def disconnect_clients(self) -> None:
        """Drop every connection and stop listening (link loss); `start` listens again."""
        port = self.port
        await self.stop()
        self.port = port

    def _on_packet(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            return data
        faults = self._faults()
        if faults.dropout or faults.disconnect:
            return b""
        if faults.corrupt_rate and self._rng.random() < faults.corrupt_rate:
            # TCP has no application CRC: corruption shows as a malformed MBAP header.
            data = data[:2] + b"\x7f\x7f" + data[4:]
        if faults.garbage_rate and self._rng.random() < faults.garbage_rate:
            data = self._rng.randbytes(faults.garbage_bytes) + data
        return data


class ModbusRtuDevice:
    """The gas panel: a Modbus RTU slave on a serial line, one request at a time."""

    def __init__(self, device: Device, sim_device: SimDevice, line: SerialLine) -> None:
        self.device = device
        self.line = line
        self._core = SimCore([sim_device])
        self._framer = FramerRTU(DecodePDU(True))
        self.requests = 0
        self.bad_frames = 0

    @property
    def endpoint(self) -> str:
        return self.line.path

    async def run(self) -> None:
        buffer = b""
        while True:
            buffer += await self.line.receive()
            while buffer:
                try:
                    used, request = self._framer.handleFrame(buffer, 0, 0)
                except Exception:
                    self.bad_frames += 1
                    buffer = b""
                    break
                buffer = buffer[used:]
                if request is None:
                    break
                await self._answer(request)

    async def _answer(self, request: ModbusPDU) -> None:
        if request.dev_id not in (0, self.device.unit_id):
            return  # another slave's request on the shared bus
        self.requests += 1
        try:
            # SimCore is the datastore pymodbus's own servers pass here; its annotation lags behind.
            response = await request.datastore_update(self._core, self.device.unit_id)  # type: ignore[arg-type]
        except Exception:
            response = ExceptionResponse(request.function_code, ExcCodes.DEVICE_FAILURE)
        if request.dev_id == 0:
            return  # broadcast: carried out, never answered
        response.dev_id = self.device.unit_id
        await self.line.send_frame(self._framer.buildFrame(response))


# Exported for the benchmark's raw socket checks of frames.
SOCKET_FRAMER: Sequence[type] = (FramerSocket,)
