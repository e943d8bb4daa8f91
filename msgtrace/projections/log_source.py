"""What the projector reads from the log: span rows and tombstones above a checkpoint.

Files come from `naming.live_segments` / `naming.live_tombstones` (superseded compaction inputs
dropped), so a row is never read twice; rows at or below the checkpoint are filtered out, which
makes a compacted file that straddles the checkpoint safe to read. A file deleted between listing
and reading (a compaction input past its grace period) raises FileNotFoundError: re-plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from msgtrace.core.errors import SegmentCorrupted
from msgtrace.segments import naming

# Segment columns the projector needs (the rest stay in the log for analysis).
SPAN_READ_COLUMNS = (
    "offset",
    "trace_id",
    "span_id",
    "parent_span_id",
    "trace_state",
    "flags",
    "name",
    "kind",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "status_code",
    "status_message",
    "attributes",
    "events",
    "links",
    "service_name",
    "resource_attributes",
    "scope_name",
    "scope_version",
)


@dataclass(frozen=True)
class PlannedBatch:
    """Segment files to apply together: rows with after < offset <= last."""

    files: tuple[naming.RangeFile, ...]
    after: int
    last: int
    rows: int


def num_rows(path: Path) -> int:
    """Rows of a segment file, after checking its schema version and columns (footer only)."""
    from msgtrace.segments.segment_reader import check_schema

    try:
        file = pq.ParquetFile(path)
    except FileNotFoundError:
        raise  # removed by the compactor after listing: the caller re-plans
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise SegmentCorrupted(f"cannot read segment {path.name}: {exc}", path=str(path)) from exc
    check_schema(path, file.schema_arrow)
    return int(file.metadata.num_rows)


def plan_batches(data_dir: Path, after: int, batch_rows: int) -> list[PlannedBatch]:
    """Pending segment files (last offset above `after`) grouped into batches of about
    `batch_rows` rows, in offset order."""
    batches: list[PlannedBatch] = []
    current: list[naming.RangeFile] = []
    rows = 0
    start = after
    for f in naming.live_segments(data_dir):
        if f.last <= after:
            continue
        current.append(f)
        rows += num_rows(f.path)
        if rows >= batch_rows:
            batches.append(PlannedBatch(tuple(current), start, f.last, rows))
            start, current, rows = f.last, [], 0
    if current:
        batches.append(PlannedBatch(tuple(current), start, current[-1].last, rows))
    return batches


def read_spans(
    files: tuple[naming.RangeFile, ...] | list[naming.RangeFile],
    after: int,
    upto: int | None = None,
    trace_ids: list[str] | None = None,
) -> pl.DataFrame:
    """Span rows of `files` with after < offset (<= upto), optionally only some traces."""
    frames = []
    for f in files:
        try:
            frame = pl.read_parquet(f.path, columns=list(SPAN_READ_COLUMNS))
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise SegmentCorrupted(
                f"cannot read segment {f.path.name}: {exc}", path=str(f.path)
            ) from exc
        if f.first <= after or (upto is not None and f.last > upto):
            cond = pl.col("offset") > after
            if upto is not None:
                cond = cond & (pl.col("offset") <= upto)
            frame = frame.filter(cond)
        if trace_ids is not None:
            frame = frame.filter(pl.col("trace_id").is_in(trace_ids))
        frames.append(frame)
    if not frames:
        return empty_spans()
    return pl.concat(frames, how="vertical_relaxed")


_POLARS_TYPES = {"int64": pl.Int64, "int8": pl.Int8, "string": pl.String}


def empty_spans() -> pl.DataFrame:
    """No span rows, with the columns and types `read_spans` returns."""
    from msgtrace.core.schema import SPAN_COLUMNS

    types = {name: _POLARS_TYPES[t] for name, t, _, _ in SPAN_COLUMNS}
    return pl.DataFrame(schema={c: types[c] for c in SPAN_READ_COLUMNS})


def read_tombstones(data_dir: Path, after: int) -> pl.DataFrame:
    """Tombstone rows with offset above `after`: columns offset, trace_id ('' = every trace)."""
    frames = []
    for f in naming.live_tombstones(data_dir):
        if f.last <= after:
            continue
        try:
            frame = pl.read_parquet(f.path, columns=["offset", "trace_id"])
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise SegmentCorrupted(
                f"cannot read tombstones {f.path.name}: {exc}", path=str(f.path)
            ) from exc
        frames.append(frame.filter(pl.col("offset") > after))
    if not frames:
        return pl.DataFrame(schema={"offset": pl.Int64, "trace_id": pl.String})
    return (
        pl.concat(frames)
        .with_columns(pl.col("trace_id").fill_null(""))
        .unique()
        .sort("offset", "trace_id")
    )
