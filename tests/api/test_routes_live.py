"""Live SSE through a real uvicorn server on a loopback port chosen by the OS."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import uvicorn

from tests.api.conftest import make_app
from tests.api.views import BASE, SpanSpec, ViewsBuilder, sid, tid


class LiveServer:
    def __init__(self, db: Path) -> None:
        app = make_app(db, live_poll_s=0.05, keepalive_s=0.5)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveServer, ViewsBuilder]]:
    views = ViewsBuilder(tmp_path / "msgtrace.db")
    views.add_trace(tid(1), [SpanSpec(sid(1), "old", BASE, 5.0)], workflow="old", updated_at=100)
    with LiveServer(tmp_path / "msgtrace.db") as server:
        yield server, views
    views.close()


def connected(response: httpx.Response) -> Iterator[str]:
    """The stream's lines, read up to the `: connected` comment (from there on it is subscribed)."""
    lines = response.iter_lines()
    for line in lines:
        if line.startswith(": connected"):
            return lines
    raise AssertionError("stream ended before ': connected'")


def read_events(
    lines: Iterator[str], want: int, *, stop_on_comment: str | None = None
) -> list[dict[str, str]]:
    """Parse SSE frames until `want` events (or a comment starting with `stop_on_comment`)."""
    events: list[dict[str, str]] = []
    frame: dict[str, str] = {}
    for n, line in enumerate(lines):
        assert n < 2000, "no event arrived"  # keep-alives every 0.5 s: about 15 minutes at most
        if line == "":
            if "data" in frame or "comment" in frame:  # skip the `retry:` preamble
                events.append(frame)
                frame = {}
            if len(events) >= want:
                return events
            continue
        if line.startswith(":"):
            if stop_on_comment and line[1:].strip().startswith(stop_on_comment):
                frame = {"comment": line[1:].strip()}
            continue
        key, _, value = line.partition(":")
        frame[key] = value.removeprefix(" ")
    return events


def test_new_traces_arrive_and_resume_by_last_event_id(
    live: tuple[LiveServer, ViewsBuilder],
) -> None:
    server, views = live
    with httpx.Client(base_url=server.url, timeout=30) as client:
        with client.stream("GET", "/api/v1/live") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = connected(r)
            views.add_trace(
                tid(2), [SpanSpec(sid(2), "new", BASE + 1, 5.0)], workflow="wf2", updated_at=200
            )
            [event] = read_events(lines, 1)
        assert event["event"] == "trace"
        data = orjson.loads(event["data"])
        assert data["trace_id"] == tid(2) and data["workflow_name"] == "wf2"
        assert event["id"] == f"200-{tid(2)}"

        # while disconnected, two more traces change; resuming sends exactly those, in order
        views.add_trace(tid(3), [SpanSpec(sid(3), "n3", BASE + 2, 5.0)], updated_at=300)
        views.add_trace(tid(4), [SpanSpec(sid(4), "n4", BASE + 3, 5.0)], updated_at=400)
        with client.stream("GET", "/api/v1/live", headers={"Last-Event-ID": event["id"]}) as r:
            events = read_events(r.iter_lines(), 2)
        assert [orjson.loads(e["data"])["trace_id"] for e in events] == [tid(3), tid(4)]
        assert [e["id"] for e in events] == [f"300-{tid(3)}", f"400-{tid(4)}"]


def test_keep_alive_comments(live: tuple[LiveServer, ViewsBuilder]) -> None:
    server, _ = live
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("GET", "/api/v1/live") as r,
    ):
        [frame] = read_events(r.iter_lines(), 1, stop_on_comment="keep-alive")
    assert frame == {"comment": "keep-alive"}


def test_delete_is_announced(live: tuple[LiveServer, ViewsBuilder]) -> None:
    server, _ = live
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("GET", "/api/v1/live") as r,
    ):
        lines = connected(r)
        assert client.delete(f"/api/v1/traces/{tid(1)}").status_code == 200
        [event] = read_events(lines, 1)
    assert event["event"] == "deleted"
    assert orjson.loads(event["data"]) == {"trace_id": tid(1)}


def test_bad_last_event_id_is_400(live: tuple[LiveServer, ViewsBuilder]) -> None:
    server, _ = live
    r = httpx.get(f"{server.url}/api/v1/live", headers={"Last-Event-ID": "garbage"}, timeout=30)
    assert r.status_code == 400
    assert "Last-Event-ID" in r.json()["detail"]


def test_many_subscribers_share_one_poller(live: tuple[LiveServer, ViewsBuilder]) -> None:
    server, views = live
    with (
        httpx.Client(base_url=server.url, timeout=30) as c1,
        httpx.Client(base_url=server.url, timeout=30) as c2,
        c1.stream("GET", "/api/v1/live") as r1,
        c2.stream("GET", "/api/v1/live") as r2,
    ):
        lines1, lines2 = connected(r1), connected(r2)
        views.add_trace(tid(7), [SpanSpec(sid(7), "x", BASE, 1.0)], updated_at=700)
        e1 = read_events(lines1, 1)
        e2 = read_events(lines2, 1)
    assert e1 == e2
    assert orjson.loads(e1[0]["data"])["trace_id"] == tid(7)
