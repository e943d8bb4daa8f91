"""Reading segments: a verified single-file read and a lazy scan over the live set.

Guarantee: `scan_spans` reads `naming.live_segments`, which drops files superseded by a
compaction output, so while the compactor works a scan sees every span exactly once. Inputs of
a compaction are deleted only after a grace period, so a scan that listed them just before the
output landed can still read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from msgtrace.core import schema
from msgtrace.core.errors import SegmentCorrupted, SegmentTooNew
from msgtrace.segments.naming import live_segments

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

_HINT = "move the file to <data-dir>/quarantine and re-seal it from the journal, or delete it"


def segment_version(metadata: dict[bytes, bytes] | None) -> int | None:
    raw = (metadata or {}).get(schema.META_SCHEMA_VERSION)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def check_schema(path: Path, arrow_schema: pa.Schema) -> int:
    """Raise SegmentCorrupted unless `arrow_schema` is a segment schema this version can read."""
    version = segment_version(arrow_schema.metadata)
    if version is None:
        raise SegmentCorrupted(f"{path.name} has no msgtrace schema version", path=str(path), hint=_HINT)
    if version not in schema.SCHEMA_VERSIONS_READABLE:
        raise SegmentTooNew(
            f"{path.name} has schema version {version}; this msgtrace reads {schema.SCHEMA_VERSIONS_READABLE}",
            path=str(path),
            hint="upgrade msgtrace to read segments written by a newer version",
        )
    expected = schema.span_schema()
    if arrow_schema.names != expected.names:
        missing = sorted(set(expected.names) - set(arrow_schema.names))
        raise SegmentCorrupted(
            f"{path.name} columns differ from schema version {version} (missing: {missing})",
            path=str(path),
            hint=_HINT,
        )
    for field in expected:
        if not arrow_schema.field(field.name).type.equals(field.type):
            raise SegmentCorrupted(
                f"{path.name} column {field.name} is {arrow_schema.field(field.name).type}, expected {field.type}",
                path=str(path),
                hint=_HINT,
            )
    return version


def read_segment(path: Path) -> pa.Table:
    """The whole segment as an Arrow table, after verifying its schema version and columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        file = pq.ParquetFile(path)
        check_schema(path, file.schema_arrow)
        return file.read()
    except SegmentCorrupted:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise SegmentCorrupted(f"{path.name} is not a readable Parquet file: {exc}", path=str(path), hint=_HINT) from exc


def iter_segment_row_groups(path: Path) -> Iterator[pa.Table]:
    """The segment one row group at a time (verified like `read_segment`), so a reader of a large
    compacted segment holds one row group in memory, not the whole file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        file = pq.ParquetFile(path)
        check_schema(path, file.schema_arrow)
        for i in range(file.num_row_groups):
            yield file.read_row_group(i)
    except SegmentCorrupted:
        raise
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise SegmentCorrupted(f"{path.name} is not a readable Parquet file: {exc}", path=str(path), hint=_HINT) from exc


def empty_spans() -> pl.LazyFrame:
    import polars as pl

    return pl.from_arrow(schema.span_schema().empty_table()).lazy()  # type: ignore[union-attr]


def scan_spans(data_dir: Path, *, since_offset: int | None = None) -> pl.LazyFrame:
    """A lazy frame over every live segment, in offset order of files.

    With `since_offset`, only rows with offset > since_offset (files entirely at or below it are
    not opened at all).
    """
    import polars as pl

    files = live_segments(Path(data_dir))
    if since_offset is not None:
        files = [f for f in files if f.last > since_offset]
    if not files:
        return empty_spans()
    frame = pl.scan_parquet([f.path for f in files])
    if since_offset is not None:
        frame = frame.filter(pl.col("offset") > since_offset)
    return frame


def quarantine(data_dir: Path, path: Path, reason: str) -> Path:
    """Move a bad log file to `<data-dir>/quarantine/` (kept as evidence, out of every reader's
    way) and log why; returns its new path. An earlier file of the same name is kept too."""
    import logging
    import os
    import time

    from msgtrace.segments.journal_format import fsync_dir
    from msgtrace.segments.naming import QUARANTINE_DIR

    target_dir = data_dir / QUARANTINE_DIR
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    if target.exists():
        target = target_dir / f"{path.name}.{time.time_ns()}"
    os.replace(path, target)
    fsync_dir(path.parent)
    fsync_dir(target_dir)
    logging.getLogger("msgtrace.segments").error(
        "moved %s to %s: %s (the rest of the log keeps working; run `msgtrace segments verify`)",
        path.name, target, reason,
    )
    return target
