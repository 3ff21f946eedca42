"""What a bench report must say it ran: the build, the pad definition's hash, the date."""

from __future__ import annotations

import datetime
import hashlib
import os
import subprocess
from pathlib import Path

__all__ = ["build", "now_text", "sha256"]


def sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def build() -> str:
    """The source revision this groundseg runs from (a checkout's commit, marked if
    modified), else GROUNDSEG_BUILD, else the package version."""
    try:
        revision = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("GROUNDSEG_BUILD", "unknown")
    return revision + (" (modified)" if dirty else "")


def now_text() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _git(*arguments: str) -> str:
    here = Path(__file__).resolve().parent.parent.parent
    return subprocess.run(  # noqa: S603  fixed arguments
        ["git", "-C", str(here), *arguments],  # noqa: S607  git from PATH
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()
