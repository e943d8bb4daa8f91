"""The read API's one entry point: `read_router(ctx)` (the app factory includes it).

routes_traces.py   list, detail, tree, span, delete, exports
routes_stats.py    stats, time series, usage, facets, query validation
routes_live.py     Server-Sent Events (one shared poller)
routes_errors.py   JSON errors {"detail", "hint", "column"}
routes_models.py   response models
routes_context.py  ReadContext: what the routes need from the running system
"""

from __future__ import annotations

from fastapi import APIRouter

from msgtrace.api.routes_context import ReadContext
from msgtrace.api.routes_errors import ReadRoute, install_error_handlers
from msgtrace.api.routes_live import LiveHub, live_router
from msgtrace.api.routes_stats import stats_router
from msgtrace.api.routes_traces import traces_router
from msgtrace.projections.store import ReadStore

__all__ = ["ReadContext", "install_error_handlers", "read_router"]


def read_router(ctx: ReadContext) -> APIRouter:
    """Every read route, sharing one ReadStore (read-only SQLite) and one live poller."""
    store = ReadStore(ctx.db_path)
    hub = LiveHub(store, ctx.live_poll_s)
    router = APIRouter(route_class=ReadRoute, tags=["read"])
    router.include_router(traces_router(ctx, store, hub.publish_deleted))
    router.include_router(stats_router(store))
    router.include_router(live_router(store, hub, ctx.keepalive_s))
    router.store = store  # type: ignore[attr-defined]  # for tests and shutdown hooks
    return router
