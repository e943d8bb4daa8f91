"""msgtrace CLI, log commands: reindex and replay.

- `msgtrace reindex`: drop the SQLite views and rebuild them from the log (safe while the server
  runs: the projector re-plans its batches around it; readers keep their snapshot until each
  batch commits).
- `msgtrace replay`: apply pending log files to the views now (or, with --from-offset, re-apply
  from that offset: idempotent); `--segments DIR` first imports another data dir's segments into
  this log; `--to URL` re-sends this log's spans to an OTLP/HTTP endpoint instead.

Options: --data-dir (env MSGTRACE_DATA_DIR, default ./msgtrace-data), --db-path (env
MSGTRACE_DB_PATH, default <data-dir>/msgtrace.db), --price-table (env MSGTRACE_PRICE_TABLE).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data dir (env MSGTRACE_DATA_DIR; default ./msgtrace-data)"),
]
DbPath = Annotated[
    Path | None,
    typer.Option(
        "--db-path", help="SQLite views (env MSGTRACE_DB_PATH; default <data-dir>/msgtrace.db)"
    ),
]
PriceTableOpt = Annotated[
    Path | None,
    typer.Option(
        "--price-table",
        help="JSON model prices merged over the shipped table (env MSGTRACE_PRICE_TABLE)",
    ),
]


def register(app: typer.Typer) -> None:
    """Add reindex and replay to `app`."""
    app.command(help="Rebuild the SQLite views from the log (segments and tombstones).")(reindex)
    app.command(
        help="Apply the log to the views, import another log's segments (--segments), "
        "or re-send this log's spans to another msgtrace (--to URL)."
    )(replay)


def _config(
    data_dir: Path | None, db_path: Path | None, price_table: Path | None
) -> tuple[Path, Path, Path | None]:
    from msgtrace.core.config import MsgTraceConfig

    config = MsgTraceConfig.from_env(data_dir=data_dir, db_path=db_path, price_table=price_table)
    table = Path(config.price_table).expanduser() if config.price_table else None
    return config.data_path, config.database_path, table


@contextmanager
def _errors() -> Iterator[None]:
    """MsgTraceError / bad price table -> red message with its hint, exit 1, no traceback."""
    from rich.console import Console

    from msgtrace.core.errors import MsgTraceError

    try:
        yield
    except MsgTraceError as exc:
        err = Console(stderr=True)
        err.print(f"[red]error:[/red] {exc.message}")
        if exc.hint:
            err.print(f"[dim]hint: {exc.hint}[/dim]")
        raise typer.Exit(1) from None
    except ValueError as exc:  # a malformed price table
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


@contextmanager
def _owner(data: Path, purpose: str) -> Iterator[None]:
    """Hold the data dir for a command that writes the views: refuses (DataDirLocked, naming the
    holder) while a server or another writing command owns it."""
    from msgtrace.segments.ownership import held

    with held(data, purpose=purpose):
        yield


@contextmanager
def _progress(description: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, done))

        yield update


def reindex(
    data_dir: DataDir = None, db_path: DbPath = None, price_table: PriceTableOpt = None
) -> None:
    from msgtrace.projections.projector import Projector

    data, db, prices = _config(data_dir, db_path, price_table)
    with _errors(), _owner(data, "msgtrace reindex"):
        started = time.perf_counter()
        with (
            Projector(data, db, price_table=prices) as projector,
            _progress("reindex", "spans") as progress,
        ):
            spans = projector.reindex(progress)
            checkpoint = projector.checkpoint()
            skipped = list(projector.quarantined)
        elapsed = time.perf_counter() - started
        for path in skipped:
            typer.secho(
                f"skipped unreadable {path.name}: moved to {path.parent} "
                "(see `msgtrace segments verify`)",
                fg="yellow", err=True,
            )
    traces = _count_traces(db)
    typer.echo(
        f"reindexed {spans:,} spans into {traces:,} traces in {elapsed:.1f}s "
        f"(checkpoint {checkpoint})"
    )


def replay(
    data_dir: DataDir = None,
    db_path: DbPath = None,
    price_table: PriceTableOpt = None,
    from_offset: Annotated[
        int, typer.Option("--from-offset", min=0, help="Only log offsets >= N")
    ] = 0,
    segments: Annotated[
        Path | None,
        typer.Option(
            "--segments",
            help="Another data dir's segments folder: import it into this log, then apply",
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Re-send this log's spans to an OTLP/HTTP URL instead"),
    ] = None,
    batch_spans: Annotated[
        int, typer.Option("--batch-spans", min=1, help="Spans per request with --to")
    ] = 512,
) -> None:
    from msgtrace.projections import log_replay

    data, db, prices = _config(data_dir, db_path, price_table)
    with _errors():
        if to is not None:
            if segments is not None:
                raise typer.BadParameter("use either --to or --segments", param_hint="--to")
            with _progress(f"sending to {log_replay.otlp_url(to)}", "spans") as progress:
                sent = log_replay.send_log(
                    data, to, from_offset=from_offset, batch_spans=batch_spans, progress=progress
                )
            typer.echo(f"sent {sent:,} spans to {log_replay.otlp_url(to)}")
            return
        if segments is not None:
            with _progress("importing segments", "files") as progress:
                result = log_replay.import_segments(
                    data, segments, from_offset=from_offset, progress=progress
                )
            typer.echo(
                f"imported {result.files} files ({result.spans:,} spans, {result.tombstones} "
                f"deletes) as offsets {result.first_offset}..{result.last_offset}"
            )
            with _owner(data, "msgtrace replay"):
                _apply(data, db, prices, rewind_to=None)
        else:
            with _owner(data, "msgtrace replay"):
                _apply(data, db, prices, rewind_to=from_offset or None)


def _apply(data: Path, db: Path, prices: Path | None, *, rewind_to: int | None) -> None:
    from msgtrace.projections.projector import Projector

    with Projector(data, db, price_table=prices) as projector:
        if rewind_to is not None:
            projector.rewind(rewind_to - 1)
        with _progress("applying", "spans") as progress:
            spans = projector.apply_pending(progress)
        typer.echo(f"applied {spans:,} spans (checkpoint {projector.checkpoint()})")


def _count_traces(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM traces").fetchone()[0])
    finally:
        conn.close()
