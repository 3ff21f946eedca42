"""The audit log: append-only, hash-chained, verified on open and on demand; any edit shows."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from groundseg.errors import AuditBroken, AuditUnavailable
from groundseg.gate.audit import GENESIS, AuditLog, AuditRecord, verify_audit
from tests.helpers import small_disk

T = 1_800_000_000_000_000_000


def write(path: Path, n: int) -> None:
    with AuditLog(path) as audit:
        for i in range(n):
            audit.append(
                time_ns=T + i,
                actor="operator.ivanov",
                action="command.verified",
                details={"command": "lox.fill_valve.open", "attempt": i},
            )


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def rewrite(path: Path, records: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def test_records_chain_and_the_chain_continues_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 3)
    write(path, 2)
    records = lines(path)
    assert [r["seq"] for r in records] == [0, 1, 2, 3, 4]
    assert records[0]["prev"] == GENESIS
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(records))
    assert verify_audit(path) == (5, records[-1]["hash"])


def test_one_edited_record_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 4)
    records = lines(path)
    records[2]["actor"] = "nobody"
    rewrite(path, records)
    with pytest.raises(AuditBroken, match="edited") as broken:
        verify_audit(path)
    assert broken.value.line == 3


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 4)
    records = lines(path)
    body = {k: v for k, v in records[1].items() if k != "hash"} | {"actor": "nobody"}
    records[1] = body | {"hash": AuditRecord(**body).digest()}  # type: ignore[arg-type]
    rewrite(path, records)
    with pytest.raises(AuditBroken, match="does not follow") as broken:
        verify_audit(path)
    assert broken.value.line == 3


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda r: [*r[:2], *r[3:]], "record 3 where 2 belongs"),
        (lambda r: [r[0], r[2], r[1], r[3]], "record 2 where 1 belongs"),
        (lambda r: [*r[:2], {"seq": 2}, *r[3:]], "unreadable record"),
    ],
)
def test_removed_reordered_or_mangled_records_are_detected(
    tmp_path: Path, tamper: object, message: str
) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 4)
    rewrite(path, tamper(lines(path)))  # type: ignore[operator]
    with pytest.raises(AuditBroken, match=message):
        verify_audit(path)


def test_opening_a_broken_log_refuses_to_append_to_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 2)
    records = lines(path)
    records[0]["details"] = {"command": "something else"}
    rewrite(path, records)
    with pytest.raises(AuditBroken):
        AuditLog(path)


def test_a_line_torn_by_a_crash_is_cut_and_the_chain_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 2)
    with path.open("a") as handle:
        handle.write('{"seq": 2, "time_ns": 1')  # the crash came mid-write
    with AuditLog(path) as audit:
        assert audit.count == 2
        audit.append(time_ns=T, actor="operator", action="hold", details={})
    assert verify_audit(path)[0] == 3


def test_a_full_disk_makes_the_audit_unavailable_and_leaves_the_chain_whole(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk", "64k") as disk:
        path = disk / "audit.jsonl"
        with AuditLog(path) as audit:
            big = {"note": "x" * 2000}

            def fill() -> None:
                for i in range(100):
                    audit.append(time_ns=T + i, actor="operator", action="note", details=big)

            with pytest.raises(AuditUnavailable, match="audit log"):
                fill()
            written = audit.count
        assert written > 0
        assert verify_audit(path)[0] == written, "nothing half-written was left behind"


def verify_command(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundseg", "audit", "verify", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_cli_verifies_a_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 3)
    intact = verify_command(path)
    assert intact.returncode == 0
    assert "3 records, chain intact" in intact.stdout
    records = lines(path)
    records[1]["action"] = "command.vetoed"
    rewrite(path, records)
    broken = verify_command(path)
    assert broken.returncode == 1
    assert f"{path}:2: its contents do not match its hash" in broken.stderr
