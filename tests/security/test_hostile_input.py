"""Hostile input through a real server: each case is stored or rejected per spec with a clear
message, and neither the server nor the projector falls over (the views keep up afterwards)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

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


def _ld(field: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, encoded by hand (the Python API refuses deep nesting)."""
    out, n = bytearray([(field << 3) | 2]), len(payload)
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + payload


def _nested_value(depth: int, kind: str) -> bytes:
    value = _ld(1, b"leaf")  # AnyValue.string_value
    for _ in range(depth):
        if kind == "kvlist":  # AnyValue.kvlist_value -> KeyValueList.values -> KeyValue
            value = _ld(6, _ld(1, _ld(1, b"k") + _ld(2, value)))
        else:  # AnyValue.array_value -> ArrayValue.values
            value = _ld(5, _ld(1, value))
    return value


def _request_with_attribute(key: bytes, value: bytes) -> tuple[bytes, bytes]:
    req, trace_id = _request()
    span = req.resource_spans[0].scope_spans[0].spans[0].SerializeToString()
    span += _ld(9, _ld(1, key) + _ld(2, value))  # Span.attributes
    return _ld(1, _ld(2, _ld(2, span))), trace_id


@pytest.mark.parametrize(("kind", "depth"), [("kvlist", 25), ("array", 40)])
def test_deeply_nested_attributes(msgtrace_server: Any, kind: str, depth: int) -> None:
    body, trace_id = _request_with_attribute(b"deep", _nested_value(depth, kind))
    assert _post(msgtrace_server, body).status_code == 200
    trace = msgtrace_server.wait_for_spans(trace_id.hex(), 1)
    value = trace["spans"][0]["attributes"]["deep"]
    for _ in range(depth):
        value = value["k"] if kind == "kvlist" else value[0]
    assert value == "leaf"
    # deeper than the protobuf recursion limit: refused as bad data with a message
    body, _ = _request_with_attribute(b"deeper", _nested_value(400, kind))
    r = _post(msgtrace_server, body)
    assert r.status_code == 400
    from google.rpc import status_pb2

    status = status_pb2.Status()
    status.ParseFromString(r.content)
    assert "depth" in status.message.lower() or "protobuf" in status.message.lower()
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


def test_invalid_utf8_is_stored_with_replacement_characters(msgtrace_server: Any) -> None:
    req, trace_id = _request(name="PLACEHOLDER")
    raw = req.SerializeToString().replace(b"PLACEHOLDER", b"BAD\xff\xfeNAMEXX")  # same length as the placeholder
    assert _post(msgtrace_server, raw).status_code == 200
    span = msgtrace_server.wait_for_spans(trace_id.hex(), 1)["spans"][0]
    assert span["name"] == "BAD\ufffd\ufffdNAMEXX"
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
