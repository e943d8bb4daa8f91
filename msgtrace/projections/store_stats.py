"""Aggregate reads: stats, time series, usage and facets, from the roll-up tables.

Roll-ups are per minute (trace_rollup, usage_rollup) and per hour (duration_histogram), so time
filters are applied at that granularity: a bucket counts when its start lies in
[start_time, end_time]. Duration percentiles come from the histogram (about 19% wide bins,
interpolated); with a workflow or service filter the histogram cannot answer, so they are computed
from the matching traces (index-assisted) instead.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

NS = 1_000_000_000
MAX_POINTS = 2000
USAGE_GROUPS = {"model": "model", "workflow": "workflow_name", "service": "service_name"}


def _bucket_range(
    start_time: int | None, end_time: int | None, step: int
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if start_time is not None:
        where.append("bucket_start >= ?")
        args.append((start_time // NS) // step * step)
    if end_time is not None:
        where.append("bucket_start <= ?")
        args.append(end_time // NS)
    return where, args


def _dims(workflow_name: str | None, service: str | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if workflow_name is not None:
        where.append("workflow_name = ?")
        args.append(workflow_name)
    if service is not None:
        where.append("service_name = ?")
        args.append(service)
    return where, args


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
    tw, ta = _bucket_range(start_time, end_time, 60)
    dw, da = _dims(workflow_name, service)
    row = conn.execute(
        "SELECT coalesce(sum(traces), 0), coalesce(sum(error_traces), 0), coalesce(sum(spans), 0),"
        " coalesce(sum(errors), 0), coalesce(sum(duration_ms_sum), 0), coalesce(sum(input_tokens), 0),"
        " coalesce(sum(output_tokens), 0), coalesce(sum(total_tokens), 0), coalesce(sum(cost), 0),"
        " max(duration_ms_max)"
        f" FROM trace_rollup WHERE {_where(tw + dw)}",
        [*ta, *da],
    ).fetchone()
    traces, error_traces, spans, errors, dur_sum, tin, tout, ttotal, cost, dur_max = row
    if workflow_name is None and service is None:
        hw, ha = _bucket_range(start_time, end_time, 3600)
        bins = conn.execute(
            f"SELECT bin, sum(traces) FROM duration_histogram WHERE {_where(hw)} GROUP BY bin ORDER BY bin",
            ha,
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
    tw, ta = _bucket_range(start_time, end_time, step)
    dw, da = _dims(workflow_name, service)
    rows = conn.execute(
        "SELECT (bucket_start / ?) * ? AS t, sum(traces), sum(error_traces), sum(duration_ms_sum),"
        " max(duration_ms_max), sum(total_tokens), sum(cost)"
        f" FROM trace_rollup WHERE {_where(tw + dw)} GROUP BY t ORDER BY t DESC LIMIT ?",
        [step, step, *ta, *da, MAX_POINTS],
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
    tw, ta = _bucket_range(start_time, end_time, step)
    series_rows = conn.execute(
        f"SELECT {column} AS k, (bucket_start / ?) * ? AS t, {_USAGE_SUMS} FROM usage_rollup"
        f" WHERE {_where(tw)} GROUP BY k, t ORDER BY k, t",
        [step, step, *ta],
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
    rows = conn.execute(
        f"SELECT {column}, {count} AS n FROM {table} WHERE {column} != '' "
        f"GROUP BY {column} ORDER BY n DESC, {column}"
    ).fetchall()
    return [{"name": name, "count": n} for name, n in rows]
