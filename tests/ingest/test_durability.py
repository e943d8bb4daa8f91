"""Durability: acknowledged spans survive SIGKILL of the server at any moment, exactly once."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from msgtrace.segments import scan_spans

SPANS_PER_REQUEST = 50


def _request(rng: random.Random) -> tuple[bytes, list[tuple[str, str]]]:
    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()
    ids = []
    trace_id = rng.randbytes(16)
    for i in range(SPANS_PER_REQUEST):
        span = scope.spans.add()
        span.trace_id = trace_id
        span.span_id = rng.randbytes(8)
        span.name = f"op-{i}"
        span.start_time_unix_nano = time.time_ns()
        span.end_time_unix_nano = span.start_time_unix_nano + 1000
        span.attributes.add(key="payload", value={"string_value": "x" * 200})
        ids.append((trace_id.hex(), span.span_id.hex()))
    return req.SerializeToString(), ids


def _sender(url: str, seed: int, acked: list[tuple[str, str]], stop: threading.Event) -> None:
    rng = random.Random(seed)
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            body, ids = _request(rng)
            try:
                r = client.post(f"{url}/v1/traces", content=body,
                                headers={"content-type": "application/x-protobuf"})
            except httpx.HTTPError:
                return  # the server died mid-request: this one was never acknowledged
            if r.status_code == 200:
                acked.extend(ids)
            elif r.status_code in (429, 503):
                time.sleep(float(r.headers.get("retry-after", "1")) / 10)


@pytest.mark.slow
def test_acknowledged_spans_survive_sigkill(server_factory: Any) -> None:
    server = server_factory()
    acked: list[tuple[str, str]] = []
    rng = random.Random(os.getpid())
    for round_no in range(3):
        stop = threading.Event()
        threads = [threading.Thread(target=_sender, args=(server.url, round_no * 100 + i, acked, stop))
                   for i in range(6)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 1.5))
        server.kill()  # mid-load, no warning
        stop.set()
        for t in threads:
            t.join(30)
        server.start()
    assert len(acked) > 0

    def sealed() -> bool:
        health = httpx.get(f"{server.url}/health").json()
        return health["journal_backlog_bytes"] == 0 and health["projection_lag"]["offsets"] == 0

    server.stop()  # the clean shutdown seals whatever the journal still holds
    server.start()
    server.wait_for(sealed, 60, "the log to be sealed and projected")

    rows = scan_spans(server.data_dir).select("trace_id", "span_id").collect()
    seen = Counter(zip(rows["trace_id"].to_list(), rows["span_id"].to_list(), strict=True))
    missing = [k for k in acked if seen[k] == 0]
    duplicated = [k for k in acked if seen[k] > 1]
    assert not missing, f"{len(missing)} acknowledged spans lost, e.g. {missing[:3]}"
    assert not duplicated, f"{len(duplicated)} spans stored twice, e.g. {duplicated[:3]}"

    stats = httpx.get(f"{server.url}/api/v1/stats").json()
    assert stats["total_spans"] == rows.height
