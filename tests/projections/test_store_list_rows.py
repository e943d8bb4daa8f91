"""summary_dicts (the list page's row mapping) against summary_dict, on rows a real SQLite returns."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from msgtrace.core.models import TraceQueryParams
from msgtrace.projections.store import ReadStore
from msgtrace.projections.store_list import SUMMARY_FIELDS, summary_dicts
from msgtrace.projections.store_rows import SUMMARY_COLUMNS, summary_dict
from tests.api.views import BASE, build_sample, schema_sql

# (status, tokens, cost, models, has_root, duration_ms): the values summary_dict reshapes
ODD_ROWS = [
    ("ok", 10, 0.25, '["gpt-4o", "claude"]', 1, 12.5),
    ("error", 0, None, "[]", 0, 3),
    ("weird", 0, 1e-9, "not json", 1, 0.1 + 0.2),
    ("unset", 7, 0.0, '{"a": 1}', 0, 1234.5678901234567),
    ("ok", 3, 2.5, "[1, null, true]", 1, 0),
    ("error", 2, None, "", 1, 1e12),
]


@pytest.fixture
def odd_conn() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(schema_sql())
    for n, (status, tokens, cost, models, has_root, duration) in enumerate(ODD_ROWS):
        conn.execute(
            "INSERT INTO traces (trace_id, start_time, end_time, duration_ms, root_span_name,"
            " workflow_name, service_name, status, span_count, error_count, input_tokens,"
            " output_tokens, cached_tokens, reasoning_tokens, total_tokens, cost, models,"
            " session_id, user_id, has_root, first_offset, last_offset, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                f"{n:032x}", BASE + n, BASE + n + 5, duration, None if n % 2 else "root",
                "wf", None, status, n + 1, n % 2, tokens, tokens, tokens, tokens, tokens, cost,
                models, None if n % 3 else "s", "u", has_root, n, n, BASE + n,
            ),
        )
    yield conn
    conn.close()


def test_fields_are_the_summary_columns_in_order() -> None:
    assert ",".join(SUMMARY_FIELDS) == SUMMARY_COLUMNS.replace(" ", "")


@pytest.mark.parametrize("factory", [None, sqlite3.Row], ids=["tuples", "rows"])
def test_same_dicts_as_summary_dict(
    odd_conn: sqlite3.Connection, factory: type[sqlite3.Row] | None
) -> None:
    cursor = odd_conn.cursor()
    cursor.row_factory = sqlite3.Row
    expected = [summary_dict(r) for r in cursor.execute(f"SELECT {SUMMARY_COLUMNS} FROM traces")]
    cursor = odd_conn.cursor()
    cursor.row_factory = factory
    got = summary_dicts(cursor.execute(f"SELECT {SUMMARY_COLUMNS} FROM traces").fetchall())
    assert got == expected
    assert [list(d) for d in got] == [list(d) for d in expected]  # key order: the JSON's order
    assert [type(d["duration_ms"]) for d in got] == [float] * len(ODD_ROWS)
    assert [d["models"] for d in got][:4] == [["gpt-4o", "claude"], [], [], []]
    assert [d["status"] for d in got][:3] == ["ok", "error", "unset"]


def test_list_pages_match_the_detail_summaries(tmp_path: Path) -> None:
    """Every page of every sort, through the list path, equals summary_dict of the same traces."""
    build_sample(tmp_path / "msgtrace.db").close()
    store = ReadStore(tmp_path / "msgtrace.db")
    with store.connection() as conn:
        conn.row_factory = sqlite3.Row
        by_id = {
            r["trace_id"]: summary_dict(r)
            for r in conn.execute(f"SELECT {SUMMARY_COLUMNS} FROM traces")
        }
    for sort in ("start_time", "-duration", "span_count", "-tokens", "cost"):
        cursor, seen = None, 0
        while True:
            page = store.list_traces(TraceQueryParams(sort=sort, limit=2, cursor=cursor))
            for summary in page.traces:
                assert summary.model_dump() == by_id[summary.trace_id]
            seen += len(page.traces)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == len(by_id)
    store.close()
