"""Read-side data models: `Span`, `TraceSummary`, `Trace`, `SpanNode` and `TraceQueryParams`.

These are the shapes of docs/api.md and of the Python API (`SQLiteTraceStorage`). They carry data
already normalised by the projector; nothing here touches SQLite. Importing this module loads
pydantic only (no FastAPI, Polars or pyarrow), because the CLI and user scripts import it.

Times are ns since the Unix epoch; `*_ms` fields are milliseconds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SpanKindName = Literal["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]
StatusCodeName = Literal["UNSET", "OK", "ERROR"]
TraceStatus = Literal["ok", "error", "unset"]
SortField = Literal["start_time", "duration", "span_count", "tokens", "cost"]
SortOrder = Literal["asc", "desc"]

SPAN_KINDS: tuple[SpanKindName, ...] = (
    "UNSPECIFIED",
    "INTERNAL",
    "SERVER",
    "CLIENT",
    "PRODUCER",
    "CONSUMER",
)
STATUS_CODES: tuple[StatusCodeName, ...] = ("UNSET", "OK", "ERROR")
SORT_FIELDS: tuple[str, ...] = ("start_time", "duration", "span_count", "tokens", "cost")
MAX_LIMIT = 1000
MAX_NS = 2**63 - 1  # times are int64 ns in the views
MAX_OFFSET = 2**62
SORT_PATTERN = r"^[-+]?(start_time|duration|span_count|tokens|cost)$"


class SpanStatus(BaseModel):
    code: StatusCodeName = "UNSET"
    message: str | None = None


class SpanEvent(BaseModel):
    name: str
    timestamp: int
    attributes: dict[str, Any] = Field(default_factory=dict)


class SpanLink(BaseModel):
    trace_id: str
    span_id: str
    trace_state: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class SpanScope(BaseModel):
    name: str | None = None
    version: str | None = None


class LLMUsage(BaseModel):
    """Normalised LLM facts of one span; `cost` is None when unknown (never a made-up 0)."""

    model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    cost_source: Literal["span", "computed"] | None = None
    counts_usage: bool = False


class Span(BaseModel):
    """One span as stored in the views. `status` is an object {code, message}."""

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str
    kind: SpanKindName = "INTERNAL"
    start_time: int
    end_time: int
    duration_ms: float = 0.0
    status: SpanStatus = Field(default_factory=SpanStatus)
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[SpanEvent] = Field(default_factory=list)
    links: list[SpanLink] = Field(default_factory=list)
    resource_attributes: dict[str, Any] = Field(default_factory=dict)
    service_name: str | None = None
    scope: SpanScope = Field(default_factory=SpanScope)
    span_type: str | None = None
    llm: LLMUsage | None = None


class SpanNode(Span):
    """A span with its children, ordered by start time."""

    children: list[SpanNode] = Field(default_factory=list)


class TraceSummary(BaseModel):
    """One row of the trace list. `in_progress` is true while the root span has not arrived."""

    trace_id: str
    start_time: int
    end_time: int
    duration_ms: float
    root_span_name: str | None = None
    workflow_name: str | None = None
    service_name: str | None = None
    status: TraceStatus = "unset"
    span_count: int = 0
    error_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None
    models: list[str] = Field(default_factory=list)
    session_id: str | None = None
    user_id: str | None = None
    in_progress: bool = False
    updated_at: int = 0


class Trace(TraceSummary):
    """A trace summary plus its spans, sorted by start time."""

    spans: list[Span] = Field(default_factory=list)

    def build_span_tree(self) -> list[SpanNode]:
        """Root nodes with nested children, each level sorted by (start_time, span_id).

        Robust to broken data: a span whose parent is missing, that names itself as parent, or
        whose ancestry loops becomes a root (a cycle is broken at its earliest span). A duplicate
        span_id keeps its first occurrence. Every distinct span appears exactly once.
        """
        return build_span_tree(self.spans)


def build_span_tree(spans: list[Span]) -> list[SpanNode]:
    """See `Trace.build_span_tree`; iterative, so a 10,000-deep chain cannot overflow the stack."""
    ordered = sorted(spans, key=lambda s: (s.start_time, s.span_id))
    unique: dict[str, Span] = {}
    for span in ordered:
        unique.setdefault(span.span_id, span)
    items = list(unique.values())
    roots, children = tree_links([s.span_id for s in items], [s.parent_span_id for s in items])
    nodes = [
        SpanNode.model_construct(
            **{name: getattr(s, name) for name in Span.model_fields}, children=[]
        )
        for s in items
    ]
    for i, kids in enumerate(children):
        nodes[i].children.extend(nodes[k] for k in kids)
    return [nodes[r] for r in roots]


def tree_links(ids: list[str], parents: list[str | None]) -> tuple[list[int], list[list[int]]]:
    """Root indices and per-index child indices for spans given in display order.

    `ids` must be distinct. A span whose parent is missing, itself, or part of a loop of parents
    becomes a root (a loop is cut at its first span in the given order). Children keep the input
    order, so input sorted by start time gives children sorted by start time.
    """
    index = {sid: i for i, sid in enumerate(ids)}
    parent_of: list[int | None] = []
    for i, parent_id in enumerate(parents):
        j = index.get(parent_id) if parent_id else None
        parent_of.append(j if j is not None and j != i else None)
    state = [0] * len(ids)  # 0 unvisited, 1 on the current walk, 2 done
    for first in range(len(ids)):
        path: list[int] = []
        cur: int | None = first
        while cur is not None and state[cur] == 0:
            state[cur] = 1
            path.append(cur)
            cur = parent_of[cur]
        if cur is not None and state[cur] == 1:
            loop = path[path.index(cur) :]
            parent_of[min(loop)] = None
        for i in path:
            state[i] = 2
    roots: list[int] = []
    children: list[list[int]] = [[] for _ in ids]
    for i, parent in enumerate(parent_of):
        if parent is None:
            roots.append(i)
        else:
            children[parent].append(i)
    return roots, children


def parse_sort(sort: str | None, order: str | None) -> tuple[str, str]:
    """Normalise `sort`/`order` ("-duration" means duration desc); raises ValueError naming it."""
    field = sort or "start_time"
    direction = order
    if field.startswith("-"):
        field, direction = field[1:], direction or "desc"
    elif field.startswith("+"):
        field, direction = field[1:], direction or "asc"
    if field not in SORT_FIELDS:
        raise ValueError(f"sort must be one of {', '.join(SORT_FIELDS)} (got {sort!r})")
    direction = direction or "desc"
    if direction not in ("asc", "desc"):
        raise ValueError(f"order must be asc or desc (got {order!r})")
    return field, direction


class TraceQueryParams(BaseModel):
    """Filters, sort and page of a trace list; every filter is optional and they combine with AND.

    `start_time`/`end_time` (ns) bound the trace start. `search` is free text (trace id prefix,
    workflow, service, root and span names); `q` is the query language (docs/query-language.md).
    `cursor` (from a previous page's `next_cursor`) takes precedence over `offset`.
    """

    model_config = ConfigDict(extra="forbid")

    workflow_name: str | None = None
    service: str | None = None
    has_errors: bool | None = None
    min_duration_ms: float | None = Field(default=None, ge=0)
    max_duration_ms: float | None = Field(default=None, ge=0)
    start_time: int | None = Field(default=None, ge=0, le=MAX_NS)
    end_time: int | None = Field(default=None, ge=0, le=MAX_NS)
    model: str | None = None
    min_cost: float | None = Field(default=None, ge=0)
    search: str | None = None
    q: str | None = None
    sort: str = "start_time"
    order: SortOrder | None = None
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    cursor: str | None = None

    @field_validator("sort")
    @classmethod
    def _check_sort(cls, value: str) -> str:
        parse_sort(value, None)
        return value

    @property
    def sort_key(self) -> tuple[str, str]:
        """(field, "asc"|"desc") after resolving the "-field" shorthand."""
        return parse_sort(self.sort, self.order)


__all__ = [
    "MAX_LIMIT",
    "MAX_NS",
    "MAX_OFFSET",
    "SORT_FIELDS",
    "SORT_PATTERN",
    "LLMUsage",
    "Span",
    "SpanEvent",
    "SpanLink",
    "SpanNode",
    "SpanScope",
    "SpanStatus",
    "Trace",
    "TraceQueryParams",
    "TraceSummary",
    "build_span_tree",
    "parse_sort",
    "tree_links",
]
