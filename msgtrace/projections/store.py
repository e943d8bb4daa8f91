"""The read store: every read query over the SQLite views (schema.sql), on read-only connections.

`ReadStore(db_path)` never writes: connections open `file:<path>?mode=ro` and the projector (the
one writer) keeps the database in WAL mode, so reads never block it. Methods are synchronous and
thread-safe (a small pool of connections); async callers use `await store.run(store.method, ...)`,
which runs the call in a worker thread so an event loop never blocks on SQLite. One exception,
`await store.list_json(params)`: an unfiltered first page of a small store (`runs_inline`) is
answered on the caller's thread, a bounded fraction of a millisecond that costs less than the
round trip through a worker thread.

A missing database file reads as an empty store (the projector has not created it yet).
Every value reaches SQLite as a parameter. Aggregates (stats, usage, facets) live in
store_stats.py and read the roll-up tables, never a scan of all traces.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

import orjson

from msgtrace.core.models import Span, Trace, TraceQueryParams, TraceSummary
from msgtrace.projections import store_stats
from msgtrace.projections.attr_index import AttrPlanner
from msgtrace.projections.query import (
    SEARCH_COLUMNS,
    SpanNames,
    Values,
)
from msgtrace.projections.store_list import (
    SORT_COLUMNS,
    SUMMARY_FIELDS,
    count_matches,
    decode_cursor,
    encode_cursor,
    filter_sql,
    keyset,
    like_filter,
    live_cursor,
    loose_scan,
    parse_live_cursor,
    sqlite_checkpoint,
    summary_dicts,
)
from msgtrace.projections.store_rows import (
    BODY_CACHE,
    SPAN_COLUMNS,
    SUMMARY_COLUMNS,
    projector_version,
    segment_row,
    span_dict,
    span_from_row,
    summary_dict,
    summary_from_row,
    trace_json,
    trace_span_bodies,
    tree_json,
)
from msgtrace.projections.store_window import (
    budgeted_rows,
    page_candidates,
    windowed_rows,
)

P = ParamSpec("P")
T = TypeVar("T")

AGGREGATE_CACHE_SIZE = 128
NAMES_TTL_S = 30.0
# a sparse newest-first query: how long the sort-index walk may run before the time windows try
# (store_window.py), and how long those may run before the walk runs to the end
WALK_BUDGET_S = 0.01
WINDOW_BUDGET_S = 0.06
# list_json answers on the event loop only within these bounds: at most this many traces when the
# store was last counted (an unfiltered count reads the smallest index page by page, tens of
# microseconds here), and a page of at most INLINE_MAX_LIMIT rows after at most INLINE_MAX_OFFSET
INLINE_MAX_TRACES = 50_000
INLINE_MAX_LIMIT = 100
INLINE_MAX_OFFSET = 100
# TraceQueryParams fields that page rather than filter
PAGING_FIELDS = frozenset(("sort", "order", "limit", "offset", "cursor"))
FILTER_FIELDS = tuple(name for name in TraceQueryParams.model_fields if name not in PAGING_FIELDS)


@dataclass(frozen=True)
class TracePage:
    """One page of the trace list; `next_cursor` is None on the last page."""

    traces: list[TraceSummary]
    total: int
    next_cursor: str | None
    limit: int
    offset: int
    total_exact: bool = True


@dataclass(frozen=True)
class Change:
    """A trace created or updated after a live cursor; `cursor` resumes right after it."""

    cursor: str
    trace: TraceSummary


def _schema_sql() -> str:
    return resources.files("msgtrace.projections").joinpath("schema.sql").read_text()


class ReadStore:
    """Read-only access to the projector's SQLite views. Safe to share between threads."""

    def __init__(self, db_path: str | Path, *, pool_size: int = 4) -> None:
        self.db_path = Path(db_path)
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._closed = False
        self._names_cache: tuple[float, list[str] | None] | None = None
        # column -> (projector checkpoint, distinct values or None)
        self._values_cache: dict[str, tuple[str, list[str] | None]] = {}
        self._aggregates: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}
        self._identity: tuple[int, int] | None = None  # (device, inode) the pool was opened on
        self._traces_counted: int | None = None  # the last unfiltered count (runs_inline)

    # -- connections ----------------------------------------------------------------------------
    def _connect(self) -> tuple[sqlite3.Connection, bool]:
        """A connection and whether it may go back to the pool (the empty fallback may not)."""
        if self.db_path.exists():
            uri = f"file:{quote(str(self.db_path.resolve()))}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA query_only = 1")
            has_views = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'traces'"
            ).fetchone()
            if has_views:
                return conn, True
            conn.close()
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.executescript(_schema_sql())
        return conn, False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection inside one read transaction (a consistent snapshot)."""
        if self._closed:
            raise RuntimeError("ReadStore is closed")
        self._follow_replacement()
        try:
            conn, poolable = self._pool.get_nowait(), True
        except queue.Empty:
            conn, poolable = self._connect()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error:
            conn.close()  # a connection that failed is not reused
            raise
        except BaseException:
            self._release(conn, poolable)
            raise
        self._release(conn, poolable)

    def _follow_replacement(self) -> None:
        """Drop pooled connections when the database file was replaced or removed (a rebuild from
        the log after corruption or deletion), so readers see the new file, not the old inode."""
        try:
            st = os.stat(self.db_path)
            identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:
            identity = None
        if identity == self._identity:
            return
        with self._lock:
            self._identity = identity
            self._traces_counted = None
            self._aggregates.clear()
            while True:
                try:
                    self._pool.get_nowait().close()
                except queue.Empty:
                    break

    def _release(self, conn: sqlite3.Connection, poolable: bool) -> None:
        if poolable and not self._closed and self._pool.qsize() < self._pool_size:
            self._pool.put(conn)
        else:
            conn.close()

    def close(self) -> None:
        """Close pooled connections; calls after close raise RuntimeError."""
        self._closed = True
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                break

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a store method in a worker thread (the event loop never blocks on SQLite)."""
        import functools

        import anyio.to_thread

        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    # -- traces ---------------------------------------------------------------------------------
    def list_traces(self, params: TraceQueryParams) -> TracePage:
        """Filtered, sorted page with a total count; keyset `cursor` wins over `offset`.

        `total` is exact when `total_exact`; otherwise it is a lower bound: COUNT_CAP when more
        traces match, or what the page proves when counting ran past COUNT_BUDGET_S.
        """
        rows, page = self._list_page(params)
        return TracePage(
            traces=[TraceSummary.model_construct(**d) for d in summary_dicts(rows)], **page
        )

    def list_traces_json(self, params: TraceQueryParams) -> bytes:
        """`GET /traces` body: the `list_traces` page as JSON, without building models."""
        rows, page = self._list_page(params)
        return orjson.dumps({"traces": summary_dicts(rows), **page})

    async def list_json(self, params: TraceQueryParams) -> bytes:
        """`list_traces_json(params)`: on the calling thread when `runs_inline(params)`, else in
        a worker thread like `run`."""
        if self.runs_inline(params):
            return self.list_traces_json(params)
        return await self.run(self.list_traces_json, params)

    def runs_inline(self, params: TraceQueryParams) -> bool:
        """Whether the list page is small and bounded enough for an event loop: no filter and no
        cursor, limit and offset within INLINE_MAX_LIMIT/INLINE_MAX_OFFSET, and a database that
        held between 1 and INLINE_MAX_TRACES traces when last counted (never counted, replaced
        since, or empty, which includes a file the projector has not given its tables yet: no).
        The count it relies on is the previous one: a store that grew past the bound in between
        pays one inline count before the next call moves off."""
        counted = self._traces_counted
        return (
            counted is not None
            and 0 < counted <= INLINE_MAX_TRACES
            and self._identity is not None
            and params.cursor is None
            and params.limit <= INLINE_MAX_LIMIT
            and params.offset <= INLINE_MAX_OFFSET
            and all(getattr(params, name) is None for name in FILTER_FIELDS)
        )

    def _list_page(
        self, params: TraceQueryParams
    ) -> tuple[Sequence[Sequence[Any]], dict[str, Any]]:
        """The page's rows (SUMMARY_COLUMNS in order, for summary_dicts) and its other TracePage
        fields."""
        with self.connection() as conn:
            names, values = self._span_names_resolver(conn), self._values_resolver(conn)
            where, args = filter_sql(params, names, values=values, attrs=AttrPlanner(conn))
            field, order = params.sort_key
            column = SORT_COLUMNS[field]
            direction = "DESC" if order == "desc" else "ASC"
            page_where = list(where)
            page_args = list(args)
            offset = params.offset
            if params.cursor:
                value, trace_id = decode_cursor(params.cursor, field, order)
                clause, cargs = keyset(column, order, value, trace_id)
                page_where.append(clause)
                page_args.extend(cargs)
                offset = 0
            sql = (
                f"SELECT {SUMMARY_COLUMNS} FROM traces WHERE {' AND '.join(page_where) or '1'} "
                f"ORDER BY {column} {direction}, trace_id {direction} LIMIT ? OFFSET ?"
            )
            page_args += [params.limit + 1, offset]
            rows = None
            walked = True
            window = page_candidates(params, names, values)
            if window is not None:
                # a sparse query: the walk stops early, or the windows answer (store_window.py)
                rows = budgeted_rows(conn, sql, page_args, WALK_BUDGET_S)
                walked = rows is not None
                if rows is None:
                    rows = windowed_rows(
                        conn,
                        window,
                        select=SUMMARY_COLUMNS,
                        where=page_where,
                        args=page_args[:-2],
                        rows_needed=params.limit + 1,
                        offset=offset,
                        budget_s=WINDOW_BUDGET_S,
                    )
            if rows is None:
                cursor = conn.cursor()
                cursor.row_factory = None  # plain tuples: summary_dicts reads them by position
                rows = cursor.execute(sql, page_args).fetchall()
            # a walk past its budget means sparse matches: counting them would walk further
            counted, exact = count_matches(conn, params, where, args) if walked else (None, False)
            if not where:
                self._traces_counted = counted
        more = len(rows) > params.limit
        rows = rows[: params.limit]
        # past the count budget: a lower bound from what the page proves
        total = (
            counted
            if counted is not None
            else params.offset * (not params.cursor) + len(rows) + more
        )
        next_cursor = None
        if more and rows:
            last = rows[-1]
            next_cursor = encode_cursor(
                field, order, last[SUMMARY_FIELDS.index(column)], last[0]
            )
        return rows, {
            "total": total,
            "next_cursor": next_cursor,
            "limit": params.limit,
            "offset": params.offset,
            "total_exact": exact,
        }

    def _filters(
        self, conn: sqlite3.Connection, params: TraceQueryParams
    ) -> tuple[list[str], list[Any]]:
        """filter_sql with the resolvers and the attribute planner of this snapshot."""
        return filter_sql(
            params,
            self._span_names_resolver(conn),
            values=self._values_resolver(conn),
            attrs=AttrPlanner(conn),
        )

    def _values_resolver(self, conn: sqlite3.Connection) -> Values:
        """Distinct values of a free-text traces column matching a LIKE pattern, from a loose
        scan of the column's index cached until the projector's checkpoint moves (so a value is
        never missed). None (the caller keeps its LIKE) past MAX_DISTINCT_NAMES values. The
        checkpoint is read on first use: most lists search no free text."""
        versions: list[str | None] = []

        def resolve(column: str, like: str) -> list[str] | None:
            if column not in SEARCH_COLUMNS:
                raise ValueError(f"not a free-text column: {column}")
            if not versions:
                versions.append(sqlite_checkpoint(conn))
            version = versions[0]
            with self._lock:
                cached = self._values_cache.get(column)
            if cached is None or version is None or cached[0] != version:
                cached = (version or "", loose_scan(conn, "traces", column))
                with self._lock:
                    self._values_cache[column] = cached
            return None if cached[1] is None else like_filter(conn, cached[1], like)

        return resolve

    def _span_names_resolver(self, conn: sqlite3.Connection) -> SpanNames:
        """Distinct span names matching a LIKE pattern, from a cached loose scan of spans_name_time.

        Returns None (unknown: fall back to LIKE over spans) when there are more than
        MAX_DISTINCT_NAMES names. The cache lives NAMES_TTL_S seconds.
        """

        def resolve(like: str) -> list[str] | None:
            now = time.monotonic()
            cached = self._names_cache
            if cached is None or now - cached[0] >= NAMES_TTL_S:
                cached = self._names_cache = (now, loose_scan(conn, "spans", "name"))
            return None if cached[1] is None else like_filter(conn, cached[1], like)

        return resolve

    def _trace_parts(
        self, trace_id: str, *, raw: bool
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """(summary dict, span dicts sorted by (start_time, span_id)) or None."""
        with self.connection() as conn:
            row = conn.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM traces WHERE trace_id = ?", (trace_id,)
            ).fetchone()
            if row is None:
                return None
            spans = conn.execute(
                f"SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ? ORDER BY start_time, span_id",
                (trace_id,),
            ).fetchall()
        return summary_dict(row), [span_dict(s, raw=raw) for s in spans]

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with every span sorted by (start_time, span_id), or None."""
        parts = self._trace_parts(trace_id, raw=False)
        if parts is None:
            return None
        summary, spans = parts
        return Trace.model_validate({**summary, "spans": spans})

    def _detail_body(self, trace_id: str, kind: str) -> bytes | None:
        """The "trace" (detail) or "tree" body, or None when the trace does not exist.

        Bodies are kept in BODY_CACHE under (file identity, projector checkpoints, the trace's
        updated_at and span_count), read in the same transaction as the lookup: any projector
        commit moves a checkpoint, so a cached body is never older than this snapshot. Without
        checkpoints (a database the projector did not write) nothing is cached.
        """
        with self.connection() as conn:
            row = conn.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM traces WHERE trace_id = ?", (trace_id,)
            ).fetchone()
            if row is None:
                return None
            version = projector_version(conn)
            key = None
            if version:
                key = (
                    str(self.db_path),
                    self._identity,
                    version,
                    row["updated_at"],
                    row["span_count"],
                    kind,
                    trace_id,
                )
                cached = BODY_CACHE.get(key)
                if cached is not None:
                    return cached
            ids, parents, bodies = trace_span_bodies(conn, trace_id)
        if kind == "tree":
            body = tree_json(trace_id, ids, parents, bodies)
        else:
            body = trace_json(summary_dict(row), bodies)
        if key is not None:
            BODY_CACHE.put(key, body)
        return body

    def get_trace_json(self, trace_id: str) -> bytes | None:
        """`GET /traces/{id}` body: the Trace as JSON, span objects built by SQLite."""
        return self._detail_body(trace_id, "trace")

    def get_tree_json(self, trace_id: str) -> bytes | None:
        """`GET /traces/{id}/tree` body: {"trace_id", "roots": [span + "children"]} (tree_links rules)."""
        return self._detail_body(trace_id, "tree")

    def get_span(self, trace_id: str, span_id: str) -> Span | None:
        with self.connection() as conn:
            row = conn.execute(
                f"SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ? AND span_id = ?",
                (trace_id, span_id),
            ).fetchone()
        return span_from_row(row) if row is not None else None

    def trace_exists(self, trace_id: str) -> bool:
        with self.connection() as conn:
            return (
                conn.execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
                is not None
            )

    def resolve_trace_id(self, prefix: str) -> list[str]:
        """Trace ids starting with `prefix` (lowercased); at most 2, enough to tell unique."""
        prefix = prefix.strip().lower()
        if not prefix:
            return []
        upper = prefix + "\uffff"
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT trace_id FROM traces WHERE trace_id >= ? AND trace_id < ? "
                "ORDER BY trace_id LIMIT 2",
                (prefix, upper),
            ).fetchall()
        return [r[0] for r in rows]

    def export_rows(self, trace_id: str) -> list[dict[str, Any]]:
        """The trace's spans as segment rows (schema.py names), for OTLP export."""
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ? ORDER BY start_time, span_id",
                (trace_id,),
            ).fetchall()
        return [segment_row(r) for r in rows]

    def iter_summaries(self, params: TraceQueryParams, *, max_rows: int) -> list[TraceSummary]:
        """Up to `max_rows` summaries matching the filters in the requested order (list export)."""
        field, order = params.sort_key
        column = SORT_COLUMNS[field]
        direction = "DESC" if order == "desc" else "ASC"
        with self.connection() as conn:
            where, args = self._filters(conn, params)
            sql = (
                f"SELECT {SUMMARY_COLUMNS} FROM traces WHERE {' AND '.join(where) or '1'} "
                f"ORDER BY {column} {direction}, trace_id {direction} LIMIT ? OFFSET ?"
            )
            rows = conn.execute(sql, [*args, max_rows, params.offset]).fetchall()
        return [summary_from_row(r) for r in rows]

    # -- live -----------------------------------------------------------------------------------
    def latest_cursor(self) -> str:
        """The cursor of the newest change, so a subscriber can start from "now"."""
        with self.connection() as conn:
            row = conn.execute(
                "SELECT updated_at, trace_id FROM traces ORDER BY updated_at DESC, trace_id DESC LIMIT 1"
            ).fetchone()
        return live_cursor(row[0], row[1]) if row else live_cursor(0, "")

    def changes_since(self, cursor: str | None, *, limit: int = 500) -> list[Change]:
        """Traces whose (updated_at, trace_id) is after `cursor`, oldest first."""
        updated_at, trace_id = parse_live_cursor(cursor) if cursor else (0, "")
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM traces WHERE updated_at >= ? "
                "AND (updated_at > ? OR trace_id > ?) ORDER BY updated_at, trace_id LIMIT ?",
                (updated_at, updated_at, trace_id, limit),
            ).fetchall()
        return [
            Change(live_cursor(r["updated_at"], r["trace_id"]), summary_from_row(r)) for r in rows
        ]

    # -- aggregates (store_stats.py) ------------------------------------------------------------
    def stats(self, **filters: Any) -> dict[str, Any]:
        return self._aggregate(store_stats.stats, **filters)

    def timeseries(self, **filters: Any) -> dict[str, Any]:
        return self._aggregate(store_stats.timeseries, **filters)

    def usage(self, **filters: Any) -> dict[str, Any]:
        return self._aggregate(store_stats.usage, **filters)

    def facet(self, kind: str) -> list[dict[str, Any]]:
        return self._aggregate(store_stats.facet, kind)

    def _aggregate(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run an aggregate, memoised per projector checkpoint.

        The projector commits its checkpoints (meta '*checkpoint' rows) in the same transaction
        as the rows they describe, so an unchanged checkpoint means unchanged roll-ups: a
        dashboard polling an idle store reads each answer once. Without checkpoints (a database
        not written by the projector) nothing is cached. Results are shared: do not mutate them.
        """
        with self.connection() as conn:
            version = tuple(
                conn.execute(
                    "SELECT key, value FROM meta WHERE key LIKE '%checkpoint' ORDER BY key"
                ).fetchall()
            )
            key = (fn.__name__, args, tuple(sorted(kwargs.items())))
            if version:
                with self._lock:
                    hit = self._aggregates.get(key)
                    if hit is not None and hit[0] == version:
                        return hit[1]
            result = fn(conn, *args, **kwargs)
        if version:
            with self._lock:
                if len(self._aggregates) >= AGGREGATE_CACHE_SIZE:
                    self._aggregates.pop(next(iter(self._aggregates)))
                self._aggregates[key] = (version, result)
        return result
