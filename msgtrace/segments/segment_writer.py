"""The sealer: turns a closed journal into Parquet files, and the atomic Parquet writer it shares.

`seal_journal` reads `journal/<first>-<last>.wal` and writes, in this order:

1. `tombstones/<first>-<last>.parquet` when the journal holds delete records: one row per deleted
   trace id, so a record listing many traces (`{"trace_ids": [...]}`, written by retention) becomes
   many rows sharing its offset;
2. `segments/<first>-<last>.parquet`, always, even with zero rows (a journal of only deletes, or
   of records that failed to decode), so segment ranges tile the offset space and a segment
   covering a journal proves that journal was sealed completely (recovery relies on this);
3. then deletes the journal.

Each file is written as `.<name>.tmp`, fsync'd, renamed, and its directory fsync'd. A crash at
any point leaves either the journal (sealed again later, overwriting identical outputs) or the
outputs (the journal is then deleted by recovery). Span rows are sorted by trace_id then
start_time_unix_nano; file key-value metadata carries the schema version, the offset range and
the kind (see msgtrace.core.schema).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from msgtrace.core import schema
from msgtrace.segments.journal_format import RecordKind, fsync_dir, fsync_file, iter_frames
from msgtrace.segments.naming import (
    JOURNAL_DIR,
    QUARANTINE_DIR,
    SEGMENT_SUFFIX,
    SEGMENTS_DIR,
    TOMBSTONES_DIR,
    RangeFile,
    range_name,
    tmp_name,
)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

# Row groups hold about this many bytes of Arrow columns (and never more than MAX_GROUP_ROWS rows),
# small enough to stream (what the sealer, the compactor and the projector hold at once grows
# with it) and to prune by trace_id statistics, large enough to compress well.
ROW_GROUP_BYTES = 16 * 1024 * 1024
MAX_GROUP_ROWS = 128 * 1024
SORT_KEYS = [("trace_id", "ascending"), ("start_time_unix_nano", "ascending")]
ZSTD_LEVEL = 3


@dataclass(frozen=True)
class SealResult:
    segment: Path
    tombstones: Path | None
    records: int
    spans: int
    deletes: int
    skipped_records: int


def file_metadata(kind: str, first: int, last: int) -> dict[bytes, bytes]:
    return {
        schema.META_SCHEMA_VERSION: str(schema.SCHEMA_VERSION).encode(),
        schema.META_FIRST_OFFSET: str(first).encode(),
        schema.META_LAST_OFFSET: str(last).encode(),
        schema.META_KIND: kind.encode(),
    }


def rows_per_group(table: pa.Table) -> int:
    if table.num_rows == 0:
        return MAX_GROUP_ROWS
    per_row = max(1, table.nbytes // table.num_rows)
    return max(1024, min(MAX_GROUP_ROWS, ROW_GROUP_BYTES // per_row))


def sort_spans(table: pa.Table) -> pa.Table:
    return table.sort_by(SORT_KEYS) if table.num_rows > 1 else table


def one_chunk(tables: list[pa.Table]) -> pa.Table:
    """`tables` as one single-chunk table (sorting a many-chunk table costs 5-10x more); empties
    the list, so the pieces are freed as soon as the copy exists."""
    import pyarrow as pa

    if not tables:
        return schema.span_schema().empty_table()
    combined = pa.concat_tables(tables).combine_chunks()
    tables.clear()
    return combined


def sorted_groups(table: pa.Table) -> Iterator[pa.Table]:
    """`table` sorted by SORT_KEYS, as row groups of `rows_per_group` rows taken one at a time:
    never a second whole copy of the table in memory (the compactor's chunks; a journal is sorted
    whole, which costs less CPU for the same peak)."""
    import pyarrow.compute as pc

    if table.num_rows <= 1:
        yield table
        return
    order = pc.sort_indices(table.select([k for k, _ in SORT_KEYS]), sort_keys=SORT_KEYS)
    rows = rows_per_group(table)
    for start in range(0, table.num_rows, rows):
        yield table.take(order.slice(start, rows))


def write_parquet_atomic(
    batches: Iterable[pa.Table], arrow_schema: pa.Schema, final: Path, metadata: dict[bytes, bytes]
) -> Path:
    """Write `batches` (each one or more row groups) to `final` via tmp -> fsync -> rename -> fsync dir.

    Overwrites an existing `final` (a re-seal after a crash writes identical content).
    """
    import pyarrow.parquet as pq

    directory = final.parent
    tmp = directory / tmp_name(final.name)
    full_schema = arrow_schema.with_metadata(metadata)
    try:
        with pq.ParquetWriter(
            tmp,
            full_schema,
            compression="zstd",
            compression_level=ZSTD_LEVEL,
            write_statistics=["offset", "trace_id", "start_time_unix_nano", "received_time_unix_nano"],
        ) as writer:
            for table in batches:
                writer.write_table(table.cast(arrow_schema), row_group_size=rows_per_group(table))
        fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(directory)
    return final


def warm_up() -> None:
    """Import and initialise what sealing uses (pyarrow.parquet and compute, the codecs, zstd)
    on a made-up row, in memory, so the first journal of a fresh process seals as fast as the
    rest (the imports alone take a few hundred milliseconds on a small machine)."""
    import pyarrow as pa
    import pyarrow.compute  # sorting; imported for its start-up cost
    import pyarrow.parquet as pq

    from msgtrace.core import otlp, otlp_native  # noqa: F401  (likewise)

    arrow_schema = schema.span_schema()
    table = sort_spans(arrow_schema.empty_table())
    with pq.ParquetWriter(
        pa.BufferOutputStream(), arrow_schema, compression="zstd", compression_level=ZSTD_LEVEL
    ) as writer:
        writer.write_table(table)


def _spans_table(columns: dict[str, list[Any]]) -> pa.Table:
    import pyarrow as pa

    arrow_schema = schema.span_schema()
    arrays = [pa.array(columns[f.name], type=f.type) for f in arrow_schema]
    return pa.Table.from_arrays(arrays, schema=arrow_schema)


def tombstone_trace_ids(payload: bytes) -> list[str | None]:
    """The traces a tombstone record deletes: `{"trace_id": id | null}` or `{"trace_ids": [id, ...]}`.

    A null id deletes every trace before the record. Raises ValueError on any other shape.
    """
    doc = orjson.loads(payload)
    if not isinstance(doc, dict):
        raise ValueError(f"tombstone payload is {type(doc).__name__}, expected an object")
    if "trace_ids" in doc:
        ids = doc["trace_ids"]
        if not isinstance(ids, list) or not all(isinstance(t, str) for t in ids):
            raise ValueError("tombstone trace_ids is not a list of strings")
        return list(ids)
    trace_id = doc["trace_id"]
    if trace_id is not None and not isinstance(trace_id, str):
        raise ValueError(f"trace_id is {type(trace_id).__name__}")
    return [trace_id]


def _decode_journal(path: Path, first: int) -> tuple[list[pa.Table], dict[str, list[Any]], int, int, bool]:
    """Span tables and tombstone columns of every valid record, plus counts and a corrupt flag.

    Protobuf records go through the native decoder when it is built and sure of the request;
    everything else (OTLP/JSON, invalid UTF-8, odd wire shapes) through `decode_rows`. Both give
    the same rows (tests/core/test_otlp_native.py).
    """
    from msgtrace.core.otlp import ContentType, decode_rows
    from msgtrace.core.otlp_native import decode_table

    spans: list[pa.Table] = []
    deletes: dict[str, list[Any]] = {"offset": [], "received_time_unix_nano": [], "trace_id": []}
    data = path.read_bytes()
    records = skipped = 0
    valid_end = 0
    for frame, end in iter_frames(data, first):
        records += 1
        valid_end = end
        try:
            if frame.kind == RecordKind.SPANS:
                content_type = ContentType(frame.content_type)
                native = None
                if content_type is ContentType.PROTOBUF:
                    native = decode_table(
                        frame.payload,
                        offset=frame.offset,
                        received_time_unix_nano=frame.received_time_unix_nano,
                    )
                if native is not None:
                    spans.append(native[0])
                else:
                    rows = decode_rows(
                        frame.payload,
                        content_type,
                        offset=frame.offset,
                        received_time_unix_nano=frame.received_time_unix_nano,
                    )
                    spans.append(_spans_table(rows.columns))
            elif frame.kind == RecordKind.TOMBSTONE:
                for trace_id in tombstone_trace_ids(frame.payload):
                    deletes["offset"].append(frame.offset)
                    deletes["received_time_unix_nano"].append(frame.received_time_unix_nano)
                    deletes["trace_id"].append(trace_id)
            else:
                raise ValueError(f"unknown record kind {frame.kind}")
        except Exception as exc:
            skipped += 1
            log.error("%s: skipping record at offset %d that does not decode: %s", path.name, frame.offset, exc)
    corrupt = valid_end < len(data)
    return spans, deletes, records, skipped, corrupt


def seal_journal(data_dir: Path, journal: RangeFile) -> SealResult:
    """Seal one closed journal into its segment (and tombstone) file, then delete the journal.

    Idempotent: sealing again after a crash rewrites the same outputs. A journal whose frames stop
    early (corruption inside a closed file) is sealed up to the bad frame and copied to
    quarantine/ first, so the offset range stays covered and the evidence is kept.
    """
    import pyarrow as pa

    for sub in (SEGMENTS_DIR, TOMBSTONES_DIR):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    spans, deletes, records, skipped, corrupt = _decode_journal(journal.path, journal.first)
    if corrupt:
        quarantine = data_dir / QUARANTINE_DIR
        quarantine.mkdir(exist_ok=True)
        shutil.copyfile(journal.path, quarantine / journal.path.name)
        log.error(
            "%s: corrupt frame after %d records; sealed the valid prefix, copy kept in %s",
            journal.path.name, records, quarantine,
        )
    name = range_name(journal.first, journal.last, SEGMENT_SUFFIX)
    tomb_path: Path | None = None
    if deletes["offset"]:
        tomb_schema = schema.tombstone_schema()
        tomb = pa.Table.from_pydict(deletes, schema=tomb_schema)
        tomb_path = write_parquet_atomic(
            [tomb], tomb_schema, data_dir / TOMBSTONES_DIR / name,
            file_metadata("tombstones", journal.first, journal.last),
        )
    table = sort_spans(one_chunk(spans))
    segment = write_parquet_atomic(
        [table], schema.span_schema(), data_dir / SEGMENTS_DIR / name,
        file_metadata("spans", journal.first, journal.last),
    )
    journal.path.unlink(missing_ok=True)
    fsync_dir(data_dir / JOURNAL_DIR)
    return SealResult(segment, tomb_path, records, table.num_rows, len(deletes["offset"]), skipped)
