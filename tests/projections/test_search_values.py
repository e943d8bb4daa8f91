"""Free-text search through the distinct values of the traces columns: the same traces as the
LIKE scan over every trace (substring, ASCII case-insensitive, `%` and `_` literal, trace id
prefixes), a search matching nothing answered as an empty page, and the LIKE fallback when a
column has too many distinct values."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from msgtrace.core.models import TraceQueryParams
from msgtrace.projections import store_list as store_module
from msgtrace.projections.query import text_search_sql
from msgtrace.projections.store import ReadStore
from tests.api.views import BASE, SpanSpec, ViewsBuilder, build_sample, sid

WORDS = [
    "chat",
    "CHAT",
    "rag",
    "Worker",
    "orphan",
    "step_19",
    "at_fl",
    "chat_fl_w",
    "100%",
    "50%",
    "_",
    "\\",
    "a",
    "abc",
    "ABC0",
    "abc00000",
    "Café",
    "café",
    "zzzz",
    "tool.search",
    "llm",
]


def extra_trace(b: ViewsBuilder, n: int, name: str, workflow: str | None, service: str) -> None:
    b.add_trace(
        f"{n:032x}",
        [
            SpanSpec(
                sid(1),
                name,
                BASE + n,
                10.0,
                service=service,
            )
        ],
        workflow=workflow,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "msgtrace.db"
    b = build_sample(path)
    extra_trace(b, 101, "Café_Flow", "50%_off", "Billing")
    extra_trace(b, 102, "plain", None, "back\\slash")
    b.close()
    return path


@pytest.fixture
def store(db: Path) -> Iterator[ReadStore]:
    s = ReadStore(db)
    yield s
    s.close()


def like_scan(db: Path, word: str) -> set[str]:
    """Today's SQL: LIKE over every trace, no resolved values."""
    sql, params = text_search_sql(word)
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute(f"SELECT trace_id FROM traces WHERE {sql}", params)}


def listed(store: ReadStore, **kw: Any) -> set[str]:
    return {t.trace_id for t in store.list_traces(TraceQueryParams(limit=100, **kw)).traces}


@pytest.mark.parametrize("word", WORDS)
def test_same_traces_as_the_like_scan(db: Path, store: ReadStore, word: str) -> None:
    expected = like_scan(db, word)
    assert listed(store, search=word) == expected
    quoted = word.replace("\\", "\\\\").replace('"', '\\"')
    assert listed(store, q=f'"{quoted}"') == expected


@pytest.mark.parametrize("word", WORDS)
def test_too_many_distinct_values_fall_back_to_like(
    db: Path, store: ReadStore, word: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MAX_DISTINCT_NAMES", 1)
    assert listed(store, search=word) == like_scan(db, word)


def test_sanity_of_the_reference(db: Path) -> None:
    assert len(like_scan(db, "chat")) == 2
    assert like_scan(db, "50%") == {f"{101:032x}"}  # % is literal
    assert like_scan(db, "billing") == {f"{101:032x}"}  # service, any case


def test_a_search_matching_nothing_is_an_empty_page(store: ReadStore) -> None:
    page = store.list_traces(TraceQueryParams(search="zzzz"))
    assert (page.traces, page.total, page.total_exact, page.next_cursor) == ([], 0, True, None)
    assert store.list_traces(TraceQueryParams(q="zzzz OR chat")).total == 2
    assert store.list_traces(TraceQueryParams(q="-zzzz")).total == 8


def test_nothing_resolved_compiles_to_false() -> None:
    sql, params = text_search_sql("zzzz", lambda like: [], lambda column, like: [])
    assert (sql, params) == ("0", [])
    sql, params = text_search_sql("chat", lambda like: [], lambda column, like: ["chat"])
    assert "traces.workflow_name IN (?)" in sql and "LIKE" not in sql


def test_values_follow_the_projector_checkpoint(db: Path, store: ReadStore) -> None:
    b = ViewsBuilder(db)
    b.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint', '1')")
    assert listed(store, search="fresh") == set()  # cached at checkpoint 1
    extra_trace(b, 103, "fresh_root", "fresh_flow", "svc")
    b.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint', '2')")
    b.close()
    assert listed(store, search="fresh") == {f"{103:032x}"}
