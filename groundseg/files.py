"""Small files replaced whole (cursors, indexes): a reader sees the old or the new, never half."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["replace_file"]


def replace_file(path: Path, text: str, *, mode: int | None = None, group: int = -1) -> None:
    """Write `text` to a temporary beside `path`, then rename it over `path`; OSError (a full
    disk, say) leaves `path` as it was and no temporary behind. `mode` and `group` are set
    on the temporary, so the file is never readable by more than they allow."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        if mode is not None:
            temporary.unlink(missing_ok=True)
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
            os.chmod(temporary, mode)  # the umask may have taken bits off
        if group != -1:
            os.chown(temporary, -1, group)
        temporary.write_text(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
