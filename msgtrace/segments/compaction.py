"""The compactor: merges runs of small adjacent segments (and tombstone files) into larger ones.

A run is a sequence of live files whose offset ranges are contiguous (`next.first == prev.last
+ 1`), each smaller than the target, whose sizes add up to at most the target, and at least
`min_segments` long. Its output `<run first>-<run last>.parquet` is written tmp -> fsync -> rename
-> fsync dir; from that moment `naming.live_segments` prefers it and drops the inputs, so a reader
never sees a span twice or misses one. Inputs are deleted by `collect_superseded` once the
output has existed for `grace_s` seconds (time enough for a scan that listed the inputs just
before to finish). The rule is stateless, read off the disk, so a crash at any step leaves a
consistent set that the next pass finishes.

Output row groups are sorted by trace_id then start_time_unix_nano; the file as a whole is in
input (offset) order of chunks, which keeps memory bounded by one row group.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from msgtrace.core import schema
from msgtrace.core.errors import SegmentCorrupted, SegmentTooNew
from msgtrace.segments.journal_format import fsync_dir
from msgtrace.segments.naming import (
    SEGMENT_SUFFIX,
    SEGMENTS_DIR,
    TOMBSTONES_DIR,
    RangeFile,
    drop_superseded,
    list_ranges,
    range_name,
)
from msgtrace.segments.segment_reader import iter_segment_row_groups, quarantine
from msgtrace.segments.segment_writer import (
    ROW_GROUP_BYTES,
    file_metadata,
    one_chunk,
    sorted_groups,
    write_parquet_atomic,
)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 60.0


@dataclass(frozen=True)
class CompactionPolicy:
    target_bytes: int = 128 * 1024 * 1024
    min_segments: int = 8
    grace_s: float = DEFAULT_GRACE_S


def _size(f: RangeFile) -> int | None:
    try:
        return f.path.stat().st_size
    except FileNotFoundError:
        return None


def plan_runs(live: list[RangeFile], policy: CompactionPolicy) -> list[list[RangeFile]]:
    """Runs of contiguous small files to merge, in offset order (see the module docstring)."""
    runs: list[list[RangeFile]] = []
    run: list[RangeFile] = []
    total = 0

    def close_run() -> None:
        if len(run) >= max(2, policy.min_segments):
            runs.append(list(run))

    for f in live:
        size = _size(f)
        if size is None or size >= policy.target_bytes:
            close_run()
            run, total = [], 0
            continue
        contiguous = bool(run) and run[-1].last + 1 == f.first
        if not contiguous or total + size > policy.target_bytes:
            close_run()
            run, total = [], 0
        run.append(f)
        total += size
    close_run()
    return runs


def _span_chunks(run: list[RangeFile]) -> Iterator[pa.Table]:
    """Inputs concatenated in offset order, re-cut into sorted chunks of about ROW_GROUP_BYTES."""
    from msgtrace.segments import memory

    pending: list[pa.Table] = []
    size = 0
    for f in run:  # row group by row group: memory stays near ROW_GROUP_BYTES, whatever the inputs
        for group in iter_segment_row_groups(f.path):
            table = group.replace_schema_metadata(None)
            pending.append(table)
            size += table.nbytes
            if size >= ROW_GROUP_BYTES:
                yield from sorted_groups(one_chunk(pending))
                size = 0
                memory.release()
    if pending:
        yield from sorted_groups(one_chunk(pending))


def _tombstone_chunks(run: list[RangeFile]) -> Iterator[pa.Table]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    yield pa.concat_tables([pq.read_table(f.path).replace_schema_metadata(None) for f in run])


def merge_run(data_dir: Path, run: list[RangeFile], *, kind: str) -> Path | None:
    """Write the merged output of `run`; None when an input was corrupt (it is quarantined) or
    disappeared while being read (retention dropped it; the run is skipped).

    An input deleted by retention after it was read still lands in the output: the retention
    tombstone hides its traces from the views, and a later retention pass reclaims the space.
    """
    first, last = run[0].first, run[-1].last
    directory = run[0].path.parent
    final = directory / range_name(first, last, SEGMENT_SUFFIX)
    try:
        if kind == "spans":
            return write_parquet_atomic(
                _span_chunks(run), schema.span_schema(), final, file_metadata("spans", first, last)
            )
        return write_parquet_atomic(
            _tombstone_chunks(run), schema.tombstone_schema(), final, file_metadata("tombstones", first, last)
        )
    except SegmentCorrupted as exc:
        vanished = [f.path.name for f in run if not f.path.exists()]
        if vanished:  # retention (or another pass) deleted an input meanwhile: skip this run
            log.info("skipping a compaction run: %s disappeared while it was read", ", ".join(vanished))
            return None
        if isinstance(exc, SegmentTooNew):  # not corrupt: leave it for a newer msgtrace
            log.error("not compacting: %s", exc)
        elif exc.path:
            quarantine(data_dir, Path(exc.path), str(exc))
        return None
    except FileNotFoundError as exc:
        log.info("skipping a compaction run: an input disappeared while it was read (%s)", exc)
        return None


def compact_once(
    data_dir: Path, policy: CompactionPolicy, *, yield_to: Callable[[], bool] | None = None
) -> list[Path]:
    """Plan and merge every run of segments and of tombstone files; returns the outputs.

    `yield_to` is asked before each run: when it answers True the pass stops there (the log
    worker stops to seal a journal that just closed; the next pass plans the rest again)."""
    outputs: list[Path] = []
    for sub, kind in ((SEGMENTS_DIR, "spans"), (TOMBSTONES_DIR, "tombstones")):
        live = drop_superseded(list_ranges(data_dir / sub, SEGMENT_SUFFIX))
        for run in plan_runs(live, policy):
            if yield_to is not None and yield_to():
                return outputs
            out = merge_run(data_dir, run, kind=kind)
            if out is not None:
                log.info("compacted %d %s files into %s", len(run), kind, out.name)
                outputs.append(out)
    return outputs


def collect_superseded(data_dir: Path, grace_s: float, *, now: float | None = None) -> list[Path]:
    """Delete files covered by a live file whose mtime is at least `grace_s` seconds old."""
    now = time.time() if now is None else now
    deleted: list[Path] = []
    for sub in (SEGMENTS_DIR, TOMBSTONES_DIR):
        directory = data_dir / sub
        files = list_ranges(directory, SEGMENT_SUFFIX)
        live = drop_superseded(files)
        live_set = set(live)
        for f in files:
            if f in live_set:
                continue
            cover = next((c for c in live if c.covers(f)), None)
            if cover is None:
                continue
            try:
                age = now - cover.path.stat().st_mtime
            except FileNotFoundError:
                continue
            if age >= grace_s:
                f.path.unlink(missing_ok=True)
                deleted.append(f.path)
        if deleted:
            fsync_dir(directory)
    return deleted
