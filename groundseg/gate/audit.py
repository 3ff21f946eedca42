"""The audit log: every command, append-only and hash-chained.

One JSON object per line. Each record carries the SHA-256 of the record before it (`prev`;
64 zeros for the first) and its own (`hash`, over the record's canonical JSON without the
`hash` field), so editing, deleting or reordering any record breaks the chain at that
record. The chain is verified whole when the log opens and by `groundseg audit verify`.

A record is synced to disk before `append` returns: an audited command is on disk before
it reaches the hardware. If the log cannot be written, `append` raises `AuditUnavailable`
and the gate refuses hazardous commands (holds and safing still pass). A line torn by a
crash mid-write (no newline) was never acknowledged: it is cut on open, and said so.

What a chain cannot show on its own: someone rewriting the whole file from the first
record. The head hash goes out with every record's event, so a second copy (the journal,
the console) can tell.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import structlog

from groundseg.errors import AuditBroken, AuditUnavailable

__all__ = [
    "AuditBroken",
    "AuditLog",
    "AuditRecord",
    "AuditUnavailable",
    "open_audit",
    "verify_audit",
]

log = structlog.get_logger("groundseg.audit")

GENESIS = "0" * 64
RECENT = 1000
"""Records kept in memory for the console's audit view (the file has them all)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    seq: int
    time_ns: int
    actor: str
    action: str
    """`command.issued`, `command.vetoed`, `command.verified`, `hold`, `abort`..."""
    details: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    prev: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "time_ns": self.time_ns,
            "actor": self.actor,
            "action": self.action,
            "details": dict(self.details),
            "prev": self.prev,
        }

    def digest(self) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _records(path: Path) -> Iterator[tuple[int, AuditRecord | None, str]]:
    """(line number, record or None if unreadable, why) of every complete line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                return  # a torn tail, not a record
            try:
                data = json.loads(raw)
                record = AuditRecord(
                    seq=int(data["seq"]),
                    time_ns=int(data["time_ns"]),
                    actor=str(data["actor"]),
                    action=str(data["action"]),
                    details=MappingProxyType(dict(data["details"])),
                    prev=str(data["prev"]),
                    hash=str(data["hash"]),
                )
            except (ValueError, KeyError, TypeError) as exc:
                yield number, None, f"unreadable record ({exc})"
                continue
            yield number, record, ""


def verify_audit(path: Path) -> tuple[int, str]:
    """(records, head hash) of an intact log; AuditBroken at the first broken record."""
    prev = GENESIS
    count = 0
    for number, record, why in _records(path):
        if record is None:
            raise AuditBroken(path, number, why)
        if record.seq != count:
            raise AuditBroken(path, number, f"record {record.seq} where {count} belongs")
        if record.prev != prev:
            raise AuditBroken(path, number, "does not follow the record before it")
        if record.digest() != record.hash:
            raise AuditBroken(path, number, "its contents do not match its hash (edited)")
        prev = record.hash
        count += 1
    return count, prev


class AuditLog:
    """Open (verifying the chain), then `append`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        self._cut_torn_tail()
        self.count, self.head = verify_audit(path)
        self._recent: collections.deque[dict[str, object]] = collections.deque(maxlen=RECENT)
        with path.open("rb") as handle:
            self._recent.extend(json.loads(line) for line in handle)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._size = os.fstat(self._fd).st_size

    def _cut_torn_tail(self) -> None:
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            os.truncate(self.path, keep)
            log.warning("audit log: torn last line cut", bytes=len(data) - keep)

    def append(
        self, *, time_ns: int, actor: str, action: str, details: Mapping[str, object]
    ) -> AuditRecord:
        """Chain, write and sync one record; AuditUnavailable if the disk says no."""
        unsigned = AuditRecord(
            seq=self.count,
            time_ns=time_ns,
            actor=actor,
            action=action,
            details=MappingProxyType(dict(details)),
            prev=self.head,
        )
        record = dataclasses.replace(unsigned, hash=unsigned.digest())
        line = (json.dumps({**record.body(), "hash": record.hash}, sort_keys=True) + "\n").encode()
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(f"short write ({written} of {len(line)} bytes)")
            os.fsync(self._fd)
        except OSError as exc:
            # Nothing half-written stays behind to break the chain for the next record.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise AuditUnavailable(f"audit log {self.path}: {exc}") from None
        self._size += len(line)
        self.count += 1
        self.head = record.hash
        self._recent.append({**record.body(), "hash": record.hash})
        return record

    def recent(self, limit: int) -> list[dict[str, object]]:
        """The last `limit` records (at most RECENT), oldest first, as written."""
        return list(self._recent)[-limit:] if limit > 0 else []

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_audit(path: Path) -> AuditLog | None:
    """The audit log, verified; None (and a critical log line) if its chain is broken or it
    cannot be opened: the gate then refuses everything but safing."""
    try:
        return AuditLog(path)
    except AuditBroken as exc:
        log.critical(
            "audit chain broken: only safing commands pass", path=str(path), reason=str(exc)
        )
    except OSError as exc:
        log.critical(
            "audit log cannot be opened: only safing commands pass",
            path=str(path),
            reason=exc.strerror,
        )
    return None
