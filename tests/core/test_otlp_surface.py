"""The codec's public surface: what the receiver and the sealer code against."""

from __future__ import annotations

import inspect

import msgtrace.core.otlp as otlp


def test_all_is_complete() -> None:
    public = {
        name
        for name, obj in vars(otlp).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and name != "annotations"
    }
    assert public <= set(otlp.__all__)
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
