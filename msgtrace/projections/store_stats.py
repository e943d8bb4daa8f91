"""Aggregate reads: stats, time series, usage and facets, from the roll-up tables.

Roll-ups are per minute (trace_rollup, usage_rollup) and per hour (duration_histogram), so time
filters are applied at that granularity: a bucket counts when its start lies in
[start_time, end_time]. Duration percentiles come from the histogram (about 19% wide bins,
interpolated); with a workflow or service filter the histogram cannot answer, so they are computed
from the matching traces (index-assisted) instead.

Long ranges read the coarser copies (`<table>_15m`, `_hour`, `_6h`, `_day`, whose rows are GROUP
BYs of the finest rows): a range is covered by whole days, then whole six hours, hours and quarter
hours, and finest rows at the edges (`_cover`). That selects exactly the finest rows the range
selects, so every answer equals the finest tables' own (REAL sums up to floating-point rounding).
A time series uses a coarser copy only when its bucket is a multiple of the copy's. A database
without the copies (one written by another tool) is read from the finest tables alone.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from msgtrace.projections.store_list import conditions

NS = 1_000_000_000
MINUTE = 60
QUARTER = 900
HOUR = 3600
SIX_HOURS = 21600
DAY = 86400
MAX_POINTS = 2000
USAGE_GROUPS = {"model": "model", "workflow": "workflow_name", "service": "service_name"}
# the coarser copies of each roll-up kept by the projector (apply_rollups.coarser; a test checks
# these names against the views, so this module need not import the projector's)
_COARSER = {QUARTER: "{}_15m", HOUR: "{}_hour", SIX_HOURS: "{}_6h", DAY: "{}_day"}

# (grain seconds, lo, hi): rows of that grain's table with bucket_start in [lo, hi); None = open
Part = tuple[int, int | None, int | None]


def _span(
    start_time: int | None, end_time: int | None, align: int, grain: int
) -> tuple[int | None, int | None]:
    """Bucket starts [lo, hi) in seconds of a table of `grain`-second rows: from `start_time`
    floored to `align`, through the last row starting at or before `end_time`."""
    lo = None if start_time is None else (start_time // NS) // align * align
    hi = None if end_time is None else (end_time // NS) // grain * grain + grain
    return lo, hi


def _cover(lo: int | None, hi: int | None, grains: list[int]) -> list[Part]:
    """Split [lo, hi) (multiples of the finest grain, `grains[-1]`) into parts, coarsest grain
    first: whole buckets of `grains[0]` in the middle, the edges covered by the finer grains.
    Every finest-grain bucket of [lo, hi) lies in exactly one part's buckets."""
    grain, finer = grains[0], grains[1:]
    if not finer or (lo is not None and hi is not None and lo >= hi):
        return [(grains[-1], lo, hi)]
    a = None if lo is None else -(-lo // grain) * grain
    b = None if hi is None else hi // grain * grain
    if a is not None and b is not None and a >= b:
        return _cover(lo, hi, finer)
    parts: list[Part] = []
    if lo is not None and a is not None and lo < a:
        parts += _cover(lo, a, finer)
    parts.append((grain, a, b))
    if hi is not None and b is not None and b < hi:
        parts += _cover(b, hi, finer)
    return parts


def _tables(
    conn: sqlite3.Connection, table: str, grain: int, step: int | None = None
) -> dict[int, str]:
    """{grain seconds: table} for `table` (rows per `grain`) and those of its coarser copies the
    database has; with a time series `step`, only those whose grain divides it."""
    names = {
        g: f.format(table)
        for g, f in _COARSER.items()
        if g > grain and (step is None or step % g == 0)
    }
    present: set[str] = set()
    if names:
        marks = ", ".join("?" for _ in names)
        present = {
            r[0]
            for r in conn.execute(
                f"SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({marks})",
                list(names.values()),
            )
        }
    return {grain: table, **{g: n for g, n in names.items() if n in present}}


def _union(
    tables: dict[int, str],
    parts: list[Part],
    select: str,
    where: list[str],
    args: list[Any],
    group_by: str = "",
) -> tuple[str, list[Any]]:
    """A UNION ALL of `SELECT select FROM <part's table> WHERE where AND <part's range>`."""
    sqls: list[str] = []
    params: list[Any] = []
    for grain, lo, hi in parts:
        bounds, bound_args = conditions(("bucket_start >= ?", lo), ("bucket_start < ?", hi))
        w = [*where, *bounds]
        a = [*args, *bound_args]
        group = f" GROUP BY {group_by}" if group_by else ""
        sqls.append(f"SELECT {select} FROM {tables[grain]} WHERE {_where(w)}{group}")
        params += a
    return " UNION ALL ".join(sqls), params


def _ranged(
    conn: sqlite3.Connection,
    table: str,
    grain: int,
    start_time: int | None,
    end_time: int | None,
    step: int | None = None,
) -> tuple[dict[int, str], list[Part]]:
    """The tables and parts selecting `table`'s rows with bucket_start in [start_time floored to
    `step` (a time series' bucket; else to `grain`), end_time]."""
    tables = _tables(conn, table, grain, step)
    lo, hi = _span(start_time, end_time, step or grain, grain)
    return tables, _cover(lo, hi, sorted(tables, reverse=True))


def _dims(workflow_name: str | None, service: str | None) -> tuple[list[str], list[Any]]:
    return conditions(("workflow_name = ?", workflow_name), ("service_name = ?", service))


def _where(parts: list[str]) -> str:
    return " AND ".join(parts) if parts else "1"


def stats(
    conn: sqlite3.Connection,
    *,
    start_time: int | None = None,
    end_time: int | None = None,
    workflow_name: str | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """Totals, error rate, duration avg/p50/p95/p99, tokens, cost and the data's time range."""
    dw, da = _dims(workflow_name, service)
    tables, parts = _ranged(conn, "trace_rollup", MINUTE, start_time, end_time)
    union, args = _union(
        tables,
        parts,
        "traces, error_traces, spans, errors, duration_ms_sum, input_tokens, output_tokens,"
        " total_tokens, cost, duration_ms_max",
        dw,
        da,
    )
    row = conn.execute(
        "SELECT coalesce(sum(traces), 0), coalesce(sum(error_traces), 0), coalesce(sum(spans), 0),"
        " coalesce(sum(errors), 0), coalesce(sum(duration_ms_sum), 0), coalesce(sum(input_tokens), 0),"
        " coalesce(sum(output_tokens), 0), coalesce(sum(total_tokens), 0), coalesce(sum(cost), 0),"
        f" max(duration_ms_max) FROM ({union})",
        args,
    ).fetchone()
    traces, error_traces, spans, errors, dur_sum, tin, tout, ttotal, cost, dur_max = row
    if workflow_name is None and service is None:
        tables, parts = _ranged(conn, "duration_histogram", HOUR, start_time, end_time)
        union, args = _union(tables, parts, "bin, traces", [], [])
        bins = conn.execute(
            f"SELECT bin, sum(traces) FROM ({union}) GROUP BY bin ORDER BY bin", args
        ).fetchall()
        pcts = _histogram_percentiles([(b, n) for b, n in bins], dur_max)
    else:
        pcts = _exact_percentiles(conn, start_time, end_time, workflow_name, service)
    time_range = _time_range(conn, start_time, end_time)
    return {
        "total_traces": traces,
        "total_spans": spans,
        "error_traces": error_traces,
        "error_count": errors,
        "error_rate": (error_traces / traces) if traces else 0.0,
        "duration_ms": {"avg": (dur_sum / traces) if traces else 0.0, **pcts},
        "tokens": {"input": tin, "output": tout, "total": ttotal},
        "cost": cost,
        "time_range": time_range,
    }


def _time_range(
    conn: sqlite3.Connection, start_time: int | None, end_time: int | None
) -> dict[str, Any]:
    lo = start_time if start_time is not None else 0
    hi = end_time if end_time is not None else 2**62
    first = conn.execute(
        "SELECT start_time FROM traces WHERE start_time BETWEEN ? AND ? ORDER BY start_time LIMIT 1",
        (lo, hi),
    ).fetchone()
    last = conn.execute(
        "SELECT end_time FROM traces WHERE start_time BETWEEN ? AND ? "
        "ORDER BY start_time DESC LIMIT 1",
        (lo, hi),
    ).fetchone()
    return {"start": first[0] if first else None, "end": last[0] if last else None}


def _bin_bounds(b: int) -> tuple[float, float]:
    if b <= 0:
        return 0.0, 2 ** (1 / 4)
    return 2 ** (b / 4), 2 ** ((b + 1) / 4)


def _histogram_percentiles(bins: list[tuple[int, int]], max_ms: float | None) -> dict[str, float]:
    total = sum(n for _, n in bins)
    out: dict[str, float] = {}
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        if total == 0:
            out[name] = 0.0
            continue
        rank = q * total
        seen = 0
        value = 0.0
        for b, n in bins:
            if seen + n >= rank:
                lo, hi = _bin_bounds(b)
                frac = (rank - seen) / n if n else 0.0
                value = lo + (hi - lo) * frac
                break
            seen += n
        if max_ms is not None:
            value = min(value, float(max_ms))
        out[name] = value
    return out


def _exact_percentiles(
    conn: sqlite3.Connection,
    start_time: int | None,
    end_time: int | None,
    workflow_name: str | None,
    service: str | None,
) -> dict[str, float]:
    where, args = _dims(workflow_name, service)
    if start_time is not None:
        where.append("start_time >= ?")
        args.append(start_time)
    if end_time is not None:
        where.append("start_time <= ?")
        args.append(end_time)
    durations = [
        r[0]
        for r in conn.execute(
            f"SELECT duration_ms FROM traces WHERE {_where(where)} ORDER BY duration_ms", args
        )
    ]
    out: dict[str, float] = {}
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        if not durations:
            out[name] = 0.0
        else:
            out[name] = float(durations[min(len(durations) - 1, math.ceil(q * len(durations)) - 1)])
    return out


def auto_bucket(start_s: int, end_s: int) -> int:
    """A bucket of whole minutes giving at most about 120 points over [start_s, end_s]."""
    span = max(end_s - start_s, 60)
    for step in (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800):
        if span / step <= 120:
            return step
    return max(604800, (span // 120) // 86400 * 86400)


def _resolve_bucket(
    conn: sqlite3.Connection,
    table: str,
    bucket: int | None,
    start_time: int | None,
    end_time: int | None,
) -> int:
    if bucket is not None:
        if bucket < 60 or bucket % 60:
            from msgtrace.core.errors import QueryError

            raise QueryError(f"bucket: must be a positive multiple of 60 seconds (got {bucket})")
        step = bucket
    else:
        # min() and max() in separate statements: each is then one index seek (together they scan)
        if start_time is not None:
            start_s = start_time // NS
        else:
            start_s = conn.execute(f"SELECT min(bucket_start) FROM {table}").fetchone()[0] or 0
        if end_time is not None:
            end_s = end_time // NS
        else:
            hi = conn.execute(f"SELECT max(bucket_start) FROM {table}").fetchone()[0]
            end_s = hi if hi is not None else start_s
        step = auto_bucket(start_s, end_s)
    return step


def timeseries(
    conn: sqlite3.Connection,
    *,
    bucket: int | None = None,
    start_time: int | None = None,
    end_time: int | None = None,
    workflow_name: str | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """Traces, errors, duration and tokens per bucket (seconds, multiple of 60), oldest first."""
    step = _resolve_bucket(conn, "trace_rollup", bucket, start_time, end_time)
    dw, da = _dims(workflow_name, service)
    tables, parts = _ranged(conn, "trace_rollup", MINUTE, start_time, end_time, step)
    # grouped per bucket_start first: streams in primary-key order, so the outer sort is small
    union, args = _union(
        tables,
        parts,
        "bucket_start, sum(traces) AS traces, sum(error_traces) AS error_traces,"
        " sum(duration_ms_sum) AS duration_ms_sum, max(duration_ms_max) AS duration_ms_max,"
        " sum(total_tokens) AS total_tokens, sum(cost) AS cost",
        dw,
        da,
        "bucket_start",
    )
    rows = conn.execute(
        "SELECT (bucket_start / ?) * ? AS t, sum(traces), sum(error_traces), sum(duration_ms_sum),"
        " max(duration_ms_max), sum(total_tokens), sum(cost)"
        f" FROM ({union}) GROUP BY t ORDER BY t DESC LIMIT ?",
        [step, step, *args, MAX_POINTS],
    ).fetchall()
    points = [
        {
            "t": t,
            "traces": n,
            "error_traces": e,
            "avg_duration_ms": (d / n) if n else 0.0,
            "max_duration_ms": m or 0.0,
            "total_tokens": tok,
            "cost": c,
        }
        for t, n, e, d, m, tok, c in reversed(rows)
    ]
    return {"bucket_seconds": step, "points": points}


_USAGE_COLUMNS = (
    "calls",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost",
    "unpriced_calls",
    "errors",
    "duration_ms_sum",
)
_USAGE_INNER = ", ".join(f"sum({c}) AS {c}" for c in _USAGE_COLUMNS)
_USAGE_SUMS = (
    "sum(calls), sum(input_tokens), sum(output_tokens), sum(cached_tokens), sum(reasoning_tokens),"
    " sum(total_tokens), sum(cost), sum(unpriced_calls), sum(errors), sum(duration_ms_sum)"
)


def _usage_row(key: str, values: tuple[Any, ...]) -> dict[str, Any]:
    calls, tin, tout, cached, reasoning, total, cost, unpriced, errors, dur = values
    return {
        "key": key,
        "calls": calls,
        "input_tokens": tin,
        "output_tokens": tout,
        "cached_tokens": cached,
        "reasoning_tokens": reasoning,
        "total_tokens": total,
        "cost": cost,
        "unpriced_calls": unpriced,
        "errors": errors,
        "avg_duration_ms": (dur / calls) if calls else 0.0,
    }


def usage(
    conn: sqlite3.Connection,
    *,
    group_by: str = "model",
    bucket: int | None = None,
    start_time: int | None = None,
    end_time: int | None = None,
) -> dict[str, Any]:
    """LLM usage totals per key (biggest cost first) and a time series per key."""
    if group_by not in USAGE_GROUPS:
        from msgtrace.core.errors import QueryError

        raise QueryError(f"group_by: must be one of {', '.join(USAGE_GROUPS)} (got {group_by!r})")
    column = USAGE_GROUPS[group_by]
    step = _resolve_bucket(conn, "usage_rollup", bucket, start_time, end_time)
    tables, parts = _ranged(conn, "usage_rollup", MINUTE, start_time, end_time, step)
    # grouped per (bucket_start, key) first: for the model (the primary key's second column)
    # that streams without a sort, and the outer sort sees a few rows per bucket
    union, args = _union(
        tables,
        parts,
        f"{column} AS k, bucket_start, {_USAGE_INNER}",
        [],
        [],
        "bucket_start, k",
    )
    series_rows = conn.execute(
        f"SELECT k, (bucket_start / ?) * ? AS t, {_USAGE_SUMS} FROM ({union})"
        " GROUP BY k, t ORDER BY k, t",
        [step, step, *args],
    ).fetchall()
    # one pass over the roll-up: totals are the sums of each key's points
    sums: dict[str, list[Any]] = {}
    series: dict[str, list[dict[str, Any]]] = {}
    for r in series_rows:
        values = tuple(v or 0 for v in r[2:])
        series.setdefault(r[0], []).append({**_usage_row(r[0], values), "t": r[1]})
        acc = sums.setdefault(r[0], [0] * len(values))
        for i, v in enumerate(values):
            acc[i] += v
    totals = sorted(
        (_usage_row(k, tuple(v)) for k, v in sums.items()),
        key=lambda row: (-row["cost"], -row["calls"], row["key"]),
    )
    return {
        "group_by": group_by,
        "bucket_seconds": step,
        "totals": totals,
        "series": [{"key": t["key"], "points": series[t["key"]][-MAX_POINTS:]} for t in totals],
    }


FACETS = {
    "workflows": ("trace_rollup", "workflow_name", "sum(traces)"),
    "services": ("trace_rollup", "service_name", "sum(traces)"),
    "models": ("usage_rollup", "model", "sum(calls)"),
}


def facet(conn: sqlite3.Connection, kind: str) -> list[dict[str, Any]]:
    """Distinct names with counts (traces for workflows/services, LLM calls for models)."""
    table, column, count = FACETS[kind]
    tables = _tables(conn, table, MINUTE)
    rows = conn.execute(
        f"SELECT {column}, {count} AS n FROM {tables[max(tables)]} WHERE {column} != '' "
        f"GROUP BY {column} ORDER BY n DESC, {column}"
    ).fetchall()
    return [{"name": name, "count": n} for name, n in rows]
