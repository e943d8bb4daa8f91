"""Build the SQLite views (schema.sql) directly, the way the projector would, for read-side tests.

`ViewsBuilder.add_trace` takes spans as dicts, computes the trace summary, trace_models and the
roll-ups from them (a simplified projector: enough to test every read query against real SQLite).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

NS = 1_000_000_000
BASE = 1_700_000_000 * NS  # 2023-11-14T22:13:20Z


def schema_sql() -> str:
    return resources.files("msgtrace.projections").joinpath("schema.sql").read_text()


@dataclass
class SpanSpec:
    span_id: str
    name: str
    start: int  # ns
    duration_ms: float
    parent: str | None = None
    status_code: int = 0
    status_message: str | None = None
    kind: int = 1
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    service: str | None = "svc"
    span_type: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None


class ViewsBuilder:
    """Writes traces into a fresh views database (WAL), as the projector's single writer would."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.conn = sqlite3.connect(db_path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.executescript(schema_sql())
        self.offset = 0
        self.clock = 1

    def close(self) -> None:
        self.conn.close()

    def add_trace(
        self,
        trace_id: str,
        spans: list[SpanSpec],
        *,
        workflow: str | None = None,
        session: str | None = None,
        user: str | None = None,
        updated_at: int | None = None,
    ) -> None:
        self.offset += 1
        c = self.conn
        c.execute("BEGIN")
        for s in spans:
            total = None
            if s.input_tokens is not None or s.output_tokens is not None:
                total = (s.input_tokens or 0) + (s.output_tokens or 0)
            end = s.start + int(s.duration_ms * 1_000_000)
            c.execute(
                "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_time, end_time,"
                " duration_ms, status_code, status_message, service_name, trace_state, flags, attributes,"
                " events, links, resource_attributes, scope_name, scope_version, span_type, model,"
                " provider, input_tokens, output_tokens, cached_tokens, reasoning_tokens, total_tokens,"
                " cost, cost_source, counts_usage, log_offset)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL,1,?,?,'[]',?,'test.scope','1.0',?,?,NULL,?,?,NULL,NULL,?,?,?,?,?)",
                (
                    trace_id,
                    s.span_id,
                    s.parent,
                    s.name,
                    s.kind,
                    s.start,
                    end,
                    s.duration_ms,
                    s.status_code,
                    s.status_message,
                    s.service,
                    json.dumps(s.attributes),
                    json.dumps(s.events),
                    json.dumps({"service.name": s.service} if s.service else {}),
                    s.span_type,
                    s.model,
                    s.input_tokens,
                    s.output_tokens,
                    total,
                    s.cost,
                    "span" if s.cost is not None else None,
                    1 if s.model else 0,
                    self.offset,
                ),
            )
        ids = {s.span_id for s in spans}
        roots = [s for s in spans if not s.parent or s.parent not in ids]
        root = next((s for s in spans if not s.parent), None)
        start = min(s.start for s in spans)
        end = max(s.start + int(s.duration_ms * 1_000_000) for s in spans)
        duration = (end - start) / 1e6
        errors = sum(1 for s in spans if s.status_code == 2)
        tin = sum(s.input_tokens or 0 for s in spans)
        tout = sum(s.output_tokens or 0 for s in spans)
        costs = [s.cost for s in spans if s.cost is not None]
        cost = sum(costs) if costs else None
        models = sorted({s.model for s in spans if s.model})
        service = (root or roots[0]).service
        wf = workflow if workflow is not None else (root.name if root else None)
        status = "error" if errors else ("ok" if root and root.status_code == 1 else "unset")
        self.clock += 1
        c.execute(
            "INSERT INTO traces (trace_id, start_time, end_time, duration_ms, root_span_id,"
            " root_span_name, workflow_name, service_name, status, span_count, error_count,"
            " input_tokens, output_tokens, cached_tokens, reasoning_tokens, total_tokens, cost,"
            " models, session_id, user_id, has_root, first_offset, last_offset, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,0,0,?,?,?,?,?,?,?,?,?)",
            (
                trace_id,
                start,
                end,
                duration,
                root.span_id if root else None,
                root.name if root else None,
                wf,
                service,
                status,
                len(spans),
                errors,
                tin,
                tout,
                tin + tout,
                cost,
                json.dumps(models),
                session,
                user,
                1 if root else 0,
                self.offset,
                self.offset,
                updated_at if updated_at is not None else self.clock,
            ),
        )
        for m in models:
            c.execute("INSERT INTO trace_models VALUES (?,?,?)", (m, start, trace_id))
        minute = start // NS // 60 * 60
        c.execute(
            "INSERT INTO trace_rollup (bucket_start, workflow_name, service_name, traces,"
            " error_traces, spans, errors, duration_ms_sum, duration_ms_max, input_tokens,"
            " output_tokens, total_tokens, cost) VALUES (?,?,?,1,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (bucket_start, workflow_name, service_name) DO UPDATE SET"
            " traces = traces + 1, error_traces = error_traces + excluded.error_traces,"
            " spans = spans + excluded.spans, errors = errors + excluded.errors,"
            " duration_ms_sum = duration_ms_sum + excluded.duration_ms_sum,"
            " duration_ms_max = max(duration_ms_max, excluded.duration_ms_max),"
            " input_tokens = input_tokens + excluded.input_tokens,"
            " output_tokens = output_tokens + excluded.output_tokens,"
            " total_tokens = total_tokens + excluded.total_tokens, cost = cost + excluded.cost",
            (
                minute,
                wf or "",
                service or "",
                1 if errors else 0,
                len(spans),
                errors,
                duration,
                duration,
                tin,
                tout,
                tin + tout,
                cost or 0.0,
            ),
        )
        import math

        b = 0 if duration < 2**0.25 else math.floor(4 * math.log2(duration))
        c.execute(
            "INSERT INTO duration_histogram (bucket_start, bin, traces) VALUES (?,?,1) ON CONFLICT (bucket_start, bin)"
            " DO UPDATE SET traces = traces + 1",
            (start // NS // 3600 * 3600, b),
        )
        for s in spans:
            if not s.model:
                continue
            sm = s.start // NS // 60 * 60
            err = 1 if s.status_code == 2 else 0
            tot = (s.input_tokens or 0) + (s.output_tokens or 0)
            c.execute(
                "INSERT INTO usage_rollup (bucket_start, model, workflow_name, service_name, calls,"
                " input_tokens, output_tokens, cached_tokens, reasoning_tokens, total_tokens, cost,"
                " unpriced_calls, errors, duration_ms_sum, duration_ms_max)"
                " VALUES (?,?,?,?,1,?,?,0,0,?,?,?,?,?,?)"
                " ON CONFLICT (bucket_start, model, workflow_name, service_name) DO UPDATE SET"
                " calls = calls + 1, input_tokens = input_tokens + excluded.input_tokens,"
                " output_tokens = output_tokens + excluded.output_tokens,"
                " total_tokens = total_tokens + excluded.total_tokens, cost = cost + excluded.cost,"
                " unpriced_calls = unpriced_calls + excluded.unpriced_calls,"
                " errors = errors + excluded.errors,"
                " duration_ms_sum = duration_ms_sum + excluded.duration_ms_sum,"
                " duration_ms_max = max(duration_ms_max, excluded.duration_ms_max)",
                (
                    sm,
                    s.model,
                    wf or "",
                    service or "",
                    s.input_tokens or 0,
                    s.output_tokens or 0,
                    tot,
                    s.cost or 0.0,
                    0 if s.cost is not None else 1,
                    err,
                    s.duration_ms,
                    s.duration_ms,
                ),
            )
        self._fill_coarser_rollups()
        c.execute("COMMIT")

    def _fill_coarser_rollups(self) -> None:
        """The quarter-hour to day copies of the roll-ups, grouped from the minute rows (as the
        projector keeps them), so read tests go through the tables long ranges use."""
        from msgtrace.projections.apply_rollups import fill_coarser, table_ddl
        from msgtrace.projections.views import BUILTIN_VIEWS, RollupView

        for view in BUILTIN_VIEWS:
            if isinstance(view, RollupView):
                fine = view.rollup
                for coarse in view.coarser:
                    self.conn.execute(table_ddl(view.rollup.table, coarse.table))
                    fill_coarser(self.conn, fine, coarse)
                    fine = coarse


def tid(n: int) -> str:
    """A deterministic 32-hex trace id."""
    return f"{n:032x}"


def sid(n: int) -> str:
    return f"{n:016x}"


def build_sample(db_path: Path) -> ViewsBuilder:
    """A small store covering every filter: 6 traces across workflows, services, models, errors."""
    b = ViewsBuilder(db_path)
    sec = NS
    # 1: chat workflow, gpt-4o, ok, 1.5 s
    b.add_trace(
        tid(1),
        [
            SpanSpec(
                sid(1),
                "chat_flow",
                BASE,
                1500.0,
                status_code=1,
                service="api",
                attributes={"workflow.name": "chat", "user.id": "u1"},
            ),
            SpanSpec(
                sid(2),
                "llm.call",
                BASE + sec // 10,
                900.0,
                parent=sid(1),
                service="api",
                span_type="llm",
                model="gpt-4o",
                input_tokens=100,
                output_tokens=50,
                cost=0.02,
                attributes={"gen_ai.request.model": "gpt-4o", "retry": 2},
            ),
            SpanSpec(
                sid(3),
                "tool.search",
                BASE + sec,
                200.0,
                parent=sid(1),
                service="api",
                attributes={"gen_ai.tool.name": "search", "flag": True},
            ),
        ],
        workflow="chat",
        session="s1",
        user="u1",
    )
    # 2: chat workflow, error, claude, 3 s
    b.add_trace(
        tid(2),
        [
            SpanSpec(
                sid(11),
                "chat_flow",
                BASE + 60 * sec,
                3000.0,
                service="api",
                attributes={"workflow.name": "chat"},
            ),
            SpanSpec(
                sid(12),
                "llm.call",
                BASE + 61 * sec,
                2500.0,
                parent=sid(11),
                service="api",
                status_code=2,
                status_message="rate limited",
                span_type="llm",
                model="claude-3-5-sonnet",
                input_tokens=1000,
                output_tokens=800,
                cost=0.5,
            ),
        ],
        workflow="chat",
        session="s2",
        user="u2",
    )
    # 3: rag workflow, worker service, fast, no llm
    b.add_trace(
        tid(3),
        [
            SpanSpec(
                sid(21),
                "rag_flow",
                BASE + 120 * sec,
                40.0,
                service="worker",
                attributes={"weird key": "x y", "db.statement": "SELECT 1"},
            )
        ],
        workflow="rag",
    )
    # 4: rag workflow, gpt-4o-mini, unpriced, 250 ms
    b.add_trace(
        tid(4),
        [
            SpanSpec(sid(31), "rag_flow", BASE + 180 * sec, 250.0, service="worker"),
            SpanSpec(
                sid(32),
                "embed",
                BASE + 180 * sec + 1000,
                100.0,
                parent=sid(31),
                service="worker",
                span_type="llm",
                model="gpt-4o-mini",
                input_tokens=5000,
                output_tokens=0,
            ),
        ],
        workflow="rag",
    )
    # 5: in progress (root missing), 100% search target name
    b.add_trace(
        tid(5),
        [SpanSpec(sid(41), "orphan_child", BASE + 240 * sec, 10.0, parent=sid(40), service="api")],
        workflow=None,
    )
    # 6: a trace whose id starts with abc, big span count
    big = [SpanSpec(sid(100), "batch_flow", BASE + 300 * sec, 5000.0, service="batch")]
    big += [
        SpanSpec(
            sid(101 + i),
            f"step_{i}",
            BASE + 300 * sec + i * 1000,
            1.0,
            parent=sid(100),
            service="batch",
        )
        for i in range(20)
    ]
    b.add_trace("abc" + "0" * 28 + "6", big, workflow="batch")
    return b
