"""Crash safety: SIGKILL the projector worker mid-batch, repeatedly; after a restart the views
equal a clean reindex. Also: SIGTERM stops the worker cleanly with exit status 0."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msgtrace.projections.projector import Projector
from tests.projections.segment_files import span, write_segment, write_tombstones
from tests.projections.views import VIEWS, dump, query

T0 = 1_700_000_000_000_000_000
SEGMENTS = 50
TRACES_PER_SEGMENT = 80


def build_log(data: Path, rng: random.Random) -> int:
    """SEGMENTS segments of agent traces whose spans straddle segments; returns the last offset."""
    prompt = "x" * 1500
    pending: list[dict] = []
    offset = 1
    for s in range(SEGMENTS):
        requests = []
        for t in range(TRACES_PER_SEGMENT):
            name = f"{s:03x}{t:03x}"
            start = T0 + rng.randrange(0, 600) * 1_000_000_000
            spans = [
                span(
                    name,
                    "1",
                    None,
                    name="root",
                    start=start,
                    duration=8_000_000,
                    attrs={"workflow.name": f"wf{t % 3}"},
                )
            ]
            for k in range(2, 7):
                spans.append(
                    span(
                        name,
                        str(k),
                        "1",
                        name="llm",
                        start=start + k,
                        duration=rng.randrange(1, 5_000_000),
                        attrs={
                            "gen_ai.request.model": "gpt-4o",
                            "gen_ai.usage.input_tokens": rng.randrange(1, 999),
                            "gen_ai.input.messages": prompt,
                        },
                    )
                )
            requests.append(spans[1:] + pending[:3])  # roots and leftovers arrive later
            pending = pending[3:] + spans[:1]
        last, _ = write_segment(data, requests, offset)
        offset = last + 1
    last, _ = write_segment(data, [pending], offset)
    write_tombstones(data, [(offset + 1, "000" + "001")])
    return offset + 1


def start_worker(data: Path, db: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "msgtrace.projections.worker",
                "--data-dir",
                str(data),
                "--db-path",
                str(db),
                "--batch-spans",
                "1500",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def checkpoint(db: Path, key: str = "segments_checkpoint") -> int:
    try:
        rows = query(db, "SELECT value FROM meta WHERE key = ?", (key,))
    except Exception:
        return 0
    return int(rows[0][0]) if rows else 0


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_equals_reindex(tmp_path: Path) -> None:
    rng = random.Random(7)
    data, db, log = tmp_path / "data", tmp_path / "views.db", tmp_path / "worker.log"
    last = build_log(data, rng) - 1  # the last segment; the tombstone comes after it
    kills = 0
    progress = []
    while kills < 8 and checkpoint(db) < last:
        before = checkpoint(db)
        proc = start_worker(data, db, log)
        # wait for one committed batch, then kill at a random moment inside a later one
        deadline = time.monotonic() + 120
        while checkpoint(db) == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        progress.append(checkpoint(db))
    assert kills >= 5, f"the worker finished before being killed often enough: {progress}"
    # restart and let it catch up, then stop it cleanly
    proc = start_worker(data, db, log)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        caught_up = checkpoint(db, "checkpoint") > last
        if caught_up and log.read_text().count("projector started") > kills:  # handles SIGTERM
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, log.read_text()[-3000:]
    assert checkpoint(db) == last, log.read_text()[-3000:]
    assert checkpoint(db, "checkpoint") == last + 1

    with Projector(data, tmp_path / "clean.db") as clean:
        clean.reindex()
    tables = (*VIEWS, "spans", "tombstones")
    assert dump(db, tables) == dump(tmp_path / "clean.db", tables)
    assert query(db, "SELECT count(*) FROM traces")[0][0] == SEGMENTS * TRACES_PER_SEGMENT - 1
    assert len(set(progress)) > 3, progress  # the kills landed at different points


def test_worker_applies_new_segments_and_stops_on_sigterm(tmp_path: Path) -> None:
    data, db, log = tmp_path / "data", tmp_path / "views.db", tmp_path / "worker.log"
    write_segment(data, [[span("a", "1")]], 1)
    proc = start_worker(data, db, log)
    try:
        deadline = time.monotonic() + 60
        while checkpoint(db) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpoint(db) == 1, log.read_text()
        write_segment(data, [[span("b", "1")]], 2)  # wakes the worker through watchfiles
        write_tombstones(data, [(3, "a")])
        while checkpoint(db) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r[0].lstrip("0") for r in query(db, "SELECT trace_id FROM traces")] == ["b"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()
    assert "projector stopped" in log.read_text()


def test_worker_rejects_a_bad_price_table(tmp_path: Path) -> None:
    prices = tmp_path / "p.json"
    prices.write_text("[]")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "msgtrace.projections.worker",
            "--data-dir",
            str(tmp_path / "d"),
            "--price-table",
            str(prices),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "expected an object" in proc.stderr


@pytest.mark.slow
def test_reindex_while_the_worker_runs(tmp_path: Path) -> None:
    """Two writers on one database (the server's worker and `msgtrace reindex`) re-plan around
    each other's batches; the result is the views of the whole log."""
    rng = random.Random(3)
    data, db, log = tmp_path / "data", tmp_path / "views.db", tmp_path / "worker.log"
    last = build_log(data, rng)
    proc = start_worker(data, db, log)
    try:
        deadline = time.monotonic() + 120
        while checkpoint(db) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        reindex = subprocess.run(
            [
                sys.executable,
                "-m",
                "msgtrace",
                "reindex",
                "--data-dir",
                str(data),
                "--db-path",
                str(db),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert reindex.returncode == 0, reindex.stderr
        while checkpoint(db, "checkpoint") < last and time.monotonic() < deadline + 180:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert checkpoint(db, "checkpoint") == last
    with Projector(data, tmp_path / "clean.db") as clean:
        clean.reindex()
    tables = (*VIEWS, "spans", "tombstones")
    assert dump(db, tables) == dump(tmp_path / "clean.db", tables)


def test_worker_checkpoints_the_wal_once_caught_up(tmp_path: Path) -> None:
    """Commits during a burst leave the WAL alone; once the log is applied the worker folds it
    back, so the database file by itself (no -wal) holds every trace."""
    import shutil
    import sqlite3
    import threading

    from msgtrace.projections import worker

    data, db = tmp_path / "data", tmp_path / "views.db"
    last = build_log(data, random.Random(5))
    stop = threading.Event()

    def serve() -> None:  # a SQLite connection belongs to the thread that opened it
        with Projector(data, db) as projector:
            worker.run(projector, stop)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        expected = -1
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if checkpoint(db, "checkpoint") == last:
                expected = query(db, "SELECT count(*) FROM traces")[0][0]
                alone = tmp_path / "alone.db"
                shutil.copyfile(db, alone)  # the main file only: what a checkpoint wrote
                conn = sqlite3.connect(alone)
                try:
                    found = conn.execute("SELECT count(*) FROM traces").fetchone()[0]
                except sqlite3.DatabaseError:  # no schema in the main file yet, or copied mid-write
                    found = -1
                finally:
                    conn.close()
                if found == expected:
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("the WAL was not checkpointed after the log was applied")
    finally:
        stop.set()
        thread.join(60)
    assert expected == TRACES_PER_SEGMENT * SEGMENTS - 1  # one trace deleted by the tombstone
