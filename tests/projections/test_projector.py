"""Projector behaviour on real segment files and a real SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest

from msgtrace.core.errors import SegmentCorrupted
from msgtrace.projections.projector import Projector
from msgtrace.projections.views import BUILTIN_VIEWS, TOUCHED_TABLE, TraceChange
from tests.projections.segment_files import span, write_segment, write_tombstones
from tests.projections.views import VIEWS, dump, query

LLM = {
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 100,
}
T0 = 1_700_000_000_000_000_000


def tid(name: str) -> str:
    return name.rjust(32, "0")


def agent_trace(name: str, start: int = T0) -> list[dict]:
    return [
        span(
            name,
            "1",
            None,
            name="root",
            start=start,
            duration=50_000_000,
            attrs={"workflow.name": f"wf-{name}", "span.type": "flow", "session.id": "s1"},
        ),
        span(
            name,
            "2",
            "1",
            name="agent",
            start=start + 1,
            duration=40_000_000,
            attrs={"span.type": "module"},
        ),
        span(name, "3", "2", name="llm", start=start + 2, duration=30_000_000, attrs=LLM),
        span(
            name,
            "4",
            "2",
            name="tool",
            start=start + 3,
            duration=1_000_000,
            status=2,
            attrs={"gen_ai.operation.name": "execute_tool"},
        ),
    ]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "views.db"


def test_summary_of_an_agent_trace(data_dir: Path, db: Path) -> None:
    write_segment(data_dir, [agent_trace("a")], 1)
    with Projector(data_dir, db) as p:
        assert p.apply_pending() == 4
        assert p.checkpoint() == 1
    row = query(
        db,
        "SELECT root_span_name, workflow_name, service_name, status, span_count, error_count,"
        " input_tokens, output_tokens, total_tokens, cost, models, session_id, has_root,"
        " duration_ms FROM traces WHERE trace_id = ?",
        (tid("a"),),
    )
    assert row == [
        ("root", "wf-a", "svc", "error", 4, 1, 1000, 100, 1100, 0.0035, '["gpt-4o"]', "s1", 1, 50.0)
    ]
    assert query(db, "SELECT model, trace_id FROM trace_models") == [("gpt-4o", tid("a"))]
    assert query(db, "SELECT span_type FROM spans ORDER BY span_id") == [
        ("flow",),
        ("module",),
        ("llm",),
        ("tool",),
    ]


def test_root_arriving_last_completes_the_trace(data_dir: Path, db: Path) -> None:
    spans = agent_trace("a")
    write_segment(data_dir, [spans[1:]], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        ((has_root, workflow, status),) = query(
            db, "SELECT has_root, workflow_name, status FROM traces"
        )
        assert (has_root, workflow, status) == (0, None, "error")
        write_segment(data_dir, [spans[:1]], 2)
        p.apply_pending()
    assert query(db, "SELECT has_root, workflow_name, span_count FROM traces") == [(1, "wf-a", 4)]
    assert query(db, "SELECT workflow_name, calls FROM usage_rollup") == [("wf-a", 1)]
    assert query(db, "SELECT workflow_name, traces, spans FROM trace_rollup") == [("wf-a", 1, 4)]


def test_same_segment_twice_and_duplicate_spans_change_nothing(data_dir: Path, db: Path) -> None:
    write_segment(data_dir, [agent_trace("a"), agent_trace("a")], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        once = dump(db, (*VIEWS, "spans"), bookkeeping=True)
        p.apply_pending()  # nothing pending
        write_segment(data_dir, [agent_trace("a")], 3)  # at-least-once delivery: a retry
        p.apply_pending()
        assert p.checkpoint() == 3
    again = dump(db, (*VIEWS, "spans"), bookkeeping=True)
    again["traces"] = [r[:-1] for r in again["traces"]]  # updated_at
    once["traces"] = [r[:-1] for r in once["traces"]]
    assert again == once
    assert query(db, "SELECT span_count, total_tokens FROM traces") == [(4, 1100)]
    assert query(db, "SELECT DISTINCT log_offset FROM spans") == [(1,)]


def test_reindex_gives_identical_rows(data_dir: Path, db: Path) -> None:
    requests = [agent_trace("a")[2:], agent_trace("b"), agent_trace("a")[:2], agent_trace("c")[1:]]
    for i, r in enumerate(requests, start=1):
        write_segment(data_dir, [r], i)
    with Projector(data_dir, db, batch_spans=3) as p:
        p.apply_pending()
        incremental = dump(db, (*VIEWS, "spans"), bookkeeping=True)
        p.reindex()
        rebuilt = dump(db, (*VIEWS, "spans"), bookkeeping=True)
    strip = lambda rows: [r[:-1] for r in rows]  # noqa: E731 - updated_at is last
    assert strip(incremental.pop("traces")) == strip(rebuilt.pop("traces"))
    assert incremental == rebuilt


def test_tombstone_deletes_older_spans_and_later_spans_recreate(data_dir: Path, db: Path) -> None:
    write_segment(data_dir, [agent_trace("a"), agent_trace("b")], 1)
    write_tombstones(data_dir, [(3, "a")])
    with Projector(data_dir, db) as p:
        p.apply_pending()
        assert [r[0] for r in query(db, "SELECT trace_id FROM traces")] == [tid("b")]
        assert query(db, "SELECT count(*) FROM spans WHERE trace_id = ?", (tid("a"),)) == [(0,)]
        assert query(db, "SELECT count(*) FROM trace_models WHERE trace_id = ?", (tid("a"),)) == [
            (0,)
        ]
        assert query(db, "SELECT sum(calls) FROM usage_rollup") == [(1,)]
        write_segment(data_dir, [agent_trace("a")[:1]], 4)
        p.apply_pending()
        assert query(db, "SELECT span_count FROM traces WHERE trace_id = ?", (tid("a"),)) == [(1,)]
        p.reindex()
        assert query(db, "SELECT span_count FROM traces WHERE trace_id = ?", (tid("a"),)) == [(1,)]


def test_deleted_trace_stays_deleted_after_reindex(data_dir: Path, db: Path) -> None:
    write_segment(data_dir, [agent_trace("a"), agent_trace("b")], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        write_tombstones(data_dir, [(3, "a")])
        p.apply_pending()
        before = dump(db)
        p.reindex()
        assert dump(db) == before
    assert [r[0] for r in query(db, "SELECT trace_id FROM traces")] == [tid("b")]


def test_delete_all_then_new_spans(data_dir: Path, db: Path) -> None:
    write_segment(data_dir, [agent_trace("a"), agent_trace("b")], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        write_tombstones(data_dir, [(3, None)])
        write_segment(data_dir, [agent_trace("c")], 4)
        p.apply_pending()
        assert [r[0] for r in query(db, "SELECT trace_id FROM traces")] == [tid("c")]
        assert query(db, "SELECT count(*) FROM spans") == [(4,)]
        assert query(db, "SELECT sum(traces) FROM trace_rollup") == [(1,)]
        after = dump(db)
        p.reindex()
        assert dump(db) == after


def test_late_tombstone_restores_a_later_copy(data_dir: Path, db: Path) -> None:
    """A tombstone file landing after later segments were applied: the copy sent after the
    delete survives, exactly as a reindex would decide."""
    write_segment(data_dir, [agent_trace("a"), [], agent_trace("a")], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        write_tombstones(data_dir, [(2, "a")])
        p.apply_pending()
        assert query(db, "SELECT span_count FROM traces") == [(4,)]
        assert query(db, "SELECT DISTINCT log_offset FROM spans") == [(3,)]
        late = dump(db, (*VIEWS, "spans"))
        p.reindex()
        assert dump(db, (*VIEWS, "spans")) == late


def test_compacted_segment_straddling_the_checkpoint(data_dir: Path, db: Path) -> None:
    a, b = agent_trace("a"), agent_trace("b")
    write_segment(data_dir, [a], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        write_segment(data_dir, [a, b], 1)  # a compaction output covering 1..2 (supersedes 1..1)
        (data_dir / "segments" / "00000000000000000001-00000000000000000001.parquet").unlink()
        p.apply_pending()
        assert p.checkpoint() == 2
    assert query(db, "SELECT count(*), sum(span_count) FROM traces") == [(2, 8)]


def test_corrupt_segment_is_quarantined_and_the_rest_applies(
    data_dir: Path, db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = data_dir / "segments" / "00000000000000000001-00000000000000000001.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not parquet")
    write_segment(data_dir, [agent_trace("b")], 2)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        assert [q.name for q in p.quarantined] == [path.name]
        assert p.checkpoint() >= 2
    assert not path.exists()
    assert (data_dir / "quarantine" / path.name).read_bytes() == b"not parquet"
    assert "00000000000000000001" in caplog.text and "quarantine" in caplog.text
    assert query(db, "SELECT count(*) FROM traces")[0][0] == 1
    with Projector(data_dir, db) as p:  # reindex skips it too, and reports nothing new
        p.reindex()
        assert p.quarantined == []
    assert query(db, "SELECT count(*) FROM traces")[0][0] == 1


def test_schema_version_change_rebuilds(data_dir: Path, db: Path) -> None:
    write_segment(data_dir, [agent_trace("a")], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = 'old' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with Projector(data_dir, db) as p:
        assert p.checkpoint() == 0
        p.apply_pending()
    assert query(db, "SELECT count(*) FROM traces") == [(1,)]


class LlmCallsPerTrace:
    """A user view through the same extension point as the built-in ones."""

    name = "llm_calls"
    tables = ("llm_calls",)
    ddl = "CREATE TABLE IF NOT EXISTS llm_calls (trace_id TEXT PRIMARY KEY, calls INTEGER NOT NULL)"

    def apply(self, conn: sqlite3.Connection, change: TraceChange) -> None:
        conn.execute(
            f"DELETE FROM llm_calls WHERE trace_id IN (SELECT trace_id FROM {TOUCHED_TABLE})"
        )
        counts = change.new_spans.filter(pl.col("span_type") == "llm").group_by("trace_id").len()
        conn.executemany("INSERT INTO llm_calls VALUES (?, ?)", counts.rows())


def test_a_user_view_is_maintained_and_rebuilt(data_dir: Path, db: Path) -> None:
    write_segment(data_dir, [agent_trace("a")[2:], agent_trace("b")], 1)
    with Projector(data_dir, db, views=[*BUILTIN_VIEWS, LlmCallsPerTrace()]) as p:
        p.apply_pending()
        write_segment(data_dir, [agent_trace("a")[:2]], 2)
        write_tombstones(data_dir, [(3, "b")])
        p.apply_pending()
        assert query(db, "SELECT trace_id, calls FROM llm_calls") == [(tid("a"), 1)]
        assert query(db, "SELECT count(*) FROM trace_models") == [(1,)]
        p.reindex()
        assert query(db, "SELECT trace_id, calls FROM llm_calls") == [(tid("a"), 1)]
        write_tombstones(data_dir, [(4, None)])  # delete everything
        p.apply_pending()
        assert query(db, "SELECT count(*) FROM llm_calls") == [(0,)]


def test_segment_of_an_unknown_schema_version_is_refused(data_dir: Path, db: Path) -> None:
    import pyarrow.parquet as pq

    _, path = write_segment(data_dir, [agent_trace("a")], 1)
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    meta[b"msgtrace.schema_version"] = b"99"
    pq.write_table(table.replace_schema_metadata(meta), path)
    with (
        Projector(data_dir, db) as p,
        pytest.raises(SegmentCorrupted, match="schema version 99") as err,
    ):
        p.apply_pending()
    assert err.value.path == str(path)
    assert "upgrade msgtrace" in str(err.value)
