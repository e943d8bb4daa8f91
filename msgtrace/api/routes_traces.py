"""Trace routes: list, detail, tree, span, delete, per-trace export and list export (docs/api.md).

Large bodies (a 10,000-span trace) are serialised once with `model_dump_json` and returned as a
`Response`, so FastAPI does not validate them a second time; `response_model` still documents them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from msgtrace.api.routes_context import ReadContext
from msgtrace.api.routes_errors import (
    ERROR_RESPONSES,
    NOT_FOUND_RESPONSES,
    NotFound,
    ReadRoute,
    to_response,
)
from msgtrace.api.routes_models import DeleteResult, TraceList, TraceTree
from msgtrace.core.errors import QueryError
from msgtrace.core.models import (
    MAX_LIMIT,
    MAX_NS,
    MAX_OFFSET,
    SORT_PATTERN,
    Span,
    Trace,
    TraceQueryParams,
    TraceSummary,
)
from msgtrace.projections.store import ReadStore

JSON = "application/json"
# Called after a tombstone is appended, so the live stream can announce the delete.
DeleteHook = Callable[[str | None], None]


# query string -> the TraceQueryParams list_params made of it (see ListRoute)
LIST_PARAMS_MEMO: dict[bytes, TraceQueryParams] = {}
LIST_PARAMS_MEMO_SIZE = 256


async def list_params(
    request: Request,
    workflow_name: str | None = None,
    service: str | None = None,
    has_errors: bool | None = None,
    min_duration_ms: Annotated[float | None, Query(ge=0)] = None,
    max_duration_ms: Annotated[float | None, Query(ge=0)] = None,
    start_time: Annotated[
        int | None, Query(ge=0, le=MAX_NS, description="ns since the epoch")
    ] = None,
    end_time: Annotated[
        int | None, Query(ge=0, le=MAX_NS, description="ns since the epoch")
    ] = None,
    model: str | None = None,
    min_cost: Annotated[float | None, Query(ge=0)] = None,
    search: str | None = None,
    q: Annotated[str | None, Query(description="query language (docs/query-language.md)")] = None,
    sort: Annotated[
        str,
        Query(
            pattern=SORT_PATTERN,
            description="start_time|duration|span_count|tokens|cost; a leading - means descending",
        ),
    ] = "start_time",
    order: Literal["asc", "desc"] | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    cursor: str | None = None,
) -> TraceQueryParams:
    """Query parameters as a validated TraceQueryParams (errors become 400 naming the parameter).

    Async so FastAPI calls it on the event loop: a sync dependency costs a worker-thread round
    trip per request for a few microseconds of validation."""
    try:
        params = TraceQueryParams(
            workflow_name=workflow_name,
            service=service,
            has_errors=has_errors,
            min_duration_ms=min_duration_ms,
            max_duration_ms=max_duration_ms,
            start_time=start_time,
            end_time=end_time,
            model=model,
            min_cost=min_cost,
            search=search,
            q=q,
            sort=sort,
            order=order,
            limit=limit,
            offset=offset,
            cursor=cursor,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())) or "parameters"
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        error = QueryError(f"{name}: {message}")
        error.hint = "check the parameter against /docs"
        raise error from None
    while len(LIST_PARAMS_MEMO) >= LIST_PARAMS_MEMO_SIZE:
        LIST_PARAMS_MEMO.pop(next(iter(LIST_PARAMS_MEMO)), None)  # the oldest entry
    LIST_PARAMS_MEMO[request.scope.get("query_string", b"")] = params
    return params


class ListRoute(ReadRoute):
    """The list route: a query string seen before skips FastAPI's parameter resolution.

    FastAPI resolves the list's sixteen query parameters field by field on every request (about
    a third of the request's time in the server). `list_params` is a pure function of the query
    string, so its result is kept per exact query string (LIST_PARAMS_MEMO, the newest
    LIST_PARAMS_MEMO_SIZE) and a repeated query string calls the endpoint with it directly.
    Invalid query strings are never kept: they take FastAPI's path and get its 400 every time.
    Only the parameters are kept; the data is read on every request. A memo hit does not consult
    `app.dependency_overrides` for `list_params`.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        endpoint = self.endpoint

        async def route(request: Request) -> Response:
            params = LIST_PARAMS_MEMO.get(request.scope.get("query_string", b""))
            if params is None:
                return await handler(request)
            try:
                response: Response = await endpoint(params)
            except Exception as exc:
                error = to_response(exc)
                if error is None:
                    raise
                return error
            return response

        return route


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type=JSON)


def _norm(trace_id: str) -> str:
    return trace_id.strip().lower()


def _sanitize(trace_id: str) -> str:
    """Trace id as echoed in error messages: bounded and printable."""
    short = trace_id[:64]
    return short if short.isprintable() else repr(short)


def traces_router(ctx: ReadContext, store: ReadStore, on_delete: DeleteHook) -> APIRouter:
    router = APIRouter(route_class=ReadRoute)

    async def list_traces(params: Annotated[TraceQueryParams, Depends(list_params)]) -> Response:
        return Response(await store.list_json(params), media_type=JSON)

    router.add_api_route(
        "/api/v1/traces",
        list_traces,
        methods=["GET"],
        response_model=TraceList,
        responses=ERROR_RESPONSES,
        summary="List traces with filters, sort and keyset pagination",
        route_class_override=ListRoute,
    )

    @router.delete(
        "/api/v1/traces",
        response_model=DeleteResult,
        summary="Delete every trace (a tombstone in the log)",
    )
    async def delete_all() -> DeleteResult:
        offset = await ctx.delete_trace(None)
        on_delete(None)
        return DeleteResult(trace_id=None, offset=offset)

    @router.get(
        "/api/v1/traces/{trace_id}",
        response_model=Trace,
        responses=NOT_FOUND_RESPONSES,
        summary="A trace with all its spans, sorted by start",
    )
    async def get_trace(trace_id: str) -> Response:
        body = await store.run(store.get_trace_json, _norm(trace_id))
        if body is None:
            raise NotFound(f"trace {_sanitize(trace_id)} not found")
        return Response(body, media_type=JSON)

    @router.get(
        "/api/v1/traces/{trace_id}/tree",
        response_model=TraceTree,
        responses=NOT_FOUND_RESPONSES,
        summary="The span tree: roots with nested children",
    )
    async def get_tree(trace_id: str) -> Response:
        body = await store.run(store.get_tree_json, _norm(trace_id))
        if body is None:
            raise NotFound(f"trace {_sanitize(trace_id)} not found")
        return Response(body, media_type=JSON)

    @router.get(
        "/api/v1/traces/{trace_id}/spans/{span_id}",
        response_model=Span,
        responses=NOT_FOUND_RESPONSES,
        summary="One span",
    )
    async def get_span(trace_id: str, span_id: str) -> Response:
        span = await store.run(store.get_span, _norm(trace_id), _norm(span_id))
        if span is None:
            raise NotFound(
                f"span {_sanitize(span_id)} not found in trace {_sanitize(trace_id)}",
                hint="GET /api/v1/traces/{trace_id} lists the trace's spans",
            )
        return _json(span)

    @router.delete(
        "/api/v1/traces/{trace_id}",
        response_model=DeleteResult,
        responses=NOT_FOUND_RESPONSES,
        summary="Delete a trace (appends a tombstone to the log)",
    )
    async def delete_trace(trace_id: str) -> DeleteResult:
        tid = _norm(trace_id)
        if not await store.run(store.trace_exists, tid):
            raise NotFound(f"trace {_sanitize(trace_id)} not found")
        offset = await ctx.delete_trace(tid)
        on_delete(tid)
        return DeleteResult(trace_id=tid, offset=offset)

    @router.get(
        "/api/v1/traces/{trace_id}/export",
        responses={
            **NOT_FOUND_RESPONSES,
            200: {"description": "OTLP/JSON ExportTraceServiceRequest, or the Trace as JSON"},
        },
        summary="Export one trace as OTLP/JSON (format=otlp) or plain JSON (format=json)",
    )
    async def export_trace(trace_id: str, format: Literal["otlp", "json"] = "otlp") -> Response:
        tid = _norm(trace_id)
        disposition = {"Content-Disposition": f'attachment; filename="trace-{tid[:32]}.json"'}
        if format == "json":
            body = await store.run(store.get_trace_json, tid)
            if body is None:
                raise NotFound(f"trace {_sanitize(trace_id)} not found")
            return Response(body, media_type=JSON, headers=disposition)
        rows = await store.run(store.export_rows, tid)
        if not rows:
            raise NotFound(f"trace {_sanitize(trace_id)} not found")
        from msgtrace.core.otlp import request_to_json, rows_to_request

        otlp = request_to_json(rows_to_request(rows))
        return Response(orjson.dumps(otlp), media_type=JSON, headers=disposition)

    @router.get(
        "/api/v1/export/traces",
        responses={
            **ERROR_RESPONSES,
            200: {
                "description": "The filtered list as CSV or JSON",
                "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
            },
        },
        summary="Export the filtered trace list as CSV or JSON",
    )
    async def export_list(
        params: Annotated[TraceQueryParams, Depends(list_params)],
        format: Literal["csv", "json"] = "json",
    ) -> Response:
        rows = await store.run(store.iter_summaries, params, max_rows=ctx.export_max_rows)
        if format == "json":
            body = orjson.dumps([r.model_dump(mode="json") for r in rows])
            headers = {"Content-Disposition": 'attachment; filename="traces.json"'}
            return Response(body, media_type=JSON, headers=headers)
        headers = {"Content-Disposition": 'attachment; filename="traces.csv"'}
        return Response(summaries_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)

    return router


CSV_FIELDS = tuple(TraceSummary.model_fields)


def summaries_csv(rows: list[TraceSummary]) -> str:
    """CSV with a header of TraceSummary fields; `models` joined with ';'. Cells that a
    spreadsheet would run as formulas are prefixed with a quote."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for row in rows:
        values = []
        for name in CSV_FIELDS:
            value = getattr(row, name)
            if isinstance(value, list):
                value = ";".join(value)
            elif value is None:
                value = ""
            elif isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
                value = "'" + value
            values.append(value)
        writer.writerow(values)
    return out.getvalue()
