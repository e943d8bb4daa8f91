"""`msgtrace segments list | verify | compact` against real segment files written by the real log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from msgtrace.cli.main import app
from msgtrace.core import schema
from msgtrace.segments import Journal, RecordKind, scan_spans
from msgtrace.segments.naming import (
    QUARANTINE_DIR,
    SEGMENT_SUFFIX,
    SEGMENTS_DIR,
    TOMBSTONES_DIR,
    live_segments,
    range_name,
)
from msgtrace.segments.ownership import DataDirLock
from msgtrace.segments.worker import LogWorker
from tests.segments.payloads import request

SPANS = 12


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "220", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Four one-request segments (offsets 1..4) and one tombstone record (offset 5)."""
    d = tmp_path / "data"
    worker = LogWorker(d)
    for seed in range(4):
        with Journal.open(d) as journal:
            journal.append(RecordKind.SPANS, 1, request(SPANS, seed=seed))
        worker.seal_pending()
    with Journal.open(d) as journal:
        journal.append_tombstone("ab" * 16)
    worker.seal_pending()
    return d


def segment(d: Path, first: int, last: int | None = None) -> Path:
    return d / SEGMENTS_DIR / range_name(first, first if last is None else last, SEGMENT_SUFFIX)


def test_list_json_reports_every_file(data_dir: Path) -> None:
    code, out, _ = run("segments", "list", "--data-dir", str(data_dir), "--json")
    assert code == 0
    files = json.loads(out)["files"]
    spans = [f for f in files if f["kind"] == "spans"]
    assert [(f["first_offset"], f["last_offset"]) for f in spans] == [(i, i) for i in range(1, 6)]
    assert sum(f["rows"] for f in spans) == 4 * SPANS
    assert all(f["live"] and f["bytes"] > 0 and f["error"] is None for f in files)
    assert spans[0]["min_received_ns"] <= spans[0]["max_received_ns"]
    assert [(f["first_offset"], f["rows"]) for f in files if f["kind"] == "tombstones"] == [(5, 1)]


def test_list_table_and_env_data_dir(data_dir: Path) -> None:
    code, out, _ = run("segments", "list", env={"MSGTRACE_DATA_DIR": str(data_dir)})
    assert code == 0
    assert range_name(1, 1, SEGMENT_SUFFIX) in out and "5 live segments" in out and "48 span rows" in out


def test_missing_data_dir_is_an_error(tmp_path: Path) -> None:
    code, _, err = run("segments", "list", "--data-dir", str(tmp_path / "nope"))
    assert code == 1
    assert "no data dir at" in err and "--data-dir" in err


def test_verify_passes_a_sound_log(data_dir: Path) -> None:
    code, out, _ = run("segments", "verify", "--data-dir", str(data_dir))
    assert code == 0, out
    assert "6 files checked, 0 bad" in out


def test_verify_reports_and_quarantines_a_damaged_file(data_dir: Path) -> None:
    bad = segment(data_dir, 2)
    raw = bytearray(bad.read_bytes())
    raw[len(raw) // 3 : len(raw) // 3 + 64] = b"\xff" * 64  # damage data pages, keep the footer
    bad.write_bytes(bytes(raw))

    code, out, _ = run("segments", "verify", "--data-dir", str(data_dir), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["checked"] == 6
    assert [(p["name"], p["quarantined_to"]) for p in report["problems"]] == [(bad.name, None)]
    assert bad.exists()

    code, out, _ = run("segments", "verify", "--data-dir", str(data_dir), "--quarantine")
    assert code == 1
    assert f"BAD spans {bad.name}" in out and "moved to" in out
    assert not bad.exists() and (data_dir / QUARANTINE_DIR / bad.name).exists()

    code, out, _ = run("segments", "verify", "--data-dir", str(data_dir))
    assert code == 0 and "5 files checked, 0 bad" in out


def test_verify_reports_a_truncated_file(data_dir: Path) -> None:
    bad = segment(data_dir, 3)
    bad.write_bytes(bad.read_bytes()[:100])
    code, out, _ = run("segments", "verify", "--data-dir", str(data_dir))
    assert code == 1
    assert f"BAD spans {bad.name}: " in out and "does not read fully: Parquet magic bytes not found" in out
    assert "--quarantine" in out  # the hint


def test_verify_reports_offsets_that_do_not_match_the_name(data_dir: Path) -> None:
    shutil.move(segment(data_dir, 4), segment(data_dir, 6))
    code, out, _ = run("segments", "verify", "--data-dir", str(data_dir))
    assert code == 1
    assert "metadata offsets 4-4 do not match the name (6-6)" in out


def test_verify_reports_an_unknown_schema_version(data_dir: Path) -> None:
    path = segment(data_dir, 1)
    table = pq.read_table(path)
    meta = {**(table.schema.metadata or {}), schema.META_SCHEMA_VERSION: b"99"}
    pq.write_table(table.replace_schema_metadata(meta), path)
    code, out, _ = run("segments", "verify", "--data-dir", str(data_dir))
    assert code == 1
    assert "schema version 99" in out


def test_verify_checks_tombstone_files(data_dir: Path) -> None:
    tomb = data_dir / TOMBSTONES_DIR / range_name(5, 5, SEGMENT_SUFFIX)
    pq.write_table(pq.read_table(segment(data_dir, 1)), tomb)  # span rows where deletes belong
    code, out, _ = run("segments", "verify", "--data-dir", str(data_dir))
    assert code == 1
    assert f"BAD tombstones {tomb.name}" in out


def test_compact_merges_and_keeps_every_span(data_dir: Path) -> None:
    before = scan_spans(data_dir).collect()
    code, out, err = run("segments", "compact", "--data-dir", str(data_dir))
    assert code == 0, err
    assert "compacted" in out
    assert [(f.first, f.last) for f in live_segments(data_dir)] == [(1, 5)]
    assert sorted(p.name for p in (data_dir / SEGMENTS_DIR).iterdir()) == [range_name(1, 5, SEGMENT_SUFFIX)]
    after = scan_spans(data_dir).collect()
    assert sorted(after.get_column("span_id").to_list()) == sorted(before.get_column("span_id").to_list())
    assert run("segments", "verify", "--data-dir", str(data_dir))[0] == 0


def test_compact_refuses_while_the_data_dir_is_owned(data_dir: Path) -> None:
    lock = DataDirLock.acquire(data_dir, purpose="msgtrace start")
    try:
        code, _, err = run("segments", "compact", "--data-dir", str(data_dir))
    finally:
        lock.release()
    assert code == 1
    assert "is in use by msgtrace start" in err and "stop it to compact" in err
    assert len(live_segments(data_dir)) == 5


def test_compact_rejects_bad_options(data_dir: Path) -> None:
    code, _, err = run("segments", "compact", "--data-dir", str(data_dir), "--min-segments", "1")
    assert code == 2 and "--min-segments must be at least 2" in err
