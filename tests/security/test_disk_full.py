"""Disk full through a real server: a lowered RLIMIT_FSIZE makes journal writes fail with EFBIG.

No root needed: only the soft limit of the server process is lowered (and later restored), the
way a full disk looks to the journal. Python ignores SIGXFSZ, so the write returns EFBIG.
"""

from __future__ import annotations

import resource
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from msgtrace.cli.segments import verify_file
from msgtrace.segments import scan_spans
from msgtrace.segments.naming import (
    QUARANTINE_DIR,
    SEGMENT_SUFFIX,
    SEGMENTS_DIR,
    TOMBSTONES_DIR,
    list_ranges,
)
from tests.segments.payloads import request

PROTOBUF = {"content-type": "application/x-protobuf"}
KiB = 1024


def span_ids(body: bytes) -> list[str]:
    req = ExportTraceServiceRequest.FromString(body)
    return [s.span_id.hex() for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]


def post(server: Any, body: bytes) -> httpx.Response:
    return httpx.post(server.otlp_endpoint, content=body, headers=PROTOBUF, timeout=30)


def all_files_sound(data_dir: Path) -> list[str]:
    bad = []
    for sub, kind in ((SEGMENTS_DIR, "spans"), (TOMBSTONES_DIR, "tombstones")):
        for f in list_ranges(data_dir / sub, SEGMENT_SUFFIX):
            problem = verify_file(f.path, kind, f.first, f.last)
            if problem:
                bad.append(f"{f.path.name}: {problem}")
    return bad


@pytest.mark.slow
def test_journal_write_failures_answer_503_and_ingest_recovers(server_factory: Any) -> None:
    server = server_factory()
    pid = server.proc.pid
    acked: list[str] = []
    rejected: list[str] = []
    seed = 0

    def send(n_spans: int, text_bytes: int) -> httpx.Response:
        nonlocal seed
        seed += 1
        body = request(n_spans, seed=seed, text_bytes=text_bytes)
        r = post(server, body)
        (acked if r.status_code == 200 else rejected).extend(span_ids(body))
        return r

    for _ in range(3):
        assert send(20, 0).status_code == 200

    # "Disk full": no file of the server process may grow past `limit` bytes. The limit leaves room
    # for the server's own log file; each big request is larger than it, so every append fails.
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    limit = server.log_path.stat().st_size + 256 * KiB
    big = 300  # spans of ~1.2 KiB text each: about 400 KiB per request
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))
    try:
        for _ in range(4):
            r = send(big, 1200)
            assert r.status_code == 503, r.text
            assert float(r.headers["retry-after"]) > 0
        health = httpx.get(f"{server.url}/health", timeout=10)
        assert health.status_code == 200
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))

    # Room again: the same journal takes small and big requests (it was never left broken).
    for n, text in ((20, 0), (big, 1200), (20, 0)):
        r = send(n, text)
        assert r.status_code == 200, r.text
    assert server.stop() == 0

    spans = scan_spans(server.data_dir).select("span_id").collect().get_column("span_id").to_list()
    counts = Counter(spans)
    assert len(acked) == 3 * 20 + 20 + big + 20
    assert all(counts[s] == 1 for s in acked), "an acknowledged span is missing or duplicated"
    assert not set(rejected) & set(counts), "a rejected request's spans reached the log"
    assert all_files_sound(server.data_dir) == []
    assert not (server.data_dir / QUARANTINE_DIR).exists()
    assert "torn tail" not in server.log
    assert "journal write failed" in server.log and "File too large" in server.log  # EFBIG, as intended
