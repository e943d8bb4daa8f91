"""Sealer and segment reader: files, schema, metadata, tombstones, third-party readers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import msgtrace.segments
from msgtrace.core import schema
from msgtrace.core.errors import SegmentCorrupted
from msgtrace.segments import Journal, RecordKind, read_segment, scan_spans
from msgtrace.segments.journal_format import encode_frame
from msgtrace.segments.naming import closed_journals, live_segments, live_tombstones, range_name
from msgtrace.segments.recovery import recover
from msgtrace.segments.segment_writer import file_metadata, seal_journal, write_parquet_atomic
from msgtrace.segments.worker import LogWorker

from .payloads import request


def fill(data_dir: Path, n_requests: int, spans: int = 20, *, seed: int = 0) -> None:
    with Journal.open(data_dir, seal_age_s=3600) as j:
        for i in range(n_requests):
            j.append(RecordKind.SPANS, 1, request(spans, seed=seed + i))


def test_seal_writes_a_sorted_segment_with_metadata(tmp_path: Path) -> None:
    fill(tmp_path, 4)
    [wal] = closed_journals(tmp_path)
    result = seal_journal(tmp_path, wal)
    assert (result.records, result.spans, result.deletes, result.skipped_records) == (4, 80, 0, 0)
    assert result.segment.name == range_name(1, 4, ".parquet")
    assert closed_journals(tmp_path) == []
    file = pq.ParquetFile(result.segment)
    assert file.schema_arrow.remove_metadata().equals(schema.span_schema())
    meta = file.schema_arrow.metadata
    assert meta[schema.META_SCHEMA_VERSION] == str(schema.SCHEMA_VERSION).encode()
    assert (meta[schema.META_FIRST_OFFSET], meta[schema.META_LAST_OFFSET]) == (b"1", b"4")
    assert meta[schema.META_KIND] == b"spans"
    assert file.metadata.row_group(0).column(0).compression == "ZSTD"
    rows = read_segment(result.segment).to_pylist()
    keys = [(r["trace_id"], r["start_time_unix_nano"]) for r in rows]
    assert keys == sorted(keys)
    assert sorted(r["offset"] for r in rows) == sorted([1, 2, 3, 4] * 20)
    assert {r["service_name"] for r in rows} == {"svc"}


def test_deletes_go_to_a_tombstone_file_and_the_segment_is_still_written(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as j:
        j.append_tombstone("ab" * 16)
        j.append_tombstone(None)
    [wal] = closed_journals(tmp_path)
    result = seal_journal(tmp_path, wal)
    assert result.spans == 0
    assert result.tombstones is not None
    assert read_segment(result.segment).num_rows == 0  # ranges tile the offsets
    tomb = pq.read_table(result.tombstones)
    assert tomb.schema.remove_metadata().equals(schema.tombstone_schema())
    assert tomb.schema.metadata[schema.META_KIND] == b"tombstones"
    assert tomb.to_pylist() == [
        {"offset": 1, "received_time_unix_nano": tomb["received_time_unix_nano"][0].as_py(), "trace_id": "ab" * 16},
        {"offset": 2, "received_time_unix_nano": tomb["received_time_unix_nano"][1].as_py(), "trace_id": None},
    ]
    assert [t.path for t in live_tombstones(tmp_path)] == [result.tombstones]


def test_a_record_that_does_not_decode_is_skipped(tmp_path: Path) -> None:
    journal_dir = tmp_path / "journal"
    journal_dir.mkdir(parents=True)
    frames = encode_frame(1, 5, RecordKind.SPANS, 1, request(3)) + encode_frame(
        2, 5, RecordKind.SPANS, 1, b"\xff\xff not protobuf"
    ) + encode_frame(3, 5, RecordKind.SPANS, 1, request(2, seed=9))
    (journal_dir / range_name(1, 3, ".wal")).write_bytes(frames)
    [wal] = closed_journals(tmp_path)
    result = seal_journal(tmp_path, wal)
    assert (result.records, result.spans, result.skipped_records) == (3, 5, 1)


def test_a_corrupt_closed_journal_is_sealed_up_to_the_bad_frame_and_kept(tmp_path: Path) -> None:
    journal_dir = tmp_path / "journal"
    journal_dir.mkdir(parents=True)
    good = encode_frame(1, 5, RecordKind.SPANS, 1, request(3))
    (journal_dir / range_name(1, 2, ".wal")).write_bytes(good + b"garbage" * 10)
    result = seal_journal(tmp_path, closed_journals(tmp_path)[0])
    assert result.spans == 3
    assert result.segment.name == range_name(1, 2, ".parquet")
    assert (tmp_path / "quarantine" / range_name(1, 2, ".wal")).exists()


def test_recovery_deletes_journals_a_segment_already_covers(tmp_path: Path) -> None:
    fill(tmp_path, 2)
    [wal] = closed_journals(tmp_path)
    copy = wal.path.read_bytes()
    seal_journal(tmp_path, wal)
    wal.path.write_bytes(copy)  # the crash between writing the segment and deleting the journal
    (tmp_path / "segments" / ".leftover.parquet.tmp").write_bytes(b"half")
    report = recover(tmp_path)
    assert report.removed_covered == [wal.path.name]
    assert report.removed_tmp == [".leftover.parquet.tmp"]
    assert report.high_water == 2
    assert scan_spans(tmp_path).collect().height == 40


def test_plain_polars_and_pandas_read_the_segments(tmp_path: Path) -> None:
    fill(tmp_path, 3, seed=0)
    fill(tmp_path, 2, seed=10)
    assert LogWorker(tmp_path).seal_pending() == 2
    (tmp_path / "segments" / ".being-written.parquet.tmp").write_bytes(b"not parquet")
    frame = pl.scan_parquet(str(tmp_path / "segments" / "*.parquet")).collect()
    assert frame.height == 100
    assert frame.columns == list(schema.SPAN_COLUMN_NAMES)
    df = pd.read_parquet(tmp_path / "segments")
    assert len(df) == 100
    assert list(df.columns) == list(schema.SPAN_COLUMN_NAMES)
    assert df["offset"].nunique() == 5


def test_scan_spans_since_offset(tmp_path: Path) -> None:
    assert scan_spans(tmp_path).collect().columns == list(schema.SPAN_COLUMN_NAMES)
    assert scan_spans(tmp_path).collect().height == 0
    fill(tmp_path, 3)
    fill(tmp_path, 3, seed=3)
    LogWorker(tmp_path).seal_pending()
    assert len(live_segments(tmp_path)) == 2
    assert scan_spans(tmp_path).collect().height == 120
    later = scan_spans(tmp_path, since_offset=4).collect()
    assert sorted(later["offset"].unique().to_list()) == [5, 6]
    assert scan_spans(tmp_path, since_offset=6).collect().height == 0


@pytest.mark.parametrize("version", schema.SCHEMA_VERSIONS_READABLE)
def test_read_segment_reads_every_readable_version(tmp_path: Path, version: int) -> None:
    meta = file_metadata("spans", 1, 1)
    meta[schema.META_SCHEMA_VERSION] = str(version).encode()
    path = write_parquet_atomic(
        [schema.span_schema().empty_table()], schema.span_schema(), tmp_path / range_name(1, 1, ".parquet"), meta
    )
    assert read_segment(path).num_rows == 0


def _write_raw(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"PAR1 not really") and p, "not a readable Parquet file"),
        (lambda p: _write_raw(p, schema.span_schema().empty_table()), "has no msgtrace schema version"),
        (
            lambda p: _write_raw(
                p, schema.span_schema().empty_table().replace_schema_metadata({schema.META_SCHEMA_VERSION: b"99"})
            ),
            "schema version 99",
        ),
        (
            lambda p: _write_raw(
                p, pa.table({"offset": pa.array([1])}).replace_schema_metadata({schema.META_SCHEMA_VERSION: b"1"})
            ),
            "columns differ",
        ),
    ],
    ids=["not-parquet", "no-version", "future-version", "missing-columns"],
)
def test_read_segment_rejects_bad_files(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / range_name(1, 1, ".parquet")
    make(path)  # type: ignore[operator]
    with pytest.raises(SegmentCorrupted, match=message) as info:
        read_segment(path)
    assert info.value.path == str(path)
    assert info.value.hint


def test_package_exports_are_complete_and_lazy() -> None:
    for name in msgtrace.segments.__all__:
        assert getattr(msgtrace.segments, name) is not None
    code = (
        "import sys, msgtrace.segments as s; s.Journal; "
        "assert 'polars' not in sys.modules and 'pyarrow' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
