"""Journal: framing, group commit, rotation, backpressure, recovery of torn tails."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from msgtrace.core.errors import Backpressure, DataDirLocked
from msgtrace.segments import journal as journal_module
from msgtrace.segments.journal import Journal, RecordKind
from msgtrace.segments.journal_format import (
    HEADER_SIZE,
    encode_frame,
    iter_frames,
    read_high_water,
    scan_file,
)
from msgtrace.segments.naming import closed_journals, open_journal_name, range_name

from .payloads import request


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll until `predicate` holds (a deadline against hangs, not a speed assertion)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal.open(tmp_path, seal_age_s=3600)
    yield j
    j.close()


@pytest.fixture
def slow_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """fdatasync blocks until the returned event is set: a disk that is slow on demand."""
    release = threading.Event()
    real = os.fdatasync
    entered = threading.Event()

    def slow_fdatasync(fd: int) -> None:
        entered.set()
        release.wait(30)
        real(fd)

    monkeypatch.setattr(journal_module.os, "fdatasync", slow_fdatasync)
    release.entered = entered  # type: ignore[attr-defined]
    yield release
    release.set()


def test_frame_round_trip() -> None:
    payloads = [b"", b"x", request(3), bytes(range(256)) * 40]
    data = b"".join(
        encode_frame(10 + i, 1_000 + i, RecordKind.SPANS, 1, p) for i, p in enumerate(payloads)
    )
    frames = [f for f, _ in iter_frames(data, 10)]
    assert [f.payload for f in frames] == payloads
    assert [f.offset for f in frames] == [10, 11, 12, 13]
    assert [f.received_time_unix_nano for f in frames] == [1000, 1001, 1002, 1003]
    assert {(f.kind, f.content_type) for f in frames} == {(1, 1)}
    assert len(encode_frame(1, 2, 1, 1, b"abc")) == HEADER_SIZE + 3


def test_append_returns_contiguous_offsets_and_reopen_continues(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as j:
        offsets = [j.append(RecordKind.SPANS, 1, request(2, seed=i)) for i in range(5)]
        assert j.append_tombstone("AB" * 16) == 6
        assert j.stats.last_offset == 6
    assert offsets == [1, 2, 3, 4, 5]
    [wal] = closed_journals(tmp_path)
    assert (wal.first, wal.last) == (1, 6)
    frames = scan_file(wal.path, 1).frames
    assert frames[1].payload == request(2, seed=1)
    assert frames[5].kind == RecordKind.TOMBSTONE
    assert frames[5].payload == b'{"trace_id":"' + b"ab" * 16 + b'"}'
    with Journal.open(tmp_path) as j:
        assert j.append(RecordKind.SPANS, 1, b"") == 7


def test_offsets_never_go_back_when_every_file_is_gone(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as j:
        for _ in range(3):
            j.append(RecordKind.SPANS, 1, b"")
    for wal in closed_journals(tmp_path):
        wal.path.unlink()  # as if sealed, then removed by retention
    assert read_high_water(tmp_path / "journal") == 3
    with Journal.open(tmp_path) as j:
        assert j.append(RecordKind.SPANS, 1, b"") == 4


def test_group_commit_many_threads(journal: Journal) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        for i in range(100):
            offset = journal.append(RecordKind.SPANS, 1, request(1, seed=seed * 1000 + i))
            with lock:
                results.append(offset)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, 801))
    stats = journal.stats
    assert stats.appends == 800
    assert stats.fsyncs < stats.appends  # some syncs served several appends


def test_one_sync_serves_every_waiting_record(journal: Journal, slow_disk: threading.Event) -> None:
    first = journal.submit(RecordKind.SPANS, 1, b"a")
    slow_disk.entered.wait(10)  # type: ignore[attr-defined]
    waiting = [journal.submit(RecordKind.SPANS, 1, b"b") for _ in range(10)]
    slow_disk.set()
    assert first.result(10) == 1
    assert [f.result(10) for f in waiting] == list(range(2, 12))
    assert journal.stats.fsyncs == 2


def test_full_queue_answers_429(tmp_path: Path, slow_disk: threading.Event) -> None:
    with Journal.open(tmp_path, queue_size=3) as j:
        futures = [j.submit(RecordKind.SPANS, 1, b"x") for _ in range(3)]
        with pytest.raises(Backpressure) as info:
            j.submit(RecordKind.SPANS, 1, b"x")
        assert info.value.status == 429
        assert info.value.retry_after > 0
        assert "wait for the journal" in info.value.message
        assert j.stats.pending_requests == 3
        slow_disk.set()
        assert sorted(f.result(10) for f in futures) == [1, 2, 3]
        assert j.append(RecordKind.SPANS, 1, b"x") == 4


def test_queued_bytes_bound_answers_429(tmp_path: Path, slow_disk: threading.Event) -> None:
    """Bodies waiting for their sync are bounded by bytes, not only by count; a lone request
    larger than the bound still goes through."""
    with Journal.open(tmp_path, queue_size=1000, queue_bytes=100) as j:
        big = j.submit(RecordKind.SPANS, 1, b"x" * 150)  # nothing waits: admitted
        with pytest.raises(Backpressure) as info:
            j.submit(RecordKind.SPANS, 1, b"y")
        assert info.value.status == 429
        assert info.value.retry_after > 0
        assert "bytes of requests already wait" in info.value.message
        slow_disk.set()
        assert big.result(10) == 1
        small = [j.submit(RecordKind.SPANS, 1, b"z" * 30) for _ in range(3)]
        assert sorted(f.result(10) for f in small) == [2, 3, 4]
        assert j.stats.pending_requests == 0


def test_queued_bytes_bound_admits_up_to_the_limit(
    tmp_path: Path, slow_disk: threading.Event
) -> None:
    with Journal.open(tmp_path, queue_bytes=100) as j:
        first = j.submit(RecordKind.SPANS, 1, b"a")
        slow_disk.entered.wait(10)  # type: ignore[attr-defined]  # `first` is being synced
        waiting = [j.submit(RecordKind.SPANS, 1, b"b" * 33) for _ in range(2)]
        with pytest.raises(Backpressure):
            j.submit(RecordKind.SPANS, 1, b"c" * 35)  # 1 + 66 + 35 > 100
        waiting.append(j.submit(RecordKind.SPANS, 1, b"d" * 33))  # 1 + 66 + 33 = 100
        slow_disk.set()
        assert [f.result(10) for f in [first, *waiting]] == [1, 2, 3, 4]


def test_full_backlog_answers_503_until_sealed(tmp_path: Path) -> None:
    with Journal.open(tmp_path, max_backlog_bytes=1000, seal_age_s=3600) as j:
        j.append(RecordKind.SPANS, 1, b"x" * 1200)
        j.rotate()
        assert j.stats.backlog_bytes >= 1000
        with pytest.raises(Backpressure) as info:
            j.submit(RecordKind.SPANS, 1, b"x")
        assert info.value.status == 503
        assert "unsealed journal bytes" in info.value.message
        for wal in closed_journals(tmp_path):
            wal.path.unlink()  # what the sealer does

        def accepted() -> bool:
            try:
                j.append(RecordKind.SPANS, 1, b"y")
            except Backpressure:
                return False
            return True

        wait_for(accepted)


def test_closed_journal_rejects_with_503(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    j.close()
    with pytest.raises(Backpressure) as info:
        j.append(RecordKind.SPANS, 1, b"x")
    assert info.value.status == 503


def test_rotation_by_age(tmp_path: Path) -> None:
    with Journal.open(tmp_path, seal_age_s=0.05) as j:
        j.append(RecordKind.SPANS, 1, b"x")
        wait_for(lambda: j.stats.rotations == 1)
        assert j.stats.open_bytes == 0
        j.append(RecordKind.SPANS, 1, b"y")
        wait_for(lambda: j.stats.rotations == 2)
    names = [w.path.name for w in closed_journals(tmp_path)]
    assert names == [range_name(1, 1, ".wal"), range_name(2, 2, ".wal")]


def test_rotation_when_idle_keeps_a_burst_in_one_file(tmp_path: Path) -> None:
    """A quiet journal is rotated after `seal_idle_s`, long before `seal_age_s`."""
    with Journal.open(tmp_path, seal_age_s=3600, seal_idle_s=1.0) as j:
        for payload in (b"a", b"b", b"c"):  # one burst: well within the idle time of each other
            j.append(RecordKind.SPANS, 1, payload)
        assert j.stats.rotations == 0
        wait_for(lambda: j.stats.rotations == 1)
    assert [(w.first, w.last) for w in closed_journals(tmp_path)] == [(1, 3)]


def test_acked_at_gives_the_time_each_record_became_durable(tmp_path: Path) -> None:
    with Journal.open(tmp_path, seal_age_s=3600) as j:
        before = time.time()
        first = j.append(RecordKind.SPANS, 1, b"a")
        middle = time.time()
        second = j.append(RecordKind.SPANS, 1, b"b")
        after = time.time()
        t1, t2 = j.acked_at(first), j.acked_at(second)
        assert t1 is not None and t2 is not None
        assert before <= t1 <= middle <= t2 <= after
        assert j.acked_at(second + 1) is None  # not written yet


def test_rotation_by_size(tmp_path: Path) -> None:
    with Journal.open(tmp_path, seal_age_s=3600, seal_bytes=1000) as j:
        for _ in range(3):
            j.append(RecordKind.SPANS, 1, b"z" * 600)
    assert [(w.first, w.last) for w in closed_journals(tmp_path)] == [(1, 2), (3, 3)]


def test_rotate_is_a_no_op_on_an_empty_journal(journal: Journal, tmp_path: Path) -> None:
    journal.rotate()
    assert closed_journals(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "journal").iterdir()) == []


def test_async_append_and_tombstones(journal: Journal) -> None:
    async def go() -> list[int]:
        return list(
            await asyncio.gather(
                *(journal.append_async(RecordKind.SPANS, 2, b"{}") for _ in range(20)),
                journal.append_tombstone_async(None),
            )
        )

    offsets = asyncio.run(go())
    assert sorted(offsets) == list(range(1, 22))


@pytest.mark.parametrize("bad", ["xyz", "ab" * 15, "g" * 32, ""])
def test_tombstone_rejects_bad_trace_ids(journal: Journal, bad: str) -> None:
    with pytest.raises(ValueError, match="32 hexadecimal characters"):
        journal.append_tombstone(bad)


def test_second_journal_on_the_same_dir_is_refused(journal: Journal, tmp_path: Path) -> None:
    with pytest.raises(DataDirLocked) as info:
        Journal.open(tmp_path)
    assert "another process" in info.value.message


def _torn(kind: str, frames: bytes, last: bytes) -> bytes:
    if kind == "short header":
        return frames + last[: HEADER_SIZE - 5]
    if kind == "short payload":
        return frames + last[:-3]
    if kind == "crc mismatch":
        flipped = bytearray(last)
        flipped[-1] ^= 0xFF
        return frames + bytes(flipped)
    assert kind == "offset out of sequence"
    return frames + encode_frame(99, 5, 1, 1, b"late")


@pytest.mark.parametrize("kind", ["short header", "short payload", "crc mismatch", "offset out of sequence"])
def test_recovery_truncates_a_torn_tail(tmp_path: Path, kind: str) -> None:
    journal_dir = tmp_path / "journal"
    journal_dir.mkdir()
    good = b"".join(encode_frame(5 + i, 1, 1, 1, request(2, seed=i)) for i in range(3))
    last = encode_frame(8, 1, 1, 1, request(2, seed=3))
    (journal_dir / open_journal_name(5)).write_bytes(_torn(kind, good, last))
    with Journal.open(tmp_path) as j:
        assert j.recovery.truncated_bytes > 0
        assert j.append(RecordKind.SPANS, 1, b"next") == 8
    wal = closed_journals(tmp_path)[0]
    assert (wal.first, wal.last) == (5, 7)
    assert wal.path.read_bytes() == good


def test_recovery_deletes_an_open_journal_without_frames(tmp_path: Path) -> None:
    journal_dir = tmp_path / "journal"
    journal_dir.mkdir()
    (journal_dir / open_journal_name(1)).write_bytes(b"\x01\x02")
    with Journal.open(tmp_path) as j:
        assert j.append(RecordKind.SPANS, 1, b"") == 1
    assert [(w.first, w.last) for w in closed_journals(tmp_path)] == [(1, 1)]
