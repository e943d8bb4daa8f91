"""`SQLiteTraceStorage`: the original README's async Python API, over the projector's views.

It reads the SQLite views (`msgtrace.db`) that the projector builds from the segment log; it never
writes. Point it at the database file (`<data-dir>/msgtrace.db`, or the `--db-path` the server was
started with) or at a data dir (the file inside it is used). A path that does not exist yet reads
as an empty store. For analysis over every stored span use the segments instead
(`pl.scan_parquet("<data-dir>/segments/*.parquet")`).

    storage = SQLiteTraceStorage("msgtrace-data/msgtrace.db")
    traces = await storage.list_traces(TraceQueryParams(workflow_name="MyWorkflow", limit=10))
    trace = await storage.get_trace(traces[0].trace_id)
    tree = trace.build_span_tree()
    await storage.close()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msgtrace.core.models import Trace, TraceQueryParams, TraceSummary
from msgtrace.projections.store import ReadStore, TracePage

__all__ = ["SQLiteTraceStorage"]


class SQLiteTraceStorage:
    """Async read access to the trace views. Each call runs in a worker thread."""

    def __init__(self, db_path: str | Path = "msgtrace.db") -> None:
        path = Path(db_path).expanduser()
        if path.is_dir():
            path = path / "msgtrace.db"
        self.db_path = path
        self._store = ReadStore(path)

    async def list_traces(self, params: TraceQueryParams | None = None) -> list[TraceSummary]:
        """Summaries (no spans) matching `params`, newest first by default."""
        page = await self.list_page(params)
        return page.traces

    async def list_page(self, params: TraceQueryParams | None = None) -> TracePage:
        """Like `list_traces`, with `total` and `next_cursor` for paging."""
        return await self._store.run(self._store.list_traces, params or TraceQueryParams())

    async def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with all its spans, or None when unknown."""
        return await self._store.run(self._store.get_trace, trace_id.strip().lower())

    async def get_stats(self, **filters: Any) -> dict[str, Any]:
        """The same totals as GET /api/v1/stats (filters: start_time, end_time, workflow_name, service)."""
        return await self._store.run(self._store.stats, **filters)

    async def count_traces(self, params: TraceQueryParams | None = None) -> int:
        page = await self.list_page((params or TraceQueryParams()).model_copy(update={"limit": 1}))
        return page.total

    async def close(self) -> None:
        self._store.close()

    async def __aenter__(self) -> SQLiteTraceStorage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
