"""msgtrace CLI, read commands: stats, list, show, clear, export, tail.

Every command reads the projector's SQLite views through `ReadStore` (read-only) and takes
--data-dir (env MSGTRACE_DATA_DIR), --db-path (env MSGTRACE_DB_PATH, default
<data-dir>/msgtrace.db) and --json (machine-readable output). `clear` is the one command that
deletes: it removes the log and the views, and refuses while a server holds <data-dir>/LOCK.
"""

from __future__ import annotations

import shutil
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

    from msgtrace.core.models import Span, SpanNode, Trace, TraceQueryParams, TraceSummary
    from msgtrace.projections.store import ReadStore

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data dir [env MSGTRACE_DATA_DIR; default ./msgtrace-data]"),
]
DbPath = Annotated[
    Path | None,
    typer.Option(
        "--db-path", help="SQLite views [env MSGTRACE_DB_PATH; default <data-dir>/msgtrace.db]"
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")]


def register(app: typer.Typer) -> None:
    """Add stats, list, show, clear, export and tail to `app`."""
    app.command(help="Totals: traces, spans, errors, duration percentiles, tokens and cost.")(stats)
    app.command(name="list", help="List recent traces (newest first by default).")(list_traces)
    app.command(help="Show one trace as a tree of spans (a unique id prefix is enough).")(show)
    app.command(help="Delete every trace: the log (journal, segments, tombstones) and the views.")(
        clear
    )
    app.command(help="Export one trace (OTLP/JSON or JSON) or, with --list, the trace list.")(
        export
    )
    app.command(help="Follow new and updated traces live (Ctrl-C to stop).")(tail)


# -- plumbing -------------------------------------------------------------------------------------
def _paths(data_dir: Path | None, db_path: Path | None) -> tuple[Path, Path]:
    from msgtrace.core.config import MsgTraceConfig

    config = MsgTraceConfig.from_env(data_dir=data_dir, db_path=db_path)
    return config.data_path, config.database_path


@contextmanager
def _store(data_dir: Path | None, db_path: Path | None) -> Iterator[ReadStore]:
    from msgtrace.projections.store import ReadStore

    _, db = _paths(data_dir, db_path)
    store = ReadStore(db, pool_size=1)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _errors() -> Iterator[None]:
    """MsgTraceError -> red message, hint, exit 1 (no traceback)."""
    from msgtrace.core.errors import MsgTraceError

    try:
        yield
    except MsgTraceError as exc:
        typer.secho(f"msgtrace: {exc.message}", fg="red", err=True)
        if getattr(exc, "column", None):
            typer.secho(f"at column {exc.column}", err=True)  # type: ignore[attr-defined]
        if exc.hint:
            typer.secho(f"hint: {exc.hint}", err=True)
        raise typer.Exit(1) from None


def _fail(message: str, hint: str | None = None) -> typer.Exit:
    typer.secho(f"msgtrace: {message}", fg="red", err=True)
    if hint:
        typer.secho(f"hint: {hint}", err=True)
    return typer.Exit(1)


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def _echo_json(data: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _when(ns: int | None) -> str:
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ms(value: float) -> str:
    if value >= 60_000:
        return f"{value / 60_000:.1f}m"
    if value >= 1000:
        return f"{value / 1000:.2f}s"
    return f"{value:.1f}ms"


def _cost(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def _params(**kwargs: Any) -> TraceQueryParams:
    from pydantic import ValidationError

    from msgtrace.core.errors import QueryError
    from msgtrace.core.models import TraceQueryParams

    try:
        return TraceQueryParams(**{k: v for k, v in kwargs.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())) or "option"
        raise QueryError(f"{name}: {str(first.get('msg')).removeprefix('Value error, ')}") from None


def _resolve(store: ReadStore, trace_id: str) -> str:
    matches = store.resolve_trace_id(trace_id)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise _fail(f"trace {trace_id} not found", "`msgtrace list` shows recent trace ids")
    raise _fail(f"trace id prefix {trace_id} is ambiguous", "type more characters of the id")


# -- commands -------------------------------------------------------------------------------------
def stats(data_dir: DataDir = None, db_path: DbPath = None, json: AsJson = False) -> None:
    with _errors(), _store(data_dir, db_path) as store:
        data = store.stats()
    if json:
        _echo_json(data)
        return
    from rich.table import Table

    d = data["duration_ms"]
    table = Table(title="msgtrace stats", show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("Traces", f"{data['total_traces']:,}"),
        ("Spans", f"{data['total_spans']:,}"),
        ("Error traces", f"{data['error_traces']:,} ({data['error_rate']:.1%})"),
        ("Failed spans", f"{data['error_count']:,}"),
        ("Duration avg", _ms(d["avg"])),
        ("Duration p50 / p95 / p99", f"{_ms(d['p50'])} / {_ms(d['p95'])} / {_ms(d['p99'])}"),
        ("Tokens in / out", f"{data['tokens']['input']:,} / {data['tokens']['output']:,}"),
        ("Cost", _cost(data["cost"])),
        ("First trace", _when(data["time_range"]["start"])),
        ("Last trace", _when(data["time_range"]["end"])),
    ]
    for name, value in rows:
        table.add_row(name, value)
    _console().print(table)


def _summary_table(traces: list[TraceSummary], title: str) -> Any:
    from rich.table import Table

    caption = (
        "* in progress: root span not received yet" if any(t.in_progress for t in traces) else None
    )
    table = Table(
        title=title,
        caption=caption,
        title_justify="left",
        caption_justify="left",
        box=None,
        header_style="bold underline",
        pad_edge=False,
    )
    table.add_column("trace id", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("workflow", min_width=8, overflow="fold")
    for name in ("duration", "spans", "err", "tokens", "cost"):
        table.add_column(name, justify="right", no_wrap=True)
    for t in traces:
        errors = f"[red]{t.error_count}[/red]" if t.error_count else "0"
        table.add_row(
            t.trace_id[:12],
            _when(t.start_time)[5:16],
            (t.workflow_name or t.root_span_name or "-")
            + (" [yellow]*[/yellow]" if t.in_progress else ""),
            _ms(t.duration_ms),
            str(t.span_count),
            errors,
            f"{t.total_tokens:,}",
            _cost(t.cost),
        )
    return table


def list_traces(
    limit: Annotated[int, typer.Option(help="Number of traces (1-1000)")] = 10,
    query: Annotated[
        str | None,
        typer.Option("--query", "-q", help="Query language, e.g. 'duration:>1s error:true'"),
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow")] = None,
    errors: Annotated[bool, typer.Option("--errors", help="Only traces with failed spans")] = False,
    min_duration_ms: Annotated[
        float | None, typer.Option(help="Only traces at least this long")
    ] = None,
    sort: Annotated[
        str,
        typer.Option(help="start_time|duration|span_count|tokens|cost; prefix - for descending"),
    ] = "start_time",
    data_dir: DataDir = None,
    db_path: DbPath = None,
    json: AsJson = False,
) -> None:
    with _errors(), _store(data_dir, db_path) as store:
        params = _params(
            limit=limit,
            q=query,
            workflow_name=workflow,
            has_errors=True if errors else None,
            min_duration_ms=min_duration_ms,
            sort=sort,
        )
        page = store.list_traces(params)
    if json:
        _echo_json(
            {"traces": [t.model_dump(mode="json") for t in page.traces], "total": page.total}
        )
        return
    if not page.traces:
        typer.echo("No traces found.")
        return
    title = f"{len(page.traces)} of {page.total:,} traces (times in UTC)"
    _console().print(_summary_table(page.traces, title))


def _span_label(span: Span | SpanNode) -> str:
    from rich.markup import escape

    status = span.status.code
    mark = {"ERROR": "[red]✗[/red]", "OK": "[green]✓[/green]"}.get(status, "[dim]·[/dim]")
    parts = [f"{mark} [bold]{escape(span.name)}[/bold]", f"[cyan]{_ms(span.duration_ms)}[/cyan]"]
    if span.span_type:
        parts.append(f"[dim]{escape(span.span_type)}[/dim]")
    llm = span.llm
    if llm is not None:
        if llm.model:
            parts.append(f"[magenta]{escape(llm.model)}[/magenta]")
        if llm.input_tokens is not None or llm.output_tokens is not None:
            parts.append(f"tokens {llm.input_tokens or 0}→{llm.output_tokens or 0}")
        if llm.cost is not None:
            parts.append(_cost(llm.cost))
    if status == "ERROR" and span.status.message:
        parts.append(f"[red]{escape(span.status.message)}[/red]")
    return "  ".join(parts)


def _render_tree(trace: Trace) -> Any:
    from rich.markup import escape
    from rich.tree import Tree

    head = (
        f"[bold]{escape(trace.workflow_name or trace.root_span_name or 'trace')}[/bold]  {trace.trace_id}\n"
        f"started {_when(trace.start_time)} UTC  duration {_ms(trace.duration_ms)}  "
        f"spans {trace.span_count}  errors {trace.error_count}  "
        f"tokens {trace.input_tokens:,}→{trace.output_tokens:,}  cost {_cost(trace.cost)}"
        + (
            "  [yellow](in progress: root span not received yet)[/yellow]"
            if trace.in_progress
            else ""
        )
    )
    tree = Tree(head)
    stack: list[tuple[Tree, list[SpanNode]]] = [(tree, trace.build_span_tree())]
    while stack:  # iterative: deep traces must not hit the recursion limit
        parent, nodes = stack.pop()
        for node in nodes:
            branch = parent.add(_span_label(node))
            if node.children:
                stack.append((branch, node.children))
    return tree


def show(
    trace_id: Annotated[str, typer.Argument(help="Trace id or a unique prefix of it")],
    data_dir: DataDir = None,
    db_path: DbPath = None,
    json: AsJson = False,
) -> None:
    with _errors(), _store(data_dir, db_path) as store:
        trace = store.get_trace(_resolve(store, trace_id))
    if trace is None:  # deleted between resolve and read
        raise _fail(f"trace {trace_id} not found")
    if json:
        sys.stdout.write(trace.model_dump_json(indent=2) + "\n")
        return
    _console().print(_render_tree(trace))


def clear(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    data_dir: DataDir = None,
    db_path: DbPath = None,
    json: AsJson = False,
) -> None:
    from msgtrace.segments.naming import JOURNAL_DIR, SEGMENTS_DIR, TOMBSTONES_DIR

    data, db = _paths(data_dir, db_path)
    targets = [data / JOURNAL_DIR, data / SEGMENTS_DIR, data / TOMBSTONES_DIR]
    db_files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    present = [p for p in [*targets, *db_files] if p.exists()]
    if not present:
        if json:
            _echo_json({"cleared": False, "removed": []})
        else:
            typer.echo(f"Nothing to clear in {data}.")
        return
    if not yes and not typer.confirm(
        f"Delete every trace in {data} (log and views)?", default=False
    ):
        raise typer.Exit(1)
    with _errors(), _data_dir_lock(data):
        for path in present:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    if json:
        _echo_json({"cleared": True, "removed": [str(p) for p in present]})
    else:
        typer.echo(f"Cleared {data}: removed {', '.join(p.name for p in present)}.")


@contextmanager
def _data_dir_lock(data: Path) -> Iterator[None]:
    """Hold <data-dir>/LOCK; DataDirLocked, naming the holder, when a server owns it."""
    from msgtrace.core.errors import DataDirLocked
    from msgtrace.segments.ownership import DataDirLock, describe_holder

    if not data.exists():
        yield
        return
    try:
        lock = DataDirLock.acquire(data, purpose="msgtrace clear")
    except DataDirLocked:
        raise DataDirLocked(
            f"a running msgtrace server owns {data}: {describe_holder(data)}"
        ) from None
    try:
        yield
    finally:
        lock.release()


def export(
    trace_id: Annotated[
        str | None, typer.Argument(help="Trace id or unique prefix (omit with --list)")
    ] = None,
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="otlp|json for a trace; csv|json with --list"),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="Export the (filtered) trace list")] = False,
    limit: Annotated[int, typer.Option(help="With --list: at most this many traces")] = 1000,
    query: Annotated[
        str | None, typer.Option("--query", "-q", help="With --list: query language filter")
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="With --list: only this workflow")] = None,
    errors: Annotated[
        bool, typer.Option("--errors", help="With --list: only traces with errors")
    ] = False,
    min_duration_ms: Annotated[
        float | None, typer.Option(help="With --list: minimum duration")
    ] = None,
    sort: Annotated[str, typer.Option(help="With --list: sort field")] = "start_time",
    data_dir: DataDir = None,
    db_path: DbPath = None,
    json: AsJson = False,
) -> None:
    import orjson

    with _errors(), _store(data_dir, db_path) as store:
        if list_:
            fmt = format or ("json" if json else "csv")
            if fmt not in ("csv", "json"):
                raise _fail(f"--format {fmt} is not csv or json for --list")
            params = _params(
                limit=1,
                q=query,
                workflow_name=workflow,
                has_errors=True if errors else None,
                min_duration_ms=min_duration_ms,
                sort=sort,
            )
            rows = store.iter_summaries(params, max_rows=max(1, limit))
            if fmt == "json":
                body = orjson.dumps(
                    [r.model_dump(mode="json") for r in rows], option=orjson.OPT_INDENT_2
                )
            else:
                from msgtrace.api.routes_traces import summaries_csv

                body = summaries_csv(rows).encode()
        else:
            if not trace_id:
                raise _fail("give a TRACE_ID, or --list to export the trace list")
            fmt = format or "otlp"
            if fmt not in ("otlp", "json"):
                raise _fail(f"--format {fmt} is not otlp or json for a trace")
            tid = _resolve(store, trace_id)
            if fmt == "json":
                trace = store.get_trace(tid)
                if trace is None:
                    raise _fail(f"trace {trace_id} not found")
                body = trace.model_dump_json(indent=2).encode()
            else:
                from msgtrace.core.otlp import request_to_json, rows_to_request

                body = orjson.dumps(request_to_json(rows_to_request(store.export_rows(tid))))
    if output is None:
        sys.stdout.buffer.write(body + (b"" if body.endswith(b"\n") else b"\n"))
        sys.stdout.flush()
    else:
        output.write_bytes(body)
        typer.echo(f"Wrote {len(body):,} bytes to {output}", err=True)


def tail(
    interval: Annotated[float, typer.Option(help="Seconds between polls of the views")] = 0.5,
    data_dir: DataDir = None,
    db_path: DbPath = None,
    json: AsJson = False,
) -> None:
    console = _console()
    if not json:
        typer.echo("Following new traces (Ctrl-C to stop)...", err=True)
    try:
        with _errors(), _store(data_dir, db_path) as store:
            cursor = store.latest_cursor()
            while True:
                changes = store.changes_since(cursor)
                for change in changes:
                    t = change.trace
                    if json:
                        sys.stdout.write(t.model_dump_json() + "\n")
                    else:
                        status = "[red]error[/red]" if t.error_count else t.status
                        console.print(
                            f"{_when(t.start_time)}  {t.trace_id[:16]}  "
                            f"{t.workflow_name or t.root_span_name or '-'}  {_ms(t.duration_ms)}  "
                            f"spans {t.span_count}  {status}  tokens {t.total_tokens:,}  {_cost(t.cost)}"
                        )
                    sys.stdout.flush()
                if changes:
                    cursor = changes[-1].cursor
                else:
                    time.sleep(interval)
    except KeyboardInterrupt:
        return
