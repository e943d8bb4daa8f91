"""Replaying a log: import another data dir's segments into this log, or re-send spans as OTLP.

- `import_segments` copies segment (and sibling tombstone) files into this data dir, renumbering
  their offsets above this log's high-water mark so they become part of the truth, in their
  original order. It holds the data dir lock (the server must be stopped: its journal would assign
  the same offsets). Importing the same files twice only adds duplicate copies, which the
  projector ignores (first copy wins), so the views end up the same.
- `send_log` re-sends the visible spans of this log (tombstoned traces left out, first copy of a
  duplicated span only) to an OTLP/HTTP endpoint as protobuf, batched, honouring 429/503
  Retry-After.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from msgtrace.core.errors import LogError, MsgTraceError
from msgtrace.segments import naming

Progress = Callable[[int, int], None]

DEFAULT_BATCH_SPANS = 512
MAX_ATTEMPTS = 30


@dataclass(frozen=True)
class ImportResult:
    files: int
    spans: int
    tombstones: int
    first_offset: int  # first new offset given to imported rows; 0 when nothing was imported
    last_offset: int


def high_water(data_dir: Path) -> int:
    """Highest offset this log has used: segments, tombstones, journals, persisted mark."""
    from msgtrace.segments.journal_format import read_high_water

    marks = [read_high_water(data_dir / naming.JOURNAL_DIR)]
    for sub in (naming.SEGMENTS_DIR, naming.TOMBSTONES_DIR):
        marks += [f.last for f in naming.list_ranges(data_dir / sub, naming.SEGMENT_SUFFIX)]
    marks += [f.last for f in naming.closed_journals(data_dir)]
    return max(marks, default=0)


def import_segments(
    data_dir: Path, source: Path, *, from_offset: int = 0, progress: Progress | None = None
) -> ImportResult:
    """Copy `source` (a segments folder) and its sibling tombstones folder into `data_dir`."""
    from msgtrace.segments.ownership import DataDirLock

    source = Path(source)
    if not source.is_dir():
        raise LogError(f"{source} is not a directory", hint="pass a data dir's segments folder")
    segments = naming.drop_superseded(naming.list_ranges(source, naming.SEGMENT_SUFFIX))
    tomb_dir = source.parent / naming.TOMBSTONES_DIR
    tombs = naming.drop_superseded(naming.list_ranges(tomb_dir, naming.SEGMENT_SUFFIX))
    segments = [f for f in segments if f.last >= from_offset]
    tombs = [f for f in tombs if f.last >= from_offset]
    if not segments and not tombs:
        return ImportResult(0, 0, 0, 0, 0)
    lock = DataDirLock.acquire(data_dir, purpose="msgtrace replay --segments")
    try:
        journal_dir = data_dir / naming.JOURNAL_DIR
        pending = [p.name for p in journal_dir.iterdir()] if journal_dir.is_dir() else []
        if any(n.endswith((naming.OPEN_SUFFIX, naming.CLOSED_SUFFIX)) for n in pending):
            raise LogError(
                f"{data_dir} has journal files not sealed into segments yet",
                hint="start msgtrace once and stop it cleanly (it seals the journal), then replay",
            )
        base = max(from_offset, min(f.first for f in [*segments, *tombs]))
        shift = high_water(data_dir) + 1 - base
        total = len(segments) + len(tombs)
        spans = deletes = 0
        last = 0
        for i, (f, kind) in enumerate(
            [*((s, "spans") for s in segments), *((t, "tombstones") for t in tombs)]
        ):
            n, f_last = _copy_shifted(data_dir, f, kind, from_offset, shift)
            spans += n if kind == "spans" else 0
            deletes += n if kind == "tombstones" else 0
            last = max(last, f_last)
            if progress is not None:
                progress(i + 1, total)
        return ImportResult(total, spans, deletes, base + shift, last)
    finally:
        lock.release()


def _copy_shifted(
    data_dir: Path, f: naming.RangeFile, kind: str, from_offset: int, shift: int
) -> tuple[int, int]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from msgtrace.core import schema
    from msgtrace.segments.segment_reader import read_segment
    from msgtrace.segments.segment_writer import file_metadata, write_parquet_atomic

    if kind == "spans":
        table = read_segment(f.path)
        arrow_schema = schema.span_schema()
        target = data_dir / naming.SEGMENTS_DIR
    else:
        table = pq.read_table(f.path)
        arrow_schema = schema.tombstone_schema()
        target = data_dir / naming.TOMBSTONES_DIR
    table = table.filter(pc.greater_equal(table["offset"], from_offset))
    offsets = pc.add(table["offset"], shift)
    table = table.set_column(table.schema.get_field_index("offset"), "offset", offsets)
    first = max(f.first, from_offset) + shift
    last = f.last + shift
    target.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(
        [table.cast(arrow_schema)],
        arrow_schema,
        target / naming.range_name(first, last, naming.SEGMENT_SUFFIX),
        file_metadata(kind, first, last),
    )
    return table.num_rows, last


def visible_spans(data_dir: Path, *, from_offset: int = 0) -> pl.DataFrame:
    """Every span of the log as the views see it: tombstones applied, first copy of each span."""
    from msgtrace.segments.segment_reader import scan_spans

    frame = scan_spans(data_dir).filter(pl.col("offset") >= from_offset).collect()
    tomb_frames = [
        pl.read_parquet(f.path, columns=["offset", "trace_id"])
        for f in naming.live_tombstones(data_dir)
    ]
    if tomb_frames:
        tombs = pl.concat(tomb_frames).with_columns(pl.col("trace_id").fill_null(""))
        kill_all = tombs.filter(pl.col("trace_id") == "").get_column("offset").max()
        per_trace = (
            tombs.filter(pl.col("trace_id") != "")
            .group_by("trace_id")
            .agg(pl.col("offset").max().alias("_kill"))
        )
        frame = (
            frame.join(per_trace, on="trace_id", how="left", maintain_order="left")
            .filter(
                pl.col("offset")
                > pl.max_horizontal(pl.col("_kill").fill_null(0), pl.lit(kill_all or 0))
            )
            .drop("_kill")
        )
    return frame.sort("offset", maintain_order=True).unique(
        ["trace_id", "span_id"], keep="first", maintain_order=True
    )


def otlp_url(url: str) -> str:
    """`url` itself when it names a path, else its /v1/traces endpoint."""
    import httpx

    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise MsgTraceError(f"not an http(s) URL: {url!r}", hint="e.g. http://127.0.0.1:4321")
    if parsed.path in ("", "/"):
        return str(parsed.copy_with(path="/v1/traces"))
    return url


def send_log(
    data_dir: Path,
    url: str,
    *,
    from_offset: int = 0,
    batch_spans: int = DEFAULT_BATCH_SPANS,
    progress: Progress | None = None,
    timeout: float = 30.0,
) -> int:
    """POST the visible spans as OTLP/HTTP protobuf requests of `batch_spans`; returns spans sent."""
    import httpx

    from msgtrace.core.otlp import rows_to_request

    if batch_spans < 1:
        raise MsgTraceError("--batch-spans must be at least 1", hint="e.g. --batch-spans 512")
    endpoint = otlp_url(url)
    frame = visible_spans(data_dir, from_offset=from_offset)
    total = frame.height
    sent = 0
    with httpx.Client(timeout=timeout) as client:
        for chunk in frame.iter_slices(batch_spans):
            body = rows_to_request(chunk.iter_rows(named=True)).SerializeToString()
            _post(client, endpoint, body)
            sent += chunk.height
            if progress is not None:
                progress(sent, total)
    return sent


def _post(client: object, endpoint: str, body: bytes) -> None:
    import httpx

    assert isinstance(client, httpx.Client)
    headers = {"Content-Type": "application/x-protobuf"}
    for _attempt in range(MAX_ATTEMPTS):
        try:
            response = client.post(endpoint, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise MsgTraceError(
                f"cannot reach {endpoint}: {exc}", hint="is the target msgtrace running?"
            ) from exc
        if response.status_code in (429, 503):
            time.sleep(_retry_after(response.headers.get("Retry-After")))
            continue
        if response.status_code >= 400:
            raise MsgTraceError(
                f"{endpoint} answered {response.status_code}: {response.text[:200]}",
                hint="check the URL points at an OTLP/HTTP traces endpoint",
            )
        return
    raise MsgTraceError(
        f"{endpoint} kept answering 429/503 after {MAX_ATTEMPTS} attempts",
        hint="the target is overloaded; retry later or lower --batch-spans",
    )


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value or 1.0), 0.0), 30.0)
    except ValueError:
        return 1.0


__all__ = [
    "ImportResult",
    "high_water",
    "import_segments",
    "otlp_url",
    "send_log",
    "visible_spans",
]
