"""Response models of the read API (docs/api.md), so the OpenAPI schema is complete."""

from __future__ import annotations

from pydantic import BaseModel

from msgtrace.core.models import SpanNode, TraceSummary


class TraceList(BaseModel):
    traces: list[TraceSummary]
    total: int
    next_cursor: str | None
    limit: int
    offset: int
    # false when more than `total` (10,000) traces match and counting stopped there
    total_exact: bool = True


class TraceTree(BaseModel):
    trace_id: str
    roots: list[SpanNode]


class DeleteResult(BaseModel):
    trace_id: str | None
    offset: int


class DurationStats(BaseModel):
    avg: float
    p50: float
    p95: float
    p99: float


class TokenStats(BaseModel):
    input: int
    output: int
    total: int


class TimeRange(BaseModel):
    start: int | None
    end: int | None


class Stats(BaseModel):
    total_traces: int
    total_spans: int
    error_traces: int
    error_count: int
    error_rate: float
    duration_ms: DurationStats
    tokens: TokenStats
    cost: float
    time_range: TimeRange


class TimeseriesPoint(BaseModel):
    t: int
    traces: int
    error_traces: int
    avg_duration_ms: float
    max_duration_ms: float
    total_tokens: int
    cost: float


class Timeseries(BaseModel):
    bucket_seconds: int
    points: list[TimeseriesPoint]


class UsageRow(BaseModel):
    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cost: float
    unpriced_calls: int
    errors: int
    avg_duration_ms: float


class UsagePoint(UsageRow):
    t: int


class UsageSeries(BaseModel):
    key: str
    points: list[UsagePoint]


class Usage(BaseModel):
    group_by: str
    bucket_seconds: int
    totals: list[UsageRow]
    series: list[UsageSeries]


class FacetItem(BaseModel):
    name: str
    count: int


class Facets(BaseModel):
    items: list[FacetItem]


class QueryValidation(BaseModel):
    ok: bool
    error: str | None
    column: int | None
