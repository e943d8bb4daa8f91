"""The attribute index behind a real `msgtrace start`: spans sent with the OpenTelemetry SDK are
indexed by the projector worker once it is idle, `attr.<key>` queries over the API find them,
and a reindex of the same log rebuilds the same index rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from msgtrace.projections import attr_index
from msgtrace.projections.projector import Projector
from tests.conftest import ServerHandle

ATTRS_ROOT = {"user.id": "u-live", "retry": 2, "ratio": 0.5, "flag": True, "tags": ["a", "b"]}
ATTRS_CHILD = {"user.id": "u-live", "temperature": 1.0, "long": "x" * 300}


def index_rows(db: Path, trace_id: str) -> set[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT key, value FROM attr_index WHERE trace_id = ?", (trace_id,)
        ).fetchall()
    finally:
        conn.close()
    return {tuple(r) for r in rows}


def generations(db: Path, trace_id: str) -> tuple[set[int], set[int]]:
    """The generations the trace's index rows sit in, and those of its spans."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT gen FROM attr_index WHERE trace_id = ?", (trace_id,))
        spans = conn.execute(
            "SELECT rowid >> ? FROM spans WHERE trace_id = ?", (attr_index.GEN_BITS, trace_id)
        )
        return {r[0] for r in rows}, {r[0] for r in spans}
    finally:
        conn.close()


def caught_up(db: Path) -> bool:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        top = conn.execute("SELECT coalesce(max(rowid), 0) FROM spans").fetchone()[0]
        dirty = conn.execute("SELECT count(*) FROM attr_dirty").fetchone()[0]
        return bool(top) and attr_index.indexed_rowid(conn) >= top and dirty == 0
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def listed(server: ServerHandle, q: str) -> list[str]:
    body = httpx.get(f"{server.url}/api/v1/traces", params={"q": q}, timeout=30).json()
    return [t["trace_id"] for t in body["traces"]]


def test_live_ingest_is_indexed_and_reindex_rebuilds_it(
    server_factory: Callable[..., ServerHandle],
    tracer_provider_factory: Callable[..., Any],
    tmp_path: Path,
) -> None:
    server = server_factory()
    provider = tracer_provider_factory(server.otlp_endpoint)
    tracer = provider.get_tracer("attr-index-test")
    with (
        tracer.start_as_current_span("root", attributes=ATTRS_ROOT) as root,
        tracer.start_as_current_span("child", attributes=ATTRS_CHILD),
    ):
        pass
    provider.force_flush()
    trace_id = format(root.get_span_context().trace_id, "032x")
    server.wait_for_spans(trace_id, 2)
    # exact whatever the indexer's progress: found before and after it catches up
    assert listed(server, "attr.user.id:u-live") == [trace_id]
    server.wait_for(lambda: caught_up(server.db_path), what="the attribute index to catch up")

    expected = {
        ("user.id", "u-live"),
        ("retry", 2),
        ("ratio", 0.5),
        ("flag", 1),
        ("tags", b""),  # an array: present, value not indexed
        ("temperature", 1.0),
        ("temperature", b"\x01"),  # an integral double
        ("long", b""),  # longer than MAX_TEXT
    }
    assert index_rows(server.db_path, trace_id) == expected
    rows_gens, span_gens = generations(server.db_path, trace_id)
    assert rows_gens and rows_gens <= span_gens
    for q in (
        "attr.user.id:u-live",
        "attr.retry:2",
        'attr.retry:"2"' + " OR attr.retry:>1",
        "attr.ratio:<1",
        "attr.flag:true",
        "attr.temperature:1",
        "attr.temperature:1.0*",
        "attr.tags:*",
        "attr.tags:*b*",
        "attr.long:xxx*",
    ):
        assert listed(server, q) == [trace_id], q
    for q in ("attr.user.id:u-other", "attr.temperature:1?", "-attr.user.id:u-live"):
        assert listed(server, q) == [], q

    rebuilt = tmp_path / "rebuilt.db"
    with Projector(server.data_dir, rebuilt) as projector:
        projector.reindex()
        while attr_index.index_batch(projector.conn, 1000):
            pass
    assert index_rows(rebuilt, trace_id) == expected
    rows_gens, span_gens = generations(rebuilt, trace_id)
    assert rows_gens and rows_gens <= span_gens
