"""Serial ports for asyncio, with failures as our exceptions.

A port is opened exclusively (two drivers on one RS-485 port would steal each other's
replies) and its input is flushed, so bytes left from before never reach a decoder.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import serial
import serial_asyncio_fast

from groundseg.config import SerialEndpoint
from groundseg.drivers.base import DriverCore
from groundseg.errors import LinkDown

__all__ = ["SerialPort", "receive_forever"]


class SerialPort:
    def __init__(self, device_id: str, endpoint: SerialEndpoint) -> None:
        self.device_id = device_id
        self.endpoint = endpoint
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        endpoint = self.endpoint
        try:
            self.reader, self.writer = await serial_asyncio_fast.open_serial_connection(
                url=endpoint.path,
                baudrate=endpoint.baudrate,
                bytesize=endpoint.bytesize,
                parity=endpoint.parity,
                stopbits=endpoint.stopbits,
                exclusive=True,
            )
        except (OSError, serial.SerialException, ValueError) as exc:
            raise LinkDown(self.device_id, f"cannot open {endpoint.path}: {exc}") from None
        port = self.writer.transport.get_extra_info("serial")
        if port is not None:
            port.reset_input_buffer()

    def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()

    def write(self, data: bytes) -> None:
        if self.writer is None:
            raise LinkDown(self.device_id, f"{self.endpoint.path} is not open")
        self.writer.write(data)


async def receive_forever(
    port: SerialPort, core: DriverCore, on_data: Callable[[bytes], None]
) -> None:
    """Feed every byte the port receives to `on_data`; report the port failing to `core`."""
    while True:
        await core.connected.wait()
        reader = port.reader
        try:
            if reader is None:
                raise OSError("port closed")
            data = await reader.read(512)
        except (OSError, serial.SerialException) as exc:
            core.link_lost(f"{port.endpoint.path}: {exc}")
            continue
        if not data:
            core.link_lost(f"{port.endpoint.path} closed")
            continue
        on_data(data)
