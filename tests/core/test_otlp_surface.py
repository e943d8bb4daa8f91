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
