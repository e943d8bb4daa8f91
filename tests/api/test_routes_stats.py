"""Stats, time series, usage, facets and query validation against a real views database."""

from __future__ import annotations

import httpx
import pytest

from tests.api.views import BASE, NS

pytestmark = pytest.mark.anyio


async def test_stats(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/stats")
    assert r.status_code == 200
    s = r.json()
    assert s["total_traces"] == 6
    assert s["total_spans"] == 30
    assert s["error_traces"] == 1 and s["error_count"] == 1
    assert s["error_rate"] == pytest.approx(1 / 6)
    assert s["tokens"] == {"input": 6100, "output": 850, "total": 6950}
    assert s["cost"] == pytest.approx(0.52)
    d = s["duration_ms"]
    assert d["avg"] == pytest.approx((1500 + 3500 + 40 + 250 + 10 + 5000) / 6)
    assert 0 < d["p50"] <= d["p95"] <= d["p99"] <= 5000
    assert s["time_range"]["start"] == BASE
    assert s["time_range"]["end"] == BASE + 300 * NS + 5000 * 1_000_000


async def test_stats_filtered(client: httpx.AsyncClient) -> None:
    s = (await client.get("/api/v1/stats", params={"workflow_name": "chat"})).json()
    assert s["total_traces"] == 2
    assert s["duration_ms"]["p50"] == pytest.approx(1500)
    assert s["duration_ms"]["p99"] == pytest.approx(3500)
    s = (await client.get("/api/v1/stats", params={"service": "worker"})).json()
    assert s["total_traces"] == 2
    s = (await client.get("/api/v1/stats", params={"start_time": BASE + 170 * NS})).json()
    assert s["total_traces"] == 3
    s = (await client.get("/api/v1/stats", params={"workflow_name": "nope"})).json()
    assert s["total_traces"] == 0 and s["error_rate"] == 0
    assert s["duration_ms"] == {"avg": 0, "p50": 0, "p95": 0, "p99": 0}


async def test_timeseries(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/stats/timeseries", params={"bucket": 60})
    assert r.status_code == 200
    body = r.json()
    assert body["bucket_seconds"] == 60
    points = body["points"]
    assert sum(p["traces"] for p in points) == 6
    assert [p["t"] for p in points] == sorted(p["t"] for p in points)
    assert all(p["t"] % 60 == 0 for p in points)
    assert sum(p["error_traces"] for p in points) == 1
    auto = (await client.get("/api/v1/stats/timeseries")).json()
    assert auto["bucket_seconds"] % 60 == 0
    assert sum(p["traces"] for p in auto["points"]) == 6
    hourly = (await client.get("/api/v1/stats/timeseries", params={"bucket": 3600})).json()
    assert sum(p["traces"] for p in hourly["points"]) == 6 and len(hourly["points"]) <= 2


@pytest.mark.parametrize("bucket", [0, 59, 61, -60, "x"])
async def test_timeseries_bad_bucket(client: httpx.AsyncClient, bucket: object) -> None:
    r = await client.get("/api/v1/stats/timeseries", params={"bucket": bucket})
    assert r.status_code == 400 and "bucket" in r.json()["detail"]


async def test_usage_by_model(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/usage")).json()
    assert body["group_by"] == "model"
    totals = {t["key"]: t for t in body["totals"]}
    assert set(totals) == {"gpt-4o", "claude-3-5-sonnet", "gpt-4o-mini"}
    assert body["totals"][0]["key"] == "claude-3-5-sonnet"  # biggest cost first
    c = totals["claude-3-5-sonnet"]
    assert c["calls"] == 1 and c["input_tokens"] == 1000 and c["errors"] == 1
    assert c["avg_duration_ms"] == pytest.approx(2500)
    assert totals["gpt-4o-mini"]["unpriced_calls"] == 1
    series = {s["key"]: s["points"] for s in body["series"]}
    assert sum(p["calls"] for p in series["gpt-4o"]) == 1
    assert all("t" in p for p in series["gpt-4o"])


@pytest.mark.parametrize(
    ("group_by", "keys"), [("workflow", {"chat", "rag"}), ("service", {"api", "worker"})]
)
async def test_usage_groups(client: httpx.AsyncClient, group_by: str, keys: set[str]) -> None:
    body = (await client.get("/api/v1/usage", params={"group_by": group_by, "bucket": 3600})).json()
    assert {t["key"] for t in body["totals"]} == keys
    assert body["bucket_seconds"] == 3600


async def test_usage_bad_group(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/usage", params={"group_by": "planet"})
    assert r.status_code == 400 and "group_by" in r.json()["detail"]


async def test_facets(client: httpx.AsyncClient) -> None:
    wf = (await client.get("/api/v1/workflows")).json()["items"]
    assert wf[:2] == [{"name": "chat", "count": 2}, {"name": "rag", "count": 2}]
    assert {i["name"] for i in wf} == {"chat", "rag", "batch"}
    sv = (await client.get("/api/v1/services")).json()["items"]
    assert {i["name"]: i["count"] for i in sv} == {"api": 3, "worker": 2, "batch": 1}
    md = (await client.get("/api/v1/models")).json()["items"]
    assert {i["name"] for i in md} == {"gpt-4o", "claude-3-5-sonnet", "gpt-4o-mini"}


@pytest.mark.parametrize(
    ("q", "ok", "column"),
    [
        ("duration:>1s", True, None),
        ("", True, None),
        ("duration:>1x", False, 11),
        ("(a OR b", False, 1),
        ("nope:1", False, 1),
    ],
)
async def test_query_validate(
    client: httpx.AsyncClient, q: str, ok: bool, column: int | None
) -> None:
    body = (await client.get("/api/v1/query/validate", params={"q": q})).json()
    assert body["ok"] is ok and body["column"] == column
    assert (body["error"] is None) is ok


async def test_empty_store_aggregates(tmp_path: object) -> None:
    from pathlib import Path

    from tests.api.conftest import make_app

    app = make_app(Path(str(tmp_path)) / "missing.db")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/api/v1/stats")).json()["total_traces"] == 0
        assert (await c.get("/api/v1/stats/timeseries")).json()["points"] == []
        assert (await c.get("/api/v1/usage")).json()["totals"] == []
        assert (await c.get("/api/v1/workflows")).json() == {"items": []}
        assert (await c.get("/api/v1/traces")).json()["total"] == 0
