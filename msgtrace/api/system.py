"""The one place that builds a running msgtrace from a `MsgTraceConfig`.

`msgtrace start`, `start_observer` and the test fixtures all go through `System.start`:

    lock the data dir ─► open the journal (recovery) ─► start the log worker process (sealer and
    compactor) ─► start the projector process ─► supervise both (restart on crash)
    ─► with retention_days / max_disk_gb, a retention thread (msgtrace.segments.retention: once
    at start, then every MSGTRACE_RETENTION_INTERVAL_S seconds, default 60)

`System.stop` reverses it: retention stops, the journal drains and rotates, the log worker seals
every closed journal file and exits, the projector exits between batches, the lock is released.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from msgtrace.core.config import MsgTraceConfig
from msgtrace.core.version import VERSION as __version__
from msgtrace.ingest.metrics import IngestMetrics
from msgtrace.segments.journal import Journal
from msgtrace.segments.ownership import DataDirLock
from msgtrace.segments.retention import RetentionPolicy, RetentionThread

log = logging.getLogger("msgtrace.system")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In a worker child: get SIGKILL when the server dies, so no orphan keeps writing."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


@dataclass
class WorkerProcess:
    """A supervised child process, restarted with backoff when it exits unexpectedly."""

    name: str
    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _stopping: bool = False
    _backoff_s: float = 0.2

    def start(self) -> None:
        env = dict(os.environ)
        # Arrow's default jemalloc pool keeps freed batch memory; the system pool returns it.
        env.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
        self.proc = subprocess.Popen(
            self.argv,
            env=env,
            pass_fds=self.pass_fds,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        log.debug("started %s worker pid %s", self.name, self.proc.pid)

    def poll_restart(self) -> bool:
        """Restart if it died while not stopping; returns True when it did."""
        if self._stopping or self.proc is None or self.proc.poll() is None:
            return False
        log.warning(
            "%s worker exited with code %s; restarting it", self.name, self.proc.returncode
        )
        time.sleep(min(self._backoff_s, 5.0))
        self._backoff_s *= 2
        self.restarts += 1
        self.start()
        return True

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping = True
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s worker did not stop in %.0fs; killing it", self.name, timeout)
            self.proc.kill()
            self.proc.wait()


@dataclass
class System:
    """A running msgtrace: journal in this process, log worker and projector as children."""

    config: MsgTraceConfig
    lock: DataDirLock
    journal: Journal
    metrics: IngestMetrics
    workers: list[WorkerProcess]
    started_at: float = field(default_factory=time.time)
    _supervisor: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    retention: RetentionThread | None = None

    @classmethod
    def start(cls, config: MsgTraceConfig, *, lock_wait_s: float = 0.0) -> System:
        data_dir = config.data_path
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = DataDirLock.acquire(data_dir, purpose="msgtrace start", wait_s=lock_wait_s)
        try:
            journal = Journal.open(
                data_dir,
                seal_age_s=config.seal_age_s,
                seal_idle_s=config.seal_idle_s,
                seal_bytes=config.seal_bytes,
                queue_size=config.queue_size,
                max_backlog_bytes=config.max_backlog_bytes,
            )
        except BaseException:
            lock.release()
            raise
        system = cls(config, lock, journal, IngestMetrics(), _worker_specs(config, lock.fd))
        for worker in system.workers:
            worker.start()
        system._supervisor = threading.Thread(
            target=system._supervise, name="msgtrace-supervisor", daemon=True
        )
        system._supervisor.start()
        policy = RetentionPolicy.from_limits(config.retention_days, config.max_disk_gb)
        if policy.active:
            system.retention = RetentionThread(
                data_dir,
                journal,
                policy,
                interval_s=RetentionThread.interval_from_env(),
                applied_offset=lambda: system.projection_checkpoint() or 0,
            ).start()
        return system

    def _supervise(self) -> None:
        while not self._stop.wait(0.5):
            for worker in self.workers:
                if worker.poll_restart():
                    self.metrics.worker_restarts.labels(worker.name).inc()

    def stop(self) -> None:
        """Drain and seal everything accepted, stop the workers, release the data dir."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self.retention is not None:
            self.retention.stop()
        self.journal.close()
        for worker in self.workers:  # log worker first: it seals what the journal rotated
            worker.stop()
        self.lock.release()

    async def delete_trace(self, trace_id: str | None) -> int:
        """Append a tombstone for one trace (or all, with None); returns its log offset."""
        return await self.journal.append_tombstone_async(trace_id)

    def projection_checkpoint(self) -> int | None:
        """The last log offset the projector applied, read from its SQLite meta table."""
        path = self.config.database_path
        if not path.exists():
            return None
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
            try:
                row = con.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
            finally:
                con.close()
        except sqlite3.Error:
            return None
        return int(row[0]) if row else 0

    def health(self) -> dict[str, object]:
        stats = self.journal.stats
        checkpoint = self.projection_checkpoint()
        last = stats.last_offset
        lag_offsets = max(0, last - (checkpoint or 0))
        now = time.time()
        # the age of the oldest acknowledged record the views do not show yet
        lag_seconds = 0.0
        if lag_offsets:
            acked = self.journal.acked_at((checkpoint or 0) + 1)
            lag_seconds = max(0.0, now - (acked if acked is not None else self.started_at))
        m = self.metrics
        m.journal_pending.set(stats.pending_requests)
        m.journal_backlog_bytes.set(stats.backlog_bytes)
        m.journal_last_offset.set(last)
        m.projection_checkpoint.set(checkpoint or 0)
        m.projection_lag_offsets.set(lag_offsets)
        m.projection_lag_seconds.set(lag_seconds)
        workers = {w.name: (w.proc is not None and w.proc.poll() is None) for w in self.workers}
        return {
            "status": "ok" if all(workers.values()) else "degraded",
            "version": __version__,
            "uptime_s": round(now - self.started_at, 3),
            "journal_backlog_bytes": stats.backlog_bytes,
            "journal_pending_requests": stats.pending_requests,
            "last_offset": last,
            "projection_lag": {
                "offsets": lag_offsets,
                "seconds": round(lag_seconds, 3),
                "checkpoint": checkpoint,
            },
            "workers": workers,
        }


def _worker_specs(config: MsgTraceConfig, lock_fd: int) -> list[WorkerProcess]:
    py = sys.executable
    data_dir = str(config.data_path)
    log_worker = [
        py, "-m", "msgtrace.segments.worker", "--data-dir", data_dir,
        "--compact-target-bytes", str(config.compact_target_bytes),
        "--compact-min-segments", str(config.compact_min_segments),
    ]
    projector = [
        py, "-m", "msgtrace.projections.worker", "--data-dir", data_dir,
        "--db-path", str(config.database_path),
    ]
    if config.price_table:
        projector += ["--price-table", str(config.price_table)]
    fds = (lock_fd,)
    return [
        WorkerProcess("log", log_worker, fds),
        WorkerProcess("projector", projector, fds),
    ]
