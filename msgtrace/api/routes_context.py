"""What the read routes need from the running system, and nothing more."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ReadContext:
    """Built by the app factory. `delete_trace(trace_id | None)` appends a tombstone (None: every
    trace) to the log and returns its offset; the projector applies it to the views later.
    `live_poll_s` is how often the one shared live poller reads the views for changes;
    `keepalive_s` is the SSE comment interval; `export_max_rows` bounds a list export.
    """

    db_path: Path
    delete_trace: Callable[[str | None], Awaitable[int]]
    live_poll_s: float = 0.25
    keepalive_s: float = 15.0
    export_max_rows: int = 100_000
