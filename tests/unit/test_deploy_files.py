"""deploy/compose.yaml and the files around it, checked without Docker: what each service
mounts is in the repository or is a site secret kept out of it, secrets come from env files,
the groundseg commands parse, Mosquitto runs deploy/mosquitto.conf with the ACL file, and
the Grafana dashboard queries channels the pad has."""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from groundseg.cli import _parser
from groundseg.config import load_pad

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRET_WORDS = ("password", "token", "secret")
GROUNDSEG_SERVICES = {"groundseg-controller": "controller", "groundseg-ingest": "ingest"}


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _default(text: str) -> str:
    """`${VAR:-default}` as compose resolves it when VAR is unset; other text unchanged."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", text)


def _mounts(service: dict[str, Any]) -> Iterator[tuple[str, PurePosixPath]]:
    """(source, target) of every volume: a bind source as written, or a named volume."""
    for volume in service.get("volumes", []):
        source, target, *_ = _default(volume).split(":")
        yield source, PurePosixPath(target)


def _binds(service: dict[str, Any]) -> Iterator[tuple[Path, PurePosixPath]]:
    for source, target in _mounts(service):
        if source.startswith("."):
            yield (DEPLOY / source).resolve(), target


def _ignored(path: Path) -> bool:
    """Whether deploy/.gitignore keeps `path` (under deploy/) out of the repository."""
    relative = path.relative_to(DEPLOY).as_posix()
    patterns = [
        line.rstrip("/")
        for line in (DEPLOY / ".gitignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    return any(
        fnmatch.fnmatch(relative, pattern) or relative.startswith(f"{pattern}/")
        for pattern in patterns
    )


def _under(path: PurePosixPath, targets: set[PurePosixPath]) -> bool:
    return any(path == target or target in path.parents for target in targets)


def _command(name: str) -> argparse.Namespace:
    return _parser().parse_args(_services()[name]["command"])


def _mosquitto_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "mosquitto.conf").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            settings.setdefault(key, []).append(value.strip())
    return settings


def _acl() -> str:
    return (DEPLOY / "mosquitto.acl").read_text()


def _acl_blocks() -> dict[str, list[str]]:
    """{user: [its topic lines]} from mosquitto.acl."""
    blocks: dict[str, list[str]] = {}
    user = None
    for line in _acl().splitlines():
        if line.startswith("user "):
            user = line.removeprefix("user ").strip()
            blocks[user] = []
        elif line.startswith("topic ") and user is not None:
            blocks[user].append(line.removeprefix("topic ").strip())
        elif line.startswith("pattern "):
            user = None
    return blocks


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads((DEPLOY / "grafana/dashboards/pad.json").read_text())
    return dashboard


def _queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, Flux query) of every panel target."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["query"]


# -- the compose stack -----------------------------------------------------------------------


def test_the_stack_is_broker_database_dashboards_controller_and_ingest() -> None:
    assert set(_services()) == {
        "mosquitto",
        "influxdb",
        "grafana",
        "groundseg-controller",
        "groundseg-ingest",
    }


@pytest.mark.parametrize("name", sorted(_services()))
def test_every_file_a_service_mounts_is_in_the_repository_or_is_a_kept_out_secret(
    name: str,
) -> None:
    service = _services()[name]
    declared = set(_compose().get("volumes") or {})
    for source, target in _mounts(service):
        if not source.startswith("."):
            assert source in declared, f"{name}: named volume {source} is not declared"
            continue
        path = (DEPLOY / source).resolve()
        if path.is_relative_to(DEPLOY / "secrets"):
            assert _ignored(path), f"{name}: site secret {source} must be ignored by git"
        else:
            assert path.exists(), f"{name}: {source} (mounted at {target}) is not in the repo"
    if "build" in service:
        context = (DEPLOY / service["build"]["context"]).resolve()
        assert (context / service["build"]["dockerfile"]).is_file()


@pytest.mark.parametrize("name", sorted(_services()))
def test_secrets_come_from_env_files_that_git_ignores(name: str) -> None:
    service = _services()[name]
    for key, value in (service.get("environment") or {}).items():
        assert not any(word in key.lower() for word in SECRET_WORDS), (
            f"{name}: {key} belongs in an env file"
        )
        assert not any(word in str(value).lower() for word in SECRET_WORDS), (name, key)
    for env_file in service.get("env_file", []):
        path = DEPLOY / env_file
        assert _ignored(path), f"{name}: {env_file} holds secrets: ignore it in git"
        assert path.with_name(f"{path.name}.example").is_file(), f"{env_file}.example"
    for word in [*service.get("entrypoint", []), *service.get("command", [])]:
        if "password-file" not in word:
            assert not any(w in word.lower() for w in SECRET_WORDS), f"{name}: {word}"


@pytest.mark.parametrize(
    ("name", "secrets"),
    [
        ("groundseg-controller", {"GROUNDSEG_MQTT_PASSWORD"}),
        ("groundseg-ingest", {"GROUNDSEG_MQTT_PASSWORD", "GROUNDSEG_INFLUX_TOKEN"}),
        ("influxdb", {"DOCKER_INFLUXDB_INIT_PASSWORD", "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"}),
        ("grafana", {"GF_SECURITY_ADMIN_PASSWORD", "GROUNDSEG_GRAFANA_INFLUX_TOKEN"}),
    ],
)
def test_a_service_s_env_file_example_names_its_secrets_and_gives_none(
    name: str, secrets: set[str]
) -> None:
    (env_file,) = _services()[name]["env_file"]
    example = (DEPLOY / f"{env_file}.example").read_text()
    values = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", example, re.MULTILINE))
    assert secrets <= set(values), secrets - set(values)
    assert not any(values[secret] for secret in secrets), "an example holds no secret value"


def test_every_setting_compose_reads_from_dot_env_is_in_the_example() -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", (DEPLOY / "compose.yaml").read_text()))
    example = (DEPLOY / ".env.example").read_text()
    defined = set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE))
    assert used <= defined, used - defined
    assert not any(word in key.lower() for key in defined for word in SECRET_WORDS), (
        "secrets go in env/*.env, one file per service"
    )


@pytest.mark.parametrize(("name", "command"), sorted(GROUNDSEG_SERVICES.items()))
def test_a_groundseg_service_runs_a_command_that_parses_with_files_it_mounts(
    name: str, command: str
) -> None:
    args = _command(name)
    assert args.handler.__name__ == f"_{command}"
    targets = {target for _, target in _mounts(_services()[name])}
    for option in ("pad", "users", "tls_cert", "tls_key", "mqtt_ca", "state_dir", "spool"):
        value = getattr(args, option, None)
        if value is not None:
            assert _under(PurePosixPath(value), targets), f"{name}: --{option} {value} unmounted"
    assert args.mqtt.split(":")[0] == "mosquitto"
    assert args.mqtt_tls
    assert args.mqtt_username in _acl_blocks(), f"{name}: no ACL block lets it publish"


def test_the_controller_serves_the_operator_api_on_its_published_port() -> None:
    args = _command("groundseg-controller")
    assert args.api == "0.0.0.0:8443"
    assert args.tls_cert is not None
    assert args.users is not None
    ports = [_default(port) for port in _services()["groundseg-controller"]["ports"]]
    assert any(port.endswith(":8443") for port in ports), ports


def test_the_ingest_writes_to_the_compose_influxdb_bucket() -> None:
    args = _command("groundseg-ingest")
    environment = _services()["influxdb"]["environment"]
    assert args.influx_v2 == "http://influxdb:8086"
    assert args.bucket == environment["DOCKER_INFLUXDB_INIT_BUCKET"] == "groundseg"
    assert args.org == environment["DOCKER_INFLUXDB_INIT_ORG"]


# -- Mosquitto -------------------------------------------------------------------------------


def test_mosquitto_runs_deploy_mosquitto_conf_and_mounts_every_file_it_names() -> None:
    service = _services()["mosquitto"]
    assert service["image"].startswith("eclipse-mosquitto:2")
    launch = " ".join([*service.get("entrypoint", []), *service.get("command", [])])
    (config,) = re.findall(r"/mosquitto -c (\S+)", launch)
    binds = {target: source for source, target in _binds(service)}
    assert binds[PurePosixPath(config)] == DEPLOY / "mosquitto.conf"
    settings = _mosquitto_settings()
    for key in ("password_file", "acl_file", "cafile", "certfile", "keyfile"):
        (path,) = settings[key]
        assert PurePosixPath(path) in binds, f"{key} {path} is not mounted"
    assert binds[PurePosixPath(settings["acl_file"][0])] == DEPLOY / "mosquitto.acl"
    targets = {target for _, target in _mounts(service)}
    assert _under(PurePosixPath(settings["persistence_location"][0]), targets)


def test_mosquitto_conf_refuses_anonymous_clients_and_listens_with_tls_only() -> None:
    settings = _mosquitto_settings()
    assert settings["allow_anonymous"] == ["false"]
    assert settings["per_listener_settings"] == ["false"]
    assert settings["listener"] == ["8883"], "one listener, and it is the TLS one"
    assert settings["tls_version"] in (["tlsv1.2"], ["tlsv1.3"])
    for key in ("cafile", "certfile", "keyfile", "password_file", "acl_file"):
        assert len(settings[key]) == 1, key


def test_mosquitto_takes_a_poll_frame_of_thousands_of_samples_and_not_much_more() -> None:
    """GSF1: 28 bytes of header, the source name, and 21 bytes a sample at worst (a time of
    its own, channel, value, quality); see docs/mqtt.md."""
    (limit,) = (int(v) for v in _mosquitto_settings()["max_packet_size"])
    frame_of_5000 = 28 + 255 + 21 * 5000
    assert frame_of_5000 <= limit <= 16 * 1024 * 1024
    pad = load_pad(ROOT / "pads/baiterek.toml")
    assert len(pad.channels) * 21 + 28 + 255 <= limit, "a whole pad in one frame fits"
    settings = _mosquitto_settings()
    assert settings["persistence"] == ["true"]
    assert int(settings["max_queued_messages"][0]) > 0


def test_the_acl_grants_writes_only_to_accounts_it_names() -> None:
    """Patterns apply to every account: a write pattern would let consoles publish."""
    patterns = re.findall(r"^pattern (\S+) (\S+)$", _acl(), re.MULTILINE)
    assert patterns == [("read", "groundseg/#")]
    for user, topics in _acl_blocks().items():
        for line in topics:
            access, topic = line.split()
            assert access == "write", f"{user}: {line} (everyone reads already)"
            assert topic.startswith("groundseg/+/"), f"{user}: {topic}"
            assert "#" not in topic or topic.endswith("/countdown/#"), f"{user}: {topic}"


def test_a_source_account_may_publish_only_its_own_device() -> None:
    pad = load_pad(ROOT / "pads/baiterek.toml")
    blocks = _acl_blocks()
    for device in pad.devices:
        user = f"source-{device}"
        assert sorted(blocks[user]) == [
            f"write groundseg/+/state/{user}",
            f"write groundseg/+/telemetry/{device}",
        ]


def test_the_acl_lets_the_ingest_raise_every_event_it_raises_and_no_other() -> None:
    sources = "".join(p.read_text() for p in (ROOT / "groundseg/ingest").glob("*.py"))
    kinds = set(re.findall(r"\"(ingest\.[a-z_]+)\"", sources))
    assert kinds, "the ingest's event kinds are string literals in groundseg/ingest"
    events = {
        topic.removeprefix("write groundseg/+/events/")
        for topic in _acl_blocks()["groundseg-ingest"]
        if "/events/" in topic
    }
    assert events == kinds


# -- Grafana ---------------------------------------------------------------------------------


def _provisioning(kind: str) -> dict[str, Any]:
    (path,) = (DEPLOY / "grafana/provisioning" / kind).glob("*.yaml")
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def test_grafana_provisions_the_influxdb_bucket_with_a_token_from_its_env_file() -> None:
    (source,) = _provisioning("datasources")["datasources"]
    assert source["type"] == "influxdb"
    assert source["jsonData"]["defaultBucket"] == "groundseg"
    environment = _services()["grafana"]["environment"]
    (url,) = re.findall(r"^\$\{([A-Z0-9_]+)\}$", source["url"])
    assert environment[url] == _command("groundseg-ingest").influx_v2, "where the ingest writes"
    (token,) = re.findall(r"^\$\{([A-Z0-9_]+)\}$", source["secureJsonData"]["token"])
    example = (DEPLOY / "env/grafana.env.example").read_text()
    assert re.search(rf"^{token}=", example, re.MULTILINE), f"{token} in env/grafana.env"


def test_grafana_loads_the_dashboards_from_the_directory_compose_mounts() -> None:
    (provider,) = _provisioning("dashboards")["providers"]
    binds = {target: source for source, target in _binds(_services()["grafana"])}
    assert binds[PurePosixPath(provider["options"]["path"])] == DEPLOY / "grafana/dashboards"
    for kind in ("datasources", "dashboards"):
        target = PurePosixPath("/etc/grafana/provisioning") / kind
        assert binds[target] == DEPLOY / "grafana/provisioning" / kind


def test_every_dashboard_query_reads_the_provisioned_source() -> None:
    dashboard = _dashboard()
    (source,) = _provisioning("datasources")["datasources"]
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], f"{panel['title']} queries nothing"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]
            assert 'from(bucket: "groundseg")' in target["query"], panel["title"]
            assert 'r._measurement == "telemetry"' in target["query"], panel["title"]


def test_every_channel_the_dashboard_queries_exists_in_the_pad_file() -> None:
    channels = {channel.id for channel in load_pad(ROOT / "pads/baiterek.toml").channels}
    queried = {
        field
        for _, query in _queries(_dashboard())
        for field in re.findall(r'r\._field == "([^"]+)"', query)
    }
    assert queried, "the dashboard queries channels by name"
    assert queried <= channels, sorted(queried - channels)
    # What the pad dashboard is for: levels, ullage, transfer line, valves, weather.
    assert {
        "lox.s1.level.a",
        "ker.s1.level.a",
        "lox.s1.ullage_pressure.a",
        "ker.s1.ullage_pressure.a",
        "lox.line.temp.1",
        "lox.fast_fill_valve.position",
        "wx.wind.m10.gust",
        "wx.lightning.distance",
    } <= queried
