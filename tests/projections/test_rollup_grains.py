"""The per-hour and per-day roll-ups: the projector keeps them equal to a GROUP BY of the finer
rows through live ingest in any order, late spans, deletes and reindex."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgtrace.projections import apply_rollups as rollups
from msgtrace.projections.projector import Projector
from msgtrace.projections.views import BUILTIN_VIEWS, RollupView
from tests.projections.segment_files import span, write_segment, write_tombstones
from tests.projections.test_order_independence import usage_attrs
from tests.projections.views import dump

NS = 1_000_000_000
DAY_S = 1_700_006_400  # a UTC midnight (multiple of 86400)
T0 = (DAY_S - 3 * 3600) * NS  # 21:00 the day before

# (finer rollup, coarser rollup), each pair's coarser rows a GROUP BY of the finer rows
CHAINS = [
    (fine, coarse)
    for view in BUILTIN_VIEWS
    if isinstance(view, RollupView)
    for fine, coarse in zip((view.rollup, *view.coarser), view.coarser, strict=False)
]
COARSE_TABLES = tuple(coarse.table for _, coarse in CHAINS)
ROLLUP_TABLES = ("usage_rollup", "trace_rollup", "duration_histogram", *COARSE_TABLES)


def grouped(conn: sqlite3.Connection, fine: rollups.Rollup, coarse: rollups.Rollup) -> list[Any]:
    """`coarse`'s expected rows: `fine`'s rows grouped per coarse bucket, in coarse's columns."""
    step = coarse.bucket_ns // NS
    derived = {real: (integer, div) for real, integer, div in fine.derived}
    exprs = []
    for col in [r[1] for r in conn.execute(f"PRAGMA table_info({coarse.table})")]:
        if col == "bucket_start":
            exprs.append(f"bucket_start / {step} * {step}")
        elif col in fine.keys:
            exprs.append(col)
        elif col in fine.sums:
            exprs.append(f"sum({col})")
        elif col in derived:
            exprs.append(f"sum({derived[col][0]}) / {derived[col][1]!r}")
        elif col == fine.max_column:
            exprs.append(f"max({col})")
        else:
            assert col == "duration_ms_max", col
            exprs.append(f"max({fine.max_column}) / 1e6")
    group = ", ".join(str(i + 1) for i in range(len(fine.keys)))
    return sorted(
        conn.execute(f"SELECT {', '.join(exprs)} FROM {fine.table} GROUP BY {group}").fetchall()
    )


def assert_grains_consistent(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for fine, coarse in CHAINS:
            rows = sorted(conn.execute(f"SELECT * FROM {coarse.table}").fetchall())
            assert rows == grouped(conn, fine, coarse), coarse.table
    finally:
        conn.close()


@st.composite
def wide_forests(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Traces spread over about two days around a midnight, spans across hour boundaries."""
    spans: list[dict[str, Any]] = []
    for t in range(draw(st.integers(1, 5))):
        trace = f"{t + 1:x}"
        start = T0 + draw(st.integers(0, 30)) * 1_700 * NS + draw(st.integers(0, 59)) * NS
        for i in range(draw(st.integers(1, 6))):
            parent = None if i == 0 else str(draw(st.integers(1, i)))
            spans.append(
                span(
                    trace,
                    str(i + 1),
                    parent,
                    name=draw(st.sampled_from(["root", "llm", "tool"])),
                    start=start + draw(st.integers(0, 7200)) * NS,
                    duration=draw(st.integers(0, 5 * 10**12)),
                    status=draw(st.sampled_from([0, 1, 2])),
                    attrs=draw(usage_attrs()),
                    service=draw(st.sampled_from(["svc-a", "svc-b", None])),
                )
            )
    return spans


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wide_forests(), st.data())
def test_coarse_rollups_follow_live_ingest_deletes_and_reindex(
    spans: list[dict[str, Any]], data: st.DataObject
) -> None:
    sent = data.draw(st.permutations(spans + data.draw(st.lists(st.sampled_from(spans)))))
    trace_ids = sorted({s["trace_id"].lstrip("0") for s in spans})
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, db = Path(tmp) / "data", Path(tmp) / "db.sqlite"
        offset = 1
        with Projector(data_dir, db, batch_spans=data.draw(st.integers(1, 8))) as p:
            i = 0
            while i < len(sent):
                k = data.draw(st.integers(1, 4))
                last, _ = write_segment(data_dir, [[s] for s in sent[i : i + k]], offset)
                offset, i = last + 1, i + k
                if data.draw(st.integers(0, 4)) == 0:
                    target = data.draw(st.sampled_from([*trace_ids, None]))
                    write_tombstones(data_dir, [(offset, target)])
                    offset += 1
                p.apply_pending()
                assert_grains_consistent(db)
            incremental = dump(db, ROLLUP_TABLES)
            p.reindex()
            assert_grains_consistent(db)
            assert dump(db, ROLLUP_TABLES) == incremental


def test_a_deleted_maximum_is_recomputed_at_every_grain(tmp_path: Path) -> None:
    """Deleting the longest trace of an hour and a day leaves the next longest as the maximum."""
    data_dir, db = tmp_path / "data", tmp_path / "db.sqlite"
    attrs = {"workflow.name": "wf", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 5}
    long_ = span("a", "1", start=(DAY_S + 600) * NS, duration=900 * NS, attrs=attrs)
    short = span("b", "1", start=(DAY_S + 7200) * NS, duration=30 * NS, attrs=attrs)
    other_hour = span("c", "1", start=(DAY_S + 3600) * NS, duration=60 * NS, attrs=attrs)
    with Projector(data_dir, db) as p:
        write_segment(data_dir, [[long_], [short], [other_hour]], 1)
        p.apply_pending()
        assert _max(db, "trace_rollup_day") == [(DAY_S, 900_000.0)]
        assert _max(db, "usage_rollup_day") == [(DAY_S, 900_000.0)]
        write_tombstones(data_dir, [(4, "a")])
        p.apply_pending()
        assert _max(db, "trace_rollup_day") == [(DAY_S, 60_000.0)]
        assert _max(db, "usage_rollup_day") == [(DAY_S, 60_000.0)]
        assert _max(db, "trace_rollup_hour") == [(DAY_S + 3600, 60_000.0), (DAY_S + 7200, 30_000.0)]
        assert_grains_consistent(db)
        write_tombstones(data_dir, [(5, None)])  # delete everything
        p.apply_pending()
        for table in COARSE_TABLES:
            assert _count(db, table) == 0


def test_a_late_span_moves_a_trace_in_every_grain(tmp_path: Path) -> None:
    """A late root changes the trace's workflow and start: its old contribution leaves the hour
    and day rows of the old key, the new one lands in the new day."""
    data_dir, db = tmp_path / "data", tmp_path / "db.sqlite"
    child = span("a", "2", "1", start=(DAY_S + 60) * NS, duration=NS)
    root = span("a", "1", start=(DAY_S - 60) * NS, duration=300 * NS, attrs={"workflow.name": "wf"})
    with Projector(data_dir, db) as p:
        write_segment(data_dir, [[child]], 1)
        p.apply_pending()
        assert _keys(db, "trace_rollup_day") == [(DAY_S, "", 1)]
        write_segment(data_dir, [[root]], 2)
        p.apply_pending()
        assert _keys(db, "trace_rollup_day") == [(DAY_S - 86400, "wf", 1)]
        assert _keys(db, "trace_rollup_hour") == [(DAY_S - 3600, "wf", 1)]
        assert_grains_consistent(db)


def _max(db: Path, table: str) -> list[Any]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sql = f"SELECT bucket_start, max(duration_ms_max) FROM {table} GROUP BY 1 ORDER BY 1"
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _keys(db: Path, table: str) -> list[Any]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sql = f"SELECT bucket_start, workflow_name, traces FROM {table} ORDER BY 1, 2"
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _count(db: Path, table: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()
