"""The ingest spool: received frames kept on disk until the database has them.

An append-only log of records, each `u32 length | u32 crc32 | payload`, in numbered
segment files, with a read cursor saved beside them. A frame is appended (and, by policy,
synced) before its MQTT acknowledgement goes back, so an ingest killed at any moment loses
nothing the broker forgot; on restart the torn tail of the last segment is cut and
delivery resumes from the saved cursor (the database overwrites what it gets twice). Memory
use is one frame at a time, whatever the backlog. A size cap turns a runaway backlog into
a clear error (`SpoolFull`) instead of a full disk.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from groundseg.errors import GroundsegError
from groundseg.files import replace_file

__all__ = ["Spool", "SpoolFull", "SpoolStatistics"]

log = structlog.get_logger("groundseg.spool")

_HEADER = struct.Struct("<II")
SEGMENT_BYTES = 16 * 1024 * 1024
MAX_RECORD = 64 * 1024 * 1024
READ_CHUNK = 4 * 1024 * 1024


class SpoolFull(GroundsegError):
    """The spool reached its size cap (or the disk is full): new frames cannot be kept."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpoolStatistics:
    pending_records: int
    pending_bytes: int
    appended: int
    delivered: int
    segments: int
    torn_bytes_cut: int
    cursor_save_failures: int


@dataclass(frozen=True, slots=True)
class Position:
    """Where a record starts: segment number and byte offset."""

    segment: int
    offset: int


class Spool:
    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int | None = None,
        sync_every: int = 1,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.sync_every = sync_every
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._cursor_file = directory / "cursor.json"
        self.read = self._load_cursor()
        self._torn = self._recover()
        segments = self._segments()
        self._write_segment = segments[-1] if segments else self.read.segment
        self._fd = os.open(
            self._path(self._write_segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
        )
        self._write_offset = os.fstat(self._fd).st_size
        self._unsynced = 0
        self._appended = 0
        self._delivered = 0
        self._cursor_save_failures = 0
        self._pending_records = sum(1 for _ in self._scan(self.read))

    # -- files -------------------------------------------------------------------------

    def _path(self, segment: int) -> Path:
        return self.directory / f"spool-{segment:012d}.log"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem.split("-")[1]) for p in self.directory.glob("spool-*.log"))

    def _load_cursor(self) -> Position:
        try:
            data = json.loads(self._cursor_file.read_text())
            return Position(int(data["segment"]), int(data["offset"]))
        except (OSError, ValueError, KeyError, TypeError):
            segments = self._segments()
            return Position(segments[0] if segments else 0, 0)

    def _recover(self) -> int:
        """Cut a torn record off the newest segment."""
        segments = self._segments()
        if not segments:
            return 0
        path = self._path(segments[-1])
        good = 0
        for _, end, _ in self._records(segments[-1], 0):
            good = end
        size = path.stat().st_size
        if good < size:
            os.truncate(path, good)
        return size - good

    def _records(self, segment: int, offset: int) -> Iterator[tuple[int, int, bytes]]:
        """(start, end, payload) of each complete, intact record of a segment from `offset`,
        read a chunk at a time so a long backlog never sits in memory at once."""
        try:
            handle = self._path(segment).open("rb")
        except FileNotFoundError:
            return
        with handle:
            position = offset
            while True:
                handle.seek(position)
                data = handle.read(READ_CHUNK)
                used = 0
                while used + _HEADER.size <= len(data):
                    length, crc = _HEADER.unpack_from(data, used)
                    end = used + _HEADER.size + length
                    if length > MAX_RECORD:
                        return
                    if end > len(data):
                        if used == 0 and len(data) == READ_CHUNK:
                            data = data + handle.read(
                                end - len(data)
                            )  # one record larger than a chunk
                            if end > len(data):
                                return
                        else:
                            break
                    payload = data[used + _HEADER.size : end]
                    if zlib.crc32(payload) != crc:
                        return
                    yield position + used, position + end, payload
                    used = end
                if used == 0:
                    return
                position += used

    def _scan(self, start: Position) -> Iterator[tuple[Position, bytes]]:
        for segment in self._segments():
            if segment < start.segment:
                continue
            offset = start.offset if segment == start.segment else 0
            for _, end, payload in self._records(segment, offset):
                yield Position(segment, end), payload

    # -- writing -------------------------------------------------------------------------

    def append(self, payload: bytes) -> None:
        """Keep a frame; SpoolFull when the cap or the disk says no (nothing half-written)."""
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        if self.max_bytes is not None and self.pending_bytes() + len(record) > self.max_bytes:
            raise SpoolFull(
                f"spool at its {self.max_bytes:,}-byte cap; {self._pending_records} frames await the database"
            )
        try:
            if self._write_offset >= self.segment_bytes:
                self._rotate()
            written = os.write(self._fd, record)
        except OSError as exc:
            os.ftruncate(self._fd, self._write_offset)
            raise SpoolFull(f"cannot write the spool: {exc.strerror}") from None
        if written != len(record):
            os.ftruncate(self._fd, self._write_offset)
            raise SpoolFull("short write to the spool: the disk is full")
        self._write_offset += written
        self._appended += 1
        self._pending_records += 1
        self._unsynced += 1
        if self.sync_every and self._unsynced >= self.sync_every:
            os.fsync(self._fd)
            self._unsynced = 0

    def sync(self) -> None:
        os.fsync(self._fd)
        self._unsynced = 0

    def _rotate(self) -> None:
        # The new segment opens before the old one closes: a full disk leaves the spool
        # appending (or refusing) where it was.
        fd = os.open(
            self._path(self._write_segment + 1), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
        )
        try:
            os.fsync(self._fd)
        except OSError:
            os.close(fd)
            raise
        os.close(self._fd)
        self._fd = fd
        self._write_segment += 1
        self._write_offset = 0

    # -- reading -------------------------------------------------------------------------

    def pending(
        self, limit: int, max_bytes: int | None = None, *, after: Position | None = None
    ) -> list[tuple[Position, bytes]]:
        """Up to `limit` frames (and about `max_bytes`) not yet delivered, oldest first, each
        with the position after it: however long the backlog, memory holds one write's worth.
        `after` a position past the cursor: the frames after those already on their way."""
        out = []
        size = 0
        for item in self._scan(self.read if after is None else after):
            out.append(item)
            size += len(item[1])
            if len(out) >= limit or (max_bytes is not None and size >= max_bytes):
                break
        return out

    def delivered(self, through: Position, count: int) -> None:
        """The database has everything up to `through`: move the cursor, drop old segments."""
        self.read = through
        if through == Position(self._write_segment, self._write_offset) and self._write_offset:
            # All delivered: a fresh segment frees the disk now, not at the next rotation
            # (on a full disk, that rotation would never come).
            try:
                self._rotate()
            except OSError as exc:
                log.warning("spool segment not rotated", reason=exc.strerror)
            else:
                self.read = Position(self._write_segment, 0)
        try:
            replace_file(
                self._cursor_file,
                json.dumps({"segment": self.read.segment, "offset": self.read.offset}),
            )
        except OSError as exc:
            # A stale cursor only means a restart sends some frames again (the database
            # overwrites them); the one in memory stays right.
            self._cursor_save_failures += 1
            log.warning("spool cursor not saved", reason=exc.strerror)
        self._delivered += count
        self._pending_records = max(self._pending_records - count, 0)
        for segment in self._segments():
            if segment < self.read.segment:
                self._path(segment).unlink(missing_ok=True)

    def pending_bytes(self) -> int:
        total = 0
        for segment in self._segments():
            if segment < self.read.segment:
                continue
            size = (
                self._write_offset
                if segment == self._write_segment
                else self._path(segment).stat().st_size
            )
            total += size - (self.read.offset if segment == self.read.segment else 0)
        return max(total, 0)

    def close(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)

    def statistics(self) -> SpoolStatistics:
        return SpoolStatistics(
            pending_records=self._pending_records,
            pending_bytes=self.pending_bytes(),
            appended=self._appended,
            delivered=self._delivered,
            segments=len(self._segments()),
            torn_bytes_cut=self._torn,
            cursor_save_failures=self._cursor_save_failures,
        )
