"""The attribute index: `attr.<key>` queries give exactly what the JSON scan of every span gives,
whatever the indexer's progress (empty, partial, complete, dirty traces) and whichever plan the
planner picks, including after spans are deleted or replaced behind the index's back.

The log is applied by the real projector to a real SQLite file; the reference answer is the JSON
scan the index replaces (each condition's own `json_sql` over every span).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from msgtrace.core.models import TraceQueryParams
from msgtrace.projections import attr_index
from msgtrace.projections.attr_index import AttrCondition, AttrPlanner
from msgtrace.projections.projector import Projector
from msgtrace.projections.query import compile_query
from msgtrace.projections.store import ReadStore
from tests.projections.segment_files import span, write_segment, write_tombstones

T0 = 1_700_000_000_000_000_000
LONG = "abc" + "x" * 300


def tid(name: str) -> str:
    return name.rjust(32, "0")


# trace name -> attributes of each of its spans (typed JSON, docs/segments.md)
CORPUS: dict[str, list[dict[str, object]]] = {
    "1": [{"n": 42, "s": "hello", "b": True, "gen_ai.request.model": "gpt-4o"}, {"n": 42.0}],
    "2": [{"n": 42.0, "f": 1.5, "s": "42"}],
    "3": [{"n": "42", "b": False, "f": 1.0, "long": LONG}],
    "4": [
        {
            "arr": [1, 2],
            "obj": {"k": 1},
            "nul": None,
            "bytes": {"$bytes": "AAE="},
            "nan": {"$double": "NaN"},
        }
    ],
    "5": [{"s": "hellO", "n": -3, "f": 1e20, "b": 1}],
    "6": [{}],
    "7": [{"n": 7, "s": "[1,2]", "$$cost": 2}, {"s": "world"}],
}

QUERIES = [
    "attr.n:42",
    'attr.n:"42"',
    "attr.n:42.0",
    "attr.n:>41",
    "attr.n:<=42",
    "attr.n:<0",
    "attr.n:4*",
    "attr.n:42",
    "attr.n:42.0*",
    "attr.n:*",
    "attr.n:!=42",
    "attr.f:1.5",
    "attr.f:1",
    "attr.f:>1",
    "attr.f:1.0*",
    "attr.f:1*",
    "attr.b:true",
    "attr.b:false",
    "attr.b:1",
    'attr.b:"true"',
    "attr.s:hello",
    "attr.s:hel*",
    "attr.s:*llo",
    "attr.s:h?llO",
    'attr.s:"42"',
    "attr.s:>0",
    "attr.s:<0",
    "attr.s:*2*",
    'attr.s:"[1,2]"',
    "attr.long:*",
    "attr.long:abc*",
    f'attr.long:"{LONG}"',
    "attr.long:>5",
    "attr.arr:*",
    "attr.arr:*2*",
    'attr.arr:"[1,2]"',
    "attr.obj:*",
    "attr.nul:*",
    "attr.nul:null",
    "attr.bytes:*",
    "attr.nan:*",
    "attr.missing:*",
    "attr.missing:1",
    "attr.gen_ai.request.model:gpt-4o",
    "attr.gen_ai.request.model:gpt*",
    "attr.$$cost:2",
    "attr.n:42 attr.s:hello",
    "attr.n:42 OR attr.s:world",
]


@pytest.fixture(autouse=True, params=[attr_index.GEN_BITS, 1], ids=["gen-default", "gen-2-spans"])
def gen_bits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Every test runs with the real generation size (one generation here) and with two spans
    per generation, so rows, lookups and probes cross many generations."""
    monkeypatch.setattr(attr_index, "GEN_BITS", request.param)
    return int(request.param)


def reference(conn: sqlite3.Connection, q: str, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The JSON scan the index replaces: the condition's own test over every span."""

    def scan(cond: AttrCondition, planner: AttrPlanner | None) -> tuple[str, list[object]]:
        return (
            "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = traces.trace_id"
            f" AND {cond.json_sql} LIMIT 1)",
            list(cond.json_params),
        )

    with monkeypatch.context() as m:
        m.setattr("msgtrace.projections.query.attr_term_sql", scan)
        compiled = compile_query(q)
    return {
        r[0]
        for r in conn.execute(f"SELECT trace_id FROM traces WHERE {compiled.sql}", compiled.params)
    }


def answer(conn: sqlite3.Connection, q: str, planned: bool) -> set[str]:
    conn.execute("BEGIN")
    try:
        compiled = compile_query(q, attrs=AttrPlanner(conn) if planned else None)
        rows = conn.execute(f"SELECT trace_id FROM traces WHERE {compiled.sql}", compiled.params)
        return {r[0] for r in rows}
    finally:
        conn.execute("COMMIT")


def index_all(conn: sqlite3.Connection) -> None:
    while attr_index.index_batch(conn, 1000):
        pass


def index_rows(conn: sqlite3.Connection, trace_id: str | None = None) -> set[tuple[object, ...]]:
    sql = "SELECT key, value, trace_id FROM attr_index"
    rows = conn.execute(
        sql + (" WHERE trace_id = ?" if trace_id else ""), (trace_id,) if trace_id else ()
    )
    return {tuple(r) for r in rows}


@pytest.fixture
def store_db(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    requests = [
        [span(name, str(i + 1), start=T0 + k, attrs=attrs) for i, attrs in enumerate(spans)]
        for k, (name, spans) in enumerate(CORPUS.items())
    ]
    write_segment(data_dir, requests, 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
    conn = sqlite3.connect(db, isolation_level=None)
    yield db, conn
    conn.close()


def _states(conn: sqlite3.Connection) -> Iterator[str]:
    """Walk the index through empty, partial, complete and dirty states."""
    yield "empty"
    attr_index.index_batch(conn, 3)
    yield "partial"
    index_all(conn)
    yield "complete"
    conn.execute("BEGIN IMMEDIATE")
    attr_index.forget(conn, [(tid("1"), "1".rjust(16, "0")), (tid("7"), "2".rjust(16, "0"))])
    conn.execute("COMMIT")
    yield "dirty"
    index_all(conn)
    yield "re-indexed"


@pytest.mark.parametrize("rare_limit", [0, 10**9], ids=["probe", "candidates"])
def test_every_construct_matches_the_json_scan_in_every_state(
    store_db: tuple[Path, sqlite3.Connection], monkeypatch: pytest.MonkeyPatch, rare_limit: int
) -> None:
    _, conn = store_db
    monkeypatch.setattr(attr_index, "RARE_LIMIT", rare_limit)
    expected = {q: reference(conn, q, monkeypatch) for q in QUERIES}
    assert expected["attr.n:42"] == {tid("1"), tid("2"), tid("3")}  # text and numbers
    assert expected["attr.n:42.0*"] == {tid("1"), tid("2")}  # the reals' text
    assert expected["attr.s:>0"] == {tid("1"), tid("2"), tid("5"), tid("7")}  # text > numbers
    assert expected["attr.nul:*"] == {tid("4")}
    for state in _states(conn):
        for q in QUERIES:
            for planned in (False, True):
                got = answer(conn, q, planned)
                assert got == expected[q], (state, q, planned)
                negated = answer(conn, f"-({q})", planned)
                assert negated == {tid(n) for n in CORPUS} - expected[q], (state, q, planned)


def test_index_contents(store_db: tuple[Path, sqlite3.Connection]) -> None:
    _, conn = store_db
    assert index_rows(conn) == set()
    index_all(conn)
    assert (
        attr_index.indexed_rowid(conn) == conn.execute("SELECT max(rowid) FROM spans").fetchone()[0]
    )
    assert index_rows(conn, tid("1")) == {
        ("n", 42, tid("1")),  # 42 and 42.0 are one key value; the real is marked
        ("n", b"\x01", tid("1")),
        ("s", "hello", tid("1")),
        ("b", 1, tid("1")),
        ("gen_ai.request.model", "gpt-4o", tid("1")),
    }
    assert index_rows(conn, tid("3")) == {
        ("n", "42", tid("3")),
        ("b", 0, tid("3")),
        ("f", 1.0, tid("3")),
        ("f", b"\x01", tid("3")),
        ("long", b"", tid("3")),  # over MAX_TEXT: present, value not held
    }
    assert index_rows(conn, tid("4")) == {
        (key, b"", tid("4")) for key in ("arr", "obj", "nul", "bytes", "nan")
    }
    assert index_rows(conn, tid("6")) == set()
    assert ("$$cost", 2, tid("7")) in index_rows(conn)  # keys as stored (typed JSON escapes $)


def test_rows_sit_in_their_spans_generations(
    store_db: tuple[Path, sqlite3.Connection], gen_bits: int
) -> None:
    """Each row's generation is that of a span of its trace holding the key; a forgotten trace
    loses every row in every generation, and re-indexing restores exactly the same rows."""
    _, conn = store_db
    index_all(conn)
    rows = set(conn.execute("SELECT gen, key, value, trace_id FROM attr_index"))
    origins = set(
        conn.execute(
            "SELECT s.rowid >> ?, j.key, s.trace_id FROM spans s, json_each(s.attributes) j",
            (gen_bits,),
        )
    )
    assert {(g, k, t) for g, k, _, t in rows} == origins
    if gen_bits == 1:
        assert len({g for g, *_ in rows}) > 3
    conn.execute("BEGIN IMMEDIATE")
    attr_index.forget(conn, [(tid("1"), "1".rjust(16, "0")), (tid("7"), "2".rjust(16, "0"))])
    conn.execute("COMMIT")
    assert index_rows(conn, tid("1")) == index_rows(conn, tid("7")) == set()
    assert {r for r in rows if r[3] not in (tid("1"), tid("7"))} == set(
        conn.execute("SELECT gen, key, value, trace_id FROM attr_index")
    )
    index_all(conn)
    assert set(conn.execute("SELECT gen, key, value, trace_id FROM attr_index")) == rows


def test_the_read_store_plans_both_ways(
    store_db: tuple[Path, sqlite3.Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, conn = store_db
    index_all(conn)
    store = ReadStore(db)
    try:
        for limit in (0, 10**9):
            monkeypatch.setattr(attr_index, "RARE_LIMIT", limit)
            page = store.list_traces(TraceQueryParams(q="attr.n:42"))
            assert {t.trace_id for t in page.traces} == {tid("1"), tid("2"), tid("3")}
            assert (page.total, page.total_exact) == (3, True)
            page = store.list_traces(TraceQueryParams(q="attr.s:*llo", search="SVC"))
            assert [t.trace_id for t in page.traces] == [tid("1")]
    finally:
        store.close()


def test_query_plans(
    store_db: tuple[Path, sqlite3.Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few candidates: resolved first through the primary key, one seek per generation; many: a
    probe per trace that walks the list's sort index (no temp sort of every match), seeking the
    primary key in the generations of the trace's spans for equality, else testing its JSON."""
    _, conn = store_db
    index_all(conn)

    def plan(q: str) -> str:
        conn.execute("BEGIN")
        try:
            compiled = compile_query(q, attrs=AttrPlanner(conn))
            rows = conn.execute(
                f"EXPLAIN QUERY PLAN SELECT * FROM traces WHERE {compiled.sql}"
                " ORDER BY start_time DESC, trace_id DESC LIMIT 51",
                compiled.params,
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        return " | ".join(r[3] for r in rows)

    rare = plan("attr.s:hello")
    assert "LIST SUBQUERY" in rare, rare
    assert "SEARCH a USING PRIMARY KEY (gen=? AND key=? AND value=?)" in rare, rare
    assert "SEARCH s " not in rare  # nothing unindexed: no JSON part
    monkeypatch.setattr(attr_index, "RARE_LIMIT", 0)
    common = plan("attr.s:hello")
    assert "traces_start" in common and "TEMP B-TREE" not in common, common
    assert "SEARCH a USING PRIMARY KEY (gen=? AND key=? AND value=? AND trace_id=?)" in common
    pattern = plan("attr.s:hel*")
    assert "traces_start" in pattern and "TEMP B-TREE" not in pattern, pattern
    assert "SEARCH s USING INDEX" in pattern and "attr_index" not in pattern


# -- staleness: spans deleted or replaced after they were indexed ------------------------------
def _query(db: Path, q: str) -> set[str]:
    store = ReadStore(db)
    try:
        return {t.trace_id for t in store.list_traces(TraceQueryParams(q=q, limit=100)).traces}
    finally:
        store.close()


def _index(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        index_all(conn)
    finally:
        conn.close()


def test_tombstone_then_late_spans_with_other_attributes(tmp_path: Path) -> None:
    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    write_segment(
        data_dir, [[span("a", "1", attrs={"k": "old"})], [span("b", "1", attrs={"k": "b"})]], 1
    )
    with Projector(data_dir, db) as p:
        p.apply_pending()
        _index(db)
        assert _query(db, "attr.k:old") == {tid("a")}
        # a deleted, then the same trace id again; b arrives again too (its rowid is reused)
        write_tombstones(data_dir, [(3, "a")])
        write_segment(
            data_dir, [[span("a", "1", attrs={"k": "new"})], [span("c", "1", attrs={"k": "c"})]], 4
        )
        p.apply_pending()
        for _ in range(2):  # before and after the indexer catches up
            assert _query(db, "attr.k:old") == set()
            assert _query(db, "attr.k:new") == {tid("a")}
            assert _query(db, "attr.k:c") == {tid("c")}
            assert _query(db, "attr.k:*") == {tid("a"), tid("b"), tid("c")}
            _index(db)
        conn = sqlite3.connect(db)
        assert index_rows(conn, tid("a")) == {("k", "new", tid("a"))}
        assert conn.execute("SELECT count(*) FROM attr_dirty").fetchone() == (0,)
        conn.close()


def test_highest_rowids_deleted_then_reused(tmp_path: Path) -> None:
    """The newest spans are deleted after being indexed; SQLite hands their rowids to the next
    spans, which the checkpoint must not count as indexed."""
    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    write_segment(data_dir, [[span("a", "1", attrs={"k": 1})], [span("b", "1", attrs={"k": 2})]], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        _index(db)
        write_tombstones(data_dir, [(3, "b")])
        p.apply_pending()
        write_segment(data_dir, [[span("c", "1", attrs={"k": 3})]], 4)
        p.apply_pending()
        assert _query(db, "attr.k:3") == {tid("c")}
        assert _query(db, "attr.k:2") == set()
        _index(db)
        assert _query(db, "attr.k:>=1") == {tid("a"), tid("c")}


def test_an_earlier_copy_arriving_later_replaces_the_indexed_span(tmp_path: Path) -> None:
    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    write_segment(data_dir, [[], [span("a", "1", attrs={"k": "later"})]], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        _index(db)
        assert _query(db, "attr.k:later") == {tid("a")}
        # the copy at offset 1 (kept in a restored file) wins over the one at offset 2
        (data_dir / "segments").joinpath(
            "00000000000000000001-00000000000000000002.parquet"
        ).unlink()
        write_segment(
            data_dir,
            [[span("a", "1", attrs={"k": "earlier"})], [span("a", "1", attrs={"k": "later"})]],
            1,
        )
        p.rewind(0)
        p.apply_pending()
        for _ in range(2):
            assert _query(db, "attr.k:later") == set()
            assert _query(db, "attr.k:earlier") == {tid("a")}
            _index(db)


def test_delete_all_empties_the_index(tmp_path: Path) -> None:
    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    write_segment(data_dir, [[span("a", "1", attrs={"k": 1})], [span("b", "1", attrs={"k": 1})]], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        _index(db)
        write_tombstones(data_dir, [(3, None)])
        write_segment(data_dir, [[span("c", "1", attrs={"k": 1})]], 4)
        p.apply_pending()
        conn = sqlite3.connect(db)
        assert index_rows(conn) == set()
        assert attr_index.indexed_rowid(conn) == 0
        conn.close()
        assert _query(db, "attr.k:1") == {tid("c")}
        _index(db)
        assert _query(db, "attr.k:1") == {tid("c")}


def test_reindex_drops_and_rebuilds_the_index(store_db: tuple[Path, sqlite3.Connection]) -> None:
    db, conn = store_db
    index_all(conn)
    before = index_rows(conn)
    data_dir = db.parent / "data"
    with Projector(data_dir, db) as p:
        p.reindex()
        assert index_rows(conn) == set()
        index_all(conn)
    assert index_rows(conn) == before


def test_the_worker_indexes_within_its_budget_and_resumes(tmp_path: Path) -> None:
    """While segments keep arriving the worker indexes only for a short budget per wake-up; a
    spent budget indexes nothing more, and a later unbounded pass catches up."""
    from msgtrace.projections import worker

    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    write_segment(data_dir, [[span(f"t{i}", "1", attrs={"k": f"v{i}"})] for i in range(50)], 1)
    with Projector(data_dir, db) as p:
        p.apply_pending()
        head = worker._log_head(p)
        assert worker._index(p, threading.Event(), head, 0.0) is False
        assert attr_index.indexed_rowid(p.conn) == 0  # no budget: nothing indexed yet
        assert worker._index(p, threading.Event(), head, float("inf")) is False
        assert attr_index.indexed_rowid(p.conn) > 0
        assert _query(db, "attr.k:v7") == {tid("t7")}
        write_segment(data_dir, [[span("late", "1", attrs={"k": "late"})]], 51)
        assert worker._index(p, threading.Event(), head, float("inf")) is True  # log grew first


def test_a_backlog_is_applied_in_passes_with_indexing_between(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the log runs ahead, an apply pass stops after its slice (never before one batch),
    indexing runs between passes, and the loop goes on until everything is applied and indexed."""
    from msgtrace.projections import worker

    monkeypatch.setattr(worker, "APPLY_SLICE_S", 0.0)
    monkeypatch.setattr(worker, "INDEX_QUIET_S", 1e9)  # busy throughout
    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    for i in range(4):
        write_segment(data_dir, [[span(f"t{i}", "1", attrs={"k": f"v{i}"})]], i + 1)
    with Projector(data_dir, db, batch_spans=1) as p:
        pace = worker._Pace()
        assert worker._apply(p, threading.Event(), pace)
        assert pace.sliced and p.conn.execute("SELECT count(*) FROM spans").fetchone() == (1,)
        assert worker._apply_and_index(p, threading.Event(), pace)
        assert not pace.sliced
        top = p.conn.execute("SELECT max(rowid), count(*) FROM spans").fetchone()
        assert top[1] == 4 and attr_index.indexed_rowid(p.conn) == top[0]
        assert _query(db, "attr.k:v3") == {tid("t3")}


def test_a_burst_after_a_quiet_spell_is_applied_before_indexing(tmp_path: Path) -> None:
    """Indexing's busy credit accrues only while busy: the first pass after a quiet spell applies
    and leaves indexing for later (it does not inherit a full credit that would hold the next
    segment of the burst back), and once the log is quiet again indexing catches up."""
    from msgtrace.projections import worker

    data_dir, db = tmp_path / "data", tmp_path / "views.db"
    write_segment(data_dir, [[span(f"t{i}", "1", attrs={"k": f"v{i}"})] for i in range(50)], 1)
    with Projector(data_dir, db) as p:
        pace = worker._Pace()
        assert worker._apply_and_index(p, threading.Event(), pace)
        assert pace.busy_since == pace.last_applied and pace.held_back
        assert attr_index.indexed_rowid(p.conn) == 0  # busy, and no credit earned yet
        pace.last_applied -= worker.INDEX_QUIET_S  # the log has been quiet since
        assert worker._apply_and_index(p, threading.Event(), pace)
        top = p.conn.execute("SELECT max(rowid) FROM spans").fetchone()[0]
        assert attr_index.indexed_rowid(p.conn) == top
        assert _query(db, "attr.k:v7") == {tid("t7")}
