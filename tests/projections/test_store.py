"""ReadStore against a real views database: read-only, filters, cursors, prefixes, live changes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from msgtrace.core.errors import QueryError
from msgtrace.core.models import TraceQueryParams
from msgtrace.projections.store import ReadStore, decode_cursor, encode_cursor
from tests.api.views import BASE, SpanSpec, ViewsBuilder, build_sample, sid, tid

ABC = "abc" + "0" * 28 + "6"


@pytest.fixture
def store(tmp_path: Path) -> ReadStore:
    build_sample(tmp_path / "msgtrace.db").close()
    return ReadStore(tmp_path / "msgtrace.db")


def test_connections_are_read_only(store: ReadStore) -> None:
    with (
        store.connection() as conn,
        pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"),
    ):
        conn.execute("DELETE FROM traces")
    assert store.list_traces(TraceQueryParams()).total == 6


def test_missing_file_is_empty_and_never_created(tmp_path: Path) -> None:
    s = ReadStore(tmp_path / "absent.db")
    assert s.list_traces(TraceQueryParams()).total == 0
    assert s.get_trace(tid(1)) is None
    assert s.stats()["total_traces"] == 0
    assert not (tmp_path / "absent.db").exists()


def test_store_sees_rows_written_after_it_opened(tmp_path: Path) -> None:
    views = ViewsBuilder(tmp_path / "msgtrace.db")
    s = ReadStore(tmp_path / "msgtrace.db")
    assert s.list_traces(TraceQueryParams()).total == 0
    views.add_trace(tid(9), [SpanSpec(sid(9), "late", BASE, 1.0)])
    assert s.list_traces(TraceQueryParams()).total == 1  # pooled connection, new snapshot
    views.close()


def test_get_trace_sorted_spans_and_summary(store: ReadStore) -> None:
    trace = store.get_trace(ABC)
    assert trace is not None
    assert trace.span_count == 21 and len(trace.spans) == 21
    assert [s.start_time for s in trace.spans] == sorted(s.start_time for s in trace.spans)
    assert trace.workflow_name == "batch"
    tree = trace.build_span_tree()
    assert len(tree) == 1 and len(tree[0].children) == 20


def test_resolve_prefix(store: ReadStore) -> None:
    assert store.resolve_trace_id("ABC") == [ABC]
    assert len(store.resolve_trace_id("0000")) == 2  # ambiguous: at most two returned
    assert store.resolve_trace_id("ffff") == []
    assert store.resolve_trace_id("%") == []


def test_export_rows_use_segment_column_names(store: ReadStore) -> None:
    from msgtrace.core.schema import SPAN_COLUMN_NAMES

    rows = store.export_rows(tid(1))
    assert len(rows) == 3
    assert set(rows[0]) == set(SPAN_COLUMN_NAMES)
    assert rows[0]["start_time_unix_nano"] == BASE


def test_cursor_round_trip_and_tampering() -> None:
    c = encode_cursor("cost", "desc", None, tid(1))
    assert decode_cursor(c, "cost", "desc") == (None, tid(1))
    with pytest.raises(QueryError, match="cursor"):
        decode_cursor(c, "duration", "desc")
    with pytest.raises(QueryError, match="cursor"):
        decode_cursor("!!!", "cost", "desc")
    with pytest.raises(QueryError, match="cursor"):
        decode_cursor(encode_cursor("cost", "desc", "x' OR 1=1", tid(1)), "cost", "desc")


def test_cursor_paging_through_null_costs(store: ReadStore) -> None:
    for order in ("asc", "desc"):
        full = [
            t.trace_id for t in store.list_traces(TraceQueryParams(sort="cost", order=order)).traces
        ]
        seen: list[str] = []
        cursor = None
        while True:
            page = store.list_traces(
                TraceQueryParams(sort="cost", order=order, limit=1, cursor=cursor)
            )
            seen += [t.trace_id for t in page.traces]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == full and len(seen) == 6


def test_changes_since(store: ReadStore) -> None:
    everything = store.changes_since(None)
    assert len(everything) == 6
    assert [c.trace.trace_id for c in store.changes_since(everything[2].cursor)] == [
        c.trace.trace_id for c in everything[3:]
    ]
    assert store.changes_since(store.latest_cursor()) == []
    with pytest.raises(QueryError, match="Last-Event-ID"):
        store.changes_since("nonsense")


INJECTIONS = ["'; DROP TABLE traces; --", "x' OR '1'='1", "%", "*", "?", "[a-z]*", "\\", "a%'--"]


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("field", ["workflow_name", "service", "model", "search"])
def test_filter_injection_is_harmless(store: ReadStore, field: str, payload: str) -> None:
    page = store.list_traces(TraceQueryParams(**{field: payload}))
    assert page.total == 0
    assert store.list_traces(TraceQueryParams()).total == 6


def test_search_wildcards_are_literal(store: ReadStore) -> None:
    assert store.list_traces(TraceQueryParams(search="chat_flow")).total == 2
    assert store.list_traces(TraceQueryParams(search="chat%flow")).total == 0
    assert store.list_traces(TraceQueryParams(search="ABC0")).total == 1


def test_concurrent_reads_from_threads(store: ReadStore) -> None:
    errors: list[BaseException] = []
    totals: list[int] = []

    def work() -> None:
        try:
            for _ in range(20):
                totals.append(store.list_traces(TraceQueryParams(q="duration:>1s")).total)
                assert store.get_trace(tid(1)) is not None
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert set(totals) == {3} and len(totals) == 160


def test_closed_store_refuses(store: ReadStore) -> None:
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.list_traces(TraceQueryParams())


def test_json_bodies_match_the_models(tmp_path: Path) -> None:
    """The SQL-built JSON (API path) and the pydantic models (Python API) agree field by field."""
    import orjson

    views = build_sample(tmp_path / "msgtrace.db")
    views.add_trace(
        tid(77),
        [
            SpanSpec(
                sid(1),
                "root",
                BASE,
                10.0,
                status_code=1,
                kind=2,
                attributes={"b": {"$bytes": "AAE="}, "list": [1, 2.5, "x"], "nested": {"k": None}},
                events=[
                    {
                        "time_unix_nano": BASE + 5,
                        "name": "exception",
                        "attributes": {"exception.message": "boom"},
                        "dropped_attributes_count": 0,
                    }
                ],
            ),
            SpanSpec(sid(2), "child", BASE + 1, 1.0, parent=sid(1), span_type="llm"),
        ],
    )
    views.conn.execute(
        "UPDATE spans SET links = ? WHERE trace_id = ? AND span_id = ?",
        (
            orjson.dumps(
                [
                    {
                        "trace_id": tid(1),
                        "span_id": sid(1),
                        "trace_state": None,
                        "attributes": {"a": 1},
                        "dropped_attributes_count": 0,
                        "flags": 0,
                    }
                ]
            ).decode(),
            tid(77),
            sid(2),
        ),
    )
    views.close()
    store = ReadStore(tmp_path / "msgtrace.db")
    for trace_id in [tid(n) for n in (1, 2, 3, 4, 5, 77)] + [ABC]:
        body = store.get_trace_json(trace_id)
        model = store.get_trace(trace_id)
        assert body is not None and model is not None
        assert orjson.loads(body) == model.model_dump(mode="json")
        tree = orjson.loads(store.get_tree_json(trace_id) or b"")
        assert tree["trace_id"] == trace_id
        expected = [n.model_dump(mode="json") for n in model.build_span_tree()]
        assert tree["roots"] == expected
    t77 = orjson.loads(store.get_trace_json(tid(77)) or b"")
    assert t77["spans"][0]["events"] == [
        {"name": "exception", "timestamp": BASE + 5, "attributes": {"exception.message": "boom"}}
    ]
    assert t77["spans"][0]["kind"] == "SERVER" and t77["spans"][0]["status"]["code"] == "OK"
    assert t77["spans"][1]["links"][0]["attributes"] == {"a": 1}
    assert t77["spans"][1]["llm"]["counts_usage"] is False
    assert store.get_trace_json("f" * 32) is None and store.get_tree_json("f" * 32) is None


def test_totals_are_capped_for_filtered_lists(
    store: ReadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import msgtrace.projections.store_list as store_module

    monkeypatch.setattr(store_module, "COUNT_CAP", 2)
    page = store.list_traces(TraceQueryParams(has_errors=False))
    assert (page.total, page.total_exact) == (2, False)
    assert len(page.traces) == 5  # the page itself is not capped
    page = store.list_traces(TraceQueryParams(model="gpt-4o"))
    assert (page.total, page.total_exact) == (1, True)
    page = store.list_traces(TraceQueryParams())
    assert (page.total, page.total_exact) == (6, True)  # unfiltered counts stay exact


def test_exists_probes_walk_the_sort_index(store: ReadStore) -> None:
    """A model/name filter must not be rewritten into IN (...) + a temp sort of every match."""
    from msgtrace.projections.store import filter_sql

    params = TraceQueryParams(model="gpt-4o", q="name:llm.call attr.retry:2 chat")
    with store.connection() as conn:
        where, args = filter_sql(params)
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM traces WHERE "
            + " AND ".join(where)
            + " ORDER BY start_time DESC, trace_id DESC LIMIT 51",
            args,
        ).fetchall()
    details = " | ".join(r[3] for r in plan)
    assert "traces_start" in details and "TEMP B-TREE" not in details, details


def test_count_past_its_budget_gives_a_lower_bound(
    store: ReadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import msgtrace.projections.store_list as store_module

    monkeypatch.setattr(store_module, "COUNT_BUDGET_S", -1.0)  # every filtered count is interrupted
    monkeypatch.setattr(store_module, "CHECK_EVERY", 1)
    page = store.list_traces(TraceQueryParams(has_errors=False, limit=2))
    assert (page.total, page.total_exact) == (3, False)  # 2 on the page and proof of one more
    page = store.list_traces(TraceQueryParams(has_errors=False, limit=2, offset=4))
    assert (page.total, page.total_exact) == (5, False)
    for _ in range(3):  # the pooled connection is still usable after an interrupt
        assert store.list_traces(TraceQueryParams(workflow_name="chat")).total_exact is False
        assert store.list_traces(TraceQueryParams()).total == 6


def test_aggregates_are_memoised_per_projector_checkpoint(tmp_path: Path) -> None:
    views = build_sample(tmp_path / "msgtrace.db")
    s = ReadStore(tmp_path / "msgtrace.db")
    assert s.stats()["total_traces"] == 6
    views.add_trace(tid(50), [SpanSpec(sid(50), "x", BASE, 1.0)])
    assert s.stats()["total_traces"] == 7  # no checkpoint rows: never cached
    views.conn.execute("INSERT INTO meta VALUES ('checkpoint', '10')")
    first = s.stats()
    views.add_trace(tid(51), [SpanSpec(sid(51), "y", BASE, 1.0)])  # rows change, checkpoint not
    assert s.stats() is first  # served from the memo
    views.conn.execute("UPDATE meta SET value = '11' WHERE key = 'checkpoint'")
    assert s.stats()["total_traces"] == 8
    assert s.usage(group_by="model") == s.usage(group_by="model")
    assert s.facet("workflows") is s.facet("workflows")
    views.close()


@pytest.mark.parametrize(
    "params",
    [
        TraceQueryParams(),
        TraceQueryParams(limit=2),
        TraceQueryParams(limit=2, sort="cost", order="asc"),
        TraceQueryParams(has_errors=False, limit=1, offset=1),
        TraceQueryParams(q="status:error"),
    ],
    ids=["all", "page", "cost-asc", "offset", "query"],
)
def test_list_json_equals_the_models_serialised(store: ReadStore, params: TraceQueryParams) -> None:
    """The API's fast path (rows straight to JSON) says exactly what the typed page says."""
    import orjson

    from msgtrace.api.routes_models import TraceList

    page = store.list_traces(params)
    typed = TraceList(
        traces=page.traces,
        total=page.total,
        next_cursor=page.next_cursor,
        limit=page.limit,
        offset=page.offset,
        total_exact=page.total_exact,
    )
    assert orjson.loads(store.list_traces_json(params)) == typed.model_dump(mode="json")
    if params.limit == 2 and page.next_cursor:  # the cursor it hands out resumes the same list
        after = params.model_copy(update={"cursor": page.next_cursor})
        assert orjson.loads(store.list_traces_json(after))["traces"] == [
            t.model_dump(mode="json") for t in store.list_traces(after).traces
        ]
