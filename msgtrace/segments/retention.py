"""Retention: drop whole old segments, behind a tombstone so the views follow.

A pass (`apply_retention`) works on live segments only (`naming.live_segments`) and:

1. picks the segments to drop:
   - by age: every segment whose newest row was received before `now - retention_days` (the
     maximum of `received_time_unix_nano`, read from Parquet column statistics, not the rows; an
     empty segment's age is its file's modification time);
   - by size: then, while the log (segments/, tombstones/, journal/) is larger than
     `max_disk_bytes`, the oldest remaining segments in offset order;
   never the newest segment (its name keeps the offset high-water visible; the journal also
   persists it), and never a segment above `applied_offset` (the projector's checkpoint), so the
   projector never loses a file it has not read yet;
2. reads the trace ids of the picked segments (the `trace_id` column only) and appends ONE
   tombstone record `{"trace_ids": [...]}` to the journal, waiting until it is durable;
3. only then deletes the picked files (and any older files they supersede) and fsyncs segments/.

A trace with any span in a dropped segment is therefore deleted as a whole: its spans received
before the tombstone are hidden from the views even when they live in a newer segment. A crash
between 2 and 3 leaves the files on disk with their traces tombstoned; the next pass drops them.
A pass lists at most `max_trace_ids` trace ids; `RetentionResult.more` says another pass has work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from msgtrace.segments.journal_format import fsync_dir
from msgtrace.segments.naming import (
    CLOSED_SUFFIX,
    JOURNAL_DIR,
    SEGMENT_SUFFIX,
    SEGMENTS_DIR,
    TOMBSTONES_DIR,
    RangeFile,
    list_ranges,
    live_segments,
)

__all__ = [
    "RetentionPolicy",
    "RetentionResult",
    "RetentionThread",
    "apply_retention",
    "log_size_bytes",
    "max_received_time",
    "plan_retention",
]

log = logging.getLogger(__name__)

NS_PER_DAY = 86_400 * 1_000_000_000
GB = 1024**3
DEFAULT_INTERVAL_S = 60.0
DEFAULT_MAX_TRACE_IDS = 200_000  # about 7 MB of JSON in one tombstone record


class TombstoneSink(Protocol):
    """Where retention appends its tombstone (the server's `Journal`)."""

    def append_tombstones(self, trace_ids: list[str]) -> int: ...


@dataclass(frozen=True)
class RetentionPolicy:
    """What to keep. `None` disables a rule; a policy with both None drops nothing."""

    retention_days: float | None = None
    max_disk_bytes: int | None = None
    max_trace_ids: int = DEFAULT_MAX_TRACE_IDS

    @classmethod
    def from_limits(cls, retention_days: float | None, max_disk_gb: float | None) -> RetentionPolicy:
        max_bytes = None if max_disk_gb is None else int(max_disk_gb * GB)
        return cls(retention_days=retention_days, max_disk_bytes=max_bytes)

    @property
    def active(self) -> bool:
        return self.retention_days is not None or self.max_disk_bytes is not None


@dataclass
class RetentionResult:
    """What one pass did. `tombstone_offset` is None when nothing was dropped."""

    dropped: list[Path] = field(default_factory=list)
    by_age: int = 0
    by_size: int = 0
    trace_ids: int = 0
    freed_bytes: int = 0
    tombstone_offset: int | None = None
    more: bool = False


def max_received_time(path: Path) -> int | None:
    """The newest `received_time_unix_nano` in a segment, from row-group statistics.

    Falls back to reading that one column when a row group has no statistics; None for a file
    without rows.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    if meta.num_rows == 0:
        return None
    column = meta.schema.to_arrow_schema().get_field_index("received_time_unix_nano")
    best: int | None = None
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        if group.num_rows == 0:
            continue
        stats = group.column(column).statistics
        if stats is None or not stats.has_min_max:
            table = pq.read_table(path, columns=["received_time_unix_nano"])
            value = pc.max(table.column(0)).as_py()
            return None if value is None else int(value)
        best = int(stats.max) if best is None else max(best, int(stats.max))
    return best


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def log_size_bytes(data_dir: Path) -> int:
    """Bytes of the log: segment and tombstone files plus journal files (open and closed)."""
    total = 0
    for sub in (SEGMENTS_DIR, TOMBSTONES_DIR, JOURNAL_DIR):
        directory = data_dir / sub
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            name = path.name
            if name.endswith((SEGMENT_SUFFIX, CLOSED_SUFFIX, ".open")) and not name.startswith("."):
                total += _file_size(path)
    return total


@dataclass(frozen=True)
class _Pick:
    file: RangeFile
    size: int
    reason: str  # "age" or "size"


def plan_retention(
    data_dir: Path,
    policy: RetentionPolicy,
    *,
    now_ns: int | None = None,
    applied_offset: int | None = None,
) -> list[_Pick]:
    """The live segments a pass would drop, oldest first (see the module docstring)."""
    if not policy.active:
        return []
    live = live_segments(data_dir)
    candidates = live[:-1]  # never the newest
    if applied_offset is not None:
        candidates = [f for f in candidates if f.last <= applied_offset]
    now_ns = time.time_ns() if now_ns is None else now_ns
    picks: list[_Pick] = []
    picked: set[RangeFile] = set()
    if policy.retention_days is not None:
        cutoff = now_ns - int(policy.retention_days * NS_PER_DAY)
        for f in candidates:
            try:
                newest = max_received_time(f.path)
                if newest is None:
                    newest = f.path.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            except Exception as exc:  # unreadable: leave it to `msgtrace segments verify`
                log.warning("retention: cannot read statistics of %s: %s", f.path.name, exc)
                continue
            if newest < cutoff:
                picks.append(_Pick(f, _file_size(f.path), "age"))
                picked.add(f)
    if policy.max_disk_bytes is not None:
        excess = log_size_bytes(data_dir) - policy.max_disk_bytes - sum(p.size for p in picks)
        for f in candidates:
            if excess <= 0:
                break
            if f in picked or not f.path.exists():
                continue
            size = _file_size(f.path)
            picks.append(_Pick(f, size, "size"))
            picked.add(f)
            excess -= size
        if excess > 0:
            log.warning(
                "retention: the log is still %d bytes over max_disk_gb after dropping every "
                "segment it may drop (the newest and unprojected segments are kept)", excess,
            )
    return sorted(picks, key=lambda p: p.file)


def _trace_ids(path: Path) -> set[str]:
    import pyarrow.parquet as pq

    column = pq.read_table(path, columns=["trace_id"]).column(0)
    return {t for t in column.unique().to_pylist() if t is not None}


def _delete(data_dir: Path, dropped: list[RangeFile]) -> list[Path]:
    """Unlink `dropped` and every file they supersede; fsync the directory once."""
    directory = data_dir / SEGMENTS_DIR
    everything = list_ranges(directory, SEGMENT_SUFFIX)
    deleted: list[Path] = []
    for d in dropped:
        for f in everything:
            if f == d or d.covers(f):
                with contextlib.suppress(FileNotFoundError):
                    f.path.unlink()
                    deleted.append(f.path)
    if deleted:
        fsync_dir(directory)
    return deleted


def apply_retention(
    data_dir: Path,
    sink: TombstoneSink,
    policy: RetentionPolicy,
    *,
    now_ns: int | None = None,
    applied_offset: int | None = None,
) -> RetentionResult:
    """One retention pass: plan, append one durable tombstone, delete. See the module docstring."""
    data_dir = Path(data_dir)
    result = RetentionResult()
    picks = plan_retention(data_dir, policy, now_ns=now_ns, applied_offset=applied_offset)
    if not picks:
        return result
    chosen: list[_Pick] = []
    trace_ids: set[str] = set()
    for pick in picks:
        if chosen and len(trace_ids) >= policy.max_trace_ids:
            result.more = True
            break
        try:
            trace_ids |= _trace_ids(pick.file.path)
        except FileNotFoundError:
            continue  # superseded and collected meanwhile; the next pass re-plans
        chosen.append(pick)
    if not chosen:
        return result
    if trace_ids:
        result.tombstone_offset = sink.append_tombstones(sorted(trace_ids))
    result.dropped = _delete(data_dir, [p.file for p in chosen])
    result.by_age = sum(1 for p in chosen if p.reason == "age")
    result.by_size = sum(1 for p in chosen if p.reason == "size")
    result.trace_ids = len(trace_ids)
    result.freed_bytes = sum(p.size for p in chosen)
    log.info(
        "retention: dropped %d segments (%d by age, %d by size, %d bytes) behind a tombstone "
        "of %d traces at offset %s",
        len(chosen), result.by_age, result.by_size, result.freed_bytes, result.trace_ids,
        result.tombstone_offset,
    )
    return result


class RetentionThread:
    """Runs `apply_retention` once at start and then every `interval_s` until `stop`.

    Errors are logged and retried at the next interval; a pass that leaves work (`more`) is
    followed at once by another.
    """

    def __init__(
        self,
        data_dir: Path,
        sink: TombstoneSink,
        policy: RetentionPolicy,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        applied_offset: Callable[[], int | None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.sink = sink
        self.policy = policy
        self.interval_s = interval_s
        self.applied_offset = applied_offset
        self.passes = 0
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="msgtrace-retention", daemon=True)

    @classmethod
    def interval_from_env(cls, environ: Mapping[str, str] | None = None) -> float:
        """MSGTRACE_RETENTION_INTERVAL_S, or the default of 60 s."""
        env = os.environ if environ is None else environ
        raw = env.get("MSGTRACE_RETENTION_INTERVAL_S", "")
        try:
            value = float(raw) if raw else DEFAULT_INTERVAL_S
        except ValueError:
            log.warning("MSGTRACE_RETENTION_INTERVAL_S=%r is not a number; using %s s", raw, DEFAULT_INTERVAL_S)
            return DEFAULT_INTERVAL_S
        return max(0.05, value)

    def start(self) -> RetentionThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_once(self) -> RetentionResult:
        applied = self.applied_offset() if self.applied_offset is not None else None
        result = apply_retention(self.data_dir, self.sink, self.policy, applied_offset=applied)
        self.passes += 1
        self.dropped += len(result.dropped)
        return result

    def _run(self) -> None:
        while not self._stop.is_set():
            more = False
            try:
                more = self.run_once().more
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("retention pass failed; retrying in %.0f s", self.interval_s)
            if not more:
                self._stop.wait(self.interval_s)
