"""The codec's public surface: what the receiver and the sealer code against."""

from __future__ import annotations

import inspect

import msgtrace.core.otlp as otlp


def test_all_is_complete() -> None:
    defined_here = {
        name
        for name, obj in vars(otlp).items()
        if not name.startswith("_") and getattr(obj, "__module__", None) == otlp.__name__
    }
    reexported = {
        "ExportTraceServiceRequest", "attributes_from_json", "decompress", "request_to_json",
        "rows_to_request",
    }  # fmt: skip
    assert set(otlp.__all__) == defined_here | reexported
    assert all(hasattr(otlp, name) for name in otlp.__all__)


def test_signatures() -> None:
    params = inspect.signature(otlp.decode_rows).parameters
    assert list(params) == ["payload", "content_type", "offset", "received_time_unix_nano"]
    assert params["offset"].kind is inspect.Parameter.KEYWORD_ONLY
    assert list(inspect.signature(otlp.decompress).parameters) == ["body", "encoding", "limit"]
    assert otlp.ContentType.PROTOBUF == 1 and otlp.ContentType.JSON == 2
    assert otlp.ContentType.JSON.mime == "application/json"
    v = otlp.Validation(1, 2, "x")
    assert (v.accepted_spans, v.rejected_spans, v.error_message) == (1, 2, "x")


def test_rows_to_request_needs_only_ids() -> None:
    req = otlp.rows_to_request([{"trace_id": "01" * 16, "span_id": "02" * 8, "name": "x"}])
    (span,) = otlp.request_to_json(req)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert span["traceId"] == "01" * 16 and span["spanId"] == "02" * 8 and span["name"] == "x"
    assert "parentSpanId" not in span and span["startTimeUnixNano"] == "0"
