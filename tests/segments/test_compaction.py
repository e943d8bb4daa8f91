"""Compaction: planning, merged output, crash leftovers, readers during compaction."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from msgtrace.core import schema
from msgtrace.segments import Journal, RecordKind, read_segment, scan_spans
from msgtrace.segments.compaction import (
    CompactionPolicy,
    collect_superseded,
    compact_once,
    plan_runs,
)
from msgtrace.segments.naming import (
    RangeFile,
    list_ranges,
    live_segments,
    live_tombstones,
    range_name,
)
from msgtrace.segments.worker import LogWorker

from .payloads import request

SPANS = 10
_seeds = itertools.count()


def add_segments(data_dir: Path, n: int, *, tombstone_every: int = 0) -> None:
    """Append and seal `n` journals of one request each (so `n` small segments)."""
    worker = LogWorker(data_dir)
    for _ in range(n):
        with Journal.open(data_dir) as j:
            offset = j.append(RecordKind.SPANS, 1, request(SPANS, seed=next(_seeds)))
            if tombstone_every and offset % tombstone_every == 0:
                j.append_tombstone(None)
        worker.seal_pending()


def test_plan_runs_merges_only_contiguous_small_files(tmp_path: Path) -> None:
    def f(first: int, last: int, size: int) -> RangeFile:
        path = tmp_path / range_name(first, last, ".parquet")
        path.write_bytes(b"x" * size)
        return RangeFile(first, last, path)

    files = [f(1, 1, 10), f(2, 3, 10), f(4, 4, 10), f(6, 6, 10), f(7, 7, 10), f(8, 8, 500), f(9, 9, 10)]
    runs = plan_runs(files, CompactionPolicy(target_bytes=100, min_segments=2))
    assert [[(r.first, r.last) for r in run] for run in runs] == [[(1, 1), (2, 3), (4, 4)], [(6, 6), (7, 7)]]
    assert plan_runs(files, CompactionPolicy(target_bytes=100, min_segments=4)) == []
    capped = plan_runs(files[:3], CompactionPolicy(target_bytes=25, min_segments=2))
    assert [[(r.first, r.last) for r in run] for run in capped] == [[(1, 1), (2, 3)]]


def test_compaction_merges_and_later_deletes_inputs(tmp_path: Path) -> None:
    add_segments(tmp_path, 6, tombstone_every=2)  # 6 segments over offsets 1..11, 5 tombstones
    last = live_segments(tmp_path)[-1].last
    assert last == 11
    before = scan_spans(tmp_path).collect().sort("offset", "span_id")
    policy = CompactionPolicy(target_bytes=10 * 1024 * 1024, min_segments=3, grace_s=3600)
    outputs = compact_once(tmp_path, policy)
    assert sorted(p.name for p in outputs) == [range_name(1, 11, ".parquet"), range_name(2, 11, ".parquet")]
    assert [(s.first, s.last) for s in live_segments(tmp_path)] == [(1, 11)]
    out = live_segments(tmp_path)[0].path
    meta = pq.ParquetFile(out).schema_arrow.metadata
    assert (meta[schema.META_FIRST_OFFSET], meta[schema.META_LAST_OFFSET]) == (b"1", b"11")
    rows = read_segment(out).to_pylist()
    keys = [(r["trace_id"], r["start_time_unix_nano"]) for r in rows]
    assert keys == sorted(keys)
    assert scan_spans(tmp_path).collect().sort("offset", "span_id").equals(before)
    [tombs] = live_tombstones(tmp_path)
    assert pq.read_table(tombs.path)["offset"].to_pylist() == [3, 5, 7, 9, 11]
    # inputs stay for in-flight readers until the grace period has passed
    assert len(list_ranges(tmp_path / "segments", ".parquet")) == 7
    assert collect_superseded(tmp_path, 3600) == []
    deleted = collect_superseded(tmp_path, 3600, now=time.time() + 7200)
    assert len(deleted) == 6 + 5
    assert [(s.first, s.last) for s in list_ranges(tmp_path / "segments", ".parquet")] == [(1, 11)]


def test_a_crash_during_compaction_leaves_a_consistent_set(tmp_path: Path) -> None:
    add_segments(tmp_path, 4)
    expected = scan_spans(tmp_path).collect().height
    # crash before the rename: a tmp file is all that is left; recovery removes it
    (tmp_path / "segments" / f".{range_name(1, 4, '.parquet')}.tmp").write_bytes(b"partial")
    with Journal.open(tmp_path) as j:
        assert j.recovery.removed_tmp
    assert scan_spans(tmp_path).collect().height == expected
    # crash after the rename, before deleting inputs: readers see the output only
    compact_once(tmp_path, CompactionPolicy(min_segments=2, grace_s=0))
    assert scan_spans(tmp_path).collect().height == expected
    collect_superseded(tmp_path, 0)
    assert len(list_ranges(tmp_path / "segments", ".parquet")) == 1


def test_corrupt_input_is_quarantined_and_the_run_skipped(tmp_path: Path) -> None:
    add_segments(tmp_path, 3)
    victim = live_segments(tmp_path)[1].path
    victim.write_bytes(b"PAR1 torn")
    assert compact_once(tmp_path, CompactionPolicy(min_segments=2)) == []
    assert (tmp_path / "quarantine" / victim.name).exists()
    assert not victim.exists()


@pytest.mark.slow
def test_readers_see_every_span_exactly_once_while_compaction_runs(tmp_path: Path) -> None:
    add_segments(tmp_path, 8)
    started, sealed = [8], [8]  # records being sealed / sealed so far (one per segment)
    stop = threading.Event()
    errors: list[str] = []
    scans = [0]

    def reader() -> None:
        while not stop.is_set():
            low = sealed[0]
            try:
                frame = scan_spans(tmp_path).select("offset", "span_id").collect()
            except Exception as exc:
                errors.append(f"scan failed: {exc!r}")
                return
            high = started[0]
            offsets = sorted(set(frame["offset"].to_list()))
            if frame["span_id"].n_unique() != frame.height:
                errors.append("duplicate span")
            if offsets != list(range(1, len(offsets) + 1)) or not low <= len(offsets) <= high:
                errors.append(f"gap: {len(offsets)} offsets, expected {low}..{high}")
            if frame.height != len(offsets) * SPANS:
                errors.append("missing span")
            scans[0] += 1

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        policy = CompactionPolicy(target_bytes=64 * 1024 * 1024, min_segments=2, grace_s=0.5)
        for _ in range(15):
            started[0] += 2
            add_segments(tmp_path, 2)
            sealed[0] += 2
            compact_once(tmp_path, policy)
            collect_superseded(tmp_path, policy.grace_s)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert scans[0] > 10
    assert scan_spans(tmp_path).collect().height == sealed[0] * SPANS
    assert len(live_segments(tmp_path)) == 1
