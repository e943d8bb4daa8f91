"""Live updates over Server-Sent Events: one shared poller, many subscribers.

`LiveHub` polls the read store for changed traces (traces.updated_at, trace_id) a few times a
second, only while someone is subscribed, and fans each change out to every subscriber's bounded
queue. Event ids are live cursors; a client reconnecting with `Last-Event-ID` first gets every
change after that cursor from the store, then the shared stream (duplicates skipped by cursor
order). A subscriber that falls a full queue behind is disconnected; its reconnect resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import orjson
from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from msgtrace.api.routes_errors import ERROR_RESPONSES, ReadRoute
from msgtrace.projections.store import Change, ReadStore, parse_live_cursor

QUEUE_SIZE = 1000
BACKLOG_PAGE = 500


@dataclass(frozen=True)
class LiveEvent:
    event: str  # "trace" | "deleted"
    data: bytes
    cursor: str | None = None

    def encode(self) -> bytes:
        head = f"event: {self.event}\n"
        if self.cursor is not None:
            head += f"id: {self.cursor}\n"
        return head.encode() + b"data: " + self.data + b"\n\n"


def _trace_event(change: Change) -> LiveEvent:
    return LiveEvent("trace", change.trace.model_dump_json().encode(), change.cursor)


class LiveHub:
    """The one poller shared by all subscribers of a router."""

    def __init__(self, store: ReadStore, poll_s: float) -> None:
        self.store = store
        self.poll_s = poll_s
        self.subscribers: set[asyncio.Queue[LiveEvent | None]] = set()
        self.cursor: str | None = None
        self.task: asyncio.Task[None] | None = None

    async def subscribe(self) -> asyncio.Queue[LiveEvent | None]:
        q: asyncio.Queue[LiveEvent | None] = asyncio.Queue(QUEUE_SIZE)
        if self.task is None or self.task.done():
            self.cursor = await self.store.run(self.store.latest_cursor)
            self.task = asyncio.create_task(self._poll(), name="msgtrace-live-poller")
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[LiveEvent | None]) -> None:
        self.subscribers.discard(q)
        if not self.subscribers and self.task is not None:
            self.task.cancel()
            self.task = None

    def publish(self, event: LiveEvent) -> None:
        for q in list(self.subscribers):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                self.subscribers.discard(q)
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                q.put_nowait(None)  # tells the stream to end; the client resumes by cursor

    def publish_deleted(self, trace_id: str | None) -> None:
        self.publish(LiveEvent("deleted", orjson.dumps({"trace_id": trace_id})))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                changes = await self.store.run(
                    self.store.changes_since, self.cursor, limit=BACKLOG_PAGE
                )
            except Exception:  # a transient SQLite error must not kill the shared poller
                continue
            for change in changes:
                self.publish(_trace_event(change))
            if changes:
                self.cursor = changes[-1].cursor


def live_router(store: ReadStore, hub: LiveHub, keepalive_s: float) -> APIRouter:
    router = APIRouter(route_class=ReadRoute)

    @router.get(
        "/api/v1/live",
        response_class=StreamingResponse,
        responses={
            **ERROR_RESPONSES,
            200: {"content": {"text/event-stream": {}}, "description": "SSE"},
        },
        summary="Server-Sent Events: `trace` (TraceSummary) and `deleted` events",
    )
    async def live(
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> StreamingResponse:
        resume = parse_live_cursor(last_event_id) if last_event_id else None  # 400 if malformed
        return StreamingResponse(
            _stream(store, hub, last_event_id if resume else None, keepalive_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


async def _stream(
    store: ReadStore, hub: LiveHub, resume_from: str | None, keepalive_s: float
) -> AsyncIterator[bytes]:
    """Subscribe first, then replay the backlog after `resume_from`, then follow the hub; the
    subscription lives exactly as long as this generator (released in `finally`)."""
    last: tuple[int, str] | None = None
    queue = await hub.subscribe()
    try:
        yield b"retry: 2000\n: connected\n\n"
        cursor = resume_from
        while cursor is not None:
            changes = await store.run(store.changes_since, cursor, limit=BACKLOG_PAGE)
            for change in changes:
                yield _trace_event(change).encode()
            if changes:
                last = parse_live_cursor(changes[-1].cursor)
            cursor = changes[-1].cursor if len(changes) == BACKLOG_PAGE else None
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), keepalive_s)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if event is None:
                return
            if (
                event.cursor is not None
                and last is not None
                and parse_live_cursor(event.cursor) <= last
            ):
                continue
            yield event.encode()
    finally:
        hub.unsubscribe(queue)
