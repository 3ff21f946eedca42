"""MQTT as deployed: TLS, a password per service and deploy/'s ACL file; MQTT 3.1.1 too."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiomqtt
import pytest

from groundseg.ingest.sinks import InfluxV1Sink
from groundseg.mqtt.connection import MqttSettings, make_client
from tests.helpers import in_background
from tests.integration.rig import (
    TOPICS,
    all_stored,
    assert_exactly,
    connection,
    ingest,
    pipeline,
)
from tests.services import InfluxDB1, Mosquitto


async def test_telemetry_flows_over_tls_with_each_service_s_own_password(
    tmp_path: Path, secure_broker: Mosquitto, influx: InfluxDB1
) -> None:
    """Frames, acknowledgements, health and birth all pass the deployed ACLs."""
    line = pipeline(
        tmp_path,
        secure_broker,
        mqtt=connection(tmp_path, secure_broker, user="groundseg-controller"),
    )
    service = ingest(
        tmp_path,
        secure_broker,
        [InfluxV1Sink(influx.url, influx.database)],
        mqtt=connection(tmp_path, secure_broker, user="groundseg-ingest"),
    )
    async with (
        in_background(service.run(), "ingest"),
        in_background(line.publisher.run(), "publisher"),
    ):
        line.produce("plc", range(200))
        await all_stored(line, influx, 200, what="through the TLS broker")
    assert_exactly(influx, {"plc": 200})


async def test_a_wrong_password_is_refused_with_a_reason(
    tmp_path: Path, secure_broker: Mosquitto
) -> None:
    settings = connection(tmp_path, secure_broker, user="groundseg-ingest")
    (tmp_path / "groundseg-ingest.password").write_text("not-the-password\n")
    with pytest.raises(aiomqtt.MqttCodeError) as refused:
        async with make_client(settings, client_id="intruder"):
            pass
    assert (
        "not authorized" in str(refused.value).lower()
        or "bad user name" in str(refused.value).lower()
    )


async def test_a_broker_whose_certificate_is_not_from_our_ca_is_refused(
    tmp_path: Path, secure_broker: Mosquitto
) -> None:
    """TLS verifies the broker: a man in the middle with his own certificate gets nothing."""
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_text(ssl.get_server_certificate(("127.0.0.1", secure_broker.port)))
    settings = connection(tmp_path, secure_broker, user="groundseg-ingest")
    stranger = MqttSettings(
        port=settings.port,
        tls=True,
        ca_file=other_ca,  # the broker's own leaf, not the CA that signed it
        username=settings.username,
        password_file=settings.password_file,
    )
    with pytest.raises(aiomqtt.MqttError, match=r"(?i)certificate"):
        async with make_client(stranger, client_id="fooled"):
            pass


async def test_a_viewer_reads_latest_values_and_cannot_publish_telemetry(
    tmp_path: Path, secure_broker: Mosquitto
) -> None:
    """Dashboards read everything and write nothing: a forged frame never reaches anyone."""
    controller = connection(tmp_path, secure_broker, user="groundseg-controller")
    viewer = connection(tmp_path, secure_broker, user="viewer")
    async with (
        make_client(viewer, client_id="dashboard") as dashboard,
        make_client(controller, client_id="controller") as publisher,
    ):
        await dashboard.subscribe(TOPICS.latest("#"), qos=1)
        await dashboard.subscribe(TOPICS.telemetry("+"), qos=1)
        # Acknowledged (this Mosquitto does not tell a publisher what its ACL dropped) and
        # dropped: handled before the controller's message, it would arrive first.
        await dashboard.publish(TOPICS.telemetry("plc"), b"forged", qos=1)
        await publisher.publish(TOPICS.latest("umb.bus.voltage"), b'{"value": 28.1}', qos=1)
        async with asyncio.timeout(10.0):
            message = await anext(aiter(dashboard.messages))
    assert str(message.topic) == TOPICS.latest("umb.bus.voltage"), "the forged frame never came"
    assert bytes(message.payload) == b'{"value": 28.1}'


async def test_mqtt_3_1_1_carries_the_whole_backbone(
    tmp_path: Path, broker: Mosquitto, influx: InfluxDB1
) -> None:
    """Brokers that speak only 3.1.1: persistent sessions by the clean-session flag."""
    line = pipeline(tmp_path, broker, mqtt=connection(tmp_path, broker, protocol=4))
    service = ingest(
        tmp_path,
        broker,
        [InfluxV1Sink(influx.url, influx.database)],
        mqtt=connection(tmp_path, broker, protocol=4),
    )
    async with (
        in_background(service.run(), "ingest"),
        in_background(line.publisher.run(), "publisher"),
    ):
        line.produce("plc", range(150))
        await all_stored(line, influx, 150, what="over MQTT 3.1.1")
    assert_exactly(influx, {"plc": 150})
