"""The projector process: `python -m msgtrace.projections.worker --data-dir D --db-path P`.

Applies pending log files on start, then sleeps on watchfiles (inotify) for changes under
segments/ and tombstones/ and applies again; no busy polling: between events it only compares the
log's head every `CHECK_INTERVAL_S` (a file sealed while the watcher was starting sends no
event), and a slow safety re-check runs every `SAFETY_INTERVAL_S`. SIGTERM/SIGINT stop it
between batches: the batch in flight commits or rolls back as a whole, and the process exits 0.

When nothing is left to apply it extends the attribute index (attr_index.py) in short batches,
stopping as soon as a new log file is pending, so indexing never delays projection by more than
one batch; while segments keep arriving it indexes for at most INDEX_BUSY_SHARE of the wall time
(a credit that accrues between wake-ups, whatever their number, from the first batch after a
quiet spell, so a burst is applied before indexing takes its share), enough to keep up with steady
ingest without starving it of CPU on a small machine; a backlog is applied in passes of
APPLY_SLICE_S so that a lagging projector does not stop indexing altogether. Caught up, it checkpoints the SQLite WAL: at once when the log is quiet, at most
once per CHECKPOINT_BUSY_INTERVAL_S while segments keep arriving (each checkpoint copies every
page touched since the last one, so a busy log shares one copy among many batches); a quiet
log's checkpoint also truncates the WAL file, which otherwise keeps the size of the last burst.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from msgtrace.segments import naming

if TYPE_CHECKING:
    from msgtrace.projections.projector import Projector

log = logging.getLogger("msgtrace.projections.worker")

SAFETY_INTERVAL_S = 5.0  # also how soon a removed database file is noticed
# Between events the worker compares the log's head this often (two directory listings): a file
# sealed while the watcher was being set up, whose event is lost, waits at most this long.
CHECK_INTERVAL_S = 0.5
# attribute-index transactions: short, so a new log file waits little behind one
INDEX_BATCH_SPANS = 2000  # the first batch; later ones are sized to last about INDEX_BATCH_S
INDEX_BATCH_S = 0.1
# While segments keep arriving (one applied within INDEX_QUIET_S), indexing gets a credit of
# INDEX_BUSY_SHARE seconds per second (capped at INDEX_BUSY_MAX_S, spent once it reaches
# INDEX_BUSY_MIN_S): about 10,000 realistic spans/s take a quarter of a core, so the unindexed
# tail stays a few seconds of ingest; once the log is quiet it runs until caught up. A larger
# share delays projection: at 10,000 realistic spans/s the lag's p50 was 1.02 s with 0.4 and
# 0.84 s with 0.2 (median of three runs each), the attribute query under ingest no slower.
INDEX_QUIET_S = 1.0
INDEX_BUSY_SHARE = 0.25
INDEX_BUSY_MAX_S = 0.5
INDEX_BUSY_MIN_S = 0.02
# While the log runs ahead of projection, one apply pass stops after this long (between
# batches), so indexing still gets its share and the unindexed tail stays bounded.
APPLY_SLICE_S = 1.0
CHECKPOINT_BUSY_INTERVAL_S = 2.0
# The projector runs at a lower CPU priority than the server and the log worker: on a busy small
# machine, acknowledging and sealing go first and the views catch up. Full-speed realistic
# bursts: acknowledged rate median 93k -> 109k spans/s (7 interleaved runs each), end-to-end
# rate and the projection lag at 10,000 spans/s unchanged (1.03 / 1.06 s p50, 5 runs each).
PROJECTOR_NICE = 10


@dataclass
class _Pace:
    last_applied: float = -1e9  # monotonic time the last span rows were applied
    busy_since: float = -1e9  # monotonic time the first batch after a quiet spell was applied
    index_credit: float = 0.0  # seconds of indexing allowed while busy
    credit_at: float = -1e9  # monotonic time the credit was last topped up
    last_checkpoint: float = -1e9  # monotonic time of the last WAL checkpoint
    last_pass: float = -1e9  # monotonic time of the last apply pass
    head: tuple[int, int] = (0, 0)  # `_log_head` as of the last apply pass
    held_back: bool = False  # the last pass left indexing or the checkpoint for later (busy)
    sliced: bool = False  # the last apply stopped after APPLY_SLICE_S with the log still pending


class _Slice(threading.Event):
    """The `stop` of one apply pass: set when the worker stops, or once `seconds` have passed
    and a batch was applied (`expired`; the pass leaves the rest of the log for the next one).
    The projector asks before each batch, so the first answer is never `expired`: every pass
    makes progress however slowly it plans."""

    def __init__(self, stop: threading.Event, seconds: float) -> None:
        super().__init__()
        self.stop = stop
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.asked = False

    def is_set(self) -> bool:
        if self.stop.is_set():
            return True
        self.expired = self.asked and time.monotonic() >= self.deadline
        self.asked = True
        return self.expired


def run(projector: Projector, stop: threading.Event) -> None:
    """Apply, then wait for log changes, until `stop` is set or the database file is removed or
    replaced (the caller then rebuilds the views in a new file)."""
    import watchfiles

    dirs = [projector.data_dir / naming.SEGMENTS_DIR, projector.data_dir / naming.TOMBSTONES_DIR]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    identity = _db_identity(projector.db_path)
    pace = _Pace()
    if not _apply_and_index(projector, stop, pace):
        return
    while not stop.is_set() and _db_identity(projector.db_path) == identity:
        for changes in watchfiles.watch(
            *dirs,
            stop_event=stop,
            yield_on_timeout=True,
            rust_timeout=int(CHECK_INTERVAL_S * 1000),
            debounce=50,
            step=20,
            raise_interrupt=False,
            watch_filter=_is_log_file,
        ):
            if stop.is_set():
                break
            if not changes and not _pass_due(projector, pace):
                continue
            if not _apply_and_index(projector, stop, pace):
                break
            if _db_identity(projector.db_path) != identity:
                break


def _pass_due(projector: Projector, pace: _Pace) -> bool:
    """On a quiet tick: whether to pass anyway (the safety pass is due, the log grew although no
    event said so, or indexing and checkpointing held back while busy can run now)."""
    now = time.monotonic()
    if now - pace.last_pass >= SAFETY_INTERVAL_S or _log_head(projector) != pace.head:
        return True
    return pace.held_back and now - pace.last_applied >= INDEX_QUIET_S


def _is_log_file(_change: object, path: str) -> bool:
    name = Path(path).name
    return name.endswith(naming.SEGMENT_SUFFIX) and not name.startswith(".")


def _apply_and_index(projector: Projector, stop: threading.Event, pace: _Pace) -> bool:
    """Apply what is pending, then extend the attribute index while no new log file arrives;
    the log goes first, but a backlog is applied in passes of APPLY_SLICE_S with indexing's
    share between them. False as `_apply`."""
    while True:
        pace.last_pass = time.monotonic()
        pace.head = _log_head(projector)
        if not _apply(projector, stop, pace):
            return False
        now = time.monotonic()
        busy = now - pace.last_applied < INDEX_QUIET_S
        pace.held_back = busy
        budget = float("inf")
        if busy:
            # the credit accrues only while busy: a burst after a quiet spell is applied first
            earned = INDEX_BUSY_SHARE * (now - max(pace.credit_at, pace.busy_since))
            pace.index_credit = min(pace.index_credit + earned, INDEX_BUSY_MAX_S)
            pace.credit_at = now
            budget = pace.index_credit if pace.index_credit >= INDEX_BUSY_MIN_S else 0.0
        if budget:
            started = time.monotonic()
            # while busy the credit bounds the delay: new log files wait until it is spent
            grew = _index(projector, stop, _log_head(projector), budget, yield_to_log=not busy)
            if busy:
                pace.index_credit -= time.monotonic() - started
            if grew:
                continue  # the log grew: apply first
        if pace.sliced:
            continue  # the rest of what was pending
        if not busy or now - pace.last_checkpoint >= CHECKPOINT_BUSY_INTERVAL_S:
            pace.last_checkpoint = now
            _checkpoint(projector, quiet=not busy)
        return True


def _checkpoint(projector: Projector, *, quiet: bool) -> None:
    """Caught up: fold the WAL back into the database now rather than inside the next batch;
    when the log is quiet, also give the WAL file's space back."""
    from msgtrace.projections import sqlite_writer

    try:
        sqlite_writer.checkpoint_wal(projector.conn, truncate=quiet)
    except Exception:  # a busy or damaged database shows up again on the next apply
        log.exception("checkpointing the views' WAL failed")


def _index(
    projector: Projector,
    stop: threading.Event,
    head: tuple[int, int],
    budget_s: float,
    *,
    yield_to_log: bool = True,
) -> bool:
    """Run attribute-index batches until caught up, stopped or `budget_s` spent; True when it
    stopped because the log grew past `head` (checked between batches with `yield_to_log`; the
    caller applies the new files first). A spent budget resumes on the next wake-up (a new
    file, or the safety re-check)."""
    from msgtrace.projections import attr_index

    indexed = 0
    size = INDEX_BATCH_SPANS
    target = min(INDEX_BATCH_S, budget_s)
    deadline = time.perf_counter() + budget_s
    try:
        while not stop.is_set() and time.perf_counter() < deadline:
            if yield_to_log and _log_head(projector) != head:
                return True
            started = time.perf_counter()
            n = attr_index.index_batch(projector.conn, size)
            if n == 0:
                break
            indexed += n
            # batches sized to last about `target` whatever the spans' attributes hold
            scale = target / max(time.perf_counter() - started, 1e-3)
            size = int(min(max(size * min(scale, 2.0), 100), 50_000))
    except Exception:
        log.exception("indexing span attributes failed; will retry on the next change")
    if indexed:
        log.info("indexed the attributes of %d spans", indexed)
    return False


def _log_head(projector: Projector) -> tuple[int, int]:
    """The last offset of the newest segment and tombstone files (a directory listing: cheap
    enough between index batches; a compaction leaves it unchanged)."""
    heads = []
    for files in (
        naming.list_ranges(projector.data_dir / naming.SEGMENTS_DIR, naming.SEGMENT_SUFFIX),
        naming.list_ranges(projector.data_dir / naming.TOMBSTONES_DIR, naming.SEGMENT_SUFFIX),
    ):
        heads.append(max((f.last for f in files), default=0))
    return heads[0], heads[1]


def _apply(projector: Projector, stop: threading.Event, pace: _Pace) -> bool:
    """Apply what is pending; False when the database itself is damaged (the caller reopens it,
    which moves a corrupt file aside and rebuilds)."""
    import sqlite3

    pass_stop = _Slice(stop, APPLY_SLICE_S)
    try:
        n = projector.apply_pending(stop=pass_stop)
    except sqlite3.DatabaseError as exc:
        if type(exc) is sqlite3.DatabaseError:  # malformed image, not a busy or locked database
            log.error("the views database is damaged (%s); reopening it", exc)
            return False
        log.exception("applying the log failed; will retry on the next change")
        return True
    except Exception:
        log.exception("applying the log failed; will retry on the next change")
        return True
    finally:
        pace.sliced = pass_stop.expired and not stop.is_set()
    if n:
        now = time.monotonic()
        if now - pace.last_applied >= INDEX_QUIET_S:
            pace.busy_since, pace.index_credit = now, 0.0
        pace.last_applied = now
        log.info("applied %d span rows; checkpoint %d", n, projector.checkpoint())
    return True


def _lower_priority() -> None:
    """Raise this process's niceness by PROJECTOR_NICE (where the platform has it)."""
    import os

    try:
        os.nice(PROJECTOR_NICE)
    except (AttributeError, OSError) as exc:  # no os.nice on Windows
        log.debug("cannot lower the projector's priority: %s", exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msgtrace.projections.worker")
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--db-path", type=Path, default=None)
    parser.add_argument("--price-table", type=Path, default=None)
    parser.add_argument("--batch-spans", type=int, default=20_000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # heavy imports (polars, pyarrow) only after the handlers: a stop during startup is clean,
    # and after the allocator settings (read when Polars loads)
    from msgtrace.segments import memory

    memory.configure()
    _lower_priority()
    from msgtrace.core.llm import PriceTable

    if args.price_table is not None:
        try:
            PriceTable.load(args.price_table)
        except ValueError as exc:
            parser.error(str(exc))
    from msgtrace.projections.projector import warm_up

    warm_up(PriceTable.load(args.price_table))
    db_path = args.db_path or args.data_dir / "msgtrace.db"
    while not stop.is_set():
        with open_projector(
            args.data_dir, db_path, price_table=args.price_table, batch_spans=args.batch_spans
        ) as projector:
            log.info(
                "projector started: %s -> %s (checkpoint %d)",
                args.data_dir,
                db_path,
                projector.checkpoint(),
            )
            run(projector, stop)
            if not stop.is_set():
                log.warning("%s was removed or replaced: rebuilding it from the log", db_path)
    log.info("projector stopped")
    return 0


def _db_identity(db_path: Path) -> tuple[int, int] | None:
    try:
        st = db_path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def open_projector(
    data_dir: Path, db_path: Path, *, price_table: Path | None, batch_spans: int
) -> Projector:
    """A Projector on `db_path`; a file SQLite cannot read is moved aside (kept as
    `<name>.corrupt-<ns>`) and the views are rebuilt from the log in a fresh one."""
    import sqlite3
    import time

    from msgtrace.projections.projector import Projector

    try:
        projector = Projector(data_dir, db_path, price_table=price_table, batch_spans=batch_spans)
        row = projector.conn.execute("PRAGMA quick_check").fetchone()
        if row is not None and row[0] == "ok":
            return projector
        projector.close()
        problem = str(row[0]) if row else "no answer from quick_check"
    except sqlite3.DatabaseError as exc:
        problem = str(exc)
    aside = db_path.with_name(f"{db_path.name}.corrupt-{time.time_ns()}")
    for suffix in ("", "-wal", "-shm"):
        part = db_path.with_name(db_path.name + suffix)
        if part.exists():
            part.replace(aside.with_name(aside.name + suffix))
    log.error(
        "%s is corrupt (%s): moved it to %s; rebuilding the views from the log",
        db_path, problem, aside,
    )
    return Projector(data_dir, db_path, price_table=price_table, batch_spans=batch_spans)


if __name__ == "__main__":
    sys.exit(main())
