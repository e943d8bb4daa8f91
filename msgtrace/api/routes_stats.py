"""Aggregate routes: stats, time series, usage, facets and query validation (docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from msgtrace.api.routes_errors import ERROR_RESPONSES, ReadRoute
from msgtrace.api.routes_models import Facets, QueryValidation, Stats, Timeseries, Usage
from msgtrace.core.models import MAX_NS
from msgtrace.projections.query import validate_query
from msgtrace.projections.store import ReadStore

Ns = Annotated[int | None, Query(ge=0, le=MAX_NS, description="ns since the epoch")]
Bucket = Annotated[
    int | None,
    Query(
        ge=60,
        le=366 * 86400,
        multiple_of=60,
        description="seconds, a multiple of 60; auto when omitted",
    ),
]


def stats_router(store: ReadStore) -> APIRouter:
    router = APIRouter(route_class=ReadRoute)

    @router.get(
        "/api/v1/stats",
        response_model=Stats,
        responses=ERROR_RESPONSES,
        summary="Totals and percentiles",
    )
    async def stats(
        start_time: Ns = None,
        end_time: Ns = None,
        workflow_name: str | None = None,
        service: str | None = None,
    ) -> Stats:
        data = await store.run(
            store.stats,
            start_time=start_time,
            end_time=end_time,
            workflow_name=workflow_name,
            service=service,
        )
        return Stats.model_validate(data)

    @router.get(
        "/api/v1/stats/timeseries",
        response_model=Timeseries,
        responses=ERROR_RESPONSES,
        summary="Traces, errors, duration, tokens and cost per time bucket",
    )
    async def timeseries(
        bucket: Bucket = None,
        start_time: Ns = None,
        end_time: Ns = None,
        workflow_name: str | None = None,
        service: str | None = None,
    ) -> Timeseries:
        data = await store.run(
            store.timeseries,
            bucket=bucket,
            start_time=start_time,
            end_time=end_time,
            workflow_name=workflow_name,
            service=service,
        )
        return Timeseries.model_validate(data)

    @router.get(
        "/api/v1/usage",
        response_model=Usage,
        responses=ERROR_RESPONSES,
        summary="LLM usage and cost",
    )
    async def usage(
        group_by: Literal["model", "workflow", "service"] = "model",
        bucket: Bucket = None,
        start_time: Ns = None,
        end_time: Ns = None,
    ) -> Usage:
        data = await store.run(
            store.usage, group_by=group_by, bucket=bucket, start_time=start_time, end_time=end_time
        )
        return Usage.model_validate(data)

    for kind in ("workflows", "services", "models"):
        router.add_api_route(
            f"/api/v1/{kind}",
            _facet_endpoint(store, kind),
            methods=["GET"],
            response_model=Facets,
            summary=f"Distinct {kind} with counts",
            name=f"facet_{kind}",
        )

    @router.get("/api/v1/query/validate", response_model=QueryValidation, summary="Check a query")
    async def validate(q: str = "") -> QueryValidation:
        if not q.strip():
            return QueryValidation(ok=True, error=None, column=None)
        ok, error, column = validate_query(q)
        return QueryValidation(ok=ok, error=error, column=column)

    return router


def _facet_endpoint(store: ReadStore, kind: str):  # type: ignore[no-untyped-def]
    async def facet() -> Facets:
        items = await store.run(store.facet, kind)
        return Facets.model_validate({"items": items})

    return facet
