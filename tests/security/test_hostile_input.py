"""Hostile input through a real server: each case is stored or rejected per spec with a clear
message, and neither the server nor the projector falls over (the views keep up afterwards)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

PB = {"content-type": "application/x-protobuf"}


def _request(n: int = 1, name: str = "hostile") -> tuple[ExportTraceServiceRequest, bytes]:
    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()
    trace_id = uuid.uuid4().bytes
    for i in range(n):
        s = scope.spans.add()
        s.trace_id, s.span_id, s.name = trace_id, (i + 1).to_bytes(8, "big"), name
        s.start_time_unix_nano, s.end_time_unix_nano = 1_700_000_000_000_000_000, 1_700_000_000_001_000_000
    return req, trace_id


def _post(server: Any, req: ExportTraceServiceRequest | bytes, **kw: Any) -> httpx.Response:
    body = req if isinstance(req, bytes) else req.SerializeToString()
    return httpx.post(f"{server.url}/v1/traces", content=body, headers=PB, timeout=120, **kw)


def _healthy(server: Any) -> None:
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok", health


def _nested(depth: int, kind: str) -> AnyValue:
    value = AnyValue(string_value="leaf")
    for _ in range(depth):
        outer = AnyValue()
        if kind == "kvlist":
            outer.kvlist_value.values.add(key="k", value=value)
        else:
            outer.array_value.values.append(value)
        value = outer
    return value


@pytest.mark.parametrize("kind", ["kvlist", "array"])
def test_deeply_nested_attributes(msgtrace_server: Any, kind: str) -> None:
    req, trace_id = _request()
    req.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="deep", value=_nested(60, kind))
    assert _post(msgtrace_server, req).status_code == 200
    trace = msgtrace_server.wait_for_spans(trace_id.hex(), 1)
    assert "deep" in trace["spans"][0]["attributes"]
    # deeper than the protobuf recursion limit: refused as bad data, clearly
    req, _ = _request()
    req.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="deeper", value=_nested(300, kind))
    r = _post(msgtrace_server, req)
    assert r.status_code in (200, 400)
    _healthy(msgtrace_server)


def test_one_megabyte_attribute_value(msgtrace_server: Any) -> None:
    req, trace_id = _request()
    big = "p" * (1024 * 1024)
    req.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="gen_ai.prompt", value={"string_value": big})
    assert _post(msgtrace_server, req).status_code == 200
    span = msgtrace_server.wait_for_spans(trace_id.hex(), 1)["spans"][0]
    assert span["attributes"]["gen_ai.prompt"] == big


@pytest.mark.slow
def test_hundred_thousand_span_request(msgtrace_server: Any) -> None:
    req, trace_id = _request(100_000, name="many")
    assert _post(msgtrace_server, req).status_code == 200

    def counted() -> bool:
        r = httpx.get(f"{msgtrace_server.url}/api/v1/traces", params={"search": trace_id.hex()})
        traces = r.json().get("traces", []) if r.status_code == 200 else []
        return bool(traces) and traces[0]["span_count"] == 100_000

    msgtrace_server.wait_for(counted, 120, "the 100,000-span trace")
    _healthy(msgtrace_server)


def test_invalid_utf8_is_rejected_with_message(msgtrace_server: Any) -> None:
    req, _ = _request(name="PLACEHOLDER")
    raw = req.SerializeToString().replace(b"PLACEHOLDER", b"BAD\xff\xfeNAME")
    r = _post(msgtrace_server, raw)
    assert r.status_code == 400
    from google.rpc import status_pb2

    status = status_pb2.Status()
    status.ParseFromString(r.content)
    assert status.message
    _healthy(msgtrace_server)


def test_nul_and_control_characters_in_names(msgtrace_server: Any) -> None:
    name = "a\x00b\x01c\x1b[31mred\x7f\u2028"
    req, trace_id = _request(name=name)
    req.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="k\x00ey", value={"string_value": "v\x00"})
    assert _post(msgtrace_server, req).status_code == 200
    span = msgtrace_server.wait_for_spans(trace_id.hex(), 1)["spans"][0]
    assert span["name"] == name
    assert span["attributes"]["k\x00ey"] == "v\x00"


@pytest.mark.parametrize(("start", "end"), [
    (0, 0), (0, 5), (2**63 - 1, 2**63 - 1), (2**64 - 1, 2**64 - 1), (5_000, 1_000),
], ids=["zero", "zero-start", "int64-max", "uint64-max", "end-before-start"])
def test_odd_timestamps(msgtrace_server: Any, start: int, end: int) -> None:
    req, trace_id = _request()
    span = req.resource_spans[0].scope_spans[0].spans[0]
    span.start_time_unix_nano, span.end_time_unix_nano = start, end
    r = _post(msgtrace_server, req)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        trace = msgtrace_server.wait_for_spans(trace_id.hex(), 1)
        assert trace["duration_ms"] >= 0
    _healthy(msgtrace_server)


def test_self_parenting_and_cycles(msgtrace_server: Any) -> None:
    req, trace_id = _request(3, name="cycle")
    spans = req.resource_spans[0].scope_spans[0].spans
    spans[0].parent_span_id = spans[0].span_id          # self-parent
    spans[1].parent_span_id = spans[2].span_id          # 2 <-> 3 cycle
    spans[2].parent_span_id = spans[1].span_id
    assert _post(msgtrace_server, req).status_code == 200
    msgtrace_server.wait_for_spans(trace_id.hex(), 3)
    tree = httpx.get(f"{msgtrace_server.url}/api/v1/traces/{trace_id.hex()}/tree").json()

    def count(nodes: list[dict[str, Any]]) -> int:
        return sum(1 + count(n.get("children", [])) for n in nodes)

    assert count(tree["roots"]) == 3  # every span shown exactly once, no infinite recursion
    _healthy(msgtrace_server)
