"""Small files replaced whole (cursors, indexes): a reader sees the old or the new, never half."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["replace_file"]


def replace_file(path: Path, text: str) -> None:
    """Write `text` to a temporary beside `path`, then rename it over `path`; OSError (a full
    disk, say) leaves `path` as it was and no temporary behind."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
