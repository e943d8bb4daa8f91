"""The projector: applies the log (segments and tombstones) to the SQLite views, batch by batch.

Invariants:
- One SQLite transaction per batch, holding the views' changes and the checkpoints together, so a
  crash at any point leaves the views exactly as of some batch boundary; the next run continues.
- A span (trace_id, span_id) is visible iff its offset is above every tombstone of its trace (and
  every delete-all tombstone); among its visible copies the first (lowest offset) wins. Applying a
  segment twice, or a span seen again later, changes nothing.
- Every derived row of a touched trace is recomputed from the trace's complete stored span set,
  so the views equal a clean reindex whatever order or batching the spans arrived in.
- Several projectors on one database cooperate: each batch re-reads the checkpoints inside
  `BEGIN IMMEDIATE` and is re-planned when another writer got there first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import orjson
import polars as pl

from msgtrace.core.errors import LogError, SegmentCorrupted, SegmentTooNew
from msgtrace.core.llm import PriceTable
from msgtrace.projections import apply_traces as traces
from msgtrace.projections import attr_index, log_source, sqlite_writer
from msgtrace.projections.apply_llm import exact_div, normalise_frame
from msgtrace.projections.views import BUILTIN_VIEWS, TOUCHED_TABLE, TraceChange, View
from msgtrace.segments import naming

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (rows applied so far, rows pending at start)

DEFAULT_BATCH_SPANS = 20_000
# reindex: fewer, larger transactions (memory stays bounded: a batch is read chunk by chunk)
REINDEX_BATCH_SPANS = 200_000
REINDEX_BATCH_BYTES = 1 << 30
MAX_REPLANS = 1000  # plans in one apply_pending; each replan follows another writer's progress

# spans columns the per-trace derivations need (read back for touched traces)
STATE_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "start_time",
    "end_time",
    "status_code",
    "service_name",
    "span_type",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost",
    "counts_usage",
    "log_offset",
    "workflow_name",
    "session_id",
    "user_id",
)

SPAN_INSERT_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_time",
    "end_time",
    "duration_ms",
    "status_code",
    "status_message",
    "service_name",
    "trace_state",
    "flags",
    "attributes",
    "events",
    "links",
    "resource_attributes",
    "scope_name",
    "scope_version",
    "span_type",
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost",
    "cost_source",
    "counts_usage",
    "log_offset",
    "operation",
    "workflow_name",
    "session_id",
    "user_id",
)

TRACE_COLUMNS = tuple(c for c in traces.SUMMARY_SCHEMA if c not in ("cost_pico", "duration_ns"))

_CLEARED_ON_DELETE_ALL = (
    "spans",
    "traces",
    "trace_models",
    "usage_rollup",
    "trace_rollup",
    "duration_histogram",
    "attr_index",
    "attr_dirty",
)


class _Replan(Exception):
    """Another writer moved the checkpoints since the batch was planned."""


@dataclass
class _Checkpoints:
    segments: int
    tombstones: int


class Projector:
    """Applies the log under `data_dir` to the SQLite views in `db_path` (the only writer)."""

    def __init__(
        self,
        data_dir: Path,
        db_path: Path,
        *,
        price_table: Path | None = None,
        batch_spans: int = DEFAULT_BATCH_SPANS,
        views: Sequence[View] = BUILTIN_VIEWS,
        chunk_bytes: int = log_source.DEFAULT_CHUNK_BYTES,
    ) -> None:
        """`views`: the derived views maintained besides spans and traces (see views.py);
        pass `[*BUILTIN_VIEWS, YourView()]` to add one."""
        self.views = tuple(views)
        self.chunk_bytes = chunk_bytes
        self.data_dir = Path(data_dir)
        self.db_path = Path(db_path)
        self.prices = PriceTable.load(price_table)
        self.batch_spans = batch_spans
        self.batch_bytes = 4 * chunk_bytes
        self.quarantined: list[Path] = []  # bad files moved aside by this projector
        self.conn = sqlite_writer.connect(self.db_path)
        if sqlite_writer.needs_rebuild(self.conn):
            log.info("projection schema changed: rebuilding %s", self.db_path)
            self._reset()
        else:
            self.conn.execute("BEGIN IMMEDIATE")
            sqlite_writer.create_schema(self.conn, self._view_ddl())
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Projector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public surface -------------------------------------------------------------------

    def checkpoint(self) -> int:
        """The last applied log offset (segments or tombstones, whichever is higher)."""
        return sqlite_writer.get_meta_int(self.conn, "checkpoint")

    def apply_pending(
        self, progress: Progress | None = None, stop: threading.Event | None = None
    ) -> int:
        """Apply every pending segment/tombstone row in offset order; returns span rows read.

        Stops between batches when `stop` is set."""
        applied = 0
        for _plan in range(MAX_REPLANS):
            cp = self._checkpoints()
            try:
                batches = log_source.plan_batches(
                    self.data_dir, cp.segments, self.batch_spans, self.batch_bytes
                )
            except FileNotFoundError:
                continue  # the compactor replaced files while we listed them
            except SegmentCorrupted as exc:
                self._quarantine(exc)
                continue
            total = sum(b.rows for b in batches)
            replanned = False
            for batch in batches:
                if stop is not None and stop.is_set():
                    return applied
                try:
                    self._apply_batch(batch, cp)
                except (_Replan, FileNotFoundError):
                    replanned = True
                    break
                except SegmentCorrupted as exc:  # the batch rolled back; plan again without it
                    self._quarantine(exc)
                    replanned = True
                    break
                cp = _Checkpoints(batch.last, max(cp.tombstones, self._checkpoints().tombstones))
                applied += batch.rows
                if progress is not None:
                    progress(applied, total)
            if replanned:
                continue
            # tombstones beyond the last segment (or with no segments at all)
            try:
                if self._apply_batch(None, cp):
                    continue
            except (_Replan, FileNotFoundError):
                continue
            except SegmentCorrupted as exc:
                self._quarantine(exc)
                continue
            return applied
        raise LogError(
            f"the log under {self.data_dir} kept changing while being read",
            hint="retry; if it persists, check that only one compactor runs on this data dir",
        )

    def reindex(self, progress: Progress | None = None) -> int:
        """Drop every projection table, recreate them and apply the whole log.

        Reader-only indexes are built once at the end (a crash in between is repaired by the
        next Projector, which recreates missing schema objects). The rebuild runs with
        synchronous=OFF and large transactions: a process crash keeps the database consistent
        (WAL), an OS crash at worst loses views that a rerun rebuilds."""
        self._reset(reader_indexes=False)
        saved = self.batch_spans, self.batch_bytes
        self.batch_spans = max(self.batch_spans, REINDEX_BATCH_SPANS)
        self.batch_bytes = max(self.batch_bytes, REINDEX_BATCH_BYTES)
        self.conn.execute("PRAGMA synchronous=OFF")
        try:
            return self.apply_pending(progress)
        finally:
            self.batch_spans, self.batch_bytes = saved
            self.conn.execute("BEGIN IMMEDIATE")
            sqlite_writer.create_schema(self.conn, self._view_ddl())
            self.conn.execute("COMMIT")
            self.conn.execute("PRAGMA synchronous=NORMAL")  # as sqlite_writer.connect sets it

    def rewind(self, offset: int) -> None:
        """Make rows above `offset` pending again. Re-applying them changes nothing in the views
        (first copy wins, tombstones are idempotent); it repairs views restored from a backup."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            cp = self._checkpoints()
            seg, tomb = min(cp.segments, offset), min(cp.tombstones, offset)
            sqlite_writer.set_meta(self.conn, "segments_checkpoint", seg)
            sqlite_writer.set_meta(self.conn, "tombstones_checkpoint", tomb)
            sqlite_writer.set_meta(self.conn, "checkpoint", max(seg, tomb))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    # -- internals ------------------------------------------------------------------------

    def _quarantine(self, exc: SegmentCorrupted) -> None:
        """Move the unreadable file aside so the rest of the log keeps being applied."""
        from msgtrace.segments.segment_reader import quarantine

        if isinstance(exc, SegmentTooNew) or exc.path is None or not Path(exc.path).exists():
            raise exc
        self.quarantined.append(quarantine(self.data_dir, Path(exc.path), exc.message))

    def _reset(self, *, reader_indexes: bool = True) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        sqlite_writer.drop_schema(self.conn, self._view_tables())
        sqlite_writer.create_schema(self.conn, self._view_ddl())
        if not reader_indexes:
            sqlite_writer.drop_reader_indexes(self.conn)
        self.conn.execute("COMMIT")

    def _view_ddl(self) -> list[str]:
        return [v.ddl for v in self.views if v.ddl]

    def _view_tables(self) -> list[str]:
        return [t for v in self.views for t in v.tables]

    def _checkpoints(self) -> _Checkpoints:
        return _Checkpoints(
            sqlite_writer.get_meta_int(self.conn, "segments_checkpoint"),
            sqlite_writer.get_meta_int(self.conn, "tombstones_checkpoint"),
        )

    def _apply_batch(self, batch: log_source.PlannedBatch | None, planned: _Checkpoints) -> bool:
        """Apply `batch` (or only new tombstones when None). Returns whether anything changed."""
        tombs = log_source.read_tombstones(self.data_dir, planned.tombstones)
        if batch is None and tombs.height == 0:
            return False
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            cp = self._checkpoints()
            if cp.segments != planned.segments or cp.tombstones > planned.tombstones:
                raise _Replan()
            tombs = tombs.filter(pl.col("offset") > cp.tombstones)
            if batch is not None:  # later tombstones wait for their batch (or the final pass)
                tombs = tombs.filter(pl.col("offset") <= batch.last)
            # memory stays bounded: the batch is read and applied chunk by chunk, all in this
            # one transaction (the result does not depend on the chunking)
            chunks = (
                log_source.read_chunks(
                    batch.files, batch.after, batch.last, chunk_bytes=self.chunk_bytes
                )
                if batch is not None
                else iter([log_source.empty_spans()])
            )
            with closing(_prefetched(chunks, self._prepare)) as prepared:
                for i, chunk in enumerate(prepared):
                    self._apply(chunk, tombs if i == 0 else tombs.clear(), cp.segments)
            seg_cp = batch.last if batch is not None else cp.segments
            tomb_cp = max([cp.tombstones, *tombs.get_column("offset").to_list()])
            sqlite_writer.set_meta(conn, "segments_checkpoint", seg_cp)
            sqlite_writer.set_meta(conn, "tombstones_checkpoint", tomb_cp)
            sqlite_writer.set_meta(conn, "checkpoint", max(seg_cp, tomb_cp))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return True

    def _prepare(self, rows: pl.DataFrame, first_row: int = 0) -> _Chunk:
        """What a chunk needs that does not depend on the database: row numbers and the
        normalised spans-table rows (LLM columns and all), computed ahead in a thread."""
        rows = rows.rename({"offset": "log_offset"}).with_row_index("_row", offset=first_row)
        spans, _ = normalise_frame(_segment_to_span(rows.drop("_row")), self.prices)
        return _Chunk(rows, spans)

    def _apply(self, chunk: _Chunk, tombs: pl.DataFrame, seg_cp: int) -> None:
        conn = self.conn
        rows, spans = chunk.rows, chunk.spans
        touched: set[str] = set()
        if tombs.height:
            sqlite_writer.insert_rows(
                conn,
                "tombstones",
                ("log_offset", "trace_id"),
                tombs.rows(),
                verb="INSERT OR IGNORE",
            )
            delete_all = tombs.filter(pl.col("trace_id") == "")
            if delete_all.height and int(delete_all.get_column("offset").max()) > seg_cp:  # type: ignore[arg-type]
                # every stored span is older than this delete-all: drop the views wholesale
                for table in [*_CLEARED_ON_DELETE_ALL, *self._view_tables()]:
                    conn.execute(f'DELETE FROM "{table}"')
                attr_index.clamp(conn)  # no spans left: the attribute index starts over
            late = tombs.filter(pl.col("offset") <= seg_cp)
            if late.height:
                extra = self._prepare(self._reread_after_late(late, seg_cp), rows.height)
                rows = pl.concat([rows, extra.rows])
                spans = pl.concat([spans, extra.spans])
                if (late.get_column("trace_id") == "").any():
                    t = int(late.filter(pl.col("trace_id") == "").get_column("offset").max())  # type: ignore[arg-type]
                    touched.update(
                        r[0]
                        for r in conn.execute(
                            "SELECT DISTINCT trace_id FROM spans WHERE log_offset < ?", (t,)
                        )
                    )
            touched.update(t for t in tombs.get_column("trace_id").to_list() if t)
        touched.update(rows.get_column("trace_id").unique().to_list())
        if not touched:
            return
        sqlite_writer.fill_temp_ids(conn, TOUCHED_TABLE, touched)
        kill = self._kill_offsets()
        rows = _visible(rows, kill)
        rows = rows.sort("log_offset", maintain_order=True).unique(
            ["trace_id", "span_id"], keep="first", maintain_order=True
        )
        old = self._load_state()
        survivors = _visible(old, kill)
        # the lowest visible offset of a span wins, whatever order its copies are read in
        keys = ["trace_id", "span_id"]
        stored = survivors.select(*keys, pl.col("log_offset").alias("_stored"))
        earlier = rows.join(stored, on=keys).filter(pl.col("log_offset") < pl.col("_stored"))
        if earlier.height:
            survivors = survivors.join(earlier.select(keys), on=keys, how="anti")
        fresh_rows = rows.join(survivors.select(keys), on=keys, how="anti").get_column("_row")
        fresh = spans.select(pl.all().gather(fresh_rows))  # spans row i is `_row` i
        unpriced = _unpriced(fresh)

        fresh_state = fresh.with_columns(pl.lit(False).alias("counts_usage")).select(STATE_COLUMNS)
        state = pl.concat([survivors, fresh_state], how="vertical_relaxed")
        state = state.with_columns(traces.counts_usage(state))
        old_summary = traces.summarise(old)
        new_summary = traces.summarise(state)

        self._write_spans(old, survivors, fresh, state)
        self._write_traces(old_summary, new_summary)
        change = TraceChange(old, state, old_summary, new_summary)
        for view in self.views:
            view.apply(conn, change)
        if unpriced:
            self._add_unpriced(unpriced)

    def _reread_after_late(self, late: pl.DataFrame, seg_cp: int) -> pl.DataFrame:
        """Rows a late tombstone may have hidden: copies above it that lost to an older copy."""
        lo = int(late.get_column("offset").min())  # type: ignore[arg-type]
        ids = late.get_column("trace_id").to_list()
        trace_ids = None if "" in ids else sorted(set(ids))
        files = [
            f for f in naming.live_segments(self.data_dir) if lo < f.last and f.first <= seg_cp
        ]
        return log_source.read_spans(files, lo, seg_cp, trace_ids)

    def _kill_offsets(self) -> tuple[pl.DataFrame, int]:
        """Per touched trace: the offset of its latest tombstone (trace or delete-all)."""
        all_row = self.conn.execute(
            "SELECT max(log_offset) FROM tombstones WHERE trace_id = ''"
        ).fetchone()
        kill_all = int(all_row[0]) if all_row and all_row[0] is not None else 0
        per_trace = self.conn.execute(
            f"SELECT t.trace_id, max(t.log_offset) FROM {TOUCHED_TABLE} u "
            "CROSS JOIN tombstones t ON t.trace_id = u.trace_id GROUP BY t.trace_id"
        ).fetchall()
        frame = pl.DataFrame(
            per_trace, schema={"trace_id": pl.String, "_kill": pl.Int64}, orient="row"
        )
        frame = frame.with_columns(pl.max_horizontal("_kill", pl.lit(kill_all)).alias("_kill"))
        return frame, kill_all

    def _load_state(self) -> pl.DataFrame:
        cur = self.conn.execute(
            f"SELECT {', '.join('s.' + c for c in STATE_COLUMNS)} FROM {TOUCHED_TABLE} u "
            "CROSS JOIN spans s ON s.trace_id = u.trace_id"
        )  # CROSS JOIN pins the loop order: without statistics SQLite scans all of spans
        return pl.DataFrame(cur.fetchall(), schema=_STATE_SCHEMA, orient="row").with_columns(
            pl.col("counts_usage").cast(pl.Boolean)
        )

    def _write_spans(
        self, old: pl.DataFrame, survivors: pl.DataFrame, fresh: pl.DataFrame, state: pl.DataFrame
    ) -> None:
        conn = self.conn
        keys = ["trace_id", "span_id"]
        gone = old.join(survivors.select(keys), on=keys, how="anti")
        if gone.height:
            attr_index.forget(conn, gone.select(keys).rows())  # their traces get re-indexed
            conn.executemany(
                "DELETE FROM spans WHERE trace_id = ? AND span_id = ?",
                gone.select(keys).rows(),
            )
            attr_index.clamp(conn)  # before fresh rows take rowids again
        flipped = (
            survivors.select(*keys, pl.col("counts_usage").alias("_was"))
            .join(state.select(*keys, "counts_usage"), on=keys)
            .filter(pl.col("_was") != pl.col("counts_usage"))
        )
        if flipped.height:
            conn.executemany(
                "UPDATE spans SET counts_usage = ? WHERE trace_id = ? AND span_id = ?",
                flipped.select(pl.col("counts_usage").cast(pl.Int64), *keys).rows(),
            )
        if fresh.height:
            flags = fresh.select(keys).join(
                state.select(*keys, "counts_usage"), on=keys, how="left", maintain_order="left"
            )
            counted = fresh.drop("counts_usage", strict=False).hstack([flags["counts_usage"]])
            out = counted.select(
                [
                    pl.col("counts_usage").cast(pl.Int64) if c == "counts_usage" else pl.col(c)
                    for c in SPAN_INSERT_COLUMNS
                ]
            )
            # in key order: each b-tree page of the primary key and the trace-led indexes is
            # visited once per batch instead of once per row
            out = out.sort("trace_id", "span_id")
            sqlite_writer.insert_rows(conn, "spans", SPAN_INSERT_COLUMNS, out.rows())

    def _write_traces(self, old_summary: pl.DataFrame, new_summary: pl.DataFrame) -> None:
        conn = self.conn
        vanished = old_summary.join(new_summary.select("trace_id"), on="trace_id", how="anti")
        if vanished.height:
            conn.executemany(
                "DELETE FROM traces WHERE trace_id = ?", vanished.select("trace_id").rows()
            )
        changed = new_summary.join(
            old_summary, on=list(new_summary.columns), how="anti", nulls_equal=True
        )
        if changed.height:
            now = time.time_ns()
            sqlite_writer.insert_rows(
                conn,
                "traces",
                (*TRACE_COLUMNS, "updated_at"),
                changed.select(*TRACE_COLUMNS, pl.lit(now).alias("updated_at")).rows(),
                verb="INSERT OR REPLACE",
            )

    def _add_unpriced(self, models: set[str]) -> None:
        current = sqlite_writer.get_meta(self.conn, "unpriced_models", "[]") or "[]"
        merged = sorted(set(orjson.loads(current)) | models)
        sqlite_writer.set_meta(self.conn, "unpriced_models", orjson.dumps(merged).decode())


_STATE_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "span_id": pl.String(),
    "parent_span_id": pl.String(),
    "name": pl.String(),
    "start_time": pl.Int64(),
    "end_time": pl.Int64(),
    "status_code": pl.Int64(),
    "service_name": pl.String(),
    "span_type": pl.String(),
    "model": pl.String(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "cached_tokens": pl.Int64(),
    "reasoning_tokens": pl.Int64(),
    "total_tokens": pl.Int64(),
    "cost": pl.Float64(),
    "counts_usage": pl.Int64(),
    "log_offset": pl.Int64(),
    "workflow_name": pl.String(),
    "session_id": pl.String(),
    "user_id": pl.String(),
}


def warm_up(prices: PriceTable | None = None) -> None:
    """Run the column pipeline of `_apply` once on a made-up row, touching no database, so the
    first real batch does not pay for Polars' first-use initialisation (the worker calls it
    while it waits for the first segment)."""
    row = log_source.empty_spans().clear(1).with_columns(
        pl.lit(0).alias("offset"),
        pl.lit("0").alias("trace_id"),
        pl.lit("0").alias("span_id"),
        pl.lit(0).alias("start_time_unix_nano"),
        pl.lit(1).alias("end_time_unix_nano"),
        pl.lit('{"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 1}').alias("attributes"),
    )
    row = row.rename({"offset": "log_offset"})
    fresh, _ = normalise_frame(_segment_to_span(row), prices or PriceTable.load(None))
    state = fresh.with_columns(pl.lit(False).alias("counts_usage")).select(STATE_COLUMNS)
    traces.summarise(state.with_columns(traces.counts_usage(state)))


def _visible(frame: pl.DataFrame, kill: tuple[pl.DataFrame, int]) -> pl.DataFrame:
    """Rows whose offset is above their trace's latest tombstone."""
    per_trace, kill_all = kill
    if per_trace.height == 0:
        return frame.filter(pl.col("log_offset") > kill_all) if kill_all else frame
    return (
        frame.join(per_trace, on="trace_id", how="left", maintain_order="left")
        .filter(pl.col("log_offset") > pl.col("_kill").fill_null(kill_all))
        .drop("_kill")
    )


@dataclass(frozen=True)
class _Chunk:
    """Segment rows (offset renamed log_offset, numbered `_row` from the chunk's first row) and
    their spans-table rows, normalised, in the same order."""

    rows: pl.DataFrame
    spans: pl.DataFrame


def _prefetched(
    chunks: Iterator[pl.DataFrame], prepare: Callable[[pl.DataFrame], _Chunk]
) -> Generator[_Chunk, None, None]:
    """`prepare(c)` for each chunk, the next one read and prepared in a thread while the caller
    applies the current one (Polars and Parquet reads release the GIL): on two cores the read and
    the JSON decoding overlap the SQLite writes. At most one chunk ahead is held."""
    with ThreadPoolExecutor(1, thread_name_prefix="projector-prefetch") as pool:

        def step() -> _Chunk | None:
            chunk = next(chunks, None)
            return None if chunk is None else prepare(chunk)

        future = pool.submit(step)
        while (item := future.result()) is not None:
            future = pool.submit(step)
            yield item


def _unpriced(fresh: pl.DataFrame) -> set[str]:
    """The models of spans with tokens, no cost of their own and no price (`normalise_frame`
    leaves their cost_source null)."""
    needs = fresh.filter(
        pl.col("cost_source").is_null()
        & pl.col("model").is_not_null()
        & (pl.col("input_tokens").is_not_null() | pl.col("output_tokens").is_not_null())
    )
    return set(needs.get_column("model").unique().to_list())


def _segment_to_span(rows: pl.DataFrame) -> pl.DataFrame:
    """Segment column names to spans-table names, with duration and typed integers.

    A span that ends before it starts (as sent; the log keeps it so) is viewed as instantaneous:
    end_time = start_time, so no duration in any view is negative.
    """
    return rows.rename(
        {"start_time_unix_nano": "start_time", "end_time_unix_nano": "end_time"}
    ).with_columns(
        pl.max_horizontal("start_time", "end_time").alias("end_time")
    ).with_columns(
        exact_div(pl.col("end_time") - pl.col("start_time"), 1_000_000).alias("duration_ms"),
        pl.col("kind").cast(pl.Int64),
        pl.col("status_code").cast(pl.Int64),
    )
