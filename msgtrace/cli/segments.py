"""msgtrace CLI, segments commands: look at, check and compact the log's Parquet files.

- `msgtrace segments list`: every segment and tombstone file with its offset range, rows, bytes,
  received-time range and state (live or superseded); `--json` for scripts. Reads Parquet
  footers only.
- `msgtrace segments verify`: reads every file fully and checks its schema version, columns, kind,
  and that the offsets in its metadata and rows match its name. Exits 1 with one line per bad
  file; `--quarantine` moves bad files to `<data-dir>/quarantine/`.
- `msgtrace segments compact`: merges small adjacent files now. Refuses while a server owns the
  data dir (it compacts on its own); holds the data-dir lock while it works.

Option --data-dir (env MSGTRACE_DATA_DIR, default ./msgtrace-data). Read-only commands never take
the data-dir lock.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger("msgtrace.segments.verify")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data dir [env MSGTRACE_DATA_DIR; default ./msgtrace-data]"),
]

segments_app = typer.Typer(
    name="segments",
    help="Inspect, verify and compact the log's segment files.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `segments` command group to `app`."""
    app.add_typer(segments_app, name="segments")


def _data_dir(data_dir: Path | None) -> Path:
    from msgtrace.core.config import MsgTraceConfig

    path = MsgTraceConfig.from_env(data_dir=data_dir).data_path
    if not path.is_dir():
        typer.secho(f"error: no data dir at {path}", fg="red", err=True)
        typer.secho("hint: pass --data-dir (or set MSGTRACE_DATA_DIR) to msgtrace's data dir", err=True)
        raise typer.Exit(1)
    return path


@dataclass(frozen=True)
class FileInfo:
    """One row of `msgtrace segments list`."""

    kind: str  # "spans" or "tombstones"
    name: str
    first_offset: int
    last_offset: int
    rows: int | None
    bytes: int
    min_received_ns: int | None
    max_received_ns: int | None
    live: bool
    error: str | None = None


def _received_range(meta: object) -> tuple[int | None, int | None]:
    import pyarrow.parquet as pq

    assert isinstance(meta, pq.FileMetaData)
    names = meta.schema.to_arrow_schema().names
    if "received_time_unix_nano" not in names:
        return None, None
    column = names.index("received_time_unix_nano")
    lo: int | None = None
    hi: int | None = None
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        if meta.row_group(i).num_rows == 0 or stats is None or not stats.has_min_max:
            continue
        lo = int(stats.min) if lo is None else min(lo, int(stats.min))
        hi = int(stats.max) if hi is None else max(hi, int(stats.max))
    return lo, hi


def collect_files(data_dir: Path) -> list[FileInfo]:
    """Every segment and tombstone file, in offset order per kind, from Parquet footers only."""
    import pyarrow.parquet as pq

    from msgtrace.segments import naming

    infos: list[FileInfo] = []
    for sub, kind in ((naming.SEGMENTS_DIR, "spans"), (naming.TOMBSTONES_DIR, "tombstones")):
        files = naming.list_ranges(data_dir / sub, naming.SEGMENT_SUFFIX)
        live = set(naming.drop_superseded(files))
        for f in files:
            try:
                size = f.path.stat().st_size
            except FileNotFoundError:
                continue  # compacted away meanwhile
            rows: int | None = None
            lo = hi = None
            error = None
            try:
                meta = pq.ParquetFile(f.path).metadata
                rows = int(meta.num_rows)
                lo, hi = _received_range(meta)
            except Exception as exc:  # pyarrow raises several types for a broken footer
                error = str(exc)
            infos.append(FileInfo(kind, f.path.name, f.first, f.last, rows, size, lo, hi, f in live, error))
    return infos


def _fmt_ns(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _fmt_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@segments_app.command("list")
def list_segments(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead of a table")] = False,
) -> None:
    """List segment and tombstone files: offsets, rows, bytes, received-time range (UTC)."""
    path = _data_dir(data_dir)
    infos = collect_files(path)
    if as_json:
        typer.echo(json.dumps({"data_dir": str(path), "files": [asdict(i) for i in infos]}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Segments in {path}")
    for column in ("kind", "file", "offsets", "rows", "bytes", "received (UTC)", "state"):
        table.add_column(column, justify="right" if column in ("rows", "bytes") else "left")
    for i in infos:
        state = "live" if i.live else "superseded"
        if i.error:
            state = f"[red]unreadable[/red]: {i.error}"
        table.add_row(
            i.kind, i.name, f"{i.first_offset}-{i.last_offset}",
            "-" if i.rows is None else f"{i.rows:,}", _fmt_bytes(i.bytes),
            f"{_fmt_ns(i.min_received_ns)} .. {_fmt_ns(i.max_received_ns)}", state,
        )
    console = Console()
    console.print(table)
    spans = [i for i in infos if i.kind == "spans" and i.live]
    console.print(
        f"{len(spans)} live segments, {sum(i.rows or 0 for i in spans):,} span rows, "
        f"{_fmt_bytes(sum(i.bytes for i in infos))} in all"
    )


def verify_file(path: Path, kind: str, first: int, last: int) -> str | None:
    """What is wrong with one segment or tombstone file, or None when it is sound.

    Reads every page (so a damaged page or checksum fails), checks schema version and columns
    (tombstone files against the tombstone schema), the kind and offset range in the file
    metadata against the name, and that every row's offset lies inside that range.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from msgtrace.core import schema
    from msgtrace.core.errors import SegmentCorrupted
    from msgtrace.segments.segment_reader import check_schema, segment_version

    try:
        file = pq.ParquetFile(path, page_checksum_verification=True)
        arrow_schema = file.schema_arrow
        if kind == "spans":
            check_schema(path, arrow_schema)
        else:
            version = segment_version(arrow_schema.metadata)
            if version not in schema.SCHEMA_VERSIONS_READABLE:
                return f"schema version {version} is not one this msgtrace reads {schema.SCHEMA_VERSIONS_READABLE}"
            if arrow_schema.names != schema.tombstone_schema().names:
                return f"columns {arrow_schema.names} are not the tombstone columns"
        table = file.read()
    except SegmentCorrupted as exc:
        return exc.message
    except (OSError, pa.ArrowException) as exc:
        return f"does not read fully: {exc}"
    meta = arrow_schema.metadata or {}
    found_kind = meta.get(schema.META_KIND, b"").decode(errors="replace")
    if found_kind != kind:
        return f"metadata kind is {found_kind!r}, expected {kind!r}"
    try:
        meta_first = int(meta.get(schema.META_FIRST_OFFSET, b""))
        meta_last = int(meta.get(schema.META_LAST_OFFSET, b""))
    except ValueError:
        return "metadata has no offset range"
    if (meta_first, meta_last) != (first, last):
        return f"metadata offsets {meta_first}-{meta_last} do not match the name ({first}-{last})"
    if table.num_rows:
        lo, hi = (int(v.as_py()) for v in pc.min_max(table.column("offset")).values())
        if lo < first or hi > last:
            return f"rows hold offsets {lo}-{hi}, outside the file's range {first}-{last}"
    return None


@dataclass(frozen=True)
class Problem:
    kind: str
    name: str
    problem: str
    quarantined_to: str | None = None


@segments_app.command()
def verify(
    data_dir: DataDir = None,
    quarantine: Annotated[
        bool, typer.Option("--quarantine", help="Move bad files to <data-dir>/quarantine/")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead of text")] = False,
) -> None:
    """Read every segment and tombstone file fully and check it; exit 1 if any is bad."""
    from msgtrace.segments import naming

    path = _data_dir(data_dir)
    if quarantine:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    checked = 0
    problems: list[Problem] = []
    for sub, kind in ((naming.SEGMENTS_DIR, "spans"), (naming.TOMBSTONES_DIR, "tombstones")):
        directory = path / sub
        if not directory.is_dir():
            continue
        for file in sorted(directory.iterdir()):
            name = file.name
            if name.startswith(".") or not name.endswith(naming.SEGMENT_SUFFIX):
                continue  # files being written, and files that are not ours
            parsed = naming.parse_range(file, naming.SEGMENT_SUFFIX)
            if parsed is None:
                problem: str | None = "the name is not <first>-<last>.parquet (20-digit offsets)"
            else:
                problem = verify_file(file, kind, parsed.first, parsed.last)
            if problem is not None and not file.exists():
                continue  # compacted away while we read it
            checked += 1
            if problem is None:
                continue
            if quarantine:
                from msgtrace.segments.segment_reader import quarantine as quarantine_file

                moved: str | None = str(quarantine_file(path, file, problem))
            else:
                moved = None
            problems.append(Problem(kind, name, problem, moved))
    if as_json:
        typer.echo(json.dumps({"checked": checked, "problems": [asdict(p) for p in problems]}, indent=2))
    else:
        for p in problems:
            typer.secho(f"BAD {p.kind} {p.name}: {p.problem}", fg="red")
            if p.quarantined_to:
                typer.echo(f"    moved to {p.quarantined_to}")
        summary = f"{checked} files checked, {len(problems)} bad"
        typer.secho(summary, fg="red" if problems else "green")
        if problems and not quarantine:
            typer.echo(
                "hint: `msgtrace segments verify --quarantine` moves them aside; the views keep what "
                "was already projected, and `msgtrace reindex` rebuilds them from the files that remain"
            )
    if problems:
        raise typer.Exit(1)


@segments_app.command()
def compact(
    data_dir: DataDir = None,
    target_mb: Annotated[float, typer.Option(help="Merge small files up to about this size, MiB")] = 128.0,
    min_segments: Annotated[int, typer.Option(help="Merge runs of at least this many files")] = 2,
) -> None:
    """Merge small adjacent segment and tombstone files now. Refuses while a server runs."""
    from msgtrace.core.errors import DataDirLocked
    from msgtrace.segments.compaction import CompactionPolicy, collect_superseded, compact_once
    from msgtrace.segments.ownership import DataDirLock, describe_holder, is_locked

    path = _data_dir(data_dir)
    if min_segments < 2 or target_mb <= 0:
        typer.secho("error: --min-segments must be at least 2 and --target-mb positive", fg="red", err=True)
        raise typer.Exit(2)
    if is_locked(path):
        typer.secho(f"error: data dir {path} is in use by {describe_holder(path)}", fg="red", err=True)
        typer.secho("hint: a running server compacts on its own; stop it to compact now", err=True)
        raise typer.Exit(1)
    try:
        lock = DataDirLock.acquire(path, purpose="msgtrace segments compact")
    except DataDirLocked as exc:
        typer.secho(f"error: {exc.message}", fg="red", err=True)
        raise typer.Exit(1) from None
    try:
        before = collect_files(path)
        policy = CompactionPolicy(int(target_mb * 1024 * 1024), min_segments, grace_s=0.0)
        outputs = []
        for _ in range(16):  # outputs may merge again with their neighbours
            done = compact_once(path, policy)
            collect_superseded(path, 0.0)  # no reader runs: we hold the data dir
            if not done:
                break
            outputs += done
        after = collect_files(path)
    finally:
        lock.release()
    n_before = sum(1 for i in before if i.live)
    n_after = sum(1 for i in after if i.live)
    typer.echo(
        f"compacted {n_before} files into {n_after} ({len(outputs)} merges): "
        f"{_fmt_bytes(sum(i.bytes for i in before))} -> {_fmt_bytes(sum(i.bytes for i in after))}"
    )
