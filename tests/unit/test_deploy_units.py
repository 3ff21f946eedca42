"""The systemd units in deploy/ run commands that exist, with flags that exist, hardened."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from groundseg.cli import _parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ["groundseg-controller.service", "groundseg-ingest.service", "hw_sim.service"]
GROUNDSEG_UNITS = [
    ("groundseg-controller.service", "controller"),
    ("groundseg-ingest.service", "ingest"),
]


def _directives(unit: Path) -> dict[str, list[str]]:
    """Every `Key=value` of a unit, continuation lines joined, in order per key."""
    text = unit.read_text().replace("\\\n", " ")
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith(("#", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def _exec_start(unit: Path) -> list[str]:
    (line,) = _directives(unit)["ExecStart"]
    return shlex.split(line)


def _arguments(unit: str) -> argparse.Namespace:
    return _parser().parse_args(_exec_start(DEPLOY / unit)[1:])


def _acl_publishers() -> set[str]:
    return set(re.findall(r"^user (\S+)$", (DEPLOY / "mosquitto.acl").read_text(), re.MULTILINE))


@pytest.mark.parametrize(("unit", "command"), GROUNDSEG_UNITS)
def test_a_service_unit_parses_as_a_groundseg_command(unit: str, command: str) -> None:
    argv = _exec_start(DEPLOY / unit)
    assert argv[0].endswith("/groundseg")
    assert command in argv
    args = _parser().parse_args(argv[1:])
    assert args.handler.__name__ == f"_{command}"
    assert not any("password" in a.lower() and "file" not in a.lower() for a in argv), (
        "no secret on a command line"
    )
    assert not any("token" in a.lower() for a in argv), "no secret on a command line"


@pytest.mark.parametrize(("unit", "command"), GROUNDSEG_UNITS)
def test_a_service_takes_its_secrets_from_an_environment_file(unit: str, command: str) -> None:
    (environment_file,) = _directives(DEPLOY / unit)["EnvironmentFile"]
    assert environment_file == f"/etc/groundseg/{command}.env"


@pytest.mark.parametrize(("unit", "command"), GROUNDSEG_UNITS)
def test_a_service_logs_in_to_mosquitto_as_an_account_the_acl_lets_publish(
    unit: str, command: str
) -> None:
    args = _arguments(unit)
    assert args.mqtt_username in _acl_publishers()
    assert args.mqtt_tls, "the deployed broker listens with TLS only"


def test_the_controller_unit_serves_the_operator_api_over_https_with_a_users_file() -> None:
    args = _arguments("groundseg-controller.service")
    assert args.api == "0.0.0.0:8443"
    assert args.users == Path("/etc/groundseg/users.json")
    assert (args.tls_cert, args.tls_key) == (
        Path("/etc/groundseg/tls/api.crt"),
        Path("/etc/groundseg/tls/api.key"),
    )
    assert args.state_dir == Path("/var/lib/groundseg/controller")


@pytest.mark.parametrize("unit", UNITS)
def test_a_unit_is_hardened_and_restarts_after_a_failure(unit: str) -> None:
    directives = _directives(DEPLOY / unit)
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "Restart": "on-failure",
    }.items():
        assert directives.get(key) == [value], f"{unit}: {key}={value}"
    assert directives["User"] == ["groundseg"], f"{unit} runs as its own unprivileged user"


def _state_directory(unit: str) -> Path:
    """Where the unit's command keeps its state: the journal, or the spool's directory."""
    args = _arguments(unit)
    state: Path = args.state_dir if unit == "groundseg-controller.service" else args.spool.parent
    return state


@pytest.mark.parametrize(("unit", "command"), GROUNDSEG_UNITS)
def test_a_service_may_write_its_state_directory_and_nothing_else(unit: str, command: str) -> None:
    directives = _directives(DEPLOY / unit)
    state = _state_directory(unit)
    assert state == Path("/var/lib/groundseg") / command
    assert directives["ReadWritePaths"] == [str(state)]
    assert directives["StateDirectory"] == [str(state.relative_to("/var/lib"))]
