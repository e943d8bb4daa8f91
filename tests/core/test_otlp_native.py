"""The native decoder (otlp_native.decode_table) against the Python decoder (otlp.decode_rows).

Every comparison is column by column; typed-JSON columns are compared after parsing, with value
types (int vs float, -0.0) and object key order kept. The native path may answer None (use the
Python path) but must never answer differently. Examples are bounded; a longer run:
`HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/core/test_otlp_native.py`.
"""

from __future__ import annotations

import math
import os
import struct
import threading
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from benchmarks.corpus import Variant, generate_requests
from msgtrace.core import otlp_native
from msgtrace.core.errors import DecodeError
from msgtrace.core.otlp import ContentType, decode_rows, rows_to_request
from msgtrace.core.otlp_protobuf import set_key_values
from msgtrace.core.schema import SPAN_COLUMN_NAMES, span_schema

pytestmark = pytest.mark.skipif(not otlp_native.AVAILABLE, reason="C extension not built")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "otlp"
JSON_COLUMNS = {"attributes", "events", "links", "resource_attributes", "scope_attributes"}
EXAMPLES = 10_000 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 150
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _strict(value: Any) -> Any:
    """A parsed JSON value with its types and key order made part of equality."""
    if isinstance(value, dict):
        return ("object", [(k, _strict(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("array", [_strict(v) for v in value])
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, value)


def _python(payload: bytes) -> Any:
    try:
        return decode_rows(payload, ContentType.PROTOBUF, offset=7, received_time_unix_nano=11)
    except DecodeError:
        return None


def check_same(payload: bytes, *, native_expected: bool) -> None:
    """Native equals Python, or native is None (required when Python raises DecodeError)."""
    expected = _python(payload)
    got = otlp_native.decode_table(payload, offset=7, received_time_unix_nano=11)
    if expected is None or got is None:
        assert got is None, "native decoded a request the Python path refuses"
        assert not native_expected, "native decoder declined a request it should decode"
        return
    table, rejected, message = got
    assert table.schema == span_schema()
    assert table.column_names == list(SPAN_COLUMN_NAMES)
    assert (rejected, message) == (expected.rejected_spans, expected.error_message)
    assert table.num_rows == len(expected)
    for name in SPAN_COLUMN_NAMES:
        mine, theirs = table.column(name).to_pylist(), expected.columns[name]
        if name in JSON_COLUMNS:
            mine = [_strict(orjson.loads(x)) for x in mine]
            theirs = [_strict(orjson.loads(x)) for x in theirs]
        assert mine == theirs, name


# ---------------------------------------------------------------------------------------------
# corpora and fixtures


@pytest.mark.parametrize("variant", ["realistic", "small"])
def test_corpus_equals_python(variant: Variant) -> None:
    for payload in generate_requests(1200, spans_per_request=128, variant=variant, seed=3):
        check_same(payload, native_expected=True)


@pytest.mark.parametrize("fixture", ["full_spec.json", "snake_case.json"])
def test_spec_fixtures_equal_python(fixture: str) -> None:
    rows = decode_rows((FIXTURES / fixture).read_bytes(), ContentType.JSON, offset=1,
                       received_time_unix_nano=2)
    payload = rows_to_request(rows.to_pylist()).SerializeToString()
    check_same(payload, native_expected=True)
    table, _, _ = otlp_native.decode_table(payload, offset=1, received_time_unix_nano=2)  # type: ignore[misc]
    first = table.slice(0, 1).to_pylist()[0]
    assert first["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert first["service_name"] == "checkout"


def test_empty_request_is_an_empty_table() -> None:
    for payload in (b"", ExportTraceServiceRequest().SerializeToString()):
        table, rejected, message = otlp_native.decode_table(payload, offset=1, received_time_unix_nano=2)  # type: ignore[misc]
        assert table.num_rows == 0 and table.schema == span_schema()
        assert (rejected, message) == (0, "")


def test_unavailable_extension_returns_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otlp_native, "_native", None)
    assert otlp_native.decode_table(b"", offset=1, received_time_unix_nano=2) is None


def test_stale_build_is_not_used(tmp_path: Path) -> None:
    native = otlp_native._native
    assert native is not None
    assert otlp_native.checked_build(native, otlp_native.SOURCE) is native
    assert otlp_native.checked_build(native, tmp_path / "absent.c") is native  # wheel install
    edited = tmp_path / "_otlp_native.c"
    edited.write_bytes(otlp_native.SOURCE.read_bytes() + b"\n")
    assert otlp_native.checked_build(native, edited) is None


def test_a_changed_header_makes_the_build_stale(tmp_path: Path) -> None:
    native = otlp_native._native
    assert native is not None
    sources = [otlp_native.SOURCE, *otlp_native.SOURCE.parent.glob("_otlp_native_*.h")]
    assert len(sources) >= 2
    for f in sources:
        (tmp_path / f.name).write_bytes(f.read_bytes())
    copy = tmp_path / otlp_native.SOURCE.name
    assert otlp_native.checked_build(native, copy) is native
    header = tmp_path / sources[-1].name
    header.write_bytes(header.read_bytes() + b"/* edited */\n")
    assert otlp_native.checked_build(native, copy) is None


def test_offset_outside_int64_returns_none() -> None:
    assert otlp_native.decode_table(b"", offset=2**63, received_time_unix_nano=2) is None


# ---------------------------------------------------------------------------------------------
# requests built with the protobuf API

ID16 = b"\x01" * 16
ID8 = b"\x02" * 8


def _request(**span: Any) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    set_key_values(rs.resource.attributes, {"service.name": "svc"})
    sp = rs.scope_spans.add().spans.add()
    sp.trace_id, sp.span_id, sp.name = ID16, ID8, "op"
    for k, v in span.items():
        setattr(sp, k, v)
    return req


def test_rejections_match_python_message() -> None:
    req = ExportTraceServiceRequest()
    for r in range(2):
        rs = req.resource_spans.add()
        for s in range(3):
            sp = rs.scope_spans.add().spans.add()
            sp.trace_id, sp.span_id = ID16, ID8
            if s == 0:
                sp.trace_id = b"\x00" * 16
            elif s == 1 and r == 1:
                sp.kind = 7
    payload = req.SerializeToString()
    check_same(payload, native_expected=True)
    _, rejected, message = otlp_native.decode_table(payload, offset=1, received_time_unix_nano=2)  # type: ignore[misc]
    assert rejected == 3
    assert message.startswith("3 spans rejected: span 0 of resource 0: trace_id is all zeros")


def test_times_past_int64_are_clamped_like_python() -> None:
    payload = _request(start_time_unix_nano=2**64 - 1, end_time_unix_nano=2**63).SerializeToString()
    check_same(payload, native_expected=True)
    table, _, _ = otlp_native.decode_table(payload, offset=1, received_time_unix_nano=2)  # type: ignore[misc]
    assert table.column("end_time_unix_nano").to_pylist() == [2**63 - 1]


def test_doubles_keep_their_type_and_non_finite_values() -> None:
    req = _request()
    values = {"a": 1.0, "b": -0.0, "c": 0.1, "d": 1e300, "e": 5e-324, "f": math.nan,
              "g": math.inf, "h": -math.inf, "i": 2.0**63, "j": 123456789.0}
    set_key_values(req.resource_spans[0].scope_spans[0].spans[0].attributes, values)
    check_same(req.SerializeToString(), native_expected=True)


def test_empty_optional_strings_are_null_and_service_name_kept_empty() -> None:
    req = _request(trace_state="", parent_span_id=b"\x00" * 8)
    res = req.resource_spans[0].resource
    del res.attributes[:]
    set_key_values(res.attributes, {"service.name": ""})
    payload = req.SerializeToString()
    check_same(payload, native_expected=True)
    row = otlp_native.decode_table(payload, offset=1, received_time_unix_nano=2)[0].to_pylist()[0]  # type: ignore[index]
    assert row["service_name"] == "" and row["parent_span_id"] is None
    assert row["trace_state"] is None and row["scope_name"] is None


# ---------------------------------------------------------------------------------------------
# hand-written wire data


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _ld(num: int, body: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(body)) + body


def _vi(num: int, value: int) -> bytes:
    return _varint(num << 3) + _varint(value)


def _wrap_span(span: bytes, resource: bytes = b"", scope_first: bool = False) -> bytes:
    scope_spans = _ld(2, span)
    rs = _ld(2, scope_spans) + _ld(1, resource) if scope_first else _ld(1, resource) + _ld(2, scope_spans)
    return _ld(1, rs)


BASE_SPAN = _ld(1, ID16) + _ld(2, ID8)


@pytest.mark.parametrize(
    "extra",
    [
        _vi(6, 2**32 + 3),  # kind: int32 truncation
        _vi(6, 2**64 - 1),  # kind -1
        _vi(10, 2**40 + 5),  # dropped count: uint32 truncation
        _ld(15, _vi(3, 2**32 + 1)),  # status code truncation
        _ld(99, b"anything") + _vi(98, 5) + _varint(97 << 3 | 5) + b"abcd",  # unknown fields
        _ld(5, "zürich ✓ \x00\x1f\"\\".encode()),  # name with escapes
        _ld(9, _ld(1, b"k") + _ld(2, _vi(3, 2**64 - 1))),  # int -1
        _ld(9, _ld(2, _ld(1, b"v")) + _ld(1, b"k")),  # value before key
        _ld(9, _ld(1, b"k")),  # no value: null
        _ld(9, _ld(1, b"k") + _ld(2, _vi(2, 7))),  # bool from any non-zero varint
        _ld(11, _ld(2, b"ev") + b"\x09" + struct.pack("<Q", 2**64 - 1)),  # event time > int64
        _ld(13, _ld(1, b"\x01\x02") + _ld(3, b"")),  # link with short id
        _vi(6, 1) + _vi(6, 2) + _ld(5, b"a") + _ld(5, b"b"),  # scalars: last one wins
    ],
)
def test_wire_shapes_equal_python(extra: bytes) -> None:
    check_same(_wrap_span(BASE_SPAN + extra), native_expected=True)


def test_resource_after_scope_spans_equals_python() -> None:
    resource = _ld(1, _ld(1, b"service.name") + _ld(2, _ld(1, b"late")))
    check_same(_wrap_span(BASE_SPAN, resource, scope_first=True), native_expected=True)


@pytest.mark.parametrize(
    "payload",
    [
        _wrap_span(BASE_SPAN + _ld(5, b"\xff")),  # invalid UTF-8: Python repairs it
        _wrap_span(BASE_SPAN + _ld(9, _ld(1, b"k\xc0\x80"))),  # overlong encoding
        _wrap_span(BASE_SPAN + _ld(9, _ld(1, b"k")) + _ld(9, _ld(1, b"k"))),  # duplicate key
        _wrap_span(BASE_SPAN + _vi(5, 3)),  # name with a varint wire type
        _wrap_span(BASE_SPAN + _ld(15, b"") + _ld(15, _vi(3, 1))),  # status twice: merged
        _wrap_span(BASE_SPAN + _ld(9, _ld(1, b"k") + _ld(2, _ld(1, b"a") + _vi(3, 1)))),  # oneof twice
        _wrap_span(BASE_SPAN + _ld(9, _ld(1, b"k") + _ld(2, _vi(8, 1)))),  # string_value_strindex
        _wrap_span(BASE_SPAN, _ld(3, b"")),  # Resource.entity_refs
        _wrap_span(BASE_SPAN)[:-3],  # truncated
        b"\x0b\x0c",  # group
    ],
)
def test_shapes_left_to_python_return_none(payload: bytes) -> None:
    assert otlp_native.decode_table(payload, offset=1, received_time_unix_nano=2) is None
    check_same(payload, native_expected=False)


def _nested(levels: int) -> bytes:
    value = _ld(1, b"leaf")
    for _ in range(levels):
        value = _ld(5, _ld(1, value))  # AnyValue{array_value{values: [value]}}
    return _wrap_span(BASE_SPAN + _ld(9, _ld(1, b"k") + _ld(2, value)))


@pytest.mark.parametrize("levels", [45, 47, 48, 60])
def test_deep_nesting_near_the_protobuf_limit(levels: int) -> None:
    """Innermost AnyValue at message depth 5 + 2 * levels: native up to 96, protobuf up to 100."""
    payload = _nested(levels)
    assert (otlp_native.decode_table(payload, offset=1, received_time_unix_nano=2) is None) == (
        levels > 45
    )
    check_same(payload, native_expected=levels <= 45)


def test_concurrent_decodes_agree() -> None:
    payloads = generate_requests(600, spans_per_request=100, variant="small", seed=5)
    expected = [otlp_native.decode_table(p, offset=1, received_time_unix_nano=2) for p in payloads]
    results: list[Any] = []

    def work() -> None:
        results.append([otlp_native.decode_table(p, offset=1, received_time_unix_nano=2)
                        for p in payloads])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        assert all(a[0].equals(b[0]) for a, b in zip(got, expected, strict=True))  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# properties

_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_keys = st.one_of(st.sampled_from(["a", "b", "$x", "$$y", "service.name", "", "é"]), _text)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), _text,
    st.binary(max_size=10),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)
_attrs = st.dictionaries(_keys, _values, max_size=5)
_u32 = st.integers(0, 2**32 - 1)
_u64 = st.integers(0, 2**64 - 1)
_ids16 = st.sampled_from([ID16, b"\x00" * 16, b"\x01" * 15, b"", bytes(range(16))])
_ids8 = st.sampled_from([ID8, b"\x00" * 8, b"\x01" * 9, b"", bytes(range(8))])


@st.composite
def _requests(draw: Any) -> bytes:
    req = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        rs = req.resource_spans.add()
        set_key_values(rs.resource.attributes, draw(_attrs))
        rs.resource.dropped_attributes_count = draw(_u32)
        rs.schema_url = draw(_text)
        for _ in range(draw(st.integers(0, 2))):
            ss = rs.scope_spans.add()
            if draw(st.booleans()):
                ss.scope.name, ss.scope.version = draw(_text), draw(_text)
                set_key_values(ss.scope.attributes, draw(_attrs))
                ss.scope.dropped_attributes_count = draw(_u32)
            ss.schema_url = draw(_text)
            for _ in range(draw(st.integers(0, 3))):
                sp = ss.spans.add()
                sp.trace_id, sp.span_id = draw(_ids16), draw(_ids8)
                sp.parent_span_id = draw(_ids8)
                sp.trace_state, sp.name = draw(_text), draw(_text)
                sp.flags = draw(_u32)
                sp.kind = draw(st.integers(-2, 7))
                sp.start_time_unix_nano, sp.end_time_unix_nano = draw(_u64), draw(_u64)
                set_key_values(sp.attributes, draw(_attrs))
                sp.dropped_attributes_count = draw(_u32)
                for _ in range(draw(st.integers(0, 2))):
                    ev = sp.events.add(time_unix_nano=draw(_u64), name=draw(_text))
                    set_key_values(ev.attributes, draw(_attrs))
                    ev.dropped_attributes_count = draw(_u32)
                sp.dropped_events_count = draw(_u32)
                for _ in range(draw(st.integers(0, 2))):
                    ln = sp.links.add(trace_id=draw(_ids16), span_id=draw(_ids8),
                                      trace_state=draw(_text), flags=draw(_u32))
                    set_key_values(ln.attributes, draw(_attrs))
                    ln.dropped_attributes_count = draw(_u32)
                sp.dropped_links_count = draw(_u32)
                sp.status.code = draw(st.integers(-1, 3))
                sp.status.message = draw(_text)
    return req.SerializeToString()


_long_text = st.text(
    alphabet=st.sampled_from(list('ab"\\\n\x00\x1f\x7fé✓😀\u2028') + list("xyzw" * 3)), max_size=80
)


@FUZZ
@given(st.lists(st.tuples(_long_text, _long_text), max_size=4), st.binary(max_size=40))
def test_long_strings_with_escapes_and_raw_bytes(pairs: list[tuple[str, str]], raw: bytes) -> None:
    """Strings crossing the 8-byte fast path; raw bytes as a string value: equal, or None only
    when the bytes are not UTF-8."""
    attrs = b"".join(_ld(9, _ld(1, k.encode()) + _ld(2, _ld(1, v.encode()))) for k, v in pairs)
    keys = [k for k, _ in pairs]
    unique = len(set(keys)) == len(keys)
    check_same(_wrap_span(BASE_SPAN + attrs + _ld(5, "".join(keys).encode())), native_expected=unique)
    try:
        raw.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    payload = _wrap_span(BASE_SPAN + _ld(9, _ld(1, b"raw") + _ld(2, _ld(1, raw))))
    check_same(payload, native_expected=valid)


@FUZZ
@given(_requests())
def test_random_requests_equal_python(payload: bytes) -> None:
    check_same(payload, native_expected=True)


@FUZZ
@given(_requests(), st.data())
def test_mutated_requests_equal_python_or_none(payload: bytes, data: Any) -> None:
    raw = bytearray(payload)
    if raw:
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    check_same(bytes(raw[:cut]), native_expected=False)


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_never_crash(payload: bytes) -> None:
    check_same(payload, native_expected=False)


def test_tables_concatenate_with_the_segment_schema() -> None:
    payloads = generate_requests(300, spans_per_request=100, variant="small", seed=9)
    tables = [otlp_native.decode_table(p, offset=i, received_time_unix_nano=2)[0]  # type: ignore[index]
              for i, p in enumerate(payloads)]
    combined = pa.concat_tables(tables)
    assert combined.num_rows == 300 and combined.schema == span_schema()
    combined.validate(full=True)
