"""The aggregate routes answer the same with the coarser roll-ups (quarter hour to day) as from
the per-minute tables alone, over a store whose traces span several days."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from msgtrace.projections import apply_rollups
from msgtrace.projections.views import BUILTIN_VIEWS, RollupView
from tests.api.conftest import make_app
from tests.api.views import BASE, NS, SpanSpec, build_sample, sid, tid

pytestmark = pytest.mark.anyio

HOUR = 3600 * NS
DAY = 86400 * NS


def _fill_coarser(db: Path) -> None:
    """Create and fill every coarser copy from the finer rows, as a projector would keep them."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for view in BUILTIN_VIEWS:
            if isinstance(view, RollupView):
                fine = view.rollup
                for coarse in view.coarser:
                    conn.execute(apply_rollups.table_ddl(view.rollup.table, coarse.table))
                    apply_rollups.fill_coarser(conn, fine, coarse)
                    fine = coarse
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.fixture
def dbs(tmp_path: Path) -> tuple[Path, Path]:
    """(the sample store plus traces over four days, the same with the coarser copies)."""
    minute_db = tmp_path / "minute.db"
    b = build_sample(minute_db)
    for i in range(40):
        start = BASE + i * 7 * HOUR + i * 61 * NS  # every 7 h 1 min, over about 12 days
        b.add_trace(
            tid(1000 + i),
            [
                SpanSpec(sid(1000 + 2 * i), "flow", start, 100.0 + 37 * i, service="api"),
                SpanSpec(
                    sid(1001 + 2 * i),
                    "llm.call",
                    start + NS,
                    50.0 + i,
                    parent=sid(1000 + 2 * i),
                    service="api",
                    span_type="llm",
                    model=["gpt-4o", "claude-3-5-haiku"][i % 2],
                    input_tokens=10 * i,
                    output_tokens=i,
                    cost=0.001 * i,
                ),
            ],
            workflow=["chat", "rag"][i % 3 % 2],
        )
    b.close()
    coarse_db = tmp_path / "coarse.db"
    src, dst = sqlite3.connect(minute_db), sqlite3.connect(coarse_db)
    src.backup(dst)
    src.close()
    dst.close()
    _fill_coarser(coarse_db)
    return minute_db, coarse_db


@pytest.fixture
async def clients(dbs: tuple[Path, Path]) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    out = []
    for db in dbs:
        transport = httpx.ASGITransport(app=make_app(db))
        out.append(httpx.AsyncClient(transport=transport, base_url="http://test"))
    yield tuple(out)
    for c in out:
        await c.aclose()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


RANGES: list[dict[str, int]] = [
    {},
    {"start_time": BASE + 5 * HOUR + 17 * NS},
    {"end_time": BASE + 6 * DAY + 123 * NS},
    {"start_time": BASE + 25 * HOUR + 1, "end_time": BASE + 9 * DAY + 7 * HOUR + 59 * NS},
    {"start_time": BASE + 2 * DAY, "end_time": BASE + 3 * DAY},
]


@pytest.mark.parametrize("rng", RANGES)
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/stats", {}),
        ("/api/v1/stats", {"workflow_name": "chat"}),
        ("/api/v1/stats", {"service": "api"}),
        ("/api/v1/stats/timeseries", {}),
        ("/api/v1/stats/timeseries", {"bucket": 3600, "workflow_name": "rag"}),
        ("/api/v1/stats/timeseries", {"bucket": 86400}),
        ("/api/v1/stats/timeseries", {"bucket": 900}),
        ("/api/v1/usage", {}),
        ("/api/v1/usage", {"group_by": "workflow", "bucket": 21600}),
        ("/api/v1/usage", {"group_by": "service", "bucket": 60}),
    ],
)
async def test_aggregates_equal_with_coarser_rollups(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    path: str,
    params: dict[str, Any],
    rng: dict[str, int],
) -> None:
    minute, coarse = clients
    a = await minute.get(path, params={**params, **rng})
    b = await coarse.get(path, params={**params, **rng})
    assert a.status_code == b.status_code == 200
    assert _same(a.json(), b.json()), (a.json(), b.json())


@pytest.mark.parametrize("path", ["/api/v1/workflows", "/api/v1/services", "/api/v1/models"])
async def test_facets_equal_with_coarser_rollups(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], path: str
) -> None:
    minute, coarse = clients
    assert (await minute.get(path)).json() == (await coarse.get(path)).json()


async def test_bad_bucket_is_refused_with_coarser_rollups(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    _, coarse = clients
    r = await coarse.get("/api/v1/usage", params={"bucket": 90})
    assert r.status_code == 400
    assert "multiple of 60" in r.text
