"""Property tests: request -> decode_rows -> rows_to_request is lossless, for protobuf and JSON,
and `validate` always agrees with `decode_rows`."""

from __future__ import annotations

import math
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from msgtrace.core.otlp import (
    ContentType,
    attributes_from_json,
    decode_rows,
    request_to_json,
    rows_to_request,
    validate,
)
from msgtrace.core.typed_json import dumps, loads

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

keys = st.text(max_size=8) | st.sampled_from(["$bytes", "$double", "$$x", "service.name", ""])
scalars = (
    st.none()
    | st.text(max_size=20)
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.just(math.nan)
    | st.binary(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)
attribute_maps = st.dictionaries(keys, values, max_size=5)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**63 - 1)  # times past 2**63 are clamped (test_otlp_errors)
nonzero = lambda n: st.binary(min_size=n, max_size=n).filter(any)  # noqa: E731


def _set(av: AnyValue, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        av.bool_value = value
    elif isinstance(value, int):
        av.int_value = value
    elif isinstance(value, float):
        av.double_value = value
    elif isinstance(value, str):
        av.string_value = value
    elif isinstance(value, bytes):
        av.bytes_value = value
    elif isinstance(value, list):
        av.array_value.SetInParent()
        for v in value:
            _set(av.array_value.values.add(), v)
    else:
        av.kvlist_value.SetInParent()
        _fill(av.kvlist_value.values, value)


def _fill(target: Any, attrs: dict[str, Any]) -> None:
    for k, v in attrs.items():
        kv: KeyValue = target.add()
        kv.key = k
        _set(kv.value, v)


@st.composite
def spans(draw: st.DrawFn, ids: st.SearchStrategy[tuple[bytes, bytes, bytes]]) -> dict[str, Any]:
    tid, sid, pid = draw(ids)
    return {
        "trace_id": tid, "span_id": sid, "parent_span_id": pid,
        "trace_state": draw(st.text(max_size=10)), "flags": draw(u32),
        "name": draw(st.text(max_size=10)), "kind": draw(st.integers(0, 5)),
        "start_time_unix_nano": draw(u64), "end_time_unix_nano": draw(u64),
        "attributes": draw(attribute_maps), "dropped_attributes_count": draw(u32),
        "events": draw(st.lists(st.tuples(u64, st.text(max_size=5), attribute_maps, u32), max_size=2)),
        "dropped_events_count": draw(u32),
        "links": draw(st.lists(st.tuples(st.binary(max_size=16), st.binary(max_size=8),
                                         st.text(max_size=5), attribute_maps, u32, u32), max_size=2)),
        "dropped_links_count": draw(u32),
        "status": (draw(st.integers(0, 2)), draw(st.text(max_size=10))),
    }  # fmt: skip


valid_ids = st.tuples(nonzero(16), nonzero(8), st.just(b"") | nonzero(8))
any_ids = st.tuples(
    st.binary(max_size=17) | nonzero(16), st.binary(max_size=9) | nonzero(8), st.binary(max_size=9)
)


@st.composite
def requests(draw: st.DrawFn, ids: st.SearchStrategy[Any] = valid_ids) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        rs = req.resource_spans.add()
        _fill(rs.resource.attributes, draw(attribute_maps))
        rs.resource.dropped_attributes_count = draw(u32)
        rs.schema_url = draw(st.text(max_size=5))
        for _ in range(draw(st.integers(0, 2))):
            ss = rs.scope_spans.add()
            ss.scope.name = draw(st.text(max_size=5))
            ss.scope.version = draw(st.text(max_size=5))
            _fill(ss.scope.attributes, draw(attribute_maps))
            ss.scope.dropped_attributes_count = draw(u32)
            ss.schema_url = draw(st.text(max_size=5))
            for s in draw(st.lists(spans(ids), max_size=3)):
                sp = ss.spans.add()
                for name in ("trace_id", "span_id", "parent_span_id", "trace_state", "flags",
                             "name", "kind", "start_time_unix_nano", "end_time_unix_nano",
                             "dropped_attributes_count", "dropped_events_count",
                             "dropped_links_count"):  # fmt: skip
                    setattr(sp, name, s[name])
                _fill(sp.attributes, s["attributes"])
                for t, n, a, d in s["events"]:
                    ev = sp.events.add()
                    ev.time_unix_nano, ev.name, ev.dropped_attributes_count = t, n, d
                    _fill(ev.attributes, a)
                for tid, sid, ts, a, d, f in s["links"]:
                    ln = sp.links.add()
                    ln.trace_id, ln.span_id, ln.trace_state = tid, sid, ts
                    ln.dropped_attributes_count, ln.flags = d, f
                    _fill(ln.attributes, a)
                sp.status.code, sp.status.message = s["status"]
    return req


def _flat(req: ExportTraceServiceRequest) -> list[tuple[bytes, ...]]:
    """Every span with its resource and scope, as deterministic bytes, in a canonical order:
    rows_to_request regroups equal resources/scopes and drops those without spans."""
    out = []
    for rs in req.resource_spans:
        resource = rs.resource.SerializeToString(deterministic=True)
        for ss in rs.scope_spans:
            scope = ss.scope.SerializeToString(deterministic=True)
            for sp in ss.spans:
                out.append(
                    (resource, rs.schema_url.encode(), scope, ss.schema_url.encode(),
                     sp.SerializeToString(deterministic=True))
                )  # fmt: skip
    return sorted(out)


def _roundtrip(body: bytes, ct: ContentType) -> ExportTraceServiceRequest:
    rows = decode_rows(body, ct, offset=3, received_time_unix_nano=4)
    assert rows.rejected_spans == 0
    return rows_to_request(rows.to_pylist())


@SETTINGS
@given(requests())
def test_protobuf_roundtrip_is_lossless(req: ExportTraceServiceRequest) -> None:
    assert _flat(_roundtrip(req.SerializeToString(), ContentType.PROTOBUF)) == _flat(req)


@SETTINGS
@given(requests())
def test_json_roundtrip_is_lossless(req: ExportTraceServiceRequest) -> None:
    body = orjson.dumps(request_to_json(req))
    assert _flat(_roundtrip(body, ContentType.JSON)) == _flat(req)


@SETTINGS
@given(requests(any_ids))
def test_validate_agrees_with_decode_rows(req: ExportTraceServiceRequest) -> None:
    for ct, body in (
        (ContentType.PROTOBUF, req.SerializeToString()),
        (ContentType.JSON, orjson.dumps(request_to_json(req))),
    ):
        v = validate(body, ct)
        rows = decode_rows(body, ct, offset=0, received_time_unix_nano=0)
        assert (v.accepted_spans, v.rejected_spans, v.error_message) == (
            len(rows),
            rows.rejected_spans,
            rows.error_message,
        )
        assert v.accepted_spans + v.rejected_spans == sum(
            len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans
        )


@SETTINGS
@given(attribute_maps)
def test_typed_json_is_exact(attrs: dict[str, Any]) -> None:
    text = dumps(attrs)
    back = attributes_from_json(text)
    assert dumps(back) == text
    assert _same(back, attrs)
    assert _same(loads(dumps([attrs, 1.0, b"\x00"])), [attrs, 1.0, b"\x00"])


def _same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN and int/float/bool never compare equal to each other."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)
