"""The list route's parameter memo (ListRoute): a repeated query string answers exactly as the
first time, from fresh data; invalid query strings are never kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from msgtrace.api import routes_traces
from msgtrace.api.routes_traces import LIST_PARAMS_MEMO
from tests.api.conftest import make_app
from tests.api.views import BASE, SpanSpec, ViewsBuilder, build_sample, sid, tid

pytestmark = pytest.mark.anyio


@pytest.fixture
def sample(tmp_path: Path) -> ViewsBuilder:
    return build_sample(tmp_path / "msgtrace.db")


@pytest.fixture
async def client(sample: ViewsBuilder) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(sample.db_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
    sample.close()


async def test_repeated_query_string_answers_the_same_from_fresh_data(
    client: httpx.AsyncClient, sample: ViewsBuilder
) -> None:
    query = "limit=3&sort=-duration&has_errors=false"
    first = await client.get(f"/api/v1/traces?{query}")
    assert first.status_code == 200, first.text
    assert query.encode() in LIST_PARAMS_MEMO
    again = await client.get(f"/api/v1/traces?{query}")
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]

    total = first.json()["total"]
    sample.add_trace(tid(900), [SpanSpec(sid(900), "slowest", BASE, 999_999.0)])
    fresh = (await client.get(f"/api/v1/traces?{query}")).json()
    assert fresh["total"] == total + 1
    assert fresh["traces"][0]["trace_id"] == tid(900)


async def test_invalid_query_strings_are_400_every_time_and_not_kept(
    client: httpx.AsyncClient,
) -> None:
    for query in ("limit=0", "sort=bogus", "min_cost=-1", "start_time=x"):
        bodies = set()
        for _ in range(2):
            r = await client.get(f"/api/v1/traces?{query}")
            assert r.status_code == 400, (query, r.text)
            bodies.add(r.content)
        assert len(bodies) == 1
        assert query.encode() not in LIST_PARAMS_MEMO


async def test_errors_after_validation_are_the_same_on_a_repeat(
    client: httpx.AsyncClient,
) -> None:
    cursor = (await client.get("/api/v1/traces", params={"limit": 1})).json()["next_cursor"]
    queries = [httpx.QueryParams({"cursor": cursor, "sort": "cost"}), "q=bogus:1"]
    for query, word in zip(queries, ("cursor", "bogus"), strict=True):
        answers = [await client.get(f"/api/v1/traces?{query}") for _ in range(2)]
        assert [r.status_code for r in answers] == [400, 400]
        assert answers[0].content == answers[1].content
        assert word in answers[0].json()["detail"]
        assert str(query).encode() in LIST_PARAMS_MEMO  # valid parameters: the second was a hit


async def test_memo_keeps_the_newest_entries(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_traces, "LIST_PARAMS_MEMO_SIZE", 3)
    for limit in range(1, 8):
        assert (await client.get(f"/api/v1/traces?limit={limit}")).status_code == 200
    assert len(LIST_PARAMS_MEMO) == 3
    assert [f"limit={n}".encode() in LIST_PARAMS_MEMO for n in (5, 6, 7)] == [True] * 3
    assert b"limit=1" not in LIST_PARAMS_MEMO
