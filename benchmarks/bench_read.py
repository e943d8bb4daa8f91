"""Read-side latency over a large store: list (filters, sorts, deep cursor page), query language,
a 10,000-span trace detail, stats and usage.

The store is generated directly in SQLite following schema.sql (1,000,000 traces / 8,000,000 spans
at --scale 1; rows are produced by recursive CTEs inside SQLite, so generation is bulk C work) and
cached under benchmarks/.work/ keyed by scale. Each figure is one operation as the API runs it (the
ReadStore query plus JSON serialisation of the response), repeated; p50/p95 are over the calls of
a run, the figure's median over --repeats runs.

Measured while ingest runs: a copy of the store is the database of a real `msgtrace start`, which
receives OTLP at --ingest-rate spans/s (default 10,000; the `small` corpus from the load generator
in its own process) and projects it into that copy during every measurement.

    .venv/bin/python -m benchmarks.bench_read [--scale 1.0] [--quick] [--repeats N] [--calls N]
        [--ingest-rate 10000]
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import (
    REPO_DIR,
    WORK_DIR,
    Figure,
    MsgtraceServer,
    Result,
    bench_arguments,
    emit,
    log,
    percentile,
    repeats,
)
from benchmarks.corpus import corpus_path, load_corpus
from benchmarks.loadgen import loadgen_command

NS = 1_000_000_000
BASE_S = 1_760_000_000  # start of the generated month
SPAN_S = 30 * 86400
SPANS_PER_TRACE = 8
BIG_TRACE_SPANS = 10_000
BIG_TRACE_ID = "b" * 32
MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "claude-3-5-sonnet",
    "gemini-1.5-pro",
    "mistral-large",
    "local-llama",
)
PRICED = 5  # the last model has no price: its cost stays NULL

# Targets (ms, p95) from the issue.
LIST_TARGET = 25.0
QUERY_TARGET = 100.0
DETAIL_TARGET = 150.0
AGG_TARGET = 50.0


def _h(expr: str) -> str:
    """A deterministic pseudo-random non-negative integer from an integer SQL expression."""
    return f"((({expr}) * 2654435761 + 40503) % 4294967291)"


def generate(path: Path, traces: int) -> None:
    """Write a views database with `traces` traces of 8 spans plus one 10,000-span trace."""
    schema = resources.files("msgtrace.projections").joinpath("schema.sql").read_text()
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-200000")
    conn.executescript(schema)
    step_ns = SPAN_S * NS // max(traces, 1)
    h = _h("i")
    started = time.perf_counter()
    conn.execute("BEGIN")
    # trace i: id is a hash-then-counter hex (random order), start is spread evenly over a month
    conn.execute(
        f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
        INSERT INTO traces (trace_id, start_time, end_time, duration_ms, root_span_id, root_span_name,
            workflow_name, service_name, status, span_count, error_count, input_tokens, output_tokens,
            cached_tokens, reasoning_tokens, total_tokens, cost, models, session_id, user_id, has_root,
            first_offset, last_offset, updated_at)
        SELECT printf('%08x%024x', {h}, i), ? + i * ?, ? + i * ? + d * 1000000, d,
            printf('%016x', i * 8 + 1), 'flow_' || ({h} % 20),
            'wf_' || ({h} % 20), 'svc_' || ({h} % 5),
            CASE WHEN {h} % 50 = 0 THEN 'error' ELSE 'ok' END, 8, CASE WHEN {h} % 50 = 0 THEN 1 ELSE 0 END,
            tin, tout, 0, 0, tin + tout,
            CASE WHEN m1 = {PRICED} AND m2 = {PRICED} THEN NULL ELSE (tin + tout) * 0.000002 END,
            CASE WHEN m1 = m2 THEN json_array(mn1) WHEN mn1 < mn2 THEN json_array(mn1, mn2)
                 ELSE json_array(mn2, mn1) END,
            's' || ({h} % 50000), 'u' || ({h} % 10000), 1, i + 1, i + 1, i + 1
        FROM (SELECT i, (({h} % 1000) * ({h} % 1000)) / 100.0 + 1 AS d,
                     ({h} % 3000) AS tin, ({h} % 700) AS tout,
                     ({h} % 6) AS m1, (({h} / 7) % 6) AS m2,
                     json_extract(?, '$[' || ({h} % 6) || ']') AS mn1,
                     json_extract(?, '$[' || (({h} / 7) % 6) || ']') AS mn2
              FROM n)
        """,
        (
            traces,
            BASE_S * NS,
            step_ns,
            BASE_S * NS,
            step_ns,
            _json_list(MODELS),
            _json_list(MODELS),
        ),
    )
    log(f"traces: {time.perf_counter() - started:.1f}s")
    # 8 spans per trace: a root, two LLM calls (the trace's models), five tool/module spans
    conn.execute(
        f"""
        WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < {SPANS_PER_TRACE - 1})
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_time, end_time, duration_ms,
            status_code, status_message, service_name, trace_state, flags, attributes, events, links,
            resource_attributes, scope_name, scope_version, span_type, model, provider, input_tokens,
            output_tokens, cached_tokens, reasoning_tokens, total_tokens, cost, cost_source,
            counts_usage, log_offset)
        SELECT t.trace_id, printf('%016x', t.first_offset * 8 + j - 7),
            CASE WHEN j = 0 THEN NULL ELSE printf('%016x', t.first_offset * 8 - 7) END,
            CASE j WHEN 0 THEN t.root_span_name WHEN 1 THEN 'llm.chat' WHEN 2 THEN 'llm.chat'
                   ELSE 'tool.step_' || j END,
            1, t.start_time + j * 1000, t.start_time + j * 1000 + CAST(t.duration_ms * 1000000 / (j + 1) AS INT),
            t.duration_ms / (j + 1),
            CASE WHEN j = 3 AND t.error_count > 0 THEN 2 ELSE 0 END, NULL, t.service_name, NULL, 1,
            CASE WHEN j IN (1, 2) THEN json_object('gen_ai.request.model', json_extract(t.models, '$[0]'),
                                                   'user.id', t.user_id, 'step', j)
                 ELSE json_object('step', j, 'user.id', t.user_id) END,
            '[]', '[]', json_object('service.name', t.service_name), 'bench', '1',
            CASE WHEN j IN (1, 2) THEN 'llm' ELSE 'module' END,
            CASE WHEN j = 1 THEN json_extract(t.models, '$[0]')
                 WHEN j = 2 THEN json_extract(t.models, '$[#-1]') END,
            NULL,
            CASE WHEN j = 1 THEN t.input_tokens / 2 WHEN j = 2 THEN t.input_tokens - t.input_tokens / 2 END,
            CASE WHEN j = 1 THEN t.output_tokens / 2 WHEN j = 2 THEN t.output_tokens - t.output_tokens / 2 END,
            NULL, NULL,
            CASE WHEN j IN (1, 2) THEN t.total_tokens / 2 END,
            CASE WHEN j IN (1, 2) AND t.cost IS NOT NULL THEN t.cost / 2 END,
            CASE WHEN j IN (1, 2) AND t.cost IS NOT NULL THEN 'computed' END,
            CASE WHEN j IN (1, 2) THEN 1 ELSE 0 END, t.first_offset
        FROM traces t, k ORDER BY t.trace_id
        """
    )
    log(f"spans: {time.perf_counter() - started:.1f}s")
    _add_big_trace(conn)
    _rollups(conn)
    conn.execute("COMMIT")
    index_attributes(conn)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    tmp.rename(path)
    log(f"generated {path.name} in {time.perf_counter() - started:.1f}s")


def _json_list(values: tuple[str, ...]) -> str:
    import json

    return json.dumps(list(values))


def index_attributes(conn: sqlite3.Connection) -> None:
    """Create the attribute index (and the schema's other indexes) when missing and run the real
    indexer over every span not indexed yet, as the projector worker does when idle. An index of
    an older layout (a store cached before it changed) is dropped and rebuilt."""
    from msgtrace.projections import attr_index, sqlite_writer

    columns = [r[1] for r in conn.execute("PRAGMA table_info(attr_index)")]
    if columns and "gen" not in columns:
        log("attribute index of an older layout: rebuilding it")
        conn.execute("DROP TABLE attr_index")
        conn.execute("DELETE FROM attr_dirty")
        conn.execute("DELETE FROM meta WHERE key = ?", (attr_index.CHECKPOINT_KEY,))
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'",
            (sqlite_writer.PROJECTION_SCHEMA_VERSION,),
        )
    for statement in sqlite_writer._statements(sqlite_writer.schema_sql()):
        if "attr_" in statement or statement.lstrip().upper().startswith(
            ("CREATE INDEX", "DROP INDEX")
        ):
            conn.execute(statement)  # CREATE ... IF NOT EXISTS
    started = time.perf_counter()
    total = 0
    while n := attr_index.index_batch(conn, 200_000):
        total += n
    if total:
        conn.execute("ANALYZE attr_index")
        conn.execute("ANALYZE traces_root")
        log(f"attribute index: {total:,} spans in {time.perf_counter() - started:.1f}s")


def _add_big_trace(conn: sqlite3.Connection) -> None:
    start = (BASE_S + SPAN_S // 2) * NS
    conn.execute(
        f"""
        WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < {BIG_TRACE_SPANS - 1})
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_time, end_time, duration_ms,
            status_code, attributes, events, links, resource_attributes, scope_name, span_type, model,
            input_tokens, output_tokens, total_tokens, cost, cost_source, counts_usage, log_offset,
            service_name)
        SELECT ?, printf('%016x', j + 1), CASE WHEN j = 0 THEN NULL ELSE printf('%016x', (j - 1) / 10 + 1) END,
            'step_' || (j % 50), 1, ? + j * 100000, ? + j * 100000 + 50000000, 50.0, 0,
            json_object('step', j, 'gen_ai.request.model', 'gpt-4o', 'note', 'a moderately long attribute value'),
            json_array(json_object('time_unix_nano', ? + j * 100000, 'name', 'log', 'attributes', json_object('i', j))),
            '[]', '{{"service.name": "svc_big"}}', 'bench',
            CASE WHEN j % 10 = 1 THEN 'llm' ELSE 'module' END,
            CASE WHEN j % 10 = 1 THEN 'gpt-4o' END,
            CASE WHEN j % 10 = 1 THEN 100 END, CASE WHEN j % 10 = 1 THEN 20 END,
            CASE WHEN j % 10 = 1 THEN 120 END, CASE WHEN j % 10 = 1 THEN 0.001 END,
            CASE WHEN j % 10 = 1 THEN 'computed' END, CASE WHEN j % 10 = 1 THEN 1 ELSE 0 END, 0, 'svc_big'
        FROM k
        """,
        (BIG_TRACE_ID, start, start, start),
    )
    conn.execute(
        "INSERT INTO traces (trace_id, start_time, end_time, duration_ms, root_span_id, root_span_name,"
        " workflow_name, service_name, status, span_count, error_count, input_tokens, output_tokens,"
        " total_tokens, cost, models, has_root, first_offset, last_offset, updated_at)"
        " SELECT ?, min(start_time), max(end_time), (max(end_time) - min(start_time)) / 1e6,"
        " '0000000000000001', 'step_0', 'big', 'svc_big', 'ok', count(*), 0, sum(input_tokens),"
        " sum(output_tokens), sum(total_tokens), sum(cost), '[\"gpt-4o\"]', 1, 0, 0, 0"
        " FROM spans WHERE trace_id = ?",
        (BIG_TRACE_ID, BIG_TRACE_ID),
    )


def _rollups(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO trace_models (model, start_time, trace_id)"
        " SELECT DISTINCT s.model, t.start_time, s.trace_id FROM spans s JOIN traces t USING (trace_id)"
        " WHERE s.model IS NOT NULL"
    )
    conn.execute(
        "INSERT INTO trace_rollup (bucket_start, workflow_name, service_name, traces, error_traces, spans,"
        " errors, duration_ms_sum, duration_ms_max, input_tokens, output_tokens, total_tokens, cost)"
        " SELECT start_time / 1000000000 / 60 * 60 AS b, coalesce(workflow_name, ''),"
        " coalesce(service_name, ''), count(*), sum(error_count > 0), sum(span_count), sum(error_count),"
        " sum(duration_ms), max(duration_ms), sum(input_tokens), sum(output_tokens), sum(total_tokens),"
        " coalesce(sum(cost), 0) FROM traces GROUP BY 1, 2, 3"
    )
    conn.execute(
        "INSERT INTO duration_histogram (bucket_start, bin, traces)"
        " SELECT start_time / 1000000000 / 3600 * 3600,"
        " CASE WHEN duration_ms < 1.189 THEN 0 ELSE CAST(4 * ln(duration_ms) / ln(2) AS INT) END, count(*)"
        " FROM traces GROUP BY 1, 2"
    )
    conn.execute(
        "INSERT INTO usage_rollup (bucket_start, model, workflow_name, service_name, calls, input_tokens,"
        " output_tokens, cached_tokens, reasoning_tokens, total_tokens, cost, unpriced_calls, errors,"
        " duration_ms_sum, duration_ms_max)"
        " SELECT s.start_time / 1000000000 / 60 * 60, s.model, coalesce(t.workflow_name, ''),"
        " coalesce(s.service_name, ''), count(*), sum(s.input_tokens), sum(s.output_tokens), 0, 0,"
        " sum(s.total_tokens), coalesce(sum(s.cost), 0), sum(s.cost IS NULL), sum(s.status_code = 2),"
        " sum(s.duration_ms), max(s.duration_ms)"
        " FROM spans s JOIN traces t USING (trace_id) WHERE s.counts_usage = 1 GROUP BY 1, 2, 3, 4"
    )
    _coarser_rollups(conn)


def _coarser_rollups(conn: sqlite3.Connection, *, only_missing: bool = False) -> None:
    """The coarser copies of the roll-ups (quarter-hourly to daily), grouped from the finer
    rows; with `only_missing`, only the tables the store does not have yet."""
    from msgtrace.projections.apply_rollups import fill_coarser, table_ddl
    from msgtrace.projections.views import BUILTIN_VIEWS, RollupView

    for view in BUILTIN_VIEWS:
        if isinstance(view, RollupView):
            fine = view.rollup
            for coarse in view.coarser:
                exists = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = ?", (coarse.table,)
                ).fetchone()
                if not (only_missing and exists):
                    log(f"filling {coarse.table} ...")
                    conn.execute(table_ddl(view.rollup.table, coarse.table))
                    fill_coarser(conn, fine, coarse)
                fine = coarse


def ensure_store(scale: float) -> Path:
    traces = max(1000, int(1_000_000 * scale))
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    path = WORK_DIR / f"read-{traces}.db"
    if not path.exists():
        log(
            f"generating {traces:,} traces / {traces * SPANS_PER_TRACE + BIG_TRACE_SPANS:,} spans ..."
        )
        generate(path, traces)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # a store cached before some of the coarser roll-ups existed gets them now
        conn.execute("BEGIN")
        _coarser_rollups(conn, only_missing=True)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return path


INGEST_RATE = 10_000.0  # spans/s of OTLP ingest while measuring (the read issue's condition)
INGEST_CORPUS_SPANS = 600_000  # `small` variant: a minute of fresh spans at that rate, then repeats


@contextmanager
def ingest_running(store_path: Path, rate: float) -> Iterator[tuple[Path, dict[str, float]]]:
    """A copy of the store that a real `msgtrace start` projects OTLP ingest into at `rate`
    spans/s while the caller measures. Yields (the copy's path, stats filled in at exit:
    achieved spans/s and the projection lag at the end)."""
    live = WORK_DIR / "read-live"
    shutil.rmtree(live, ignore_errors=True)
    live.mkdir(parents=True)
    db = live / "msgtrace.db"
    log(f"copying the store for the ingest run ({store_path.stat().st_size / 2**30:.1f} GiB) ...")
    shutil.copyfile(store_path, db)
    load_corpus(INGEST_CORPUS_SPANS, variant="small", seed=0)
    corpus = corpus_path(INGEST_CORPUS_SPANS, variant="small", seed=0)
    stats: dict[str, float] = {}
    try:
        with MsgtraceServer(live / "data", args=["--db-path", str(db)]) as server:
            cmd = loadgen_command(
                server.otlp_url, corpus, connections=4, rate=rate, duration=6 * 3600
            )
            load = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO_DIR
            )
            try:
                with httpx.Client(base_url=server.url, timeout=10) as client:
                    first = _wait_projecting(client)
                    t0 = time.monotonic()
                    yield db, stats
                    health = client.get("/health").json()
                    requests = int(health["last_offset"]) - first
                    stats["spans_per_s"] = requests * 512 / (time.monotonic() - t0)
                    stats["lag_s"] = float(health["projection_lag"]["seconds"])
            finally:
                load.terminate()
                load.wait(30)
    finally:
        shutil.rmtree(live, ignore_errors=True)


def _wait_projecting(client: httpx.Client, timeout: float = 120.0) -> int:
    """Wait until the server's projector has applied ingest into the store; returns the journal's
    last offset then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = client.get("/health").json()
        if (health["projection_lag"]["checkpoint"] or 0) > 0:
            return int(health["last_offset"])
        time.sleep(0.2)
    raise RuntimeError("the ingest run's projector applied nothing within two minutes")


CALL_BUDGET_S = 10.0  # per figure and run: slow operations get fewer calls (at least 3)


def measure(fn: Callable[[], Any], calls: int) -> tuple[float, float]:
    """(p50, p95) in ms over `calls` calls (fewer for slow operations), after one warm-up call."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    calls = max(3, min(calls, int(CALL_BUDGET_S / max(first, 1e-6))))
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return percentile(samples, 50), percentile(samples, 95)


def main(argv: list[str] | None = None) -> int:
    parser = bench_arguments("Read-side latency over a large generated store.")
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="1.0 = 1,000,000 traces (default; 0.1 with --quick)",
    )
    parser.add_argument(
        "--calls", type=int, default=None, help="calls per run (default 30; 15 with --quick)"
    )
    parser.add_argument("--only", default=None, help="only figures whose name contains this")
    parser.add_argument(
        "--ingest-rate",
        type=float,
        default=INGEST_RATE,
        help="spans/s ingested into a copy of the store while measuring (0: none)",
    )
    args = parser.parse_args(argv)
    scale = args.scale if args.scale is not None else (0.1 if args.quick else 1.0)
    calls = args.calls or (15 if args.quick else 30)
    runs = repeats(args, full=3, quick=2)

    path = ensure_store(scale)
    conn = sqlite3.connect(path, isolation_level=None)  # a store cached before the index
    try:
        conn.execute("PRAGMA cache_size=-200000")
        index_attributes(conn)
    finally:
        conn.close()
    if args.ingest_rate > 0:
        with ingest_running(path, args.ingest_rate) as (live_path, ingest):
            result = measure_all(live_path, scale, calls, runs, args)
        result.notes.append(
            f"Measured while `msgtrace start` ingested OTLP into the store at "
            f"{ingest['spans_per_s']:,.0f} spans/s (target {args.ingest_rate:,.0f}; small corpus, "
            f"4 connections) and projected it; projection lag at the end "
            f"{ingest['lag_s']:.2f} s."
        )
    else:
        result = measure_all(path, scale, calls, runs, args)
        result.notes.append("Measured without concurrent ingest (--ingest-rate 0).")
    emit(result)
    return 0


def measure_all(path: Path, scale: float, calls: int, runs: int, args: Any) -> Result:
    from msgtrace.api.routes_models import Stats, Usage
    from msgtrace.core.models import TraceQueryParams
    from msgtrace.projections.store import ReadStore, encode_cursor

    store = ReadStore(path)
    n_traces = store.list_traces(TraceQueryParams(limit=1)).total
    mid = (BASE_S + SPAN_S // 2) * NS

    def list_op(**kw: Any) -> Callable[[], Any]:
        params = TraceQueryParams(**kw)

        def op() -> Any:
            return store.list_traces_json(params)  # what GET /api/v1/traces returns

        return op

    with store.connection() as conn:
        row = conn.execute(
            "SELECT start_time, trace_id FROM traces ORDER BY start_time DESC, trace_id DESC LIMIT 1 OFFSET ?",
            (n_traces // 2,),
        ).fetchone()
    deep_cursor = encode_cursor("start_time", "desc", row[0], row[1])

    lists: dict[str, Callable[[], Any]] = {
        "list: first page (newest)": list_op(),
        "list: workflow_name": list_op(workflow_name="wf_7"),
        "list: service": list_op(service="svc_3"),
        "list: has_errors=true": list_op(has_errors=True),
        "list: has_errors=false": list_op(has_errors=False),
        "list: min_duration_ms=5000": list_op(min_duration_ms=5000),
        "list: max_duration_ms=10": list_op(max_duration_ms=10),
        "list: model": list_op(model="claude-3-5-sonnet"),
        "list: min_cost=0.007": list_op(min_cost=0.007),
        "list: time range (1 day)": list_op(start_time=mid, end_time=mid + 86400 * NS),
        "list: search (trace id prefix)": list_op(search="abcd1234"),
        "list: sort -duration": list_op(sort="-duration"),
        "list: sort tokens asc": list_op(sort="tokens", order="asc"),
        "list: sort -cost": list_op(sort="-cost"),
        "list: sort span_count": list_op(sort="-span_count"),
        "list: deep page (cursor at 50%)": list_op(cursor=deep_cursor),
    }
    queries: dict[str, Callable[[], Any]] = {
        "query: duration:>5s AND model:claude*": list_op(q="duration:>5s AND model:claude*"),
        "query: workflow:wf_10 error:true": list_op(q="workflow:wf_10 error:true"),
        # no trace matches: the page reads every trace of the workflow (worst case of an index)
        "query: workflow:wf_3 error:true (no match)": list_op(q="workflow:wf_3 error:true"),
        "query: (status:error OR cost:>0.01) -service:svc_1": list_op(
            q="(status:error OR cost:>0.01) -service:svc_1"
        ),
        "query: name:tool.step_3 tokens:>3000": list_op(q="name:tool.step_3 tokens:>3000"),
        "query: attr.user.id:u42": list_op(q="attr.user.id:u42"),
        "query: bare word flow_1": list_op(q="flow_1"),
        "query: search text (no match)": list_op(search="zzzz"),
    }

    def detail() -> Any:
        body = store.get_trace_json(BIG_TRACE_ID)  # what GET /api/v1/traces/{id} returns
        assert body is not None and len(body) > BIG_TRACE_SPANS * 100
        return body

    def tree() -> Any:
        return store.get_tree_json(BIG_TRACE_ID)

    def uncached(fn: Callable[[], Any]) -> Callable[[], Any]:
        """`fn` with the detail/tree body cache emptied first: the path a first view takes."""
        from msgtrace.projections.store_rows import BODY_CACHE

        def op() -> Any:
            BODY_CACHE.clear()
            return fn()

        return op

    def detail_models() -> Any:
        trace = store.get_trace(BIG_TRACE_ID)  # SQLiteTraceStorage.get_trace: pydantic models
        assert trace is not None and len(trace.spans) == BIG_TRACE_SPANS
        return trace

    day = {"start_time": (BASE_S + SPAN_S - 86400) * NS, "end_time": (BASE_S + SPAN_S) * NS}

    def stats(**kw: Any) -> Callable[[], Any]:
        return lambda: Stats.model_validate(store.stats(**kw)).model_dump_json()

    def usage(**kw: Any) -> Callable[[], Any]:
        return lambda: Usage.model_validate(store.usage(group_by="model", **kw)).model_dump_json()

    groups: list[tuple[str, dict[str, Callable[[], Any]], float]] = [
        ("list", lists, LIST_TARGET),
        ("query", queries, QUERY_TARGET),
        (
            "detail",
            {
                "detail: 10,000-span trace (API JSON, first view)": uncached(detail),
                "tree: 10,000-span trace (API JSON, first view)": uncached(tree),
                "detail: 10,000-span trace (API JSON, repeat view)": detail,
                "tree: 10,000-span trace (API JSON, repeat view)": tree,
                "detail: 10,000-span trace (Python models)": detail_models,
            },
            DETAIL_TARGET,
        ),
        (
            "aggregate",
            {
                "stats: last 24 h": stats(**day),
                "usage by model: last 24 h": usage(**day),
                "stats: all time": stats(),
                "usage by model: all time": usage(),
            },
            AGG_TARGET,
        ),
    ]
    result = Result(
        bench="read",
        title=f"Read side ({n_traces:,} traces, {n_traces * 8 + BIG_TRACE_SPANS - 8:,} spans)",
    )
    cmd = (
        f".venv/bin/python -m benchmarks.bench_read --scale {scale:g}"
        + (" --quick" if args.quick else "")
        + (f" --ingest-rate {args.ingest_rate:g}" if args.ingest_rate != INGEST_RATE else "")
    )
    for _, ops, group_target in groups:
        for name, fn in ops.items():
            if args.only and args.only not in name:
                continue
            # the Python API builds pydantic models, and a repeat view may come from the body
            # cache: both reported, but the target is the API's first view
            target = None if "Python models" in name or "repeat view" in name else group_target
            p95s: list[float] = []
            p50s: list[float] = []
            for _ in range(runs):
                p50, p95 = measure(fn, calls)
                p50s.append(p50)
                p95s.append(p95)
            log(
                f"{name}: p50 {sorted(p50s)[len(p50s) // 2]:.1f} ms, p95 {sorted(p95s)[len(p95s) // 2]:.1f} ms"
            )
            result.add(
                Figure(
                    name=f"{name} p95",
                    unit="ms",
                    runs=p95s,
                    command=cmd,
                    target=target,
                    op="<=" if target is not None else None,
                    note=f"p50 {sorted(p50s)[len(p50s) // 2]:.1f} ms",
                )
            )
    result.notes.append(
        f"{calls} calls per run after a warm-up call, {runs} runs; each call is the ReadStore query plus "
        "serialising the response, as the API does (no HTTP)."
    )
    result.extra = {"scale": scale, "traces": n_traces, "db_bytes": path.stat().st_size}
    store.close()
    return result


if __name__ == "__main__":
    sys.exit(main())
