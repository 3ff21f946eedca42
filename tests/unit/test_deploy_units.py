"""The systemd units in deploy/ run commands that exist, with flags that exist."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from groundseg.cli import _parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _exec_start(unit: Path) -> list[str]:
    text = unit.read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


@pytest.mark.parametrize(
    ("unit", "command"),
    [("groundseg-controller.service", "controller"), ("groundseg-ingest.service", "ingest")],
)
def test_a_service_unit_parses_as_a_groundseg_command(unit: str, command: str) -> None:
    argv = _exec_start(DEPLOY / unit)
    assert argv[0].endswith("/groundseg")
    assert command in argv
    args = _parser().parse_args(argv[1:])
    assert args.handler.__name__ == f"_{command}"
    assert not any("password" in a.lower() and "file" not in a.lower() for a in argv), (
        "no secret on a command line"
    )
