"""The FastAPI application: OTLP ingest, the REST read API, health, metrics and the web UI."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from msgtrace.api.auth import ApiKeyMiddleware
from msgtrace.api.static import mount_ui
from msgtrace.core.version import VERSION as __version__
from msgtrace.ingest.http import otlp_router
from msgtrace.ingest.receiver import OtlpReceiver

if TYPE_CHECKING:
    from msgtrace.api.system import System

log = logging.getLogger("msgtrace.api")


def create_app(system: System) -> FastAPI:
    """Build the app for a running `System` (see msgtrace.api.system)."""
    config = system.config
    app = FastAPI(
        title="msgtrace",
        version=__version__,
        description="Trace viewer for msgflux and OpenTelemetry AI applications.",
    )
    if config.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=config.api_key)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["Retry-After"],
        )
    receiver = OtlpReceiver(
        system.journal, system.metrics, max_request_bytes=config.max_request_bytes
    )
    app.state.system = system
    app.state.receiver = receiver
    app.include_router(otlp_router(receiver))
    _add_service_routes(app, system)
    _add_read_routes(app, system)
    mount_ui(app)
    return app


def _add_service_routes(app: FastAPI, system: System) -> None:
    @app.get("/health", tags=["service"], summary="Liveness, journal backlog, projection lag")
    async def health() -> JSONResponse:
        return JSONResponse(system.health())

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        system.health()  # refresh the gauges
        return Response(generate_latest(system.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error", "hint": "see the server log"}, 500)


def _add_read_routes(app: FastAPI, system: System) -> None:
    from msgtrace.api.routes import ReadContext, install_error_handlers, read_router
    from msgtrace.api.routes_analysis import analysis_router

    ctx = ReadContext(db_path=system.config.database_path, delete_trace=system.delete_trace)
    app.include_router(read_router(ctx))
    app.include_router(analysis_router(system.config.database_path))
    install_error_handlers(app)


def create_app_for_schema() -> FastAPI:
    """An app whose routes match the real one, for printing the OpenAPI schema (no I/O)."""
    from pathlib import Path

    from fastapi import FastAPI as _FastAPI

    app = _FastAPI(title="msgtrace", version=__version__)
    from msgtrace.api.routes import ReadContext, read_router

    async def _no_delete(trace_id: str | None) -> int:
        raise RuntimeError("schema-only app")

    from msgtrace.api.routes_analysis import analysis_router

    db_path = Path("msgtrace.db")
    app.include_router(read_router(ReadContext(db_path=db_path, delete_trace=_no_delete)))
    app.include_router(analysis_router(db_path))
    return app
