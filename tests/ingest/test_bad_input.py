"""The OTLP/HTTP bad-input matrix: each case gets its status and a message naming the problem,
the good spans of a mixed request are kept, and the server stays healthy."""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from typing import Any

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PB = {"content-type": "application/x-protobuf"}


def _request(trace_id: bytes, span_ids: list[bytes], name: str = "s") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()
    for i, sid in enumerate(span_ids):
        span = scope.spans.add()
        span.trace_id = trace_id
        span.span_id = sid
        span.name = f"{name}-{i}"
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + i
        span.end_time_unix_nano = 1_700_000_000_000_100_000 + i
    return req


def _status(r: httpx.Response) -> status_pb2.Status:
    st = status_pb2.Status()
    st.ParseFromString(r.content)
    return st


@pytest.fixture(scope="module")
def small_limit_server(server_factory_module: Any) -> Any:
    return server_factory_module("--max-request-mb", "1")


@pytest.fixture(scope="module")
def server_factory_module(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import ServerHandle, _server_env

    handles: list[Any] = []

    def make(*args: str) -> Any:
        base = tmp_path_factory.mktemp("badinput")
        h = ServerHandle(base / "data", list(args), base / "server.log", _server_env()).start()
        handles.append(h)
        return h

    yield make
    for h in handles:
        h.stop()


CASES = [
    ("garbage", b"\xff\xfe\x00garbage\x01\x02", PB, 400, "protobuf"),
    ("truncated", _request(b"\x01" * 16, [b"\x02" * 8]).SerializeToString()[:-5], PB, 400, "protobuf"),
    ("bad-json", b'{"resourceSpans": [', {"content-type": "application/json"}, 400, "JSON"),
    ("wrong-type", b"hello", {"content-type": "text/plain"}, 415, "text/plain"),
    ("no-type", b"hello", {}, 415, "content"),
    ("bad-gzip", b"\x1f\x8bnot really gzip", {**PB, "content-encoding": "gzip"}, 400, "gzip"),
    ("unknown-encoding", b"x", {**PB, "content-encoding": "br"}, 415, "br"),
]


@pytest.mark.parametrize(("body", "headers", "status", "needle"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_request_status_and_message(
    small_limit_server: Any, body: bytes, headers: dict[str, str], status: int, needle: str
) -> None:
    r = httpx.post(f"{small_limit_server.url}/v1/traces", content=body, headers=headers)
    assert r.status_code == status, r.text
    if r.headers["content-type"].startswith("application/json"):
        message = r.json()["message"]
    else:
        message = _status(r).message
    assert needle.lower() in message.lower(), message
    assert httpx.get(f"{small_limit_server.url}/health").json()["status"] == "ok"


def test_oversize_body_is_413(small_limit_server: Any) -> None:
    body = b"\x00" * (2 * 1024 * 1024)
    r = httpx.post(f"{small_limit_server.url}/v1/traces", content=body, headers=PB)
    assert r.status_code == 413
    assert "limit" in _status(r).message


def test_gzip_bomb_is_413_not_inflated(small_limit_server: Any) -> None:
    bomb = gzip.compress(b"\x00" * (300 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    r = httpx.post(f"{small_limit_server.url}/v1/traces", content=bomb,
                   headers={**PB, "content-encoding": "gzip"}, timeout=60)
    assert r.status_code == 413
    assert "larger than 1048576 bytes after decompression" in _status(r).message
    assert httpx.get(f"{small_limit_server.url}/health").json()["status"] == "ok"


def test_deflate_is_accepted(small_limit_server: Any) -> None:
    trace_id = uuid.uuid4().bytes
    body = zlib.compress(_request(trace_id, [b"\x05" * 8]).SerializeToString())
    r = httpx.post(f"{small_limit_server.url}/v1/traces", content=body,
                   headers={**PB, "content-encoding": "deflate"})
    assert r.status_code == 200
    small_limit_server.wait_for_spans(trace_id.hex(), 1)


def test_empty_body_is_success_with_nothing_stored(small_limit_server: Any) -> None:
    before = httpx.get(f"{small_limit_server.url}/health").json()["last_offset"]
    for headers in (PB, {"content-type": "application/json"}):
        r = httpx.post(f"{small_limit_server.url}/v1/traces", content=b"", headers=headers)
        assert r.status_code == 200, r.text
    assert httpx.get(f"{small_limit_server.url}/health").json()["last_offset"] == before


def test_mixed_request_keeps_good_spans_and_reports_partial_success(small_limit_server: Any) -> None:
    trace_id = uuid.uuid4().bytes
    req = _request(trace_id, [b"\x01" * 8, b"\x02" * 8, b"\x03" * 7, b"\x04" * 8], name="mixed")
    bad_trace = req.resource_spans[0].scope_spans[0].spans.add()
    bad_trace.trace_id = b"\x09" * 15
    bad_trace.span_id = b"\x06" * 8
    bad_trace.name = "bad-trace"
    r = httpx.post(f"{small_limit_server.url}/v1/traces", content=req.SerializeToString(), headers=PB)
    assert r.status_code == 200
    resp = ExportTraceServiceResponse()
    resp.ParseFromString(r.content)
    assert resp.partial_success.rejected_spans == 2
    assert "span_id" in resp.partial_success.error_message
    assert "trace_id" in resp.partial_success.error_message
    trace = small_limit_server.wait_for_spans(trace_id.hex(), 3)
    assert sorted(s["name"] for s in trace["spans"]) == ["mixed-0", "mixed-1", "mixed-3"]


def test_mixed_json_request_partial_success_in_json(small_limit_server: Any) -> None:
    trace_id = uuid.uuid4().hex
    spans = [
        {"traceId": trace_id, "spanId": "0102030405060708", "name": "ok",
         "startTimeUnixNano": 1, "endTimeUnixNano": 2},
        {"traceId": trace_id[:-2], "spanId": "0102030405060709", "name": "short-trace-id"},
    ]
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
    r = httpx.post(f"{small_limit_server.url}/v1/traces", content=body,
                   headers={"content-type": "application/json"})
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 1
    assert "trace_id" in partial["errorMessage"]
    small_limit_server.wait_for_spans(trace_id, 1)
