"""Modbus links: one request at a time to one device, with failures as our exceptions.

Two implementations share this interface. Over TCP, pymodbus's async client does the work
(transaction ids match replies to requests). Over RTU there is no transaction id, and
pymodbus's serial client hands a late reply to whichever request is waiting next, so the
RTU link keeps pymodbus's framing and PDUs but owns the exchange: it checks that every
reply answers the request it is waiting for, and after any timeout it resynchronises
before the next request with a Return Query Data echo (function 08/00) carrying a fresh
token: once the echo comes back, every earlier reply has been flushed from the line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from groundseg.config import Device, Table
from groundseg.drivers.base import LinkCounters
from groundseg.errors import DeviceError, ProtocolError

__all__ = [
    "EXCEPTION_NAMES",
    "LinkCounters",
    "LostCallback",
    "ModbusLink",
    "check_bits",
    "check_words",
    "device_error",
]

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}

LostCallback = Callable[[str], None]


class ModbusLink(Protocol):
    async def connect(self) -> None:
        """Open the link; LinkDown when it cannot be opened."""
        ...

    def close(self) -> None: ...

    async def read_words(self, table: Table, address: int, count: int) -> npt.NDArray[np.uint16]:
        """Holding or input registers; LinkTimeout, LinkDown, DeviceError or ProtocolError."""
        ...

    async def read_bits(self, table: Table, address: int, count: int) -> npt.NDArray[np.bool_]:
        """Coils or discrete inputs, exactly `count` of them."""
        ...

    async def write_bits(self, address: int, values: Sequence[bool]) -> None: ...

    async def write_words(self, address: int, values: Sequence[int]) -> None: ...


def device_error(
    device: Device, response: ExceptionResponse, counters: LinkCounters
) -> DeviceError:
    counters.device_errors += 1
    code = response.exception_code
    return DeviceError(device.id, code, EXCEPTION_NAMES.get(code, "unknown exception"))


def check_words(
    device: Device, response: ModbusPDU, count: int, counters: LinkCounters
) -> npt.NDArray[np.uint16]:
    if isinstance(response, ExceptionResponse):
        raise device_error(device, response, counters)
    if len(response.registers) != count:
        counters.bad_frames += 1
        raise ProtocolError(
            f"asked for {count} registers, reply carries {len(response.registers)}",
            device=device.id,
        )
    counters.responses += 1
    return np.array(response.registers, dtype=np.uint16)


def check_bits(
    device: Device, response: ModbusPDU, count: int, counters: LinkCounters
) -> npt.NDArray[np.bool_]:
    if isinstance(response, ExceptionResponse):
        raise device_error(device, response, counters)
    # Bits arrive padded to whole bytes; fewer than asked for is a malformed reply.
    if len(response.bits) < count or len(response.bits) >= count + 8:
        counters.bad_frames += 1
        raise ProtocolError(
            f"asked for {count} bits, reply carries {len(response.bits)}", device=device.id
        )
    counters.responses += 1
    return np.array(response.bits[:count], dtype=bool)
