"""Test helper: write segment and tombstone files the way the sealer does (tmp name + rename).

Kept here so it can be replaced by the real sealer; it writes exactly the columns of
`msgtrace.core.schema` with the file metadata the log defines.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from msgtrace.core import schema
from msgtrace.segments import naming

_ids = itertools.count(1)


def span(
    trace: str,
    span_id: str,
    parent: str | None = None,
    *,
    name: str | None = None,
    start: int = 1_700_000_000_000_000_000,
    duration: int = 1_000_000,
    status: int = 0,
    attrs: Mapping[str, Any] | None = None,
    service: str | None = "svc",
) -> dict[str, Any]:
    """A span row (without offset) with readable ids padded to the real lengths."""
    return {
        "trace_id": trace.rjust(32, "0"),
        "span_id": span_id.rjust(16, "0"),
        "parent_span_id": None if parent is None else parent.rjust(16, "0"),
        "trace_state": None,
        "flags": 1,
        "name": name or f"span-{span_id}",
        "kind": 1,
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + duration,
        "status_code": status,
        "status_message": None,
        "attributes": orjson.dumps(dict(attrs or {})).decode(),
        "dropped_attributes_count": 0,
        "events": "[]",
        "dropped_events_count": 0,
        "links": "[]",
        "dropped_links_count": 0,
        "service_name": service,
        "resource_attributes": orjson.dumps({"service.name": service} if service else {}).decode(),
        "resource_dropped_attributes_count": 0,
        "resource_schema_url": None,
        "scope_name": "test",
        "scope_version": None,
        "scope_attributes": "{}",
        "scope_dropped_attributes_count": 0,
        "scope_schema_url": None,
    }


def _write(
    path: Path,
    table: pa.Table,
    first: int,
    last: int,
    kind: bytes,
    row_group_size: int | None = None,
) -> None:
    meta = {
        schema.META_SCHEMA_VERSION: str(schema.SCHEMA_VERSION).encode(),
        schema.META_FIRST_OFFSET: str(first).encode(),
        schema.META_LAST_OFFSET: str(last).encode(),
        schema.META_KIND: kind,
    }
    table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / naming.tmp_name(path.name)
    pq.write_table(table, tmp, compression="zstd", row_group_size=row_group_size)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_segment(
    data_dir: Path,
    requests: Iterable[Iterable[Mapping[str, Any]]],
    first: int,
    *,
    row_group_size: int | None = None,
) -> tuple[int, Path]:
    """One segment of consecutive requests starting at offset `first` (each request one offset).

    Returns (last offset, path)."""
    rows: list[dict[str, Any]] = []
    offset = first - 1
    for offset, request in enumerate(requests, start=first):
        for r in request:
            rows.append({**r, "offset": offset, "received_time_unix_nano": 1})
    last = max(offset, first)
    rows.sort(key=lambda r: (r["trace_id"], r["start_time_unix_nano"]))
    table = pa.Table.from_pylist(rows, schema=schema.span_schema())
    path = data_dir / naming.SEGMENTS_DIR / naming.range_name(first, last, naming.SEGMENT_SUFFIX)
    _write(path, table, first, last, b"spans", row_group_size)
    return last, path


def write_tombstones(data_dir: Path, deletes: list[tuple[int, str | None]]) -> Path:
    """A tombstone file holding (offset, trace_id or None for delete-all) records."""
    rows = [
        {
            "offset": o,
            "received_time_unix_nano": 1,
            "trace_id": None if t is None else t.rjust(32, "0"),
        }
        for o, t in deletes
    ]
    first, last = min(o for o, _ in deletes), max(o for o, _ in deletes)
    table = pa.Table.from_pylist(rows, schema=schema.tombstone_schema())
    path = data_dir / naming.TOMBSTONES_DIR / naming.range_name(first, last, naming.SEGMENT_SUFFIX)
    _write(path, table, first, last, b"tombstones")
    return path
