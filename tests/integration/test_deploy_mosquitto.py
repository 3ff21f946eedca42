"""deploy/mosquitto.conf and deploy/mosquitto.acl as shipped, on Debian's Mosquitto.

Only where the broker listens and where its files are is changed for the test (a free
loopback port, a CA and a password file made here); the security settings and the ACL file
are the deployed ones, read from deploy/ itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import numpy as np
import pytest

from groundseg.codecs.frames import encode_frame
from groundseg.mqtt.connection import MqttSettings, make_client
from groundseg.mqtt.topics import Topics
from groundseg.quality import Quality
from groundseg.telemetry.batch import SampleBatch
from tests.services import free_port, make_certificates, wait_for_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PAD = Topics("baiterek")
ACCOUNTS = ("groundseg-controller", "groundseg-ingest", "source-plc", "viewer")

# Every topic kind a publisher could try to forge, each with a plausible payload.
FORGERIES = {
    PAD.telemetry("gas_panel"): b"GSF1 forged",
    PAD.telemetry("plc"): b"GSF1 forged",
    PAD.latest("lox.s1.ullage_pressure.a"): b'{"value": 0.0}',
    PAD.event("link.lost"): b'{"kind": "link.lost"}',
    PAD.countdown_state: b'{"state": "counting"}',
    PAD.state("groundseg-controller-baiterek"): b'{"state": "offline"}',
    PAD.ingest_ack("ingest-1"): b'{"stored": [[0, 1000000]]}',
    PAD.ingest_health("ingest-1"): b'{"ok": true}',
}


def deployed_config(directory: Path, port: int, certs: Path, passwd: Path) -> str:
    """deploy/mosquitto.conf with its listener on `port` (loopback) and its files here."""
    moved = {
        "listener": f"{port} 127.0.0.1",
        "cafile": str(certs / "ca.crt"),
        "certfile": str(certs / "broker.crt"),
        "keyfile": str(certs / "broker.key"),
        "password_file": str(passwd),
        "acl_file": str(DEPLOY / "mosquitto.acl"),
        "persistence_location": f"{directory / 'data'}/",
    }
    if os.geteuid() == 0:
        # As root the broker would switch to the mosquitto account, which cannot read this
        # test's private directory. Not root, it ignores the line.
        moved["user"] = "root"
    seen: dict[str, int] = dict.fromkeys(moved, 0)
    lines = []
    for line in (DEPLOY / "mosquitto.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key in moved:
            seen[key] += 1
        lines.append(f"{key} {moved[key]}" if key in moved else line)
    assert all(count == 1 for count in seen.values()), (
        f"deploy/mosquitto.conf should set each of these once: {seen}"
    )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DeployedBroker:
    port: int
    ca_file: Path
    directory: Path

    def account(self, user: str | None, *, protocol: int = 5) -> MqttSettings:
        """How `user` reaches the broker; None: anonymously."""
        password_file = None
        if user is not None:
            password_file = self.directory / f"{user}.password"
            password_file.write_text(f"{user}-secret\n")
        return MqttSettings(
            port=self.port,
            protocol=protocol,
            tls=True,
            ca_file=self.ca_file,
            username=user,
            password_file=password_file,
        )


@contextlib.contextmanager
def deployed_broker(directory: Path) -> Iterator[DeployedBroker]:
    executable = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(executable).exists():
        raise RuntimeError("mosquitto is installed by `make test` (Debian package mosquitto)")
    certs = directory / "certs"
    certs.mkdir(parents=True)
    make_certificates(certs)
    passwd = directory / "passwd"
    for user in ACCOUNTS:
        create = [] if passwd.exists() else ["-c"]
        subprocess.run(
            ["mosquitto_passwd", "-b", *create, str(passwd), user, f"{user}-secret"],
            check=True,
            capture_output=True,
        )
    passwd.chmod(0o600)
    (directory / "data").mkdir()
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(deployed_config(directory, port, certs, passwd))
    with (directory / "broker.log").open("wb") as log:
        process = subprocess.Popen([executable, "-c", str(config)], stdout=log, stderr=log)
        try:
            wait_for_port(port, within=10.0, process=process)
            yield DeployedBroker(port=port, ca_file=certs / "ca.crt", directory=directory)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DeployedBroker]:
    with deployed_broker(tmp_path / "mosquitto") as running:
        yield running


def frame(source: str, seq: int) -> bytes:
    batch = SampleBatch.at(
        source=source,
        seq=seq,
        time_ns=1_795_848_200_000_000_000 + seq,
        channel=np.arange(4, dtype=np.uint32),
        value=np.linspace(0.0, 1.0, 4),
        quality=Quality.GOOD,
    )
    return encode_frame(batch, record=seq)


async def next_message(client: aiomqtt.Client) -> tuple[str, bytes]:
    async with asyncio.timeout(10.0):
        message = await anext(aiter(client.messages))
    return str(message.topic), bytes(message.payload)


async def publish_all(client: aiomqtt.Client, messages: dict[str, bytes]) -> None:
    """Each with QoS 1, acknowledged only once the broker has routed (or dropped) it. A
    subscriber gets messages in the order they were routed, so a message published after
    these and received first proves none of these reached that subscriber."""
    for topic, payload in messages.items():
        await client.publish(topic, payload, qos=1)


@pytest.mark.parametrize("protocol", [5, 4], ids=["mqtt5", "mqtt311"])
async def test_an_anonymous_client_is_refused(broker: DeployedBroker, protocol: int) -> None:
    with pytest.raises(aiomqtt.MqttCodeError) as refused:
        async with make_client(broker.account(None, protocol=protocol), client_id="anonymous"):
            pass
    assert "not author" in str(refused.value).lower(), refused.value


async def test_a_client_without_tls_is_refused(broker: DeployedBroker) -> None:
    """The deployed broker has no plain-text listener: a password never crosses in clear."""
    plain = MqttSettings(
        port=broker.port, username="viewer", password_file=broker.account("viewer").password_file
    )
    with pytest.raises(aiomqtt.MqttError):
        async with make_client(plain, client_id="plain"):
            pass


@pytest.mark.parametrize("protocol", [5, 4], ids=["mqtt5", "mqtt311"])
async def test_a_telemetry_source_publishes_its_own_frames_and_nothing_of_another_source(
    broker: DeployedBroker, protocol: int
) -> None:
    """source-plc's frames reach a console; its frames for gas_panel (and forged latest
    values, events, countdown, state or ingest acknowledgements) reach no one."""
    async with (
        make_client(broker.account("viewer"), client_id="console") as console,
        make_client(broker.account("source-plc", protocol=protocol), client_id="source-plc") as plc,
    ):
        await console.subscribe("groundseg/#", qos=1)
        await publish_all(plc, {t: p for t, p in FORGERIES.items() if t != PAD.telemetry("plc")})
        await plc.publish(PAD.telemetry("plc"), frame("plc", 1), qos=1)
        assert await next_message(console) == (PAD.telemetry("plc"), frame("plc", 1))


async def test_a_console_account_cannot_publish_anywhere(broker: DeployedBroker) -> None:
    """A reader's publishes under every topic kind, its own name included, reach no one."""
    async with (
        make_client(broker.account("viewer"), client_id="console-1") as console,
        make_client(broker.account("viewer"), client_id="console-2") as forger,
        make_client(broker.account("groundseg-controller"), client_id="controller") as controller,
    ):
        await console.subscribe("groundseg/#", qos=1)
        await publish_all(
            forger,
            {
                **FORGERIES,
                PAD.telemetry("viewer"): b"GSF1 forged",
                PAD.state("console-2"): b'{"state": "online"}',
                "groundseg/viewer": b"forged",
            },
        )
        await controller.publish(PAD.latest("umb.bus.voltage"), b'{"value": 28.1}', qos=1)
        assert await next_message(console) == (PAD.latest("umb.bus.voltage"), b'{"value": 28.1}')


async def test_the_ingest_raises_its_own_events_and_not_the_controller_s(
    broker: DeployedBroker,
) -> None:
    """An ingest may not forge frames, values or a controller's alarm."""
    async with (
        make_client(broker.account("viewer"), client_id="console") as console,
        make_client(broker.account("groundseg-ingest"), client_id="ingest-1") as ingest,
    ):
        await console.subscribe("groundseg/#", qos=1)
        own = {PAD.ingest_ack("ingest-1"), PAD.ingest_health("ingest-1")}
        await publish_all(ingest, {t: p for t, p in FORGERIES.items() if t not in own})
        await ingest.publish(PAD.event("ingest.bad_frame"), b'{"kind": "ingest.bad_frame"}', qos=1)
        assert await next_message(console) == (
            PAD.event("ingest.bad_frame"),
            b'{"kind": "ingest.bad_frame"}',
        )


async def test_the_controller_publishes_every_kind_of_topic_it_owns(
    broker: DeployedBroker,
) -> None:
    """Frames of every device, latest values, events, the countdown and its birth pass the
    deployed ACL, in the order sent."""
    owned = [
        (PAD.telemetry("plc"), frame("plc", 1)),
        (PAD.telemetry("weather"), frame("weather", 1)),
        (PAD.latest("lox.s1.level.a"), b'{"value": 97.25}'),
        (PAD.event("link.lost"), b'{"kind": "link.lost"}'),
        (PAD.countdown_state, b'{"state": "counting"}'),
        (PAD.state("groundseg-controller-baiterek"), b'{"state": "online"}'),
    ]
    async with (
        make_client(broker.account("viewer"), client_id="console") as console,
        make_client(broker.account("groundseg-controller"), client_id="controller") as controller,
    ):
        await console.subscribe("groundseg/#", qos=1)
        for topic, payload in owned:
            await controller.publish(topic, payload, qos=1)
        received = [await next_message(console) for _ in owned]
    assert received == owned
