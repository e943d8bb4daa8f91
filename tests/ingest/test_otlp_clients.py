"""Real OpenTelemetry SDK exporters (HTTP protobuf with and without gzip, gRPC) into `msgtrace start`."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import httpx
import polars as pl
import pytest
from opentelemetry.trace import Status, StatusCode

from msgtrace.segments import scan_spans


def _emit_nested(provider: Any, workflow: str) -> str:
    tracer = provider.get_tracer("tests.ingest")
    with tracer.start_as_current_span("workflow", attributes={"workflow.name": workflow}) as root:
        with tracer.start_as_current_span("agent", attributes={"span.type": "module"}):
            with tracer.start_as_current_span(
                "llm",
                attributes={
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 120,
                    "gen_ai.usage.output_tokens": 30,
                },
            ) as llm:
                llm.add_event("retry", {"attempt": 1})
            with tracer.start_as_current_span("tool") as tool:
                tool.set_status(Status(StatusCode.ERROR, "tool failed"))
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.force_flush()
    return trace_id


@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
def test_sdk_http_exporter_nested_spans_reach_log_and_read_side(
    msgtrace_server: Any, tracer_provider_factory: Any, use_gzip: bool
) -> None:
    workflow = f"wf-{uuid.uuid4().hex[:8]}"
    provider = tracer_provider_factory(msgtrace_server.otlp_endpoint, gzip=use_gzip)
    trace_id = _emit_nested(provider, workflow)

    trace = msgtrace_server.wait_for_spans(trace_id, 4)
    by_name = {s["name"]: s for s in trace["spans"]}
    assert set(by_name) == {"workflow", "agent", "llm", "tool"}
    assert by_name["agent"]["parent_span_id"] == by_name["workflow"]["span_id"]
    assert by_name["llm"]["parent_span_id"] == by_name["agent"]["span_id"]
    assert by_name["tool"]["status"]["code"] == "ERROR"
    assert trace["workflow_name"] == workflow
    assert trace["error_count"] == 1

    rows = scan_spans(msgtrace_server.data_dir).filter(pl.col("trace_id") == trace_id).collect()
    assert rows.height == 4
    assert set(rows["name"]) == {"workflow", "agent", "llm", "tool"}


def test_original_export_path_accepts_json(msgtrace_server: Any) -> None:
    trace_id = uuid.uuid4().hex
    body = {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
            "scopeSpans": [{"spans": [{
                "traceId": trace_id, "spanId": "00f067aa0ba902b7", "name": "json-root",
                "kind": 1, "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000000500000000",
            }]}],
        }]
    }
    r = httpx.post(
        f"{msgtrace_server.url}/api/v1/traces/export",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {}
    trace = msgtrace_server.wait_for_spans(trace_id, 1)
    assert trace["spans"][0]["name"] == "json-root"
    assert trace["duration_ms"] == pytest.approx(500.0)


def test_grpc_exporter(server_factory: Any) -> None:
    pytest.importorskip("grpc", reason="the grpc extra is part of the dev install")
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from tests.ingest.ports import free_port

    grpc_port = free_port()
    server = server_factory("--grpc-port", str(grpc_port))
    assert server.info["otlp_grpc_port"] == grpc_port
    provider = TracerProvider(resource=Resource.create({"service.name": "grpc-svc"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True))
    )
    tracer = provider.get_tracer("grpc")
    with tracer.start_as_current_span("grpc-root") as root, tracer.start_as_current_span("grpc-child"):
        pass
    trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    trace = server.wait_for_spans(trace_id, 2)
    assert {s["name"] for s in trace["spans"]} == {"grpc-root", "grpc-child"}
    assert trace["service_name"] == "grpc-svc"
