"""Fuzzing (hypothesis, bounded for CI): the OTLP decoders and the query-language compiler either
succeed or raise their typed error; nothing else escapes, nothing hangs.

A longer run: `HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/security/test_fuzz.py`
(10,000 examples per property; see docs/security.md)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from msgtrace.core import otlp
from msgtrace.core.errors import DecodeError, QueryError
from msgtrace.projections.query import compile_query

settings.register_profile("ci", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SCHEMA = (Path(__file__).parents[2] / "msgtrace" / "projections" / "schema.sql").read_text()


def _valid_request() -> bytes:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value={"string_value": "fuzz"})
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 16, b"\x02" * 8, "seed"
    span.attributes.add(key="k", value={"int_value": 3})
    return req.SerializeToString()


def _decode_all(payload: bytes, ctype: otlp.ContentType) -> None:
    try:
        v = otlp.validate(payload, ctype)
    except DecodeError as exc:
        assert str(exc)
        with pytest.raises(DecodeError):
            otlp.decode_rows(payload, ctype, offset=1, received_time_unix_nano=1)
        return
    rows = otlp.decode_rows(payload, ctype, offset=1, received_time_unix_nano=1)
    assert len(rows) == v.accepted_spans
    assert rows.rejected_spans == v.rejected_spans
    for text in rows.columns["attributes"]:
        orjson.loads(text)


@given(st.binary(max_size=2048))
def test_protobuf_decoder_random_bytes(data: bytes) -> None:
    _decode_all(data, otlp.ContentType.PROTOBUF)


@given(st.data())
def test_protobuf_decoder_mutated_valid_request(data: Any) -> None:
    raw = bytearray(_valid_request())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _decode_all(bytes(raw[:cut]), otlp.ContentType.PROTOBUF)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "name",
                         "attributes", "key", "value", "stringValue", "intValue", "kvlistValue",
                         "arrayValue", "values", "events", "links", "status", "code", "kind",
                         "startTimeUnixNano", "resource_spans", "scope_spans", "bytesValue"]),
        inner, max_size=5),
    max_leaves=30,
)


@given(_json_values)
def test_json_decoder_random_documents(doc: Any) -> None:
    import json

    _decode_all(json.dumps(doc).encode(), otlp.ContentType.JSON)


@given(st.binary(max_size=512))
def test_json_decoder_random_bytes(data: bytes) -> None:
    _decode_all(data, otlp.ContentType.JSON)


_query_atoms = st.sampled_from([
    "duration:>1s", "cost:>=0.01", "tokens:<1000", "AND", "OR", "NOT", "(", ")", "status:error",
    "workflow:agent*", 'name:"a b"', "attr.gen_ai.request.model:gpt-4o", "model:claude?",
    "time:>-1h", ":", ">", "'", '"', "\\", "spans:>3", "x", "'; DROP TABLE traces; --",
])


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=80), st.lists(_query_atoms, max_size=8).map(" ".join)))
def test_query_compiler_never_escapes(text: str) -> None:
    con = sqlite3.connect(":memory:")
    con.executescript(SCHEMA)
    try:
        compiled = compile_query(text)
    except QueryError as exc:
        assert exc.message
        assert exc.column is None or 1 <= exc.column <= len(text) + 1
        return
    # whatever compiled must run as SQL against the real schema, with parameters only
    con.execute(f"SELECT count(*) FROM traces WHERE {compiled.sql}", compiled.params).fetchone()
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'traces'").fetchone()[0] == 1
