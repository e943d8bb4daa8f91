"""The log worker, in-process and as its own process."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from msgtrace.core.errors import DataDirLocked
from msgtrace.segments import Journal, RecordKind, scan_spans
from msgtrace.segments.naming import closed_journals, live_segments

from .payloads import request
from .test_journal import wait_for


def test_worker_thread_seals_as_journals_close_and_compacts(tmp_path: Path) -> None:
    from msgtrace.segments.worker import LogWorker

    worker = LogWorker(
        tmp_path, compact_min_segments=3, grace_s=0, safety_interval_s=0.2, compact_quiet_s=0.5
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    with Journal.open(tmp_path, seal_age_s=3600) as j:
        thread.start()
        try:
            for i in range(4):
                j.append(RecordKind.SPANS, 1, request(5, seed=i))
                j.rotate()
                wait_for(lambda: closed_journals(tmp_path) == [])
            wait_for(lambda: worker.compacted >= 1)
            with pytest.raises(DataDirLocked, match="another log worker"):
                LogWorker(tmp_path).run(threading.Event())
        finally:
            stop.set()
            thread.join()
    assert worker.sealed == 4
    assert scan_spans(tmp_path).collect().height == 20
    assert live_segments(tmp_path)[0].first == 1


def test_worker_process_seals_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "msgtrace.segments.worker", "--data-dir", str(tmp_path),
         "--compact-min-segments", "100"],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        with Journal.open(tmp_path, seal_age_s=0.05) as j:
            j.append(RecordKind.SPANS, 1, request(7, seed=1))
            wait_for(lambda: len(live_segments(tmp_path)) == 1)
            j.append(RecordKind.SPANS, 1, request(3, seed=2))
        # the last journal was just closed: SIGTERM must still seal it before exiting
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert closed_journals(tmp_path) == []
    assert scan_spans(tmp_path).collect().height == 10
    assert proc.stderr is not None
    assert "sealed" in proc.stderr.read()


def test_worker_cli_rejects_missing_data_dir() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "msgtrace.segments.worker"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "--data-dir" in proc.stderr


def test_worker_defers_compaction_while_journals_keep_arriving(tmp_path: Path) -> None:
    from msgtrace.segments.worker import LogWorker

    def seal_one(worker: LogWorker, seed: int) -> None:
        with Journal.open(tmp_path) as j:
            j.append(RecordKind.SPANS, 1, request(4, seed=seed))
        worker._step()  # one pass, as a wake-up runs it

    busy = LogWorker(tmp_path, compact_min_segments=3, compact_quiet_s=3600)
    for seed in range(4):
        seal_one(busy, seed)
    assert busy.sealed == 4 and busy.compacted == 0  # sealing only: the log never went quiet
    assert len(live_segments(tmp_path)) == 4

    quiet = LogWorker(tmp_path, compact_min_segments=3, compact_quiet_s=0)
    seal_one(quiet, 99)
    assert quiet.compacted == 1
    assert len(live_segments(tmp_path)) == 1
    assert scan_spans(tmp_path).collect().height == 20


def test_compaction_pass_yields_to_a_closed_journal(tmp_path: Path) -> None:
    from msgtrace.segments.compaction import CompactionPolicy, compact_once
    from msgtrace.segments.worker import LogWorker

    worker = LogWorker(tmp_path)
    for seed in range(3):
        with Journal.open(tmp_path) as j:
            j.append(RecordKind.SPANS, 1, request(4, seed=seed))
        worker.seal_pending()
    policy = CompactionPolicy(min_segments=3)
    assert compact_once(tmp_path, policy, yield_to=lambda: True) == []
    assert len(live_segments(tmp_path)) == 3
    assert len(compact_once(tmp_path, policy, yield_to=lambda: False)) == 1
    assert [(s.first, s.last) for s in live_segments(tmp_path)] == [(1, 3)]
