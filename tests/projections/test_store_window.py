"""Sparse newest-first queries answered from time windows (store_window.py): every page, through
offsets and cursors, equals the sort-index walk's; terms an index cannot enumerate keep the walk;
a window plan that runs out of time falls back to the walk."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from msgtrace.core.models import TraceQueryParams
from msgtrace.projections import store as store_module
from msgtrace.projections import store_list
from msgtrace.projections.query_parse import parse
from msgtrace.projections.store import ReadStore
from msgtrace.projections.store_window import candidates_sql, windowed_rows
from tests.api.views import BASE, SpanSpec, ViewsBuilder, sid, tid

MINUTE = 60 * 1_000_000_000
N_TRACES = 240

QUERIES = [
    "name:tool.rare",
    "name:tool.rare tokens:>150",
    "name:step_1 OR name:tool.rare",
    "workflow:wf_2 error:true",
    "workflow:wf_1 (name:tool.rare OR model:claude-3-5-sonnet)",
    "model:gpt-4o duration:>200ms",
    "service:svc_b name:step_2",
    "root:flow_3",
    "flow_1",
    "rare",
    "wf_0",
    "zzzz",
    "name:tool.rare -workflow:wf_0",
    "user:u7",
    "session:s3 OR user:u2",
]


def _build(path: Path) -> None:
    """Traces spread from minutes to weeks apart (so several windows are needed), where the
    newest hundred match few queries; some traces start long before their later spans."""
    rng = random.Random(7)
    b = ViewsBuilder(path)
    start = BASE
    for n in range(N_TRACES):
        newest = n >= N_TRACES - 100  # the busy head: one workflow, no rare spans
        start += (
            rng.choice([1, 5, 30]) * 1_000_000_000 if newest else rng.choice([1, 90, 3000]) * MINUTE
        )
        wf = "wf_head" if newest else f"wf_{n % 4}"
        spans = [
            SpanSpec(
                sid(1),
                f"flow_{n % 5}",
                start,
                rng.choice([50.0, 300.0, 4000.0]),
                service="svc_head" if newest else rng.choice(["svc_a", "svc_b"]),
                status_code=2 if (not newest and n % 7 == 0) else 1,
            ),
            SpanSpec(sid(2), f"step_{n % 3}", start + 1000, 10.0, parent=sid(1)),
        ]
        if not newest and n % 6 == 0:  # a late span, far after its trace began
            late = start + rng.choice([1, 600]) * MINUTE
            spans.append(
                SpanSpec(
                    sid(3),
                    "tool.rare",
                    late,
                    5.0,
                    parent=sid(1),
                    model=rng.choice(["gpt-4o", "claude-3-5-sonnet"]),
                    input_tokens=rng.choice([10, 200]),
                    output_tokens=1,
                )
            )
        b.add_trace(tid(n + 1), spans, workflow=wf, session=f"s{n % 5}", user=f"u{n % 9}")
    b.close()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("window") / "msgtrace.db"
    _build(path)
    return path


@pytest.fixture
def store(db: Path) -> Iterator[ReadStore]:
    s = ReadStore(db)
    yield s
    s.close()


def _pages(store: ReadStore, **kw: Any) -> list[list[str]]:
    """Every page by cursor, then the first pages by offset."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = store.list_traces(TraceQueryParams(limit=7, cursor=cursor, **kw))
        pages.append([t.trace_id for t in page.traces])
        cursor = page.next_cursor
        if cursor is None:
            break
    for offset in (0, 5, 19):
        page = store.list_traces(TraceQueryParams(limit=7, offset=offset, **kw))
        pages.append([t.trace_id for t in page.traces])
    return pages


@pytest.mark.parametrize("q", QUERIES)
def test_window_pages_equal_the_walk(
    store: ReadStore, q: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked = _pages(store, q=q)
    with monkeypatch.context() as m:  # the walk always "runs out of time": windows answer
        m.setattr(store_module, "budgeted_rows", lambda *a, **k: None)
        m.setattr(store_module, "WINDOW_BUDGET_S", 60.0)
        assert _pages(store, q=q) == walked


def test_free_text_search_parameter_uses_windows_too(
    store: ReadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked = _pages(store, search="rare", q="workflow:wf_1")
    monkeypatch.setattr(store_module, "budgeted_rows", lambda *a, **k: None)
    assert _pages(store, search="rare", q="workflow:wf_1") == walked


def test_the_reference_has_matches_beyond_the_head(store: ReadStore) -> None:
    """The equality above means something: matches sit behind a head of non-matching traces."""
    page = store.list_traces(TraceQueryParams(q="name:tool.rare", limit=200))
    newest = store.list_traces(TraceQueryParams(limit=1)).traces[0]
    assert 20 < len(page.traces) < 100
    assert page.traces[0].trace_id != newest.trace_id


def test_terms_an_index_cannot_list_keep_the_walk(store: ReadStore) -> None:
    def plan(q: str) -> object:
        return candidates_sql(parse(q), lambda like: ["x"], lambda column, like: ["x"])

    for q in ("tokens:>10", "-name:tool.rare", "name:tool.*", "name:a OR duration:>1s", "abc"):
        assert plan(q) is None, q
    for q in ("name:a tokens:>10", "workflow:w OR model:m", "chat"):
        assert plan(q) is not None, q
    assert (
        store_module.page_candidates(
            TraceQueryParams(q="name:tool.rare", sort="duration"), None, None
        )
        is None
    )


def test_windows_out_of_time_fall_back_to_the_walk(
    store: ReadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked = _pages(store, q="name:tool.rare")
    monkeypatch.setattr(store_module, "budgeted_rows", lambda *a, **k: None)
    monkeypatch.setattr(store_module, "WINDOW_BUDGET_S", 0.0)
    monkeypatch.setattr(store_list, "CHECK_EVERY", 1)
    calls: list[object] = []
    real = store_module.windowed_rows

    def spy(*a: Any, **k: Any) -> object:
        calls.append(real(*a, **k))
        return calls[-1]

    monkeypatch.setattr(store_module, "windowed_rows", spy)
    assert _pages(store, q="name:tool.rare") == walked
    assert calls and all(c is None for c in calls)


def test_an_empty_store_is_an_empty_window(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    ViewsBuilder(path).close()
    with ReadStore(path).connection() as conn:
        cand = candidates_sql(parse("name:x"), None, None)
        assert cand is not None
        rows = windowed_rows(
            conn,
            cand,
            select="trace_id",
            where=[],
            args=[],
            rows_needed=5,
            offset=0,
            budget_s=1.0,
        )
    assert rows == []


def _plan(store: ReadStore, params: TraceQueryParams) -> str:
    """SQLite's plan of the page's walk for `params`."""
    with store.connection() as conn:
        where, args = store._filters(conn, params)
        rows = conn.execute(
            "EXPLAIN QUERY PLAN SELECT trace_id FROM traces WHERE "
            + " AND ".join(where)
            + " ORDER BY start_time DESC, trace_id DESC LIMIT 5",
            args,
        )
        return " ".join(r[3] for r in rows)


def test_failed_traces_of_a_workflow_come_from_the_partial_index(store: ReadStore) -> None:
    for kw in (
        {"q": "workflow:wf_2 error:true"},
        {"workflow_name": "wf_2", "has_errors": True},
        {"q": "service:svc_a errors:true"},
    ):
        params = TraceQueryParams(**kw)
        plan = _plan(store, params)
        assert "traces_workflow_errors" in plan or "traces_service_errors" in plan, (kw, plan)
        failed = store.list_traces(params).traces
        assert failed and all(t.error_count > 0 for t in failed)


def test_name_probes_read_the_trace_led_index(store: ReadStore) -> None:
    """`name:` probes go through spans_trace (one seek per trace), never through spans_name_time,
    whose name prefix would scan every span of that name for each trace."""
    for q in ("name:step_1", "name:step_*", "flow_1"):
        params = TraceQueryParams(q=q)
        plan = _plan(store, params)
        assert "spans_trace" in plan and "spans_name_time" not in plan, (q, plan)
