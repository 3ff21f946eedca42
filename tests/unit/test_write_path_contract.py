"""Only the write path calls the drivers' write primitives (the gate will call the write path).

The import contract (pyproject.toml, `make contracts`) keeps everything but the command gate
from importing `groundseg.drivers.actuation`; this test closes the other door: no module
outside the write path and the links that implement them calls a write primitive.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRIMITIVES = {"write_bits", "write_words", "write_point"}
ALLOWED = {
    "groundseg/drivers/actuation.py",  # the write path itself
    "groundseg/drivers/modbus_tcp.py",  # implementations of the primitives
    "groundseg/drivers/modbus_rtu.py",
    "groundseg/drivers/umbilical.py",
}


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in PRIMITIVES
    }


def test_no_module_outside_the_write_path_calls_a_write_primitive() -> None:
    offenders = {}
    for package in ("groundseg", "hw_sim"):
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if relative not in ALLOWED and (calls := _calls(path)):
                offenders[relative] = sorted(calls)
    assert offenders == {}


def test_the_write_path_does_call_them() -> None:
    """The check above can fail: the write path itself is seen calling the primitives."""
    assert _calls(ROOT / "groundseg/drivers/actuation.py") == PRIMITIVES
