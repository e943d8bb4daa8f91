"""OTLP/HTTP routes: `POST /v1/traces` (the standard path) and `POST /api/v1/traces/export`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from msgtrace.ingest.receiver import OtlpReceiver

OTLP_PATHS = ("/v1/traces", "/api/v1/traces/export")


def otlp_router(receiver: OtlpReceiver) -> APIRouter:
    """Routes that accept OTLP/HTTP exports (protobuf or JSON, gzip/deflate) into `receiver`."""
    router = APIRouter(tags=["otlp"])

    async def export(request: Request) -> Response:
        outcome = await receiver.export(
            request.stream(),
            request.headers.get("content-type"),
            request.headers.get("content-encoding"),
        )
        return Response(
            outcome.body,
            status_code=outcome.status,
            media_type=outcome.media_type,
            headers=outcome.headers,
        )

    for path in OTLP_PATHS:
        router.add_api_route(
            path,
            export,
            methods=["POST"],
            summary="OTLP/HTTP trace export",
            description=(
                "Accepts an ExportTraceServiceRequest as application/x-protobuf or "
                "application/json (OTLP/JSON), optionally gzip or deflate encoded. Answers 200 "
                "only once the request is durable on disk."
            ),
            response_class=Response,
            include_in_schema=path == OTLP_PATHS[0],
        )
    return router
