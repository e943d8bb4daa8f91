"""What the projector reads from the log: span rows and tombstones above a checkpoint.

Files come from `naming.live_segments` / `naming.live_tombstones` (superseded compaction inputs
dropped), so a row is never read twice; rows at or below the checkpoint are filtered out, which
makes a compacted file that straddles the checkpoint safe to read. A file deleted between listing
and reading (a compaction input past its grace period) raises FileNotFoundError: re-plan.
"""

from __future__ import annotations

from collections.abc import Iterator
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


# Bytes of span rows (as Arrow/Polars columns in memory) handed to the projector at once: what a
# chunk costs downstream (decoded JSON, SQLite row tuples) grows with it, about tenfold, while
# each chunk also pays a fixed cost (tens of small queries). Row groups larger than this are split
# by rows. Prompt text makes rows large (about 3 KB each, so about 5,000 rows a chunk).
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class PlannedBatch:
    """Segment files to apply in one transaction: rows with after < offset <= last."""

    files: tuple[naming.RangeFile, ...]
    after: int
    last: int
    rows: int


def _open(path: Path) -> pq.ParquetFile:
    """The file with its schema version and columns checked (footer only)."""
    from msgtrace.segments.segment_reader import check_schema

    try:
        file = pq.ParquetFile(path)
    except FileNotFoundError:
        raise  # removed by the compactor after listing: the caller re-plans
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise SegmentCorrupted(f"cannot read segment {path.name}: {exc}", path=str(path)) from exc
    check_schema(path, file.schema_arrow)
    return file


def plan_batches(
    data_dir: Path, after: int, batch_rows: int, batch_bytes: int = 4 * DEFAULT_CHUNK_BYTES
) -> list[PlannedBatch]:
    """Pending segment files (last offset above `after`) grouped into batches of about
    `batch_rows` rows or `batch_bytes` uncompressed bytes, in offset order."""
    batches: list[PlannedBatch] = []
    current: list[naming.RangeFile] = []
    rows = size = 0
    start = after
    for f in naming.live_segments(data_dir):
        if f.last <= after:
            continue
        meta = _open(f.path).metadata
        current.append(f)
        rows += meta.num_rows
        size += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if rows >= batch_rows or size >= batch_bytes:
            batches.append(PlannedBatch(tuple(current), start, f.last, rows))
            start, current, rows, size = f.last, [], 0, 0
    if current:
        batches.append(PlannedBatch(tuple(current), start, current[-1].last, rows))
    return batches


def read_chunks(
    files: tuple[naming.RangeFile, ...] | list[naming.RangeFile],
    after: int,
    upto: int | None = None,
    trace_ids: list[str] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[pl.DataFrame]:
    """Span rows of `files` with after < offset (<= upto), optionally only some traces, in
    offset-file order and chunks of about `chunk_bytes` bytes in memory (all but the last filled
    up to it): row groups are read one at a time and cut by rows where a chunk fills up."""
    pending: list[pl.DataFrame] = []
    size = 0.0
    yielded = False
    for f in files:
        file = _open(f.path)
        for i in range(file.metadata.num_row_groups):
            frame = _read_groups(file, f, [i], after, upto, trace_ids)
            if frame.height == 0:
                if not pending and not yielded:
                    pending.append(frame)  # no rows so far: a chunk still carries the schema
                continue
            row_bytes = frame.estimated_size() / frame.height
            while frame.height:
                room = int((chunk_bytes - size) // row_bytes)
                if room >= frame.height:
                    pending = [p for p in pending if p.height]
                    pending.append(frame)
                    size += frame.height * row_bytes
                    break
                room = max(room, 0 if any(p.height for p in pending) else 1)
                if room:
                    pending.append(frame.slice(0, room))
                    frame = frame.slice(room)
                yield pl.concat(pending, how="vertical_relaxed")
                pending, size, yielded = [], 0.0, True
    if pending:
        yield pl.concat(pending, how="vertical_relaxed")


def _read_groups(
    file: pq.ParquetFile,
    f: naming.RangeFile,
    groups: list[int],
    after: int,
    upto: int | None,
    trace_ids: list[str] | None,
) -> pl.DataFrame:
    try:
        if len(groups) == file.metadata.num_row_groups:
            # the whole file: Polars' own reader is 3-8x faster than pyarrow's here
            frame = pl.read_parquet(f.path, columns=list(SPAN_READ_COLUMNS))
        else:
            # pyarrow's thread pool costs more than it gains on a small, busy machine
            table = file.read_row_groups(groups, columns=list(SPAN_READ_COLUMNS), use_threads=False)
            frame = pl.from_arrow(table)  # type: ignore[assignment]
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise SegmentCorrupted(
            f"cannot read segment {f.path.name}: {exc}", path=str(f.path)
        ) from exc
    assert isinstance(frame, pl.DataFrame)
    if f.first <= after or (upto is not None and f.last > upto):
        cond = pl.col("offset") > after
        if upto is not None:
            cond = cond & (pl.col("offset") <= upto)
        frame = frame.filter(cond)
    if trace_ids is not None:
        frame = frame.filter(pl.col("trace_id").is_in(trace_ids))
    return frame


def read_spans(
    files: tuple[naming.RangeFile, ...] | list[naming.RangeFile],
    after: int,
    upto: int | None = None,
    trace_ids: list[str] | None = None,
) -> pl.DataFrame:
    """All of `read_chunks` in one frame (for small reads: late-tombstone re-reads)."""
    frames = list(read_chunks(files, after, upto, trace_ids, chunk_bytes=1 << 62))
    return pl.concat(frames, how="vertical_relaxed") if frames else empty_spans()


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
