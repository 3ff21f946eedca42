"""The ingest spool: frames kept on disk until delivered, across restarts and crashes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from groundseg.ingest.spool import Spool, SpoolFull


def frames(n: int, size: int = 100) -> list[bytes]:
    return [bytes([i % 256]) * size + i.to_bytes(4, "little") for i in range(n)]


def test_frames_come_back_in_order_until_delivered(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for frame in frames(10):
        spool.append(frame)
    pending = spool.pending(4)
    assert [p for _, p in pending] == frames(10)[:4]
    spool.delivered(pending[-1][0], len(pending))
    assert [p for _, p in spool.pending(100)] == frames(10)[4:]
    assert spool.statistics().pending_records == 6


def test_a_restarted_spool_resumes_from_its_cursor(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for frame in frames(10):
        spool.append(frame)
    first = spool.pending(3)
    spool.delivered(first[-1][0], 3)
    spool.close()
    again = Spool(tmp_path)
    assert [p for _, p in again.pending(100)] == frames(10)[3:]
    assert again.statistics().pending_records == 7


def test_a_torn_tail_is_cut_and_the_rest_survives(tmp_path: Path) -> None:
    spool = Spool(tmp_path, sync_every=0)
    for frame in frames(5):
        spool.append(frame)
    spool.close()
    segment = next(tmp_path.glob("spool-*.log"))
    os.truncate(segment, segment.stat().st_size - 10)
    again = Spool(tmp_path)
    assert again.statistics().torn_bytes_cut > 0
    assert [p for _, p in again.pending(100)] == frames(5)[:4]
    again.append(b"after the crash")
    assert [p for _, p in again.pending(100)][-1] == b"after the crash"


def test_the_size_cap_refuses_whole_frames_and_keeps_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1000)
    fitting = 1000 // (8 + 104)  # each record: 8-byte header and a 104-byte frame
    for frame in frames(fitting):
        spool.append(frame)
    with pytest.raises(SpoolFull, match="1,000-byte cap"):
        spool.append(frames(fitting + 1)[-1])
    assert [p for _, p in spool.pending(1000)] == frames(fitting), "no half-written frame"
    everything = spool.pending(1000)
    spool.delivered(everything[-1][0], len(everything))
    spool.append(b"room again")
    assert [p for _, p in spool.pending(10)] == [b"room again"]


def test_delivered_segments_are_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=2000, sync_every=0)
    for frame in frames(100):
        spool.append(frame)
    segments = len(list(tmp_path.glob("spool-*.log")))
    assert segments > 3
    pending = spool.pending(1000)
    assert [p for _, p in pending] == frames(100)
    spool.delivered(pending[-1][0], len(pending))
    assert len(list(tmp_path.glob("spool-*.log"))) == 1
    assert spool.statistics().pending_records == 0


def test_a_frame_larger_than_a_read_chunk_comes_back_whole(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=64 * 1024 * 1024)
    big = os.urandom(5 * 1024 * 1024)
    spool.append(b"small")
    spool.append(big)
    spool.append(b"after")
    assert [p for _, p in spool.pending(10)] == [b"small", big, b"after"]


def test_delivering_everything_frees_the_disk_at_once(tmp_path: Path) -> None:
    """A backlog smaller than a segment still gives its space back once delivered: on a
    full disk the next rotation would never come."""
    spool = Spool(tmp_path)
    for frame in frames(50):
        spool.append(frame)
    pending = spool.pending(100)
    spool.delivered(pending[-1][0], len(pending))
    sizes = [p.stat().st_size for p in tmp_path.glob("spool-*.log")]
    assert sizes == [0], "only a fresh, empty segment is left"
    spool.append(b"after")
    spool.close()
    again = Spool(tmp_path)
    assert [p for _, p in again.pending(100)] == [b"after"]


def test_a_cursor_that_cannot_be_saved_leaves_the_spool_working(tmp_path: Path) -> None:
    """A full disk may refuse the cursor file: delivery goes on; a restart only resends."""
    spool = Spool(tmp_path)
    for frame in frames(10):
        spool.append(frame)
    (tmp_path / "cursor.json.tmp").mkdir()  # the cursor cannot be written
    first = spool.pending(4)
    spool.delivered(first[-1][0], 4)
    assert spool.statistics().cursor_save_failures == 1
    assert [p for _, p in spool.pending(100)] == frames(10)[4:]
    spool.close()
    assert [p for _, p in Spool(tmp_path).pending(100)] == frames(10), "resent, never lost"
