"""The projector process: `python -m msgtrace.projections.worker --data-dir D --db-path P`.

Applies pending log files on start, then sleeps on watchfiles (inotify) for changes under
segments/ and tombstones/ and applies again; no busy polling (a slow safety re-check runs every
`SAFETY_INTERVAL_S` in case a notification is lost). SIGTERM/SIGINT stop it between batches: the
batch in flight commits or rolls back as a whole, and the process exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from msgtrace.segments import naming

if TYPE_CHECKING:
    from msgtrace.projections.projector import Projector

log = logging.getLogger("msgtrace.projections.worker")

SAFETY_INTERVAL_S = 30.0


def run(projector: Projector, stop: threading.Event) -> None:
    """Apply, then wait for log changes, until `stop` is set."""
    import watchfiles

    dirs = [projector.data_dir / naming.SEGMENTS_DIR, projector.data_dir / naming.TOMBSTONES_DIR]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    _apply(projector, stop)
    while not stop.is_set():
        for _changes in watchfiles.watch(
            *dirs,
            stop_event=stop,
            yield_on_timeout=True,
            rust_timeout=int(SAFETY_INTERVAL_S * 1000),
            debounce=50,
            step=20,
            raise_interrupt=False,
            watch_filter=_is_log_file,
        ):
            if stop.is_set():
                break
            _apply(projector, stop)


def _is_log_file(_change: object, path: str) -> bool:
    name = Path(path).name
    return name.endswith(naming.SEGMENT_SUFFIX) and not name.startswith(".")


def _apply(projector: Projector, stop: threading.Event) -> None:
    try:
        n = projector.apply_pending(stop=stop)
    except Exception:
        log.exception("applying the log failed; will retry on the next change")
        return
    if n:
        log.info("applied %d span rows; checkpoint %d", n, projector.checkpoint())


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
    # heavy imports (polars, pyarrow) only after the handlers: a stop during startup is clean
    from msgtrace.core.llm import PriceTable
    from msgtrace.projections.projector import Projector

    if args.price_table is not None:
        try:
            PriceTable.load(args.price_table)
        except ValueError as exc:
            parser.error(str(exc))
    db_path = args.db_path or args.data_dir / "msgtrace.db"
    with Projector(
        args.data_dir, db_path, price_table=args.price_table, batch_spans=args.batch_spans
    ) as projector:
        log.info(
            "projector started: %s -> %s (checkpoint %d)",
            args.data_dir,
            db_path,
            projector.checkpoint(),
        )
        run(projector, stop)
    log.info("projector stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
