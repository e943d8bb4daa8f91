"""The trace routes against a real views database, through the ASGI app in-process."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import Tombstones
from tests.api.views import tid

pytestmark = pytest.mark.anyio

ABC = "abc" + "0" * 28 + "6"


async def ids(client: httpx.AsyncClient, **params: object) -> list[str]:
    r = await client.get("/api/v1/traces", params=params)
    assert r.status_code == 200, r.text
    return [t["trace_id"] for t in r.json()["traces"]]


async def test_list_default_newest_first(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/traces")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 6
    assert body["limit"] == 50 and body["offset"] == 0 and body["next_cursor"] is None
    assert [t["trace_id"] for t in body["traces"]] == [ABC, tid(5), tid(4), tid(3), tid(2), tid(1)]
    first = body["traces"][-1]
    assert first["workflow_name"] == "chat"
    assert first["models"] == ["gpt-4o"]
    assert first["total_tokens"] == 150 and first["cost"] == pytest.approx(0.02)
    assert first["status"] == "ok" and first["in_progress"] is False
    assert body["traces"][1]["in_progress"] is True


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"workflow_name": "chat"}, {tid(1), tid(2)}),
        ({"service": "worker"}, {tid(3), tid(4)}),
        ({"has_errors": "true"}, {tid(2)}),
        ({"has_errors": "false"}, {tid(1), tid(3), tid(4), tid(5), ABC}),
        ({"min_duration_ms": 1500}, {tid(1), tid(2), ABC}),
        ({"max_duration_ms": 250}, {tid(3), tid(4), tid(5)}),
        ({"model": "gpt-4o"}, {tid(1)}),
        ({"min_cost": 0.1}, {tid(2)}),
        ({"search": "abc"}, {ABC}),
        ({"search": "step_1"}, {ABC}),
        ({"search": "RAG"}, {tid(3), tid(4)}),
        ({"q": "duration:>1s AND model:claude*"}, {tid(2)}),
        ({"workflow_name": "chat", "has_errors": "false"}, {tid(1)}),
    ],
)
async def test_list_filters(
    client: httpx.AsyncClient, params: dict[str, object], expected: set[str]
) -> None:
    got = await ids(client, **params)
    assert set(got) == expected
    r = await client.get("/api/v1/traces", params=params)
    assert r.json()["total"] == len(expected)


async def test_time_filters(client: httpx.AsyncClient) -> None:
    from tests.api.views import BASE, NS

    got = await ids(client, start_time=BASE + 60 * NS, end_time=BASE + 180 * NS)
    assert set(got) == {tid(2), tid(3), tid(4)}


@pytest.mark.parametrize(
    ("sort", "order", "expected_first"),
    [
        ("duration", "desc", ABC),
        ("-duration", None, ABC),
        ("duration", "asc", tid(5)),
        ("span_count", "desc", ABC),
        ("tokens", "desc", tid(4)),
        ("cost", "desc", tid(2)),
        ("start_time", "asc", tid(1)),
    ],
)
async def test_sorts(
    client: httpx.AsyncClient, sort: str, order: str | None, expected_first: str
) -> None:
    params: dict[str, object] = {"sort": sort}
    if order:
        params["order"] = order
    got = await ids(client, **params)
    assert got[0] == expected_first
    assert len(got) == 6


@pytest.mark.parametrize("sort", ["start_time", "duration", "span_count", "tokens", "cost"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_cursor_pages_cover_everything_once(
    client: httpx.AsyncClient, sort: str, order: str
) -> None:
    full = await ids(client, sort=sort, order=order)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, object] = {"sort": sort, "order": order, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/api/v1/traces", params=params)).json()
        seen += [t["trace_id"] for t in body["traces"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == full


async def test_offset_paging(client: httpx.AsyncClient) -> None:
    full = await ids(client)
    assert await ids(client, limit=2, offset=2) == full[2:4]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort": "bogus"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"has_errors": "maybe"}, "has_errors"),
        ({"min_duration_ms": "fast"}, "min_duration_ms"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"q": "duration:>fast"}, "duration"),
    ],
)
async def test_bad_filters_are_400_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, object], names: str
) -> None:
    r = await client.get("/api/v1/traces", params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert names in body["detail"]
    assert body["hint"]


async def test_query_error_carries_column(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/traces", params={"q": "workflow:chat AND bogus:1"})
    assert r.status_code == 400
    assert r.json()["column"] == 19
    assert "bogus" in r.json()["detail"]


async def test_cursor_from_another_sort_is_rejected(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/traces", params={"limit": 1})).json()
    r = await client.get("/api/v1/traces", params={"cursor": body["next_cursor"], "sort": "cost"})
    assert r.status_code == 400
    assert "cursor" in r.json()["detail"]


async def test_detail(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/v1/traces/{tid(1)}")
    assert r.status_code == 200
    t = r.json()
    assert t["trace_id"] == tid(1) and t["span_count"] == 3
    assert [s["name"] for s in t["spans"]] == ["chat_flow", "llm.call", "tool.search"]
    llm = t["spans"][1]
    assert llm["kind"] == "INTERNAL"
    assert llm["status"] == {"code": "UNSET", "message": None}
    assert llm["llm"]["model"] == "gpt-4o" and llm["llm"]["cost"] == pytest.approx(0.02)
    assert llm["llm"]["cost_source"] == "span" and llm["llm"]["counts_usage"] is True
    assert llm["attributes"] == {"gen_ai.request.model": "gpt-4o", "retry": 2}
    assert t["spans"][0]["llm"] is None
    assert t["spans"][0]["scope"] == {"name": "test.scope", "version": "1.0"}
    assert t["spans"][0]["resource_attributes"] == {"service.name": "api"}


async def test_detail_accepts_uppercase_id(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/v1/traces/{ABC.upper()}")
    assert r.status_code == 200 and r.json()["trace_id"] == ABC


async def test_unknown_trace_is_404(client: httpx.AsyncClient) -> None:
    for path in ("", "/tree", "/export", "/export?format=json", "/spans/0000000000000001"):
        r = await client.get(f"/api/v1/traces/{'f' * 32}{path}")
        assert r.status_code == 404, path
        assert "not found" in r.json()["detail"] and r.json()["hint"]


async def test_tree(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/v1/traces/{tid(1)}/tree")
    body = r.json()
    assert body["trace_id"] == tid(1)
    [root] = body["roots"]
    assert root["name"] == "chat_flow"
    assert [c["name"] for c in root["children"]] == ["llm.call", "tool.search"]
    assert root["children"][0]["children"] == []


async def test_tree_of_trace_without_root(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"/api/v1/traces/{tid(5)}/tree")).json()
    assert [r["name"] for r in body["roots"]] == ["orphan_child"]


async def test_span(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/v1/traces/{tid(2)}/spans/{'0' * 14}0c")
    assert r.status_code == 200
    span = r.json()
    assert span["status"] == {"code": "ERROR", "message": "rate limited"}
    assert span["llm"]["model"] == "claude-3-5-sonnet"


async def test_delete(client: httpx.AsyncClient, tombstones: Tombstones) -> None:
    r = await client.delete(f"/api/v1/traces/{tid(1)}")
    assert r.status_code == 200
    assert r.json() == {"trace_id": tid(1), "offset": 1001}
    assert tombstones.calls == [tid(1)]
    r = await client.delete(f"/api/v1/traces/{'e' * 32}")
    assert r.status_code == 404
    assert tombstones.calls == [tid(1)]
    r = await client.delete("/api/v1/traces")
    assert r.json() == {"trace_id": None, "offset": 1002}
    assert tombstones.calls == [tid(1), None]


async def test_export_json(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/v1/traces/{tid(1)}/export", params={"format": "json"})
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    assert r.json()["trace_id"] == tid(1) and len(r.json()["spans"]) == 3


async def test_export_otlp_round_trips_through_the_codec(client: httpx.AsyncClient) -> None:
    from msgtrace.core.otlp import ContentType, decode_rows

    r = await client.get(f"/api/v1/traces/{tid(1)}/export")
    assert r.status_code == 200
    body = r.json()
    assert "resourceSpans" in body
    rows = decode_rows(r.content, ContentType.JSON, offset=1, received_time_unix_nano=0)
    assert len(rows) == 3
    cols = rows.columns
    assert sorted(cols["span_id"]) == [f"{i:016x}" for i in (1, 2, 3)]
    assert set(cols["trace_id"]) == {tid(1)}
    idx = cols["span_id"].index(f"{2:016x}")
    assert cols["parent_span_id"][idx] == f"{1:016x}"
    assert cols["name"][idx] == "llm.call"


async def test_list_export_csv_and_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/export/traces", params={"format": "csv", "workflow_name": "chat"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("trace_id,start_time")
    assert len(lines) == 3
    r = await client.get("/api/v1/export/traces", params={"format": "json", "has_errors": True})
    assert [t["trace_id"] for t in r.json()] == [tid(2)]
    r = await client.get("/api/v1/export/traces", params={"format": "xml"})
    assert r.status_code == 400 and "format" in r.json()["detail"]
