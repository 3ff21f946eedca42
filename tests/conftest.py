"""Fixtures shared by every test: the shipped pad definition."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundseg.config import PadDefinition, load_pad

ROOT = Path(__file__).resolve().parent.parent
PAD_FILE = ROOT / "pads" / "baiterek.toml"


@pytest.fixture(scope="session")
def pad() -> PadDefinition:
    return load_pad(PAD_FILE)
