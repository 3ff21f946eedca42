"""Command-line options several commands share: the MQTT broker and the operator API.

Kept apart from the commands themselves, and light to import: `groundseg` loads only the
module of the command it runs, and a replay must not wait for the controller's libraries.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from groundseg.errors import ConfigError, ConfigProblem
from groundseg.mqtt.connection import MqttSettings

if TYPE_CHECKING:
    from groundseg.api import ApiSettings

__all__ = [
    "add_api_arguments",
    "api_settings",
    "mqtt_arguments",
    "mqtt_settings",
    "parse_host_port",
]


def mqtt_arguments(
    parser: argparse.ArgumentParser,
    *,
    required: bool,
    when_absent: str = "an in-process broker on loopback",
) -> None:
    default = os.environ.get("GROUNDSEG_MQTT")
    parser.add_argument(
        "--mqtt",
        default=default,
        required=required and default is None,
        metavar="HOST:PORT",
        help="MQTT broker (env GROUNDSEG_MQTT)" + ("" if required else f"; none: {when_absent}"),
    )
    parser.add_argument("--mqtt-protocol", choices=["5", "3.1.1"], default="5")
    parser.add_argument("--mqtt-username", default=os.environ.get("GROUNDSEG_MQTT_USERNAME"))
    parser.add_argument(
        "--mqtt-password-file",
        type=Path,
        default=None,
        help="file holding the password (or env GROUNDSEG_MQTT_PASSWORD)",
    )
    parser.add_argument("--mqtt-tls", action="store_true")
    parser.add_argument("--mqtt-ca", type=Path, default=None)
    parser.add_argument("--mqtt-cert", type=Path, default=None)
    parser.add_argument("--mqtt-key", type=Path, default=None)


def add_api_arguments(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    parser.add_argument(
        "--api",
        default=default,
        metavar="HOST:PORT",
        help="serve the operator API and console here (port 0: any free port)"
        + ("" if default is None else f"; default {default}"),
    )
    parser.add_argument(
        "--users",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --api: the accounts file (`groundseg users add`)",
    )
    parser.add_argument("--tls-cert", type=Path, default=None, help="with --api: serve HTTPS")
    parser.add_argument("--tls-key", type=Path, default=None, help="with --tls-cert: its key")
    parser.add_argument(
        "--session-hours", type=float, default=8.0, help="with --api: how long a login lasts"
    )
    parser.add_argument(
        "--display-hz", type=float, default=10.0, help="with --api: console update rate"
    )


def api_settings(args: argparse.Namespace, *, users_required: bool = True) -> ApiSettings | None:
    if not args.api:
        return None
    host, port = parse_host_port("--api", args.api)
    if users_required and args.users is None:
        raise ConfigError(
            "--users",
            [ConfigProblem(key="", expected="an accounts file with --api (groundseg users add)")],
        )
    if args.session_hours <= 0 or not 0 < args.display_hz <= 100:
        raise ConfigError(
            "--session-hours/--display-hz",
            [ConfigProblem(key="", expected="hours > 0 and a display rate in (0, 100] Hz")],
        )
    from groundseg.api import ApiSettings  # noqa: PLC0415  (FastAPI loads only with --api)

    return ApiSettings(
        host=host,
        port=port,
        users_file=args.users,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        session_hours=args.session_hours,
        display_hz=args.display_hz,
    )


def parse_host_port(option: str, text: str) -> tuple[str, int]:
    host, _, port = str(text).rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(option, [ConfigProblem(key="", expected=f"HOST:PORT, got {text!r}")])
    return host.strip("[]"), int(port)


def mqtt_settings(args: argparse.Namespace) -> MqttSettings | None:
    if not args.mqtt:
        return None
    host, port = parse_host_port("--mqtt", args.mqtt)
    return MqttSettings(
        host=host,
        port=port,
        protocol=5 if args.mqtt_protocol == "5" else 4,
        username=args.mqtt_username,
        password_file=args.mqtt_password_file,
        tls=args.mqtt_tls,
        ca_file=args.mqtt_ca,
        cert_file=args.mqtt_cert,
        key_file=args.mqtt_key,
    )
