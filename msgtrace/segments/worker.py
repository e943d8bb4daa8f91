"""The log worker: seals closed journals as they appear and compacts segments when idle.

Run as a process (`python -m msgtrace.segments.worker --data-dir D`) or in-process through
`LogWorker.run(stop)`. It wakes on file-system events in journal/ (watchfiles); between events it
only lists journal/ every `CHECK_INTERVAL_S` (a journal closed while the watcher was being set up
sends no event) and makes a full safety pass every `safety_interval_s`; it never busy-polls.

Sealing goes first: while journals keep arriving (one sealed within `compact_quiet_s`) it does not
compact, so merging segments never delays a seal or takes CPU from ingest and projection under a
steady load; it compacts once the log is quiet, or at once when `BUSY_COMPACT_SEGMENTS` live
segments have piled up under an endless load. On SIGTERM/SIGINT (or `stop` set) it seals every
closed journal, then returns (the process exits 0).

While running it holds an flock on segments/, the sign that its `.tmp` files are live, so
`Journal.open`'s recovery leaves them alone. One worker per data dir: a second one raises
DataDirLocked.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from msgtrace.core.errors import DataDirLocked
from msgtrace.segments import memory
from msgtrace.segments.compaction import (
    DEFAULT_GRACE_S,
    CompactionPolicy,
    collect_superseded,
    compact_once,
)
from msgtrace.segments.journal_format import fsync_dir
from msgtrace.segments.naming import (
    CLOSED_SUFFIX,
    JOURNAL_DIR,
    SEGMENT_SUFFIX,
    SEGMENTS_DIR,
    closed_journals,
    list_ranges,
    live_segments,
)
from msgtrace.segments.recovery import (
    RecoveryReport,
    ensure_dirs,
    lock_dir,
    remove_tmp_files_unlocked,
    unlock_dir,
)
from msgtrace.segments.segment_writer import seal_journal, warm_up

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# Compaction waits until no journal was sealed for this long: a pause between two bursts is no
# time to start merging (a run takes seconds of CPU that the next burst's seals and projection need).
DEFAULT_COMPACT_QUIET_S = 10.0
# under an endless load, compact anyway once this many live segments wait (bounds the file count)
BUSY_COMPACT_SEGMENTS = 256
# Between events the worker checks journal/ this often (one directory listing): a journal closed
# while the watcher was being set up, whose event is lost, waits at most this long, not a whole
# safety interval; a compaction deferred by a busy log runs this soon after the log goes quiet.
CHECK_INTERVAL_S = 0.5


class LogWorker:
    """Seals and compacts the log of one data dir; see the module docstring."""

    def __init__(
        self,
        data_dir: Path,
        *,
        compact_target_bytes: int = 128 * MiB,
        compact_min_segments: int = 8,
        grace_s: float = DEFAULT_GRACE_S,
        safety_interval_s: float = 5.0,
        compact_quiet_s: float = DEFAULT_COMPACT_QUIET_S,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.policy = CompactionPolicy(compact_target_bytes, compact_min_segments, grace_s)
        self.safety_interval_s = safety_interval_s
        self.compact_quiet_s = compact_quiet_s
        self._last_seal = -1e9  # monotonic time of the last seal
        self._compact_deferred = False  # the last pass skipped compaction: the log was busy
        self.sealed = 0
        self.compacted = 0
        ensure_dirs(self.data_dir)

    def seal_pending(self) -> int:
        """Seal every closed journal, oldest first; returns how many were sealed.

        A journal already covered by a segment (a crash after sealing) is only deleted.
        """
        count = 0
        for journal in closed_journals(self.data_dir):
            segments = list_ranges(self.data_dir / SEGMENTS_DIR, SEGMENT_SUFFIX)
            if any(s.first <= journal.first and journal.last <= s.last for s in segments):
                journal.path.unlink(missing_ok=True)
                fsync_dir(self.data_dir / JOURNAL_DIR)
                continue
            result = seal_journal(self.data_dir, journal)
            memory.release()  # the journal was decoded whole: give those pages back
            log.info(
                "sealed %s: %d records, %d spans, %d deletes, %d skipped",
                journal.path.name, result.records, result.spans, result.deletes, result.skipped_records,
            )
            count += 1
        self.sealed += count
        if count:
            self._last_seal = time.monotonic()
        return count

    def compact(self) -> int:
        """One compaction pass plus deletion of superseded files past the grace period; the pass
        stops between runs as soon as a closed journal waits (sealing goes first)."""
        outputs = compact_once(
            self.data_dir, self.policy, yield_to=lambda: bool(closed_journals(self.data_dir))
        )
        collect_superseded(self.data_dir, self.policy.grace_s)
        memory.release()
        self.compacted += len(outputs)
        return len(outputs)

    def _step(self) -> None:
        self.seal_pending()
        if closed_journals(self.data_dir):
            return
        quiet = time.monotonic() - self._last_seal >= self.compact_quiet_s
        self._compact_deferred = not quiet
        if quiet or len(live_segments(self.data_dir)) >= BUSY_COMPACT_SEGMENTS:
            self.compact()

    def _pass_due(self, last_pass: float) -> bool:
        """On a quiet tick: whether to run a pass anyway (the safety pass is due, a closed
        journal waits although no event said so, or a deferred compaction can run now)."""
        now = time.monotonic()
        if now - last_pass >= self.safety_interval_s or closed_journals(self.data_dir):
            return True
        return self._compact_deferred and now - self._last_seal >= self.compact_quiet_s

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set, then seal what is closed and return."""
        import watchfiles

        lock = lock_dir(self.data_dir / SEGMENTS_DIR)
        if lock is None:
            raise DataDirLocked(f"another log worker is running on {self.data_dir}")
        try:
            report = RecoveryReport()
            remove_tmp_files_unlocked(self.data_dir, report)  # we hold the lock: all are stale
            if report.removed_tmp:
                log.info("removed stale temporary files: %s", report.removed_tmp)
            warm_up()
            self._step()
            last_pass = time.monotonic()
            for changes in watchfiles.watch(
                self.data_dir / JOURNAL_DIR,
                watch_filter=_closed_journal_added,
                stop_event=stop,
                yield_on_timeout=True,
                rust_timeout=int(min(CHECK_INTERVAL_S, self.safety_interval_s) * 1000),
                debounce=50,
                step=20,
                raise_interrupt=False,
            ):
                if stop.is_set():
                    break
                if not changes and not self._pass_due(last_pass):
                    continue
                last_pass = time.monotonic()
                try:
                    self._step()
                except Exception:
                    log.exception("log worker pass failed; retrying at the next wake-up")
            self.seal_pending()
        finally:
            unlock_dir(lock)


def _closed_journal_added(_change: object, path: str) -> bool:
    """Any event on a closed journal's name wakes the worker, whatever its kind: watchfiles tells
    a rename's two halves apart by alternation, so the `.open -> .wal` rename of a rotation is
    sometimes reported as a deletion of the new name, and filtering on "added" then left that
    journal unsealed until the safety pass. A spurious wake-up only lists the directory."""
    return path.endswith(CLOSED_SUFFIX)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msgtrace.segments.worker", description=__doc__)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--compact-target-bytes", type=int, default=128 * MiB)
    parser.add_argument("--compact-min-segments", type=int, default=8)
    parser.add_argument("--grace-s", type=float, default=DEFAULT_GRACE_S)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    memory.configure(arrow_purge=True)  # before pyarrow loads
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received signal %d: sealing closed journals and stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = LogWorker(
        args.data_dir,
        compact_target_bytes=args.compact_target_bytes,
        compact_min_segments=args.compact_min_segments,
        grace_s=args.grace_s,
    )
    worker.run(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
