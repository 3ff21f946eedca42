"""MQTT connections: settings, and an aiomqtt client built the way the pad needs it.

TCP_NODELAY on (paho leaves it off; with it, loopback p99 latency fell from 4-6 ms to about
0.5 ms, DESIGN section 7), the incoming queue bounded, MQTT 3.1.1 or 5, TLS and
username/password. Secrets come from the environment or a file, never the command line.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

__all__ = ["SESSION_EXPIRY_S", "MqttSettings", "make_client"]

_PAHO_LOG = logging.getLogger("groundseg.mqtt.client")
# aiomqtt warns once per publish beyond a few dozen in flight; the publisher's window is
# deliberate, so only errors from the client library are worth a log line.
_PAHO_LOG.setLevel(logging.ERROR)

SESSION_EXPIRY_S = 7 * 24 * 3600
"""How long the broker keeps a persistent session (MQTT 5) while its client is away."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    protocol: int = 5
    """5 (MQTT 5) or 4 (MQTT 3.1.1)."""
    username: str | None = None
    password_env: str = "GROUNDSEG_MQTT_PASSWORD"  # noqa: S105  the variable's name, not a secret
    password_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = 10
    incoming_queue: int = 10_000

    def password(self) -> str | None:
        if self.password_file is not None:
            return self.password_file.read_text().strip()
        return os.environ.get(self.password_env)


def make_client(
    settings: MqttSettings,
    *,
    client_id: str,
    will: aiomqtt.Will | None = None,
    persistent: bool = False,
) -> aiomqtt.Client:
    """A client; `persistent` keeps the broker-side session (subscriptions and queued QoS 1
    messages) across reconnects."""
    tls_context = None
    if settings.tls:
        tls_context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        if settings.cert_file is not None:
            tls_context.load_cert_chain(
                str(settings.cert_file), str(settings.key_file) if settings.key_file else None
            )
    v5 = settings.protocol == 5
    properties = None
    if v5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        # The broker never has more unacknowledged QoS 1 messages out to us than our queue
        # holds: aiomqtt would discard the excess, and with manual acks a discarded message
        # stays in flight, unacknowledged, until the next connection.
        properties.ReceiveMaximum = min(settings.incoming_queue, 65535)
        if persistent:
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
    return aiomqtt.Client(
        settings.host,
        settings.port,
        identifier=client_id,
        username=settings.username,
        password=settings.password(),
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        will=will,
        clean_session=None if v5 else not persistent,
        # paho refuses a clean-start flag on MQTT 3.1.1; there it is the clean-session flag.
        clean_start=(not persistent) if v5 else MQTT_CLEAN_START_FIRST_ONLY,
        properties=properties,
        keepalive=settings.keepalive_s,
        tls_context=tls_context,
        max_queued_incoming_messages=settings.incoming_queue,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        timeout=10.0,
        logger=_PAHO_LOG,
    )
