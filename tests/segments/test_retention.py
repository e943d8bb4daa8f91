"""Retention: old or excess segments dropped behind one durable tombstone, with real files and a real Journal."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from msgtrace.segments import Journal, RecordKind, scan_spans
from msgtrace.segments.compaction import merge_run
from msgtrace.segments.journal_format import encode_frame
from msgtrace.segments.naming import (
    CLOSED_SUFFIX,
    JOURNAL_DIR,
    QUARANTINE_DIR,
    SEGMENT_SUFFIX,
    SEGMENTS_DIR,
    list_ranges,
    live_segments,
    live_tombstones,
    range_name,
)
from msgtrace.segments.retention import (
    NS_PER_DAY,
    RetentionPolicy,
    RetentionThread,
    apply_retention,
    log_size_bytes,
    max_received_time,
)
from msgtrace.segments.segment_writer import tombstone_trace_ids
from msgtrace.segments.worker import LogWorker

from .payloads import request

NOW = time.time_ns()
OLD = NOW - 10 * NS_PER_DAY


def add_segment(data_dir: Path, offset: int, received_ns: int, *, seed: int, spans: int = 8) -> set[str]:
    """Write a closed journal of one record received at `received_ns`, seal it; return its trace ids."""
    journal_dir = data_dir / JOURNAL_DIR
    journal_dir.mkdir(parents=True, exist_ok=True)
    frame = encode_frame(offset, received_ns, RecordKind.SPANS, 1, request(spans, seed=seed))
    (journal_dir / range_name(offset, offset, CLOSED_SUFFIX)).write_bytes(frame)
    LogWorker(data_dir).seal_pending()
    path = data_dir / SEGMENTS_DIR / range_name(offset, offset, SEGMENT_SUFFIX)
    return set(pq.read_table(path, columns=["trace_id"]).column(0).to_pylist())


def seal(data_dir: Path, journal: Journal) -> None:
    journal.rotate()
    LogWorker(data_dir).seal_pending()


def tombstone_rows(data_dir: Path) -> list[tuple[int, str | None]]:
    rows: list[tuple[int, str | None]] = []
    for f in live_tombstones(data_dir):
        t = pq.read_table(f.path)
        rows += list(zip(t.column("offset").to_pylist(), t.column("trace_id").to_pylist(), strict=True))
    return rows


def segment_ranges(data_dir: Path) -> list[tuple[int, int]]:
    return [(f.first, f.last) for f in live_segments(data_dir)]


def test_max_received_time_comes_from_statistics(tmp_path: Path) -> None:
    add_segment(tmp_path, 1, OLD + 123, seed=1)
    assert max_received_time(tmp_path / SEGMENTS_DIR / range_name(1, 1, SEGMENT_SUFFIX)) == OLD + 123


def test_age_drops_old_segments_behind_one_tombstone(tmp_path: Path) -> None:
    old1 = add_segment(tmp_path, 1, OLD, seed=1)
    old2 = add_segment(tmp_path, 2, OLD + 1, seed=2)
    new = add_segment(tmp_path, 3, NOW, seed=3)
    newest = add_segment(tmp_path, 4, NOW, seed=4)
    with Journal.open(tmp_path) as journal:
        result = apply_retention(tmp_path, journal, RetentionPolicy(retention_days=1))
        assert [p.name for p in result.dropped] == [range_name(i, i, SEGMENT_SUFFIX) for i in (1, 2)]
        assert (result.by_age, result.by_size, result.trace_ids) == (2, 0, len(old1 | old2))
        assert result.tombstone_offset == 5 and not result.more
        seal(tmp_path, journal)
    assert segment_ranges(tmp_path) == [(3, 3), (4, 4), (5, 5)]  # 5: the tombstone's (empty) segment
    rows = tombstone_rows(tmp_path)
    assert {offset for offset, _ in rows} == {5}
    assert sorted(t for _, t in rows if t is not None) == sorted(old1 | old2)
    remaining = set(scan_spans(tmp_path).select("trace_id").collect().to_series().to_list())
    assert remaining == new | newest


def test_the_newest_segment_is_never_dropped(tmp_path: Path) -> None:
    for offset in (1, 2, 3):
        add_segment(tmp_path, offset, OLD, seed=offset)
    with Journal.open(tmp_path) as journal:
        result = apply_retention(tmp_path, journal, RetentionPolicy(retention_days=1))
    assert len(result.dropped) == 2
    assert segment_ranges(tmp_path)[0] == (3, 3)


def test_segments_the_projector_has_not_applied_are_kept(tmp_path: Path) -> None:
    for offset in (1, 2, 3, 4):
        add_segment(tmp_path, offset, OLD, seed=offset)
    with Journal.open(tmp_path) as journal:
        result = apply_retention(tmp_path, journal, RetentionPolicy(retention_days=1), applied_offset=2)
        assert [p.name for p in result.dropped] == [range_name(i, i, SEGMENT_SUFFIX) for i in (1, 2)]
        assert apply_retention(tmp_path, journal, RetentionPolicy(retention_days=1), applied_offset=0).dropped == []
    assert segment_ranges(tmp_path)[:2] == [(3, 3), (4, 4)]


def test_nothing_to_drop_appends_no_tombstone(tmp_path: Path) -> None:
    add_segment(tmp_path, 1, NOW, seed=1)
    add_segment(tmp_path, 2, NOW, seed=2)
    with Journal.open(tmp_path) as journal:
        result = apply_retention(tmp_path, journal, RetentionPolicy(retention_days=1))
        assert result.tombstone_offset is None and result.dropped == []
        assert journal.stats.last_offset == 2
        assert apply_retention(tmp_path, journal, RetentionPolicy()).dropped == []


def test_max_disk_drops_the_oldest_until_the_log_fits(tmp_path: Path) -> None:
    for offset in range(1, 7):
        add_segment(tmp_path, offset, NOW, seed=offset, spans=40)
    sizes = [f.path.stat().st_size for f in live_segments(tmp_path)]
    limit = log_size_bytes(tmp_path) - sizes[0] - sizes[1] // 2  # needs two segments gone
    with Journal.open(tmp_path) as journal:
        result = apply_retention(tmp_path, journal, RetentionPolicy(max_disk_bytes=limit))
        assert (result.by_age, result.by_size) == (0, 2)
        assert result.freed_bytes == sizes[0] + sizes[1]
        seal(tmp_path, journal)
    assert segment_ranges(tmp_path)[:4] == [(3, 3), (4, 4), (5, 5), (6, 6)]
    assert log_size_bytes(tmp_path) <= limit + 4096  # plus the small tombstone files just sealed


def test_a_pass_lists_at_most_max_trace_ids_and_says_more(tmp_path: Path) -> None:
    for offset in (1, 2, 3, 4):
        add_segment(tmp_path, offset, OLD, seed=offset)
    policy = RetentionPolicy(retention_days=1, max_trace_ids=1)
    with Journal.open(tmp_path) as journal:
        first = apply_retention(tmp_path, journal, policy)
        assert len(first.dropped) == 1 and first.more
        second = apply_retention(tmp_path, journal, policy)
        assert len(second.dropped) == 1 and second.more
        third = apply_retention(tmp_path, journal, policy)
        assert len(third.dropped) == 1 and not third.more
        assert (first.tombstone_offset, second.tombstone_offset, third.tombstone_offset) == (5, 6, 7)


def test_dropping_a_compacted_segment_also_drops_the_inputs_it_supersedes(tmp_path: Path) -> None:
    for offset in (1, 2, 3):
        add_segment(tmp_path, offset, OLD, seed=offset)
    add_segment(tmp_path, 4, NOW, seed=4)
    run = list_ranges(tmp_path / SEGMENTS_DIR, SEGMENT_SUFFIX)[:3]
    assert merge_run(tmp_path, run, kind="spans") is not None  # inputs still there (grace period)
    with Journal.open(tmp_path) as journal:
        result = apply_retention(tmp_path, journal, RetentionPolicy(retention_days=1))
    assert sorted(p.name for p in result.dropped) == sorted(
        [range_name(1, 3, SEGMENT_SUFFIX)] + [range_name(i, i, SEGMENT_SUFFIX) for i in (1, 2, 3)]
    )
    assert [(f.first, f.last) for f in list_ranges(tmp_path / SEGMENTS_DIR, SEGMENT_SUFFIX)] == [(4, 4)]


def test_compaction_skips_a_run_whose_input_disappeared(tmp_path: Path) -> None:
    for offset in (1, 2, 3):
        add_segment(tmp_path, offset, OLD, seed=offset)
    run = list_ranges(tmp_path / SEGMENTS_DIR, SEGMENT_SUFFIX)
    run[1].path.unlink()  # retention dropped it after the compactor planned the run
    assert merge_run(tmp_path, run, kind="spans") is None
    assert not (tmp_path / SEGMENTS_DIR / range_name(1, 3, SEGMENT_SUFFIX)).exists()
    assert not (tmp_path / QUARANTINE_DIR).exists()
    assert [p.name for p in (tmp_path / SEGMENTS_DIR).iterdir() if p.name.startswith(".")] == []


def test_tombstone_payload_forms(tmp_path: Path) -> None:
    tid = "ab" * 16
    assert tombstone_trace_ids(orjson.dumps({"trace_id": tid})) == [tid]
    assert tombstone_trace_ids(orjson.dumps({"trace_id": None})) == [None]
    assert tombstone_trace_ids(orjson.dumps({"trace_ids": [tid, "cd" * 16]})) == [tid, "cd" * 16]
    with pytest.raises(ValueError, match="not a list of strings"):
        tombstone_trace_ids(orjson.dumps({"trace_ids": [1]}))
    with pytest.raises(ValueError, match="expected an object"):
        tombstone_trace_ids(b"[]")
    with Journal.open(tmp_path) as journal:
        with pytest.raises(ValueError, match="at least one trace id"):
            journal.append_tombstones([])
        with pytest.raises(ValueError, match="not 32 hexadecimal characters"):
            journal.append_tombstones([tid, "xyz"])
        single = journal.append_tombstone(tid.upper())
        many = journal.append_tombstones(["CD" * 16, "ef" * 16])
        seal(tmp_path, journal)
    assert sorted(tombstone_rows(tmp_path)) == [(single, tid), (many, "cd" * 16), (many, "ef" * 16)]


def test_retention_thread_runs_at_start_and_stops(tmp_path: Path) -> None:
    for offset in (1, 2):
        add_segment(tmp_path, offset, OLD, seed=offset)
    with Journal.open(tmp_path) as journal:
        thread = RetentionThread(tmp_path, journal, RetentionPolicy(retention_days=1), interval_s=3600).start()
        deadline = time.monotonic() + 30
        while thread.passes == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        thread.stop()
        assert thread.passes == 1 and thread.dropped == 1
    assert segment_ranges(tmp_path)[0] == (2, 2)


@pytest.mark.parametrize(("raw", "expected"), [("", 60.0), ("0.5", 0.5), ("nope", 60.0), ("0", 0.05)])
def test_interval_from_env(raw: str, expected: float) -> None:
    assert RetentionThread.interval_from_env({"MSGTRACE_RETENTION_INTERVAL_S": raw}) == expected
