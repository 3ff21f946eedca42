"""Modbus TCP link on pymodbus's async client.

pymodbus matches replies to requests by transaction id and discards late ones. We turn
off its own retries and reconnection (its defaults, 3 s x 4 tries and a reconnect delay
growing to 300 s, would stall a pad scan for many seconds): the driver owns both, with a
short timeout and a jittered backoff capped at two seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from groundseg.config import Device, Table, TcpEndpoint
from groundseg.drivers.modbus_link import (
    LinkCounters,
    LostCallback,
    check_bits,
    check_words,
    device_error,
)
from groundseg.errors import LinkDown, LinkTimeout, ProtocolError

__all__ = ["ModbusTcpLink"]


class ModbusTcpLink:
    def __init__(
        self, device: Device, endpoint: TcpEndpoint, counters: LinkCounters, on_lost: LostCallback
    ) -> None:
        self.device = device
        self.endpoint = endpoint
        self.counters = counters
        self._on_lost = on_lost
        self._client: AsyncModbusTcpClient | None = None

    async def connect(self) -> None:
        client = AsyncModbusTcpClient(
            self.endpoint.host,
            port=self.endpoint.port,
            name=self.device.id,
            timeout=self.device.timeout_s,
            retries=0,
            reconnect_delay=0,
            trace_connect=self._on_connection_change,
        )
        try:
            connected = await client.connect()
        except (OSError, ModbusException) as exc:
            client.close()
            raise LinkDown(self.device.id, f"cannot connect to {self.endpoint}: {exc}") from None
        if not connected:
            client.close()
            raise LinkDown(self.device.id, f"cannot connect to {self.endpoint}")
        self._client = client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _on_connection_change(self, connected: bool) -> None:
        if not connected and self._client is not None:
            self._on_lost(f"connection to {self.endpoint} closed")

    async def read_words(self, table: Table, address: int, count: int) -> npt.NDArray[np.uint16]:
        client = self._require()
        reader = (
            client.read_input_registers
            if table is Table.INPUT_REGISTER
            else client.read_holding_registers
        )
        response = await self._call(reader(address, count=count, device_id=self.device.unit_id))
        return check_words(self.device, response, count, self.counters)

    async def read_bits(self, table: Table, address: int, count: int) -> npt.NDArray[np.bool_]:
        client = self._require()
        reader = client.read_discrete_inputs if table is Table.DISCRETE_INPUT else client.read_coils
        response = await self._call(reader(address, count=count, device_id=self.device.unit_id))
        return check_bits(self.device, response, count, self.counters)

    async def write_bits(self, address: int, values: Sequence[bool]) -> None:
        client = self._require()
        self.counters.writes += 1
        if len(values) == 1:
            request = client.write_coil(address, values[0], device_id=self.device.unit_id)
        else:
            request = client.write_coils(address, list(values), device_id=self.device.unit_id)
        self._check_write(await self._call(request))

    async def write_words(self, address: int, values: Sequence[int]) -> None:
        client = self._require()
        self.counters.writes += 1
        if len(values) == 1:
            request = client.write_register(address, values[0], device_id=self.device.unit_id)
        else:
            request = client.write_registers(address, list(values), device_id=self.device.unit_id)
        self._check_write(await self._call(request))

    def _require(self) -> AsyncModbusTcpClient:
        if self._client is None or not self._client.connected:
            raise LinkDown(self.device.id, f"not connected to {self.endpoint}")
        return self._client

    async def _call(self, request: object) -> ModbusPDU:
        self.counters.requests += 1
        try:
            response = await request  # type: ignore[misc]
        except ConnectionException as exc:
            self._on_lost(str(exc))
            raise LinkDown(self.device.id, f"connection to {self.endpoint} lost") from None
        except (TimeoutError, ModbusIOException):
            self.counters.timeouts += 1
            raise LinkTimeout(
                self.device.id, f"no reply within {self.device.timeout_s:g} s"
            ) from None
        except ModbusException as exc:
            self.counters.bad_frames += 1
            raise ProtocolError(f"undecodable reply: {exc}", device=self.device.id) from None
        assert isinstance(response, ModbusPDU)
        return response

    def _check_write(self, response: ModbusPDU) -> None:
        if isinstance(response, ExceptionResponse):
            raise device_error(self.device, response, self.counters)
        self.counters.responses += 1
