"""An in-process MQTT broker (amqtt) on loopback, for a controller with no broker configured.

For demos and a single machine: MQTT 3.1.1, anonymous, loopback only. A pad uses Mosquitto
(or a cluster) as configured in deploy/.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from amqtt.broker import Broker

__all__ = ["embedded_broker"]


@contextlib.asynccontextmanager
async def embedded_broker(port: int = 0) -> AsyncIterator[int]:
    """Run a broker on 127.0.0.1 (a free port when 0); yields the port once it listens."""
    if port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    try:
        yield port
    finally:
        await broker.shutdown()
