"""The native ingest verdict (otlp_native.validate_counts) against the Python one.

The Python verdict is `otlp_validate.validate_protobuf` followed, when a span is accepted, by the
full parse `parse_request_lenient`: (accepted, rejected, message) or the DecodeError message.
The native walk may answer None (use the Python path) but must never answer differently, and
`otlp.validate` must give exactly the Python verdict whichever path it takes. Examples are
bounded; a longer run: `HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/core/test_otlp_validate_native.py`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from benchmarks.corpus import Variant, generate_requests
from msgtrace.core import otlp_native
from msgtrace.core.errors import DecodeError
from msgtrace.core.otlp import ContentType, validate
from msgtrace.core.otlp_protobuf import set_key_values
from msgtrace.core.otlp_validate import parse_request_lenient, validate_protobuf
from tests.core.test_otlp_native import (
    BASE_SPAN,
    ID8,
    ID16,
    _ld,
    _requests,
    _varint,
    _vi,
    _wrap_span,
)

pytestmark = pytest.mark.skipif(not otlp_native.AVAILABLE, reason="C extension not built")

EXAMPLES = 10_000 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 200
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
Verdict = tuple[Any, ...]


def python_verdict(payload: bytes) -> Verdict:
    """What the Python path answers: (accepted, rejected, message) or ("error", message)."""
    if not payload:
        return (0, 0, "")
    try:
        accepted, problems = validate_protobuf(payload)
        if accepted:
            parse_request_lenient(payload)
    except DecodeError as exc:
        return ("error", str(exc))
    return (accepted, problems.count, problems.message())


def dispatched_verdict(payload: bytes) -> Verdict:
    try:
        v = validate(payload, ContentType.PROTOBUF)
    except DecodeError as exc:
        return ("error", str(exc))
    return (v.accepted_spans, v.rejected_spans, v.error_message)


def check_same(payload: bytes, *, native_expected: bool | None = None) -> Verdict:
    """Native equals Python or is None; `native_expected` True/False also pins which one."""
    expected = python_verdict(payload)
    counted = otlp_native.validate_counts(payload) if payload else None
    if counted is None:
        assert native_expected is not True, "native walk declined a request it should count"
    else:
        assert native_expected is not False, "native walk counted a request it should leave"
        accepted, problems = counted
        assert expected[0] != "error", f"native counted a request Python refuses: {expected}"
        assert (accepted, problems.count, problems.message()) == expected
    assert dispatched_verdict(payload) == expected
    return expected


# ---------------------------------------------------------------------------------------------
# corpora and hand-made requests


@pytest.mark.parametrize("variant", ["realistic", "small"])
def test_corpus_equals_python_without_fallback(variant: Variant) -> None:
    for payload in generate_requests(1500, spans_per_request=256, variant=variant, seed=4):
        verdict = check_same(payload, native_expected=True)
        assert verdict[0] > 0 and verdict[1] == 0


def test_rejections_name_the_first_three_like_python() -> None:
    req = ExportTraceServiceRequest()
    for r in range(2):
        rs = req.resource_spans.add()
        for s in range(4):
            sp = rs.scope_spans.add().spans.add()
            sp.trace_id, sp.span_id = ID16, ID8
            if s == 0:
                sp.trace_id = b"\x00" * 16
            elif s == 1:
                sp.parent_span_id = b"\x03" * 5
            elif s == 2 and r == 1:
                sp.kind = 9
                sp.status.code = 5
    verdict = check_same(req.SerializeToString(), native_expected=True)
    assert verdict[:2] == (3, 5)
    assert verdict[2] == (
        "5 spans rejected: span 0 of resource 0: trace_id is all zeros; "
        "span 1 of resource 0: parent_span_id has 5 bytes, expected 0 or 8; "
        "span 0 of resource 1: trace_id is all zeros; and 2 more"
    )


def test_all_rejected_is_counted_without_a_full_parse() -> None:
    verdict = check_same(_wrap_span(_ld(1, b"\x01" * 3) + _ld(2, ID8)), native_expected=True)
    assert verdict == (0, 1, "1 span rejected: span 0 of resource 0: trace_id has 3 bytes, expected 16")


def test_empty_and_spanless_requests() -> None:
    for payload in (b"", ExportTraceServiceRequest().SerializeToString(), _ld(1, b""),
                    _ld(1, _ld(2, b"")), _ld(1, _ld(1, b"")) + _vi(7, 1)):
        assert check_same(payload) == (0, 0, "")


def test_unavailable_extension_falls_back_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = _wrap_span(BASE_SPAN)
    monkeypatch.setattr(otlp_native, "_native", None)
    assert otlp_native.validate_counts(payload) is None
    assert dispatched_verdict(payload) == (1, 0, "")


@pytest.mark.parametrize(
    "extra",
    [
        _vi(6, 2**32 + 3),  # kind: int32 truncation keeps 3
        _vi(6, 2**64 - 1),  # kind -1
        _ld(15, _vi(3, 2**32 + 1)),  # status code 1 after truncation
        _ld(15, _vi(3, 2)) + _ld(15, _ld(2, b"m")),  # statuses merge: code 2 kept
        _ld(15, _vi(3, 9)) + _ld(15, _vi(3, 1)),  # last code wins
        _ld(1, b"\x00" * 16),  # a later trace_id replaces the first
        _ld(4, b"\x05" * 3) + _ld(4, b""),  # and a later parent
        _ld(99, b"anything") + _vi(98, 5) + _varint(97 << 3 | 5) + b"abcd"
        + _varint(96 << 3 | 1) + b"12345678",  # unknown fields of every scalar wire type
        _ld(5, b"\xff\xfe") + _ld(9, _ld(1, b"k\xc0\x80") + _ld(2, _ld(1, b"\xed\xa0\x80"))),  # bad UTF-8
        _ld(9, _ld(1, b"k") + _ld(2, _ld(5, _ld(1, _vi(3, 1)) + _ld(1, _ld(6, b""))))),  # nested values
        _ld(9, _ld(1, b"k") + _ld(2, _ld(1, b"a") + _vi(3, 1))),  # oneof set twice
        _ld(9, _vi(3, 4) + _ld(2, _vi(8, 2))),  # key_strindex, string_value_strindex
        _ld(11, _ld(3, _ld(1, b"e")) + b"\x09" + b"\xff" * 8) + _ld(13, _ld(1, b"\x01") + _ld(4, b"")),
    ],
)
def test_wire_shapes_are_counted_like_python(extra: bytes) -> None:
    check_same(_wrap_span(BASE_SPAN + extra), native_expected=True)


def test_resource_entity_refs_and_schema_urls_are_walked() -> None:
    resource = _ld(1, _ld(1, b"service.name")) + _ld(3, _ld(1, b"s") + _ld(3, b"id") + _ld(4, b"d"))
    check_same(_wrap_span(BASE_SPAN, resource, scope_first=True) + _ld(1, _ld(3, b"url")),
               native_expected=True)


@pytest.mark.parametrize(
    "payload",
    [
        _wrap_span(BASE_SPAN + _vi(5, 3)),  # name as a varint
        _wrap_span(BASE_SPAN + _ld(6, _varint(2))),  # kind packed
        _wrap_span(BASE_SPAN + _ld(9, _vi(2, 1))),  # attribute value as a varint
        _wrap_span(BASE_SPAN + _ld(15, _ld(3, _varint(1)))),  # status code packed
        _wrap_span(BASE_SPAN + _ld(9, _ld(2, _ld(5, b"\x0a\x05ab")))),  # corrupt nested value
        _wrap_span(BASE_SPAN + _ld(11, b"\x09\x01")),  # truncated fixed64 in an event
        _wrap_span(BASE_SPAN)[:-3],  # truncated
        b"\x0b\x0c",  # group
        b"\x0a\x05\x12\x03\x0f",  # wire type 7
        b"\x00\x01",  # field 0
        _vi(1, 5),  # resource_spans as a varint
    ],
)
def test_shapes_left_to_python(payload: bytes) -> None:
    assert otlp_native.validate_counts(payload) is None
    check_same(payload, native_expected=False)


def _nested(levels: int) -> bytes:
    value = _ld(1, b"leaf")
    for _ in range(levels):
        value = _ld(5, _ld(1, value))  # AnyValue{array_value{values: [value]}}
    return _wrap_span(BASE_SPAN + _ld(9, _ld(1, b"k") + _ld(2, value)))


@pytest.mark.parametrize("levels", [40, 42, 43, 46, 47, 48, 49, 60])
def test_deep_nesting_near_the_protobuf_limit(levels: int) -> None:
    """Innermost AnyValue at message depth 5 + 2 * levels: native counts up to 90."""
    check_same(_nested(levels), native_expected=levels <= 42)


def test_concurrent_walks_agree() -> None:
    payloads = generate_requests(4000, spans_per_request=200, variant="realistic", seed=6)
    assert any(len(p) >= 16384 for p in payloads)  # the walk runs without the GIL
    expected = [python_verdict(p) for p in payloads]
    results: list[list[Verdict]] = []

    def work() -> None:
        got = []
        for p in payloads:
            counted = otlp_native.validate_counts(p)
            assert counted is not None
            got.append((counted[0], counted[1].count, counted[1].message()))
        results.append(got)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_bytes_like_payloads_are_accepted() -> None:
    counted = otlp_native.validate_counts(bytearray(_wrap_span(BASE_SPAN)))  # type: ignore[arg-type]
    assert counted is not None
    assert (counted[0], counted[1].count) == (1, 0)


# ---------------------------------------------------------------------------------------------
# properties


@FUZZ
@given(_requests())
def test_random_requests_are_counted_like_python(payload: bytes) -> None:
    check_same(payload, native_expected=True if payload else None)


@st.composite
def _mutated(draw: Any) -> bytes:
    raw = bytearray(draw(_requests()))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut"]))
        at = draw(st.integers(0, len(raw)))
        if op == "flip" and at < len(raw):
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif op == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif op == "delete":
            del raw[at:at + draw(st.integers(1, 4))]
        elif op == "cut":
            del raw[at:]
    return bytes(raw)


@FUZZ
@given(_mutated())
def test_mutated_requests_equal_python_or_fall_back(payload: bytes) -> None:
    check_same(payload)


_field_numbers = st.integers(1, 20)
_extra_fields = st.lists(
    st.one_of(
        st.builds(_vi, _field_numbers, st.integers(0, 2**64 - 1)),
        st.builds(_ld, _field_numbers, st.binary(max_size=12)),
        st.builds(lambda n, b: _varint(n << 3 | 1) + b, _field_numbers, st.binary(min_size=8, max_size=8)),
        st.builds(lambda n, b: _varint(n << 3 | 5) + b, _field_numbers, st.binary(min_size=4, max_size=4)),
    ),
    max_size=5,
)


@FUZZ
@given(_extra_fields, _extra_fields, st.sampled_from([ID16, b"\x00" * 16, b"\x01" * 15, b""]),
       st.sampled_from([ID8, b"\x00" * 8, b"\x07" * 9]))
def test_fields_of_any_number_and_wire_type_equal_python_or_fall_back(
    span_extra: list[bytes], attr_extra: list[bytes], trace_id: bytes, span_id: bytes
) -> None:
    """Known fields with the wrong wire type, packed scalars, unknown fields, ids of any length."""
    attr = _ld(9, _ld(1, b"k") + b"".join(attr_extra))
    check_same(_wrap_span(_ld(1, trace_id) + _ld(2, span_id) + b"".join(span_extra) + attr))


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_equal_python_or_fall_back(payload: bytes) -> None:
    check_same(payload)


@FUZZ
@given(st.dictionaries(st.text(max_size=8), st.binary(max_size=12), max_size=4), st.binary(max_size=20))
def test_invalid_utf8_is_accepted_like_python(attrs: dict[str, bytes], name: bytes) -> None:
    req = ExportTraceServiceRequest()
    sp = req.resource_spans.add().scope_spans.add().spans.add()
    sp.trace_id, sp.span_id = ID16, ID8
    set_key_values(sp.attributes, {k: "x" for k in attrs})
    raw = req.SerializeToString()
    strings = b"".join(_ld(9, _ld(1, k.encode()) + _ld(2, _ld(1, v))) for k, v in attrs.items())
    check_same(_wrap_span(BASE_SPAN + _ld(5, name) + strings), native_expected=True)
    check_same(raw, native_expected=True)
