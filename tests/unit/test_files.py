"""Small files replaced whole: a reader sees the old or the new text; durable ones are on the
disk, with their directory entry, before the call returns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from groundseg.files import make_durable, replace_file


def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What os.fsync was called on, by path (the descriptors resolved at the call)."""
    seen: list[str] = []
    real = os.fsync

    def recording(descriptor: int) -> None:
        seen.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real(descriptor)

    monkeypatch.setattr(os, "fsync", recording)
    return seen


def test_a_replaced_file_reads_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    replace_file(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_plain_replace_does_not_wait_for_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = synced(monkeypatch)
    replace_file(tmp_path / "cursor.json", "{}")
    assert seen == []


def test_a_durable_replace_syncs_the_text_before_the_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = synced(monkeypatch)
    replace_file(tmp_path / "users.json", "{}", durable=True)
    assert seen == [str(tmp_path / "users.json.tmp"), str(tmp_path)]


def test_a_file_replaced_earlier_is_made_durable_with_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sequencer.json"
    replace_file(path, "{}")
    seen = synced(monkeypatch)
    make_durable(path)
    assert seen == [str(path), str(tmp_path)]
