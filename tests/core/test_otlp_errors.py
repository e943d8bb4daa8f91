"""Bad input: every kind raises the right typed error with a clear message, and none hangs."""

from __future__ import annotations

import gzip
import random
import resource
import time
import zlib
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from msgtrace.core.errors import DecodeError, PayloadTooLarge, UnsupportedMediaType
from msgtrace.core.otlp import (
    ContentType,
    SpanRows,
    decode_rows,
    decompress,
    parse_content_type,
    validate,
)
from msgtrace.core.schema import SPAN_COLUMN_NAMES

MiB = 1 << 20
TRACE = bytes(range(1, 17))
NOISE = random.Random(0).randbytes(5000)


def _request(span_ids: list[tuple[bytes, bytes, bytes]]) -> bytes:
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    for i, (tid, sid, pid) in enumerate(span_ids):
        sp = ss.spans.add()
        sp.trace_id, sp.span_id, sp.parent_span_id = tid, sid, pid
        sp.name = f"span-{i}"
    return req.SerializeToString()


def _both(payload: bytes, ct: ContentType) -> tuple[Any, SpanRows]:
    return validate(payload, ct), decode_rows(payload, ct, offset=0, received_time_unix_nano=0)


# --- content types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/x-protobuf", ContentType.PROTOBUF),
        ("application/protobuf", ContentType.PROTOBUF),
        ("Application/X-Protobuf", ContentType.PROTOBUF),
        ("application/json", ContentType.JSON),
        ("application/json; charset=utf-8", ContentType.JSON),
        (" application/json ;charset=UTF-8", ContentType.JSON),
    ],
)
def test_content_types(header: str, expected: ContentType) -> None:
    assert parse_content_type(header) is expected


@pytest.mark.parametrize(
    "header", ["text/plain", "application/grpc", "application/jsonx", "", None]
)
def test_unknown_content_type(header: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        parse_content_type(header)
    assert "unsupported Content-Type" in info.value.message
    if header:
        assert header in info.value.message


# --- decompression ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "", "identity", "IDENTITY"])
def test_identity(encoding: str | None) -> None:
    assert decompress(b"abc", encoding, 3) == b"abc"
    with pytest.raises(PayloadTooLarge, match="larger than 2 bytes"):
        decompress(b"abc", encoding, 2)


def test_gzip_and_deflate_variants() -> None:
    data = b"span data " * 1000
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(data) + raw.flush()
    assert decompress(gzip.compress(data), "gzip", len(data)) == data
    assert decompress(gzip.compress(data), "x-gzip", len(data)) == data
    assert decompress(gzip.compress(data[:5]) + gzip.compress(data[5:]), "gzip", len(data)) == data
    assert decompress(zlib.compress(data), "deflate", len(data)) == data
    assert decompress(raw_deflate, "deflate", len(data)) == data
    assert decompress(b"", "gzip", 10) == b""
    with pytest.raises(PayloadTooLarge):
        decompress(gzip.compress(data), "gzip", len(data) - 1)


def test_gzip_bomb_is_refused_fast_with_small_memory() -> None:
    bomb = gzip.compress(bytes(200 * MiB), compresslevel=9)
    assert len(bomb) < 1 * MiB
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    with pytest.raises(PayloadTooLarge) as info:
        decompress(bomb, "gzip", MiB)
    cpu = time.process_time() - started
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert "larger than 1048576 bytes after decompression" in str(info.value)
    assert grown_kib < 50 * 1024  # never inflated in full (200 MiB)
    assert cpu < 5  # a generous bound for "did not inflate 200 MiB"; not a speed measurement


def test_deflate_bomb_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        decompress(zlib.compress(bytes(50 * MiB)), "deflate", MiB)


@pytest.mark.parametrize(
    ("body", "encoding", "needle"),
    [
        (b"this is not gzip", "gzip", "corrupt gzip stream"),
        (gzip.compress(NOISE)[:-300], "gzip", "truncated gzip stream"),
        (gzip.compress(NOISE)[:-4], "gzip", "truncated gzip stream"),
        (zlib.compress(NOISE)[:-300], "deflate", "truncated deflate stream"),
        (gzip.compress(b"abc") + b"garbage", "gzip", "trailing data"),
        (b"\x78\x9c\xff\xff\xff", "deflate", "corrupt deflate stream"),
    ],
    # explicit ids: gzip headers carry a timestamp, and xdist workers must collect equal ids
    ids=["not-gzip", "gzip-cut-300", "gzip-cut-4", "deflate-cut", "gzip-trailing", "bad-deflate"],
)
def test_corrupt_streams(body: bytes, encoding: str, needle: str) -> None:
    with pytest.raises(DecodeError) as info:
        decompress(body, encoding, MiB)
    assert needle in info.value.message


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, br", "compress"])
def test_unknown_encoding(encoding: str) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        decompress(b"abc", encoding, MiB)
    assert repr(encoding) in info.value.message
    assert "gzip or deflate" in info.value.hint


# --- undecodable bodies ----------------------------------------------------------------------


def test_truncated_protobuf() -> None:
    body = _request([(TRACE, b"\x01" * 8, b"")] * 3)
    for cut in (len(body) - 1, len(body) // 2, 3):
        for fn in (validate, lambda p, c: decode_rows(p, c, offset=0, received_time_unix_nano=0)):
            with pytest.raises(DecodeError) as info:
                fn(body[:cut], ContentType.PROTOBUF)
            assert info.value.message.startswith("truncated protobuf: "), info.value.message


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff\xff\xff\xff", b"\x00\x01garbage", b'{"resourceSpans": []}', b"\x0f\x01\x02"],
)
def test_garbage_protobuf(body: bytes) -> None:
    for fn in (validate, lambda p, c: decode_rows(p, c, offset=0, received_time_unix_nano=0)):
        with pytest.raises(DecodeError) as info:
            fn(body, ContentType.PROTOBUF)
        assert "protobuf" in info.value.message
        assert info.value.hint


def test_invalid_json_names_line_and_column() -> None:
    with pytest.raises(DecodeError) as info:
        validate(b'{"resourceSpans": [', ContentType.JSON)
    assert info.value.message.startswith("invalid JSON at line 1 column ")
    with pytest.raises(DecodeError, match=r"invalid JSON at line 2 column \d+"):
        decode_rows(b'{\n "a": tru}', ContentType.JSON, offset=0, received_time_unix_nano=0)


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ([1, 2], "must be an object with resourceSpans, got array"),
        ("text", "got string"),
        ({"resourceSpans": 5}, "resourceSpans must be an array, got number"),
        ({"resourceSpans": [7]}, "resourceSpans[0]: must be an object"),
        ({"resourceSpans": [{"scopeSpans": {}}]}, "scopeSpans must be an array, got object"),
        ({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5}]}]}]},
         "scopeSpans[0].spans[0]: name must be a string, got number"),
        ({"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]},
         "startTimeUnixNano must be an integer or a decimal string"),
        ({"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": "SPAN_KIND_NOPE"}]}]}]},
         "kind must be an integer or one of SPAN_KIND_UNSPECIFIED"),
        ({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 12}]}]}]},
         "traceId must be a hex string, got number"),
        ({"resourceSpans": [{"scopeSpans": [{"spans": [
            {"attributes": [{"key": "k", "value": {"boolValue": "yes"}}]}]}]}]},
         "boolValue has the wrong type"),
        ({"resourceSpans": [{"scopeSpans": [{"spans": [
            {"attributes": [{"key": "k", "value": {"bytesValue": "***"}}]}]}]}]},
         "bytesValue is not base64"),
        ({"resourceSpans": [{"resource": {"attributes": [{"value": {}}]}}]},
         "attribute key must be a string"),
    ],
)  # fmt: skip
def test_json_of_the_wrong_shape(doc: Any, needle: str) -> None:
    body = orjson.dumps(doc)
    for fn in (validate, lambda p, c: decode_rows(p, c, offset=0, received_time_unix_nano=0)):
        with pytest.raises(DecodeError) as info:
            fn(body, ContentType.JSON)
        assert needle in info.value.message, info.value.message


# --- empty and partly bad requests -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "ct"),
    [
        (b"", ContentType.PROTOBUF),
        (b"", ContentType.JSON),
        (b"  \n", ContentType.JSON),
        (b"{}", ContentType.JSON),
        (b'{"resourceSpans": []}', ContentType.JSON),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}', ContentType.JSON),
        (ExportTraceServiceRequest().SerializeToString(), ContentType.PROTOBUF),
    ],
)
def test_empty_is_success_with_nothing(body: bytes, ct: ContentType) -> None:
    v, rows = _both(body, ct)
    assert (v.accepted_spans, v.rejected_spans, v.error_message) == (0, 0, "")
    assert len(rows) == 0 and rows.rejected_spans == 0
    assert tuple(rows.columns) == SPAN_COLUMN_NAMES
    assert all(col == [] for col in rows.columns.values())


def test_bad_ids_mixed_with_good_spans_protobuf() -> None:
    good = (TRACE, b"\x01" * 8, b"")
    body = _request(
        [
            good,
            (TRACE[:15], b"\x02" * 8, b""),
            (TRACE, b"\x03" * 8, b"\x04" * 8),
            (bytes(16), b"\x05" * 8, b""),
            (TRACE, b"\x06" * 7, b""),
            (TRACE, bytes(8), b""),
            (TRACE, b"\x07" * 8, b"\x08" * 5),
            (bytes(8) + TRACE[8:], b"\x09" * 8, bytes(8)),  # 64-bit style trace id, zero parent
        ]
    )
    v, rows = _both(body, ContentType.PROTOBUF)
    assert (v.accepted_spans, v.rejected_spans) == (3, 5) == (len(rows), rows.rejected_spans)
    assert rows.columns["name"] == ["span-0", "span-2", "span-7"]
    assert rows.columns["parent_span_id"] == [None, "04" * 8, None]
    assert v.error_message == rows.error_message
    assert v.error_message == (
        "5 spans rejected: span 1 of resource 0: trace_id has 15 bytes, expected 16; "
        "span 3 of resource 0: trace_id is all zeros; "
        "span 4 of resource 0: span_id has 7 bytes, expected 8; and 2 more"
    )


def test_bad_ids_mixed_with_good_spans_json() -> None:
    def span(tid: str, sid: str, **extra: Any) -> dict[str, Any]:
        return {"traceId": tid, "spanId": sid, "name": f"{tid[:4]}-{sid[:4]}", **extra}

    t, s = TRACE.hex(), "01" * 8
    doc = {
        "resourceSpans": [
            {"scopeSpans": [{"spans": [span(t, s), span(t[:-2], s)]}]},
            {"scopeSpans": [{"spans": [span("zz" + t[2:], s), span(t, "0" * 16)]},
                            {"spans": [span(t, s, parentSpanId="abc"), span(t, s, kind=9)]}]},
            {"scopeSpans": [{"spans": [span(t, s, links=[{"traceId": "x", "spanId": s}])]}]},
            {"scopeSpans": [{"spans": [span(t.upper(), s, parentSpanId="")]}]},
        ]
    }  # fmt: skip
    v, rows = _both(orjson.dumps(doc), ContentType.JSON)
    assert (v.accepted_spans, v.rejected_spans) == (2, 6) == (len(rows), rows.rejected_spans)
    assert rows.columns["trace_id"] == [t, t]
    assert v.error_message == rows.error_message
    assert v.error_message.startswith(
        "6 spans rejected: span 1 of resource 0: trace_id has 15 bytes, expected 16; "
        "span 0 of resource 1: trace_id is not valid hex: 'zz"
    )
    assert v.error_message.endswith("span 1 of resource 1: span_id is all zeros; and 3 more")


def test_out_of_range_enums_reject_the_span() -> None:
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    for kind, code in ((1, 1), (6, 0), (-1, 0), (0, 3), (5, 2)):
        sp = ss.spans.add()
        sp.trace_id, sp.span_id = TRACE, b"\x01" * 8
        sp.kind, sp.status.code = kind, code  # type: ignore[assignment]
    v, rows = _both(req.SerializeToString(), ContentType.PROTOBUF)
    assert (v.accepted_spans, v.rejected_spans) == (2, 3) == (len(rows), rows.rejected_spans)
    assert "span 1 of resource 0: kind 6 is not a SpanKind (0-5)" in v.error_message
    assert "span 3 of resource 0: status code 3 is not a StatusCode (0-2)" in v.error_message


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    req = ExportTraceServiceRequest()
    sp = req.resource_spans.add().scope_spans.add().spans.add()
    sp.trace_id, sp.span_id, sp.name = TRACE, b"\x01" * 8, "ab"
    kv = sp.attributes.add()
    kv.key, kv.value.string_value = "k", "cd"
    body = req.SerializeToString().replace(b"ab", b"a\xff").replace(b"cd", b"\xfe\xfd")
    v, rows = _both(body, ContentType.PROTOBUF)
    assert v.accepted_spans == len(rows) == 1
    assert rows.columns["name"] == ["a\ufffd"]
    assert rows.columns["attributes"] == ['{"k":"\ufffd\ufffd"}']


def test_values_outside_int64_are_clamped() -> None:
    req = ExportTraceServiceRequest()
    sp = req.resource_spans.add().scope_spans.add().spans.add()
    sp.trace_id, sp.span_id = TRACE, b"\x01" * 8
    sp.start_time_unix_nano, sp.end_time_unix_nano = 5, 2**64 - 1
    rows = decode_rows(
        req.SerializeToString(), ContentType.PROTOBUF, offset=0, received_time_unix_nano=0
    )
    assert rows.columns["start_time_unix_nano"] == [5]
    assert rows.columns["end_time_unix_nano"] == [2**63 - 1]
    body = (
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "%s", "spanId": "%s",'
        b' "startTimeUnixNano": "%d", "endTimeUnixNano": 1e30,'
        b' "droppedAttributesCount": -1180591620717411303424,'
        b' "attributes": [{"key": "big", "value": {"intValue": "%d"}}]}]}]}]}'
        % (TRACE.hex().encode(), b"01" * 8, 2**64, 2**64)
    )
    rows = decode_rows(body, ContentType.JSON, offset=0, received_time_unix_nano=0)
    assert rows.columns["start_time_unix_nano"] == rows.columns["end_time_unix_nano"] == [2**63 - 1]
    assert rows.columns["dropped_attributes_count"] == [-(2**63)]
    assert rows.columns["attributes"] == [f'{{"big":{2**63 - 1}}}']
    bad = body.replace(b'"intValue": "%d"' % 2**64, b'"intValue": "12abc"')
    with pytest.raises(DecodeError, match="intValue must be an integer or a decimal string"):
        validate(bad, ContentType.JSON)


def test_corrupt_nested_message_is_refused_at_validate() -> None:
    """Whatever validate accepts must decode later: an acknowledged request is never dropped."""
    req = ExportTraceServiceRequest()
    sp = req.resource_spans.add().scope_spans.add().spans.add()
    sp.trace_id, sp.span_id = TRACE, b"\x01" * 8
    kv = sp.attributes.add()
    kv.key, kv.value.string_value = "k", "vv"
    body = req.SerializeToString().replace(b"\x0a\x02vv", b"\x0f\x02vv")  # wire type 7
    with pytest.raises(DecodeError, match="invalid protobuf"):
        validate(body, ContentType.PROTOBUF)
    with pytest.raises(DecodeError, match="invalid protobuf: not an ExportTraceServiceRequest"):
        decode_rows(body, ContentType.PROTOBUF, offset=0, received_time_unix_nano=0)
