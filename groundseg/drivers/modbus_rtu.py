"""Modbus RTU link: pymodbus framing and PDUs, our own exchange on the serial line.

A reply is accepted only if it comes from our unit, carries the function code we asked
with (or its exception) and the quantity we asked for; anything else is a late or stray
reply, discarded and counted. After a timeout the line is "dirty": a reply may still be on
its way. Before the next request the link sends a Return Query Data echo (08/00) with a
fresh random token and discards everything until that token comes back; a slave answers in
order, so nothing older can arrive after it. Only then does the next request go out.

Frames are hunted byte by byte: garbage before a frame, or a corrupted frame, costs only
the damaged bytes, not the good frame behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import serial
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadDiscreteInputsRequest,
    WriteMultipleCoilsRequest,
    WriteSingleCoilRequest,
)
from pymodbus.pdu.diag_message import ReturnQueryDataRequest, ReturnQueryDataResponse
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)

from groundseg.config import Device, SerialEndpoint, Table
from groundseg.drivers.modbus_link import (
    LinkCounters,
    LostCallback,
    check_bits,
    check_words,
    device_error,
)
from groundseg.drivers.serial_link import SerialPort
from groundseg.errors import LinkDown, LinkTimeout

__all__ = ["ModbusRtuLink", "RtuFrameHunter"]

MAX_BUFFER = 1024
RESYNC_ATTEMPTS = 3
ILLEGAL_FUNCTION = 1


class RtuFrameHunter:
    """Finds CRC-valid reply frames from one unit in a byte stream (pure, no I/O)."""

    def __init__(self, unit_id: int, counters: LinkCounters) -> None:
        self.unit_id = unit_id
        self.counters = counters
        self.decoder = DecodePDU(False)
        self.buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > MAX_BUFFER:
            dropped = len(self.buffer) - MAX_BUFFER
            self.counters.garbage_bytes += dropped
            del self.buffer[:dropped]

    def discard(self) -> None:
        """Drop whatever is buffered: it answers no request that is still waiting."""
        if self.buffer:
            self.counters.garbage_bytes += len(self.buffer)
            self.buffer.clear()

    def next_frame(self) -> ModbusPDU | None:
        """The first complete valid frame in the buffer, or None until more bytes arrive."""
        data = bytes(self.buffer)
        keep_from = len(data)
        for start in range(len(data)):
            if data[start] != self.unit_id:
                continue
            if len(data) - start < 4:
                keep_from = min(keep_from, start)  # too short to tell yet
                continue
            size = self._frame_size(data[start:])
            if size is None:
                continue
            if size == 0 or start + size > len(data):
                keep_from = min(keep_from, start)  # might complete when more bytes come
                continue
            body = data[start : start + size - 2]
            crc = int.from_bytes(data[start + size - 2 : start + size], "big")
            if not FramerRTU.check_CRC(body, crc):
                self.counters.bad_frames += 1
                continue
            pdu = self._decode(body[1:])
            if pdu is None:
                continue
            self.counters.garbage_bytes += start
            del self.buffer[: start + size]
            pdu.dev_id = self.unit_id
            return pdu
        self.counters.garbage_bytes += keep_from
        del self.buffer[:keep_from]
        return None

    def _frame_size(self, data: bytes) -> int | None:
        try:
            pdu_class = self.decoder.lookupPduClass(data)
            return None if pdu_class is None else int(pdu_class.calculateRtuFrameSize(data))
        except Exception:
            return None

    def _decode(self, pdu_bytes: bytes) -> ModbusPDU | None:
        try:
            return self.decoder.decode(pdu_bytes)
        except Exception:
            self.counters.bad_frames += 1
            return None


class ModbusRtuLink:
    def __init__(
        self,
        device: Device,
        endpoint: SerialEndpoint,
        counters: LinkCounters,
        on_lost: LostCallback,
    ) -> None:
        self.device = device
        self.endpoint = endpoint
        self.counters = counters
        self._on_lost = on_lost
        self._framer = FramerRTU(DecodePDU(False))
        self._hunter = RtuFrameHunter(device.unit_id, counters)
        self.port = SerialPort(device.id, endpoint)
        self._lock = asyncio.Lock()
        self._dirty = False
        self._rng = random.Random()  # noqa: S311  echo tokens only need to differ
        self.resyncs = 0

    async def connect(self) -> None:
        await self.port.open()
        self._hunter.buffer.clear()
        self._dirty = False

    def close(self) -> None:
        self.port.close()

    async def read_words(self, table: Table, address: int, count: int) -> npt.NDArray[np.uint16]:
        request_type = (
            ReadInputRegistersRequest
            if table is Table.INPUT_REGISTER
            else ReadHoldingRegistersRequest
        )
        request = request_type(address=address, count=count)
        response = await self._transact(
            request, _answers(request, lambda r: len(r.registers) == count)
        )
        return check_words(self.device, response, count, self.counters)

    async def read_bits(self, table: Table, address: int, count: int) -> npt.NDArray[np.bool_]:
        request_type = (
            ReadDiscreteInputsRequest if table is Table.DISCRETE_INPUT else ReadCoilsRequest
        )
        request = request_type(address=address, count=count)
        response = await self._transact(
            request, _answers(request, lambda r: count <= len(r.bits) < count + 8)
        )
        return check_bits(self.device, response, count, self.counters)

    async def write_bits(self, address: int, values: Sequence[bool]) -> None:
        self.counters.writes += 1
        request: ModbusPDU
        if len(values) == 1:
            request = WriteSingleCoilRequest(address=address, bits=[values[0]])
        else:
            request = WriteMultipleCoilsRequest(address=address, bits=list(values))
        self._check_write(
            await self._transact(request, _answers(request, lambda r: r.address == address))
        )

    async def write_words(self, address: int, values: Sequence[int]) -> None:
        self.counters.writes += 1
        request: ModbusPDU
        if len(values) == 1:
            request = WriteSingleRegisterRequest(address=address, registers=[values[0]])
        else:
            request = WriteMultipleRegistersRequest(address=address, registers=list(values))
        self._check_write(
            await self._transact(request, _answers(request, lambda r: r.address == address))
        )

    def _check_write(self, response: ModbusPDU) -> None:
        if isinstance(response, ExceptionResponse):
            raise device_error(self.device, response, self.counters)
        self.counters.responses += 1

    async def _transact(self, request: ModbusPDU, accept: Callable[[ModbusPDU], bool]) -> ModbusPDU:
        async with self._lock:
            if self._dirty:
                await self._resync()
            self.counters.requests += 1
            return await self._exchange(request, accept)

    async def _exchange(self, request: ModbusPDU, accept: Callable[[ModbusPDU], bool]) -> ModbusPDU:
        reader = self.port.reader
        if reader is None:
            raise LinkDown(self.device.id, f"{self.endpoint.path} is not open")
        request.dev_id = self.device.unit_id
        self._hunter.discard()
        try:
            self.port.write(self._framer.buildFrame(request))
            async with asyncio.timeout(self.device.timeout_s):
                while True:
                    response = await self._next_frame(reader)
                    if accept(response):
                        return response
                    self.counters.late_replies += 1
        except TimeoutError:
            self.counters.timeouts += 1
            self._dirty = True
            raise LinkTimeout(
                self.device.id, f"no matching reply within {self.device.timeout_s:g} s"
            ) from None
        except (OSError, serial.SerialException) as exc:
            self._on_lost(f"{self.endpoint.path}: {exc}")
            raise LinkDown(self.device.id, f"{self.endpoint.path} failed: {exc}") from None

    async def _next_frame(self, reader: asyncio.StreamReader) -> ModbusPDU:
        while (frame := self._hunter.next_frame()) is None:
            data = await reader.read(512)
            if not data:
                self._on_lost(f"{self.endpoint.path} closed")
                raise LinkDown(self.device.id, f"{self.endpoint.path} closed")
            self._hunter.feed(data)
        return frame

    async def _resync(self) -> None:
        """Flush replies to abandoned requests off the line (see the module docstring)."""
        self.resyncs += 1
        for _ in range(RESYNC_ATTEMPTS):
            token = self._rng.randrange(0x10000)
            echo = ReturnQueryDataRequest(message=token)
            try:
                response = await self._exchange(echo, _echo_of(token))
            except LinkTimeout:
                continue
            if (
                isinstance(response, ExceptionResponse)
                and response.exception_code == ILLEGAL_FUNCTION
            ):
                await self._wait_quiet()  # a slave without diagnostics: wait out its replies
            self._dirty = False
            return
        raise LinkTimeout(self.device.id, "line did not resynchronise after a timeout")

    async def _wait_quiet(self) -> None:
        reader = self.port.reader
        if reader is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.device.timeout_s):
                while data := await reader.read(512):
                    self.counters.garbage_bytes += len(data)


def _answers(
    request: ModbusPDU, complete: Callable[[ModbusPDU], bool]
) -> Callable[[ModbusPDU], bool]:
    """A reply answers `request` if it is its exception, or its function with `complete` true."""

    def accept(response: ModbusPDU) -> bool:
        if isinstance(response, ExceptionResponse):
            return response.function_code & 0x7F == request.function_code
        return response.function_code == request.function_code and complete(response)

    return accept


def _echo_of(token: int) -> Callable[[ModbusPDU], bool]:
    def accept(response: ModbusPDU) -> bool:
        if isinstance(response, ExceptionResponse):
            return response.function_code & 0x7F == ReturnQueryDataRequest.function_code
        return isinstance(response, ReturnQueryDataResponse) and _message_value(response) == token

    return accept


def _message_value(response: ReturnQueryDataResponse) -> int:
    # pymodbus keeps a Return Query Data reply's payload as the raw bytes echoed.
    message = response.message
    if isinstance(message, bytes):
        return int.from_bytes(message[:2], "big") if len(message) >= 2 else -1
    return int(message) if isinstance(message, int) else -1
