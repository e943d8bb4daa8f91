"""The detail and tree bodies (`get_trace_json`, `get_tree_json`) against the typed models, on
traces the fast paths must not get wrong: unsorted rows, ties, parents after their children,
parent loops, odd stored JSON and unusual trace ids."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from msgtrace.projections.store import ReadStore
from tests.api.views import BASE, SpanSpec, ViewsBuilder, sid, tid


def _agree(store: ReadStore, trace_id: str) -> dict[str, Any]:
    """Assert both bodies equal the models serialised; return the detail body parsed."""
    body = store.get_trace_json(trace_id)
    tree = store.get_tree_json(trace_id)
    model = store.get_trace(trace_id)
    assert body is not None and tree is not None and model is not None
    detail = orjson.loads(body)
    assert detail == model.model_dump(mode="json")
    assert orjson.loads(tree) == {
        "trace_id": trace_id,
        "roots": [n.model_dump(mode="json") for n in model.build_span_tree()],
    }
    return detail


def _update(db: Path, sql: str, *args: Any) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute(sql, args)
    finally:
        conn.close()


@pytest.fixture
def views(tmp_path: Path) -> ViewsBuilder:
    return ViewsBuilder(tmp_path / "msgtrace.db")


def test_rows_written_out_of_order_come_back_sorted_with_ties_by_span_id(
    views: ViewsBuilder,
) -> None:
    spans = [
        SpanSpec(sid(5), "late", BASE + 50, 1.0, parent=sid(1)),
        SpanSpec(sid(3), "tie-b", BASE + 10, 1.0, parent=sid(1)),
        SpanSpec(sid(1), "root", BASE, 100.0),
        SpanSpec(sid(2), "tie-a", BASE + 10, 1.0, parent=sid(1)),
        SpanSpec(sid(4), "grandchild", BASE + 20, 1.0, parent=sid(2)),
    ]
    views.add_trace(tid(1), spans)
    views.close()
    detail = _agree(ReadStore(views.db_path), tid(1))
    assert [s["name"] for s in detail["spans"]] == ["root", "tie-a", "tie-b", "grandchild", "late"]


def test_broken_parent_links_follow_the_tree_rules(views: ViewsBuilder) -> None:
    views.add_trace(
        tid(2),
        [
            SpanSpec(sid(1), "root", BASE, 100.0),
            # starts before its parent: the one-pass linking must hand over to tree_links
            SpanSpec(sid(2), "early child", BASE + 1, 1.0, parent=sid(3)),
            SpanSpec(sid(3), "parent", BASE + 2, 1.0, parent=sid(1)),
            # a loop of two and a span that is its own parent
            SpanSpec(sid(4), "loop a", BASE + 3, 1.0, parent=sid(5)),
            SpanSpec(sid(5), "loop b", BASE + 4, 1.0, parent=sid(4)),
            SpanSpec(sid(6), "self", BASE + 5, 1.0, parent=sid(6)),
            SpanSpec(sid(7), "orphan", BASE + 6, 1.0, parent=sid(99)),
        ],
    )
    views.add_trace(tid(3), [SpanSpec(sid(1), "a", BASE, 1.0), SpanSpec(sid(2), "b", BASE, 1.0)])
    views.close()
    _update(views.db_path, "UPDATE spans SET parent_span_id = '' WHERE trace_id = ?", tid(3))
    store = ReadStore(views.db_path)
    _agree(store, tid(2))
    tree = orjson.loads(store.get_tree_json(tid(2)) or b"")
    assert [r["name"] for r in tree["roots"]] == ["root", "loop a", "self", "orphan"]
    assert [c["name"] for c in tree["roots"][1]["children"]] == ["loop b"]
    assert [r["parent_span_id"] for r in _agree(store, tid(3))["spans"]] == [None, None]


def test_a_deep_chain_builds_without_recursion(views: ViewsBuilder) -> None:
    chain = [SpanSpec(sid(1), "s1", BASE, 1.0)] + [
        SpanSpec(sid(i), f"s{i}", BASE + i, 1.0, parent=sid(i - 1)) for i in range(2, 3001)
    ]
    views.add_trace(tid(4), chain)
    views.close()
    body = ReadStore(views.db_path).get_tree_json(tid(4)) or b""
    # deeper than JSON parsers nest: check the shape as text
    assert body.count(b'"children":[') == 3000
    assert body.endswith(b',"children":[]}' + b"]}" * 2999 + b"]}")
    assert body.index(b'"name":"s1"') < body.index(b'"name":"s2"') < body.index(b'"name":"s3000"')


@pytest.mark.parametrize(
    ("column", "stored"),
    [
        ("attributes", "[1, 2]"),
        ("attributes", "not json"),
        ("attributes", "{truncated"),
        ("resource_attributes", "7"),
        ("events", "not json"),
        ("events", '{"name": "not a list"}'),
        (
            "events",
            '[1, {"name": 5, "timestamp": "12", "attributes": []}, {"time_unix_nano": 3.9},'
            ' {"time_unix_nano": null, "name": null}, {"timestamp": true, "name": "t"}]',
        ),
        (
            "links",
            '[null, {"trace_id": 1, "attributes": "x"}, {"span_id": "ab", "trace_state": "k=v"}]',
        ),
        ("links", "{}"),
    ],
)
def test_odd_stored_json_reads_as_the_models_read_it(
    views: ViewsBuilder, column: str, stored: str
) -> None:
    views.add_trace(tid(5), [SpanSpec(sid(1), "root", BASE, 1.0, attributes={"k": "v"})])
    views.close()
    _update(views.db_path, f"UPDATE spans SET {column} = ?", stored)
    _agree(ReadStore(views.db_path), tid(5))


def test_trace_ids_needing_json_escapes_are_quoted(views: ViewsBuilder) -> None:
    odd = 'q"uote\\back\u00e9\ttab'
    views.add_trace(odd, [SpanSpec(sid(1), "root", BASE, 1.0)])
    views.close()
    detail = _agree(ReadStore(views.db_path), odd)
    assert detail["trace_id"] == detail["spans"][0]["trace_id"] == odd


def test_unsortable_start_times_keep_sqlite_order(views: ViewsBuilder) -> None:
    """A value the projector never writes (text in start_time) sorts as SQLite sorts it."""
    views.add_trace(tid(6), [SpanSpec(sid(i), f"s{i}", BASE + 10 - i, 1.0) for i in range(1, 5)])
    views.close()
    _update(views.db_path, "UPDATE spans SET start_time = 'later' WHERE span_id = ?", sid(4))
    conn = sqlite3.connect(views.db_path)
    expected = [
        r[0]
        for r in conn.execute(
            "SELECT span_id FROM spans WHERE trace_id = ? ORDER BY start_time, span_id", (tid(6),)
        )
    ]
    conn.close()
    detail = orjson.loads(ReadStore(views.db_path).get_trace_json(tid(6)) or b"")
    assert [s["span_id"] for s in detail["spans"]] == expected == [sid(3), sid(2), sid(1), sid(4)]
    assert detail["spans"][3]["start_time"] == "later"


def test_unknown_and_hostile_trace_ids_are_absent(views: ViewsBuilder) -> None:
    views.add_trace(tid(7), [SpanSpec(sid(1), "root", BASE, 1.0)])
    views.close()
    store = ReadStore(views.db_path)
    for trace_id in ["f" * 32, "' OR 1=1 --", tid(7) + "%", ""]:
        assert store.get_trace_json(trace_id) is None
        assert store.get_tree_json(trace_id) is None


def _checkpoint(views: ViewsBuilder, value: str) -> None:
    views.conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('segments_checkpoint', ?)", (value,)
    )


def test_cached_bodies_follow_every_projector_commit(views: ViewsBuilder) -> None:
    views.add_trace(
        tid(8),
        [
            SpanSpec(sid(1), "root", BASE, 10.0),
            SpanSpec(sid(2), "llm", BASE + 1, 1.0, parent=sid(1), span_type="llm"),
        ],
    )
    _checkpoint(views, "1")
    store = ReadStore(views.db_path)
    detail, tree = store.get_trace_json(tid(8)), store.get_tree_json(tid(8))
    assert detail is not None and tree is not None and detail != tree
    assert store.get_trace_json(tid(8)) is detail and store.get_tree_json(tid(8)) is tree
    # a commit that changes a span but not the trace's summary row, with its checkpoint
    views.conn.execute("BEGIN")
    views.conn.execute(
        "UPDATE spans SET counts_usage = 1 - counts_usage WHERE span_id = ?", (sid(2),)
    )
    _checkpoint(views, "2")
    views.conn.execute("COMMIT")
    fresh = _agree(store, tid(8))
    assert fresh["spans"][1]["llm"]["counts_usage"] is True
    assert orjson.loads(detail)["spans"][1]["llm"]["counts_usage"] is False
    views.close()


def test_a_database_without_checkpoints_is_never_cached(views: ViewsBuilder) -> None:
    views.add_trace(tid(9), [SpanSpec(sid(1), "before", BASE, 1.0)])
    store = ReadStore(views.db_path)
    first = store.get_trace_json(tid(9))
    views.conn.execute("UPDATE spans SET name = 'after'")
    views.close()
    assert _agree(store, tid(9))["spans"][0]["name"] == "after"
    assert first is not None and b'"before"' in first


def test_body_cache_is_bounded_and_least_recently_used() -> None:
    from msgtrace.projections.store_rows import BodyCache

    cache = BodyCache(max_bytes=10, max_entries=2)
    cache.put("a", b"aaaaaa")
    cache.put("b", b"bbbb")
    cache.put("c", b"ccc")  # 13 bytes: the oldest goes
    assert cache.get("a") is None and len(cache) == 2
    assert cache.get("b") == b"bbbb"  # now the most recent
    cache.put("d", b"d")  # three entries: the least recently used goes
    assert cache.get("c") is None and cache.get("b") == b"bbbb" and cache.get("d") == b"d"
    cache.put("e", b"e" * 11)  # larger than the whole cache: not kept
    assert cache.get("e") is None and cache.get("d") == b"d"
