"""The analysis routes (timeline, workflow aggregates) over a real views database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from msgtrace.api.routes_analysis import analysis_router, latency_histogram, percentile
from tests.api.views import BASE, NS, SpanSpec, ViewsBuilder, build_sample, sid, tid

pytestmark = pytest.mark.anyio


@pytest.fixture
async def analysis(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    db = tmp_path / "msgtrace.db"
    build_sample(db).close()
    app = FastAPI()
    app.include_router(analysis_router(db))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def test_timeline_is_columnar_and_relative(analysis: httpx.AsyncClient) -> None:
    r = await analysis.get(f"/api/v1/traces/{tid(1)}/timeline")
    assert r.status_code == 200
    body = r.json()
    assert body["trace"]["trace_id"] == tid(1)
    assert body["trace"]["workflow_name"] == "chat"
    assert body["base_time"] == BASE
    assert body["span_id"] == [sid(1), sid(2), sid(3)]
    assert body["parent_span_id"] == [None, sid(1), sid(1)]
    assert body["name"] == ["chat_flow", "llm.call", "tool.search"]
    assert body["start"] == [0, NS // 10, NS]
    assert body["end"] == [1500 * 1_000_000, NS // 10 + 900 * 1_000_000, NS + 200 * 1_000_000]
    assert body["model"] == [None, "gpt-4o", None]
    assert body["input_tokens"][1] == 100 and body["output_tokens"][1] == 50
    assert body["cost"][1] == pytest.approx(0.02)
    assert "attributes" not in body
    assert {len(v) for k, v in body.items() if isinstance(v, list)} == {3}


async def test_timeline_keeps_error_messages_only(analysis: httpx.AsyncClient) -> None:
    body = (await analysis.get(f"/api/v1/traces/{tid(2).upper()}/timeline")).json()
    assert body["status_code"] == [0, 2]
    assert body["status_message"] == [None, "rate limited"]


async def test_timeline_unknown_trace_is_404(analysis: httpx.AsyncClient) -> None:
    r = await analysis.get(f"/api/v1/traces/{'f' * 32}/timeline")
    assert r.status_code == 404
    assert "not found" in r.json()["detail"]


async def test_aggregates_for_a_workflow(analysis: httpx.AsyncClient) -> None:
    r = await analysis.get("/api/v1/workflows/chat/aggregates")
    assert r.status_code == 200
    body = r.json()
    assert body["workflow_name"] == "chat"
    assert body["trace_count"] == 2
    assert body["error_traces"] == 1
    assert body["p50_ms"] == 1500.0 and body["max_ms"] == 3500.0
    assert sum(b["count"] for b in body["histogram"]) == 2
    by_name = {s["name"]: s for s in body["spans"]}
    llm = by_name["llm.call"]
    assert llm["count"] == 2 and llm["traces"] == 2 and llm["error_count"] == 1
    assert llm["p50_ms"] == 900.0 and llm["p95_ms"] == 2500.0
    assert llm["input_tokens"] == 1100 and llm["total_tokens"] == 1950
    assert llm["cost"] == pytest.approx(0.52)
    assert body["spans"][0]["name"] == "chat_flow"  # most total time first
    assert body["spans_truncated"] is False


async def test_aggregates_limit_and_range(analysis: httpx.AsyncClient) -> None:
    latest = (await analysis.get("/api/v1/workflows/chat/aggregates?limit_traces=1")).json()
    assert latest["trace_count"] == 1 and latest["max_ms"] == 3500.0  # the later trace
    early = (await analysis.get(f"/api/v1/workflows/chat/aggregates?end_time={BASE + 30 * NS}")).json()
    assert early["trace_count"] == 1 and early["max_ms"] == 1500.0
    empty = (await analysis.get("/api/v1/workflows/nope/aggregates")).json()
    assert empty["trace_count"] == 0 and empty["histogram"] == [] and empty["p50_ms"] is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit_traces=0", "limit_traces"),
        ("limit_traces=100000", "limit_traces"),
        (f"start_time={BASE}&end_time={BASE}", "end_time: must be after start_time"),
        ("start_time=abc", "start_time"),
    ],
)
async def test_aggregates_bad_parameters_are_400(
    analysis: httpx.AsyncClient, query: str, message: str
) -> None:
    r = await analysis.get(f"/api/v1/workflows/chat/aggregates?{query}")
    assert r.status_code == 400
    assert message in r.json()["detail"]


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([7.0], 0.99) == 7.0


def test_latency_histogram_bins_cover_every_value() -> None:
    values = [1.0, 2.0, 4.0, 8.0, 1000.0]
    bins = latency_histogram(values, bins=4)
    assert len(bins) == 4
    assert bins[0].lo_ms == 1.0 and bins[-1].hi_ms == 1000.0
    assert sum(b.count for b in bins) == 5
    assert bins[-1].count == 1  # 1000 alone in the top bin
    assert latency_histogram([5.0, 5.0]) == latency_histogram([5.0, 5.0])
    assert latency_histogram([5.0, 5.0])[0].count == 2
    assert latency_histogram([]) == []


async def test_timeline_of_a_large_trace(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    b = ViewsBuilder(db)
    spans = [SpanSpec(sid(1), "root", BASE, 5000.0)]
    spans += [SpanSpec(sid(i), f"s{i % 7}", BASE + i * 1000, 1.0, parent=sid(1)) for i in range(2, 2001)]
    b.add_trace(tid(9), spans)
    b.close()
    app = FastAPI()
    app.include_router(analysis_router(db))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        body = (await c.get(f"/api/v1/traces/{tid(9)}/timeline")).json()
    assert len(body["span_id"]) == 2000
    assert body["start"] == sorted(body["start"])


async def test_aggregates_time_bounds_are_validated_not_overflowing(
    analysis: httpx.AsyncClient,
) -> None:
    r = await analysis.get("/api/v1/workflows/chat/aggregates", params={"start_time": 2**70})
    assert r.status_code == 400  # the read API reports validation errors as 400 with the field
    assert "start_time" in r.text
