"""Analysis routes for the web UI: a compact trace timeline and per-workflow aggregates.

`GET /api/v1/traces/{trace_id}/timeline` is what the waterfall and flame graph draw from: the
trace summary plus one array per column (no attributes, events or prompts), so a 10,000-span
trace is about a sixth of the full detail's bytes and parses in a few milliseconds. Times are
integer nanoseconds relative to `base_time` (the earliest span start), which keeps them exact in
JavaScript numbers. Arrays are index-aligned and sorted by (start, span_id).

`GET /api/v1/workflows/{name}/aggregates` bounds its work: the latest `limit_traces` traces of the
workflow in the range, and at most MAX_AGGREGATE_SPANS of their spans (`spans_truncated` says
when the cap was hit). Everything reads SQLite through read-only connections, values as parameters.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from msgtrace.api.routes_errors import ERROR_RESPONSES, NOT_FOUND_RESPONSES, NotFound, ReadRoute
from msgtrace.core.errors import QueryError
from msgtrace.core.models import MAX_NS, TraceSummary
from msgtrace.projections.store import ReadStore
from msgtrace.projections.store_list import conditions
from msgtrace.projections.store_rows import SUMMARY_COLUMNS, summary_dict

JSON = "application/json"
MAX_AGGREGATE_TRACES = 10_000
MAX_AGGREGATE_SPANS = 500_000
MAX_SPAN_NAMES = 500
HISTOGRAM_BINS = 24

__all__ = ["TraceTimeline", "WorkflowAggregates", "analysis_router"]


class TraceTimeline(BaseModel):
    """A trace's spans as index-aligned columns; `start`/`end` are ns after `base_time`.

    `status_code`: 0 unset, 1 ok, 2 error. `status_message` is only filled for failed spans.
    """

    trace: TraceSummary
    base_time: int
    span_id: list[str]
    parent_span_id: list[str | None]
    name: list[str]
    start: list[int]
    end: list[int]
    status_code: list[int]
    status_message: list[str | None]
    service_name: list[str | None]
    span_type: list[str | None]
    model: list[str | None]
    input_tokens: list[int | None]
    output_tokens: list[int | None]
    total_tokens: list[int | None]
    cost: list[float | None]


class HistogramBin(BaseModel):
    """Traces whose duration is in [lo_ms, hi_ms) (the last bin includes hi_ms)."""

    lo_ms: float
    hi_ms: float
    count: int


class SpanNameStats(BaseModel):
    name: str
    count: int
    error_count: int
    traces: int = Field(description="traces of the sample with at least one such span")
    p50_ms: float
    p95_ms: float
    total_ms: float
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: float | None


class WorkflowAggregates(BaseModel):
    workflow_name: str
    trace_count: int = Field(description="traces in the sample (latest first, up to limit_traces)")
    limit_traces: int
    error_traces: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    histogram: list[HistogramBin]
    spans: list[SpanNameStats] = Field(description="by total time, descending")
    spans_truncated: bool
    total_tokens: int
    cost: float | None


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of an ascending, non-empty list."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_histogram(durations: list[float], bins: int = HISTOGRAM_BINS) -> list[HistogramBin]:
    """Log-spaced bins from the smallest to the largest duration (linear if they are equal or 0)."""
    if not durations:
        return []
    lo, hi = min(durations), max(durations)
    if hi <= lo:
        return [HistogramBin(lo_ms=lo, hi_ms=hi, count=len(durations))]
    use_log = lo > 0
    a, b = (math.log(lo), math.log(hi)) if use_log else (lo, hi)
    edges = [a + (b - a) * i / bins for i in range(bins + 1)]
    if use_log:
        edges = [math.exp(e) for e in edges]
    edges[0], edges[-1] = lo, hi
    counts = [0] * bins
    for d in durations:
        x = math.log(d) if use_log else d
        i = int((x - a) / (b - a) * bins)
        counts[min(max(i, 0), bins - 1)] += 1
    return [
        HistogramBin(lo_ms=edges[i], hi_ms=edges[i + 1], count=counts[i]) for i in range(bins)
    ]


def _norm(trace_id: str) -> str:
    return trace_id.strip().lower()


def _sanitize(text: str) -> str:
    short = text[:64]
    return short if short.isprintable() else repr(short)


def timeline_json(store: ReadStore, trace_id: str) -> bytes | None:
    """The `TraceTimeline` body, or None for an unknown trace."""
    with store.connection() as conn:
        row = conn.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM traces WHERE trace_id = ?", (trace_id,)
        ).fetchone()
        if row is None:
            return None
        rows = conn.execute(
            "SELECT span_id, parent_span_id, name, start_time, end_time, status_code,"
            " CASE WHEN status_code = 2 THEN status_message END, service_name, span_type, model,"
            " input_tokens, output_tokens, total_tokens, cost"
            " FROM spans WHERE trace_id = ? ORDER BY start_time, span_id",
            (trace_id,),
        ).fetchall()
    base = min((r[3] for r in rows), default=row["start_time"])
    cols: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * 14
    body: dict[str, Any] = {
        "trace": summary_dict(row),
        "base_time": base,
        "span_id": cols[0],
        "parent_span_id": [p or None for p in cols[1]],
        "name": cols[2],
        "start": [s - base for s in cols[3]],
        "end": [max(e, s) - base for s, e in zip(cols[3], cols[4], strict=True)],
        "status_code": cols[5],
        "status_message": cols[6],
        "service_name": cols[7],
        "span_type": cols[8],
        "model": cols[9],
        "input_tokens": cols[10],
        "output_tokens": cols[11],
        "total_tokens": cols[12],
        "cost": cols[13],
    }
    return orjson.dumps(body)


def workflow_aggregates(
    store: ReadStore,
    name: str,
    start_time: int | None,
    end_time: int | None,
    limit_traces: int,
) -> WorkflowAggregates:
    """Aggregates over the latest `limit_traces` traces of workflow `name` in [start, end)."""
    where, args = conditions(
        ("workflow_name = ?", name), ("start_time >= ?", start_time), ("start_time < ?", end_time)
    )
    sample = (
        "SELECT trace_id, duration_ms, status, total_tokens, cost FROM traces"
        f" WHERE {' AND '.join(where)} ORDER BY start_time DESC LIMIT ?"
    )
    with store.connection() as conn:
        traces = conn.execute(sample, (*args, limit_traces)).fetchall()
        spans = conn.execute(
            f"WITH sample AS ({sample}) SELECT s.trace_id, s.name, s.duration_ms, s.status_code,"
            " s.input_tokens, s.output_tokens, s.total_tokens, s.cost"
            " FROM sample JOIN spans s ON s.trace_id = sample.trace_id LIMIT ?",
            (*args, limit_traces, MAX_AGGREGATE_SPANS + 1),
        ).fetchall()
    truncated = len(spans) > MAX_AGGREGATE_SPANS
    durations = sorted(float(t[1]) for t in traces)
    groups: dict[str, dict[str, Any]] = {}
    for trace_id, span_name, dur, status, tin, tout, ttot, cost in spans[:MAX_AGGREGATE_SPANS]:
        g = groups.get(span_name)
        if g is None:
            g = groups[span_name] = {
                "d": [], "err": 0, "traces": set(), "in": 0, "out": 0, "tot": 0, "cost": None,
            }
        g["d"].append(float(dur))
        g["err"] += status == 2
        g["traces"].add(trace_id)
        g["in"] += tin or 0
        g["out"] += tout or 0
        g["tot"] += ttot if ttot is not None else (tin or 0) + (tout or 0)
        if cost is not None:
            g["cost"] = (g["cost"] or 0.0) + cost
    stats = []
    for span_name, g in groups.items():
        d = sorted(g["d"])
        stats.append(SpanNameStats(
            name=span_name, count=len(d), error_count=g["err"], traces=len(g["traces"]),
            p50_ms=percentile(d, 0.5), p95_ms=percentile(d, 0.95), total_ms=sum(d),
            input_tokens=g["in"], output_tokens=g["out"], total_tokens=g["tot"], cost=g["cost"],
        ))
    stats.sort(key=lambda s: (-s.total_ms, s.name))
    costs = [float(t[4]) for t in traces if t[4] is not None]
    return WorkflowAggregates(
        workflow_name=name,
        trace_count=len(traces),
        limit_traces=limit_traces,
        error_traces=sum(1 for t in traces if t[2] == "error"),
        p50_ms=percentile(durations, 0.5) if durations else None,
        p95_ms=percentile(durations, 0.95) if durations else None,
        p99_ms=percentile(durations, 0.99) if durations else None,
        max_ms=durations[-1] if durations else None,
        histogram=latency_histogram(durations),
        spans=stats[:MAX_SPAN_NAMES],
        spans_truncated=truncated,
        total_tokens=sum(int(t[3] or 0) for t in traces),
        cost=sum(costs) if costs else None,
    )


def analysis_router(db_path: Path) -> APIRouter:
    """The timeline and aggregate routes over the views database at `db_path` (read-only)."""
    store = ReadStore(db_path)
    router = APIRouter(route_class=ReadRoute, tags=["analysis"])

    @router.get(
        "/api/v1/traces/{trace_id}/timeline",
        response_model=TraceTimeline,
        responses=NOT_FOUND_RESPONSES,
        summary="A trace's spans as compact columns (no attributes), for the waterfall",
    )
    async def get_timeline(trace_id: str) -> Response:
        body = await store.run(timeline_json, store, _norm(trace_id))
        if body is None:
            raise NotFound(f"trace {_sanitize(trace_id)} not found")
        return Response(body, media_type=JSON)

    @router.get(
        "/api/v1/workflows/{name}/aggregates",
        response_model=WorkflowAggregates,
        responses=ERROR_RESPONSES,
        summary="Latency histogram and per-span-name statistics over a workflow's latest traces",
    )
    async def get_aggregates(
        name: str,
        start_time: Annotated[int | None, Query(ge=0, le=MAX_NS, description="ns since the epoch")] = None,
        end_time: Annotated[int | None, Query(ge=0, le=MAX_NS, description="ns since the epoch")] = None,
        limit_traces: Annotated[int, Query(ge=1, le=MAX_AGGREGATE_TRACES)] = 2000,
    ) -> Response:
        if start_time is not None and end_time is not None and end_time <= start_time:
            raise QueryError("end_time: must be after start_time")
        result = await store.run(
            workflow_aggregates, store, name, start_time, end_time, limit_traces
        )
        return Response(result.model_dump_json(), media_type=JSON)

    router.store = store  # type: ignore[attr-defined]  # for tests and shutdown hooks
    return router
