"""The projector worker's WAL checkpoints: a quiet log gives the WAL file's space back, without
ever blocking a reader or waiting long for one."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from msgtrace.projections import sqlite_writer, worker
from msgtrace.projections.projector import Projector
from tests.projections.segment_files import span, write_segment


def _wal(db: Path) -> Path:
    return db.with_name(db.name + "-wal")


def _fill(data_dir: Path, p: Projector, first: int, n: int = 200) -> None:
    text = "x" * 2000
    write_segment(
        data_dir, [[span(f"t{first}-{i}", "1", attrs={"prompt": text})] for i in range(n)], first
    )
    p.apply_pending()


def test_a_quiet_checkpoint_empties_the_wal_file(tmp_path: Path) -> None:
    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    with Projector(data_dir, db) as p:
        _fill(data_dir, p, 1)
        assert _wal(db).stat().st_size > 100_000
        assert sqlite_writer.checkpoint_wal(p.conn) is False  # busy log: copies, keeps the file
        assert _wal(db).stat().st_size > 100_000
        assert sqlite_writer.checkpoint_wal(p.conn, truncate=True) is True
        assert _wal(db).stat().st_size == 0
        assert p.conn.execute("SELECT count(*) FROM spans").fetchone() == (200,)
        _fill(data_dir, p, 201)  # the emptied WAL takes new batches as before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM spans").fetchone() == (400,)


def test_a_reader_on_an_older_snapshot_keeps_the_file_and_is_not_blocked(tmp_path: Path) -> None:
    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    with Projector(data_dir, db) as p:
        _fill(data_dir, p, 1)
        reader = sqlite3.connect(db, isolation_level=None)
        try:
            reader.execute("BEGIN")
            assert reader.execute("SELECT count(*) FROM spans").fetchone() == (200,)
            _fill(data_dir, p, 201)  # the reader's snapshot is now older than the WAL's end
            started = time.monotonic()
            assert sqlite_writer.checkpoint_wal(p.conn, truncate=True) is False
            assert time.monotonic() - started < 5  # waited TRUNCATE_WAIT_MS, not busy_timeout
            assert _wal(db).stat().st_size > 0
            assert reader.execute("SELECT count(*) FROM spans").fetchone() == (200,)
            reader.execute("COMMIT")
        finally:
            reader.close()
        assert p.conn.execute("PRAGMA busy_timeout").fetchone() == (sqlite_writer.BUSY_TIMEOUT_MS,)
        assert sqlite_writer.checkpoint_wal(p.conn, truncate=True) is True
        assert _wal(db).stat().st_size == 0


def test_the_worker_truncates_once_the_log_is_quiet(tmp_path: Path) -> None:
    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    write_segment(data_dir, [[span(f"t{i}", "1", attrs={"p": "x" * 2000})] for i in range(200)], 1)
    with Projector(data_dir, db) as p:
        pace = worker._Pace()
        assert worker._apply_and_index(p, threading.Event(), pace)  # busy: applied just now
        assert _wal(db).stat().st_size > 100_000
        pace.last_applied -= worker.INDEX_QUIET_S
        assert worker._apply_and_index(p, threading.Event(), pace)
        assert _wal(db).stat().st_size == 0
