"""Small files replaced whole (cursors, indexes): a reader sees the old or the new, never half."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["make_durable", "replace_file"]


def replace_file(
    path: Path,
    text: str,
    *,
    mode: int | None = None,
    group: int = -1,
    durable: bool = False,
) -> None:
    """Write `text` to a temporary beside `path`, then rename it over `path`; OSError (a full
    disk, say) leaves `path` as it was and no temporary behind. `mode` and `group` are set
    on the temporary, so the file is never readable by more than they allow.

    The rename survives a crash of the process; `durable` also has the text and the rename
    on the disk before returning, so they survive a power cut (a few milliseconds more)."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        if mode is not None:
            temporary.unlink(missing_ok=True)
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
            os.chmod(temporary, mode)  # the umask may have taken bits off
        if group != -1:
            os.chown(temporary, -1, group)
        with temporary.open("w") as out:
            out.write(text)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, path)
        if durable:
            _fsync(path.parent)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def make_durable(path: Path) -> None:
    """Put a file already replaced (`replace_file`) on the disk with its directory entry:
    for a caller that cannot wait for the disk when it replaces it."""
    _fsync(path)
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
