"""Retention through a real `msgtrace start`: old data leaves the views and the disk, newer data stays."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from msgtrace.segments.journal_format import RecordKind, encode_frame
from msgtrace.segments.naming import (
    CLOSED_SUFFIX,
    JOURNAL_DIR,
    SEGMENT_SUFFIX,
    SEGMENTS_DIR,
    live_segments,
    range_name,
)
from msgtrace.segments.retention import NS_PER_DAY, log_size_bytes
from msgtrace.segments.worker import LogWorker

from .payloads import request

PROTOBUF = {"content-type": "application/x-protobuf"}


def trace_ids(body: bytes) -> set[str]:
    req = ExportTraceServiceRequest.FromString(body)
    return {s.trace_id.hex() for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans}


def visible(server: Any, trace_id: str) -> bool:
    return httpx.get(f"{server.url}/api/v1/traces/{trace_id}", timeout=10).status_code == 200


def listed(server: Any) -> set[str]:
    r = httpx.get(f"{server.url}/api/v1/traces", params={"limit": 500}, timeout=10)
    r.raise_for_status()
    return {t["trace_id"] for t in r.json()["traces"]}


def seed_old_segment(data_dir: Path, received_ns: int) -> tuple[set[str], Path]:
    """A sealed segment at offset 1 whose request was received at `received_ns`."""
    body = request(8, seed=101)
    journal_dir = data_dir / JOURNAL_DIR
    journal_dir.mkdir(parents=True)
    (journal_dir / range_name(1, 1, CLOSED_SUFFIX)).write_bytes(encode_frame(1, received_ns, RecordKind.SPANS, 1, body))
    LogWorker(data_dir).seal_pending()
    return trace_ids(body), data_dir / SEGMENTS_DIR / range_name(1, 1, SEGMENT_SUFFIX)


@pytest.mark.slow
def test_retention_drops_old_traces_from_views_and_disk(server_factory: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    old_ids, old_segment = seed_old_segment(data_dir, time.time_ns() - 3 * NS_PER_DAY)

    # Without retention the old trace is projected like any other; newer data arrives over OTLP.
    server = server_factory(data_dir=data_dir)
    for tid in old_ids:
        server.wait_for(lambda tid=tid: visible(server, tid), what=f"old trace {tid}")
    new_bodies = [request(8, seed=200 + i) for i in range(2)]
    new_ids = set().union(*(trace_ids(b) for b in new_bodies))
    for body in new_bodies:
        assert httpx.post(server.otlp_endpoint, content=body, headers=PROTOBUF, timeout=30).status_code == 200
    for tid in new_ids:
        server.wait_for(lambda tid=tid: visible(server, tid), what=f"new trace {tid}")
    assert old_ids | new_ids <= listed(server)
    assert server.stop() == 0

    # Restarted with retention: the old segment goes behind a tombstone, then off the disk.
    server = server_factory(
        "--retention-days", "1", data_dir=data_dir, env={"MSGTRACE_RETENTION_INTERVAL_S": "0.2"}
    )
    server.wait_for(lambda: not old_segment.exists(), what="the old segment to be deleted")
    server.wait_for(lambda: not (old_ids & listed(server)), what="old traces to leave the list")
    assert not any(visible(server, tid) for tid in old_ids)
    assert new_ids <= listed(server)
    assert all(visible(server, tid) for tid in new_ids)
    assert server.stop() == 0

    remaining = set()
    for f in live_segments(data_dir):
        remaining |= set(pq.read_table(f.path, columns=["trace_id"]).column(0).to_pylist())
    assert not (remaining & old_ids) and new_ids <= remaining


@pytest.mark.slow
def test_max_disk_gb_drops_the_oldest_segments_until_the_log_fits(server_factory: Any) -> None:
    limit_gb = 0.0002  # about 210 KiB
    server = server_factory(
        "--max-disk-gb", str(limit_gb), env={"MSGTRACE_RETENTION_INTERVAL_S": "0.2"}
    )
    segments_dir = server.data_dir / SEGMENTS_DIR
    bodies = [request(8, seed=300 + i, text_bytes=6000) for i in range(10)]
    first_ids, last_ids = trace_ids(bodies[0]), trace_ids(bodies[-1])
    first_segment: Path | None = None
    for body in bodies:
        seen = {f.path for f in live_segments(server.data_dir)}
        assert httpx.post(server.otlp_endpoint, content=body, headers=PROTOBUF, timeout=30).status_code == 200
        # one segment per request, so there is an oldest segment to drop
        server.wait_for(lambda seen=seen: bool({f.path for f in live_segments(server.data_dir)} - seen),
                        what="the request's segment")
        if first_segment is None:
            first_segment = next(f.path for f in live_segments(server.data_dir) if f.path not in seen)
    assert first_segment is not None and segments_dir.is_dir()
    server.wait_for(lambda: not first_segment.exists(), what="the oldest segment to be dropped")
    server.wait_for(lambda: not (first_ids & listed(server)), what="the oldest traces to leave the list")
    server.wait_for(lambda: log_size_bytes(server.data_dir) <= limit_gb * 1024**3, what="the log to fit")
    for tid in last_ids:
        server.wait_for(lambda tid=tid: visible(server, tid), what=f"newest trace {tid}")
    assert server.stop() == 0
