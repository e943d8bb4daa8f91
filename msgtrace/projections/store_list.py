"""The trace list's SQL: filters, keyset cursors, bounded counts and distinct-value lookups.

Pure functions over a read connection (ReadStore owns the connections and caches). Every value
reaches SQLite as a parameter; identifiers in the SQL are code constants.
"""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import orjson

from msgtrace.core.errors import QueryError
from msgtrace.core.models import MAX_NS, TraceQueryParams
from msgtrace.projections.attr_index import AttrPlanner
from msgtrace.projections.query import SpanNames, Values, compile_query, text_search_sql
from msgtrace.projections.store_rows import SUMMARY_COLUMNS

T = TypeVar("T")

# sort name -> column; each has an index (column, trace_id) in schema.sql
SORT_COLUMNS = {
    "start_time": "start_time",
    "duration": "duration_ms",
    "span_count": "span_count",
    "tokens": "total_tokens",
    "cost": "cost",
}
_NULLABLE_SORT = {"cost"}
COUNT_CAP = 10_000
COUNT_BUDGET_S = 0.02
CHECK_EVERY = 1000  # SQLite VM steps between deadline checks (`within`)
MAX_DISTINCT_NAMES = 2000
# SUMMARY_COLUMNS by position: summary_dicts unpacks rows in this order
SUMMARY_FIELDS = tuple(name.strip() for name in SUMMARY_COLUMNS.split(","))
_STATUSES = frozenset(("ok", "error", "unset"))


def filter_sql(
    params: TraceQueryParams,
    span_names: SpanNames | None = None,
    *,
    values: Values | None = None,
    attrs: AttrPlanner | None = None,
) -> tuple[list[str], list[Any]]:
    """WHERE clauses (AND-ed) and their parameters for every filter in `params`.

    The resolvers and the planner (see compile_query) must belong to the read transaction the
    clauses run in."""
    where, args = conditions(
        ("workflow_name = ?", params.workflow_name), ("service_name = ?", params.service)
    )
    if params.has_errors is True:
        where.append("error_count > 0")
    elif params.has_errors is False:
        where.append("error_count = 0")
    more, more_args = conditions(
        ("duration_ms >= ?", params.min_duration_ms),
        ("duration_ms <= ?", params.max_duration_ms),
        ("start_time >= ?", params.start_time),
        ("start_time <= ?", params.end_time),
    )
    where += more
    args += more_args
    if params.model is not None:
        # a primary-key probe per candidate trace, (model, start_time, trace_id); LIMIT 1 keeps
        # SQLite from turning it into IN (...) (see query.py)
        where.append(
            "EXISTS (SELECT 1 FROM trace_models m WHERE m.model = ?"
            " AND m.start_time = traces.start_time AND m.trace_id = traces.trace_id LIMIT 1)"
        )
        args.append(params.model)
    more, more_args = conditions(("cost >= ?", params.min_cost))
    where += more
    args += more_args
    if params.search and params.search.strip():
        sql, search_args = text_search_sql(params.search, span_names, values)
        where.append(sql)
        args.extend(search_args)
    if params.q and params.q.strip():
        compiled = compile_query(params.q, span_names=span_names, attrs=attrs, values=values)
        where.append(compiled.sql)
        args.extend(compiled.params)
    return where, args


def summary_dicts(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """`store_rows.summary_dict` of each row of SUMMARY_COLUMNS (plain tuples or sqlite3.Row):
    the same dicts, unpacked by position instead of a name lookup per field (a list page spends
    a quarter of the time of the name lookups)."""
    out = []
    for (
        trace_id, start_time, end_time, duration_ms, root_span_name, workflow_name, service_name,
        status, span_count, error_count, input_tokens, output_tokens, cached_tokens,
        reasoning_tokens, total_tokens, cost, models_json, session_id, user_id, has_root,
        updated_at,
    ) in rows:
        models: Any = []
        if models_json:
            with contextlib.suppress(orjson.JSONDecodeError):
                models = orjson.loads(models_json)
        out.append({
            "trace_id": trace_id,
            "start_time": start_time,
            "end_time": end_time,
            "duration_ms": float(duration_ms),
            "root_span_name": root_span_name,
            "workflow_name": workflow_name,
            "service_name": service_name,
            "status": status if status in _STATUSES else "unset",
            "span_count": span_count,
            "error_count": error_count,
            "input_tokens": input_tokens or 0,
            "output_tokens": output_tokens or 0,
            "cached_tokens": cached_tokens or 0,
            "reasoning_tokens": reasoning_tokens or 0,
            "total_tokens": total_tokens or 0,
            "cost": cost,
            "models": [str(m) for m in models] if isinstance(models, list) else [],
            "session_id": session_id,
            "user_id": user_id,
            "in_progress": not has_root,
            "updated_at": updated_at,
        })
    return out


def loose_scan(conn: sqlite3.Connection, table: str, column: str) -> list[str] | None:
    """The distinct non-NULL values of `column`, one index seek each; None past
    MAX_DISTINCT_NAMES values or when no index leads with the column. Names are code constants."""
    indexed = conn.execute(
        "SELECT 1 FROM pragma_index_list(?) l, pragma_index_info(l.name) i"
        " WHERE i.seqno = 0 AND i.name = ? LIMIT 1",
        (table, column),
    ).fetchone()
    if indexed is None:
        return None
    rows = conn.execute(
        f"WITH RECURSIVE n(v) AS (SELECT min({column}) FROM {table} UNION ALL"
        f" SELECT (SELECT min({column}) FROM {table} WHERE {column} > n.v) FROM n"
        " WHERE n.v IS NOT NULL LIMIT ?) SELECT v FROM n WHERE v IS NOT NULL",
        (MAX_DISTINCT_NAMES + 2,),
    ).fetchall()
    return [r[0] for r in rows] if len(rows) <= MAX_DISTINCT_NAMES else None


def like_filter(conn: sqlite3.Connection, values: list[str], like: str) -> list[str]:
    """The values SQLite's LIKE (ESCAPE '\\') matches: the same test as the scan it replaces."""
    rows = conn.execute(
        "SELECT value FROM json_each(?) WHERE value LIKE ? ESCAPE '\\'",
        (orjson.dumps(values).decode(), like),
    ).fetchall()
    return [r[0] for r in rows]


def sqlite_checkpoint(conn: sqlite3.Connection) -> str | None:
    """The projector's last applied offset in this snapshot (None: not a projector database)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
    return None if row is None else str(row[0])


def count_matches(
    conn: sqlite3.Connection, params: TraceQueryParams, where: list[str], args: list[Any]
) -> tuple[int | None, bool]:
    """(total, exact). Unfiltered lists get SQLite's fast exact count. Filtered ones count the
    matches up to COUNT_CAP through the same indexes as the page, within COUNT_BUDGET_S: a sparse
    filter over a big store would otherwise scan it on every page. (None, False) when the budget
    ran out. The roll-ups are per minute and dimension, about one row per trace on a busy store,
    so summing them is no cheaper than counting."""
    if not where:
        return int(conn.execute("SELECT count(*) FROM traces").fetchone()[0]), True
    used = {
        name
        for name in TraceQueryParams.model_fields
        if name not in ("sort", "order", "limit", "offset", "cursor")
        and getattr(params, name) not in (None, "")
    }

    def count() -> int:
        if "model" in used and used <= {"model", "start_time", "end_time"}:
            # trace_models is keyed (model, start_time, trace_id): an index range
            row = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM trace_models WHERE model = ?"
                " AND start_time BETWEEN ? AND ? LIMIT ?)",
                (
                    params.model,
                    params.start_time if params.start_time is not None else 0,
                    params.end_time if params.end_time is not None else MAX_NS,
                    COUNT_CAP + 1,
                ),
            ).fetchone()
        else:
            row = conn.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM traces WHERE {' AND '.join(where)} LIMIT ?)",
                [*args, COUNT_CAP + 1],
            ).fetchone()
        return int(row[0])

    n = within(conn, COUNT_BUDGET_S, count)
    if n is None:
        return None, False
    return (COUNT_CAP, False) if n > COUNT_CAP else (n, True)


def within(
    conn: sqlite3.Connection,
    budget_s: float,
    fn: Callable[[], T],
    clock: Callable[[], float] = time.perf_counter,
) -> T | None:
    """`fn()`, or None when its statements on `conn` ran past `budget_s` (SQLite interrupts
    them; checked every CHECK_EVERY VM steps)."""
    deadline = clock() + budget_s
    conn.set_progress_handler(lambda: int(clock() > deadline), CHECK_EVERY)
    try:
        return fn()
    except sqlite3.OperationalError as exc:
        if "interrupt" not in str(exc):
            raise
        return None
    finally:
        conn.set_progress_handler(None, 0)


def conditions(*pairs: tuple[str, Any]) -> tuple[list[str], list[Any]]:
    """The clauses (each with one `?`) whose value is not None, and those values."""
    kept = [(sql, value) for sql, value in pairs if value is not None]
    return [sql for sql, _ in kept], [value for _, value in kept]


def keyset(column: str, order: str, value: Any, trace_id: str) -> tuple[str, list[Any]]:
    """Rows strictly after (value, trace_id) in the list order. NULLs sort first ascending."""
    cmp = "<" if order == "desc" else ">"
    if column not in _NULLABLE_SORT:
        return f"({column}, trace_id) {cmp} (?, ?)", [value, trace_id]
    if value is None:
        if order == "desc":  # NULLs come last: only NULLs with a smaller id remain
            return f"({column} IS NULL AND trace_id < ?)", [trace_id]
        return f"(({column} IS NULL AND trace_id > ?) OR {column} IS NOT NULL)", [trace_id]
    if order == "desc":
        return f"(({column}, trace_id) < (?, ?) OR {column} IS NULL)", [value, trace_id]
    return f"({column}, trace_id) > (?, ?)", [value, trace_id]


def encode_cursor(field: str, order: str, value: Any, trace_id: str) -> str:
    raw = orjson.dumps([field, order, value, trace_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, field: str, order: str) -> tuple[Any, str]:
    """(sort value, trace_id) of a cursor; QueryError when it is malformed or for another sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        c_field, c_order, value, trace_id = orjson.loads(raw)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise QueryError("cursor: not a cursor returned by this API") from None
    if (c_field, c_order) != (field, order):
        raise QueryError(f"cursor: it belongs to sort {c_field} {c_order}, not {field} {order}")
    if not isinstance(trace_id, str) or not (value is None or isinstance(value, int | float)):
        raise QueryError("cursor: not a cursor returned by this API")
    return value, trace_id


def live_cursor(updated_at: int, trace_id: str) -> str:
    return f"{updated_at}-{trace_id}"


def parse_live_cursor(cursor: str) -> tuple[int, str]:
    """(updated_at, trace_id) of a live cursor; QueryError when malformed."""
    head, _, trace_id = cursor.partition("-")
    if not head.isdigit():
        raise QueryError("Last-Event-ID: not a cursor sent by /api/v1/live")
    return int(head), trace_id
