"""OTLP protobuf: validate and decode `ExportTraceServiceRequest` bytes into span rows, and back.

The walk reads the upb message fields directly (never `json_format`). Rows are tuples in
`ROW_COLUMNS` order; `otlp.decode_rows` turns them into columns. Rules shared with the OTLP/JSON
decoder (span rejection, problem messages, row layout) live here too, so both decoders agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableSequence
from operator import attrgetter
from typing import Any

import orjson
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from msgtrace.core.errors import DecodeError
from msgtrace.core.schema import SPAN_COLUMN_NAMES
from msgtrace.core.typed_json import encode_bytes, encode_double, from_typed

# A row tuple holds every column but the two per-request ones (offset, received time), which
# `otlp.decode_rows` adds as constant columns.
ROW_COLUMNS = SPAN_COLUMN_NAMES[2:]
assert SPAN_COLUMN_NAMES[:2] == ("offset", "received_time_unix_nano")
assert ROW_COLUMNS[:17][-1] == "dropped_links_count" and ROW_COLUMNS[17] == "service_name"

ZERO_TRACE_ID = bytes(16)
ZERO_SPAN_ID = bytes(8)
MAX_KIND = 5  # SPAN_KIND_CONSUMER
MAX_STATUS = 2  # STATUS_CODE_ERROR
MAX_PROBLEMS_NAMED = 3


class Problems:
    """Counts rejected spans and keeps the first few reasons for `error_message`."""

    __slots__ = ("count", "named")

    def __init__(self) -> None:
        self.count = 0
        self.named: list[str] = []

    def add(self, resource_index: int, span_index: int, problem: str) -> None:
        self.count += 1
        if len(self.named) < MAX_PROBLEMS_NAMED:
            self.named.append(f"span {span_index} of resource {resource_index}: {problem}")

    def message(self) -> str:
        if not self.count:
            return ""
        more = self.count - len(self.named)
        tail = f"; and {more} more" if more else ""
        noun = "span" if self.count == 1 else "spans"
        return f"{self.count} {noun} rejected: " + "; ".join(self.named) + tail


def span_problem(
    trace_id: bytes, span_id: bytes, parent_span_id: bytes, kind: int, status: int
) -> str:
    """Why a span is rejected ("" when it is acceptable). The rule both decoders apply."""
    if len(trace_id) != 16:
        return f"trace_id has {len(trace_id)} bytes, expected 16"
    if trace_id == ZERO_TRACE_ID:
        return "trace_id is all zeros"
    if len(span_id) != 8:
        return f"span_id has {len(span_id)} bytes, expected 8"
    if span_id == ZERO_SPAN_ID:
        return "span_id is all zeros"
    if parent_span_id and len(parent_span_id) != 8:
        return f"parent_span_id has {len(parent_span_id)} bytes, expected 0 or 8"
    if not 0 <= kind <= MAX_KIND:
        return f"kind {kind} is not a SpanKind (0-{MAX_KIND})"
    if not 0 <= status <= MAX_STATUS:
        return f"status code {status} is not a StatusCode (0-{MAX_STATUS})"
    return ""


def parent_hex(parent_span_id: bytes) -> str | None:
    """Row value of parent_span_id: None for a root (empty or all-zero id)."""
    if not parent_span_id or parent_span_id == ZERO_SPAN_ID:
        return None
    return parent_span_id.hex()


# ---------------------------------------------------------------------------------------------
# parsing


def parse_request(payload: bytes) -> ExportTraceServiceRequest:
    """Parse protobuf bytes; DecodeError names the problem (truncation, bad wire type, UTF-8)."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(payload)
    except (ProtobufDecodeError, RuntimeError, ValueError) as exc:
        raise DecodeError(_diagnose(payload, exc)) from None
    return request


def _diagnose(payload: bytes, exc: Exception) -> str:
    """Explain why upb refused `payload` by scanning its top-level wire format."""
    pos, end = 0, len(payload)
    while pos < end:
        start = pos
        tag, pos = _varint(payload, pos)
        if tag is None:
            return f"truncated protobuf: field tag at byte {start} is cut off"
        field, wire = tag >> 3, tag & 7
        if field == 0:
            return f"invalid protobuf: field number 0 at byte {start}"
        if wire == 0:
            value, pos = _varint(payload, pos)
            if value is None:
                return f"truncated protobuf: varint field {field} at byte {start} is cut off"
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(payload, pos)
            if length is None:
                return f"truncated protobuf: length of field {field} at byte {start} is cut off"
            if pos + length > end:
                return (
                    f"truncated protobuf: field {field} at byte {start} declares {length} bytes "
                    f"but only {end - pos} remain"
                )
            pos += length
        else:
            return f"invalid protobuf: wire type {wire} of field {field} at byte {start}"
        if pos > end:
            return f"truncated protobuf: field {field} at byte {start} is cut off"
    return f"invalid protobuf: not an ExportTraceServiceRequest ({exc})"


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    result = shift = 0
    while pos < len(data) and shift < 70:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    return None, pos


# ---------------------------------------------------------------------------------------------
# validate


_trace_ids = attrgetter("trace_id")
_span_ids = attrgetter("span_id")
_parent_ids = attrgetter("parent_span_id")
_kinds = attrgetter("kind")


def validate_protobuf(payload: bytes) -> tuple[int, Problems]:
    """(accepted span count, rejections) of a protobuf request; DecodeError when unparseable.

    Fast path per ScopeSpans: the id columns are collected with C-level `map` and checked as a
    whole; only a scope with a bad span is walked span by span.
    """
    request = parse_request(payload)
    accepted = 0
    problems = Problems()
    for ri, rs in enumerate(request.resource_spans):
        base = 0
        for ss in rs.scope_spans:
            spans = ss.spans
            n = len(spans)
            tids = list(map(_trace_ids, spans))
            sids = list(map(_span_ids, spans))
            pids = list(map(_parent_ids, spans))
            kinds = list(map(_kinds, spans))
            if (
                n
                and set(map(len, tids)) == {16}
                and set(map(len, sids)) == {8}
                and set(map(len, pids)) <= {0, 8}
                and ZERO_TRACE_ID not in tids
                and ZERO_SPAN_ID not in sids
                and min(kinds) >= 0
                and max(kinds) <= MAX_KIND
                and all(0 <= s.status.code <= MAX_STATUS for s in spans)
            ):
                accepted += n
            else:
                for i, sp in enumerate(spans):
                    problem = span_problem(tids[i], sids[i], pids[i], kinds[i], sp.status.code)
                    if problem:
                        problems.add(ri, base + i, problem)
                    else:
                        accepted += 1
            base += n
    return accepted, problems


# ---------------------------------------------------------------------------------------------
# decode


def _value(v: AnyValue) -> Any:
    """An AnyValue as a typed-JSON-ready Python value (see msgtrace.core.typed_json)."""
    w = v.WhichOneof("value")
    if w == "string_value":
        return v.string_value
    if w == "int_value":
        return v.int_value
    if w == "double_value":
        return encode_double(v.double_value)
    if w == "bool_value":
        return v.bool_value
    if w == "array_value":
        return [_value(x) for x in v.array_value.values]
    if w == "kvlist_value":
        return _attrs(v.kvlist_value.values)
    if w == "bytes_value":
        return encode_bytes(v.bytes_value)
    return None


def _attrs(kvs: Iterable[KeyValue]) -> dict[str, Any]:
    """KeyValues as a typed-JSON-ready dict ("$"-prefixed keys escaped)."""
    out: dict[str, Any] = {}
    for kv in kvs:
        k = kv.key
        if k[:1] == "$":
            k = "$" + k
        v = kv.value
        w = v.WhichOneof("value")
        if w == "string_value":
            out[k] = v.string_value
        elif w == "int_value":
            out[k] = v.int_value
        else:
            out[k] = _value(v)
    return out


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def decode_protobuf_rows(payload: bytes) -> tuple[list[tuple[Any, ...]], Problems]:
    """Row tuples (ROW_COLUMNS order) for every accepted span, in request order."""
    request = parse_request(payload)
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    problems = Problems()
    for ri, rs in enumerate(request.resource_spans):
        res = rs.resource
        res_attrs = _attrs(res.attributes)
        service = res_attrs.get("service.name")
        res_const = (
            service if type(service) is str else None,
            _dumps(res_attrs),
            res.dropped_attributes_count,
            rs.schema_url or None,
        )
        si = 0
        for ss in rs.scope_spans:
            sc = ss.scope
            const = (
                *res_const,
                sc.name or None,
                sc.version or None,
                _dumps(_attrs(sc.attributes)),
                sc.dropped_attributes_count,
                ss.schema_url or None,
            )
            for sp in ss.spans:
                tid = sp.trace_id
                sid = sp.span_id
                pid = sp.parent_span_id
                kind = sp.kind
                status = sp.status
                code = status.code
                if (
                    len(tid) != 16
                    or len(sid) != 8
                    or tid == ZERO_TRACE_ID
                    or sid == ZERO_SPAN_ID
                    or (pid and len(pid) != 8)
                    or not 0 <= kind <= MAX_KIND
                    or not 0 <= code <= MAX_STATUS
                ):
                    problems.add(ri, si, span_problem(tid, sid, pid, kind, code))
                    si += 1
                    continue
                si += 1
                events = sp.events
                links = sp.links
                attrs = sp.attributes
                append(
                    (
                        tid.hex(),
                        sid.hex(),
                        parent_hex(pid),
                        sp.trace_state or None,
                        sp.flags,
                        sp.name,
                        kind,
                        sp.start_time_unix_nano,
                        sp.end_time_unix_nano,
                        code,
                        status.message or None,
                        _dumps(_attrs(attrs)) if attrs else "{}",
                        sp.dropped_attributes_count,
                        _dumps([_event(e) for e in events]) if events else "[]",
                        sp.dropped_events_count,
                        _dumps([_link(ln) for ln in links]) if links else "[]",
                        sp.dropped_links_count,
                        *const,
                    )
                )
    return rows, problems


def _event(e: Span.Event) -> dict[str, Any]:
    return {
        "time_unix_nano": e.time_unix_nano,
        "name": e.name,
        "attributes": _attrs(e.attributes),
        "dropped_attributes_count": e.dropped_attributes_count,
    }


def _link(ln: Span.Link) -> dict[str, Any]:
    return {
        "trace_id": ln.trace_id.hex(),
        "span_id": ln.span_id.hex(),
        "trace_state": ln.trace_state or None,
        "attributes": _attrs(ln.attributes),
        "dropped_attributes_count": ln.dropped_attributes_count,
        "flags": ln.flags,
    }


# ---------------------------------------------------------------------------------------------
# rows -> request


def set_any_value(av: AnyValue, value: Any) -> None:
    """Fill `av` from a plain Python value (None leaves it empty); inverse of typed-JSON decode."""
    t = type(value)
    if value is None:
        return
    if t is str:
        av.string_value = value
    elif t is bool:
        av.bool_value = value
    elif t is int:
        av.int_value = value
    elif t is float:
        av.double_value = value
    elif t is bytes:
        av.bytes_value = value
    elif t is list:
        arr = av.array_value
        arr.SetInParent()
        for x in value:
            set_any_value(arr.values.add(), x)
    elif t is dict:
        kvl = av.kvlist_value
        kvl.SetInParent()
        set_key_values(kvl.values, value)
    else:
        raise TypeError(f"cannot encode {t.__name__} as an AnyValue")


def set_key_values(target: MutableSequence[KeyValue], values: Mapping[str, Any]) -> None:
    for k, v in values.items():
        kv = target.add()  # type: ignore[attr-defined]
        kv.key = k
        set_any_value(kv.value, v)


def _typed_attrs(text: str | bytes | None) -> dict[str, Any]:
    if not text:
        return {}
    value = from_typed(orjson.loads(text))
    if not isinstance(value, dict):
        raise ValueError("typed-JSON attributes must be an object")
    return value


def rows_to_request(rows: Iterable[Mapping[str, Any]]) -> ExportTraceServiceRequest:
    """Inverse of decode_rows: group rows by resource, then scope, in first-seen order."""
    request = ExportTraceServiceRequest()
    resources: dict[tuple[Any, ...], tuple[Any, dict[tuple[Any, ...], Any]]] = {}
    for row in rows:
        rkey = (
            row["resource_attributes"],
            row["resource_dropped_attributes_count"],
            row["resource_schema_url"],
        )
        entry = resources.get(rkey)
        if entry is None:
            rs = request.resource_spans.add()
            set_key_values(rs.resource.attributes, _typed_attrs(row["resource_attributes"]))
            rs.resource.dropped_attributes_count = row["resource_dropped_attributes_count"] or 0
            rs.schema_url = row["resource_schema_url"] or ""
            entry = resources[rkey] = (rs, {})
        rs, scopes = entry
        skey = (
            row["scope_name"],
            row["scope_version"],
            row["scope_attributes"],
            row["scope_dropped_attributes_count"],
            row["scope_schema_url"],
        )
        ss = scopes.get(skey)
        if ss is None:
            ss = scopes[skey] = rs.scope_spans.add()
            ss.scope.name = row["scope_name"] or ""
            ss.scope.version = row["scope_version"] or ""
            set_key_values(ss.scope.attributes, _typed_attrs(row["scope_attributes"]))
            ss.scope.dropped_attributes_count = row["scope_dropped_attributes_count"] or 0
            ss.schema_url = row["scope_schema_url"] or ""
        _fill_span(ss.spans.add(), row)
    return request


def _fill_span(sp: Span, row: Mapping[str, Any]) -> None:
    sp.trace_id = bytes.fromhex(row["trace_id"])
    sp.span_id = bytes.fromhex(row["span_id"])
    if row["parent_span_id"]:
        sp.parent_span_id = bytes.fromhex(row["parent_span_id"])
    sp.trace_state = row["trace_state"] or ""
    sp.flags = row["flags"] or 0
    sp.name = row["name"] or ""
    sp.kind = row["kind"] or 0  # type: ignore[assignment]
    sp.start_time_unix_nano = row["start_time_unix_nano"]
    sp.end_time_unix_nano = row["end_time_unix_nano"]
    sp.status.code = row["status_code"] or 0  # type: ignore[assignment]
    sp.status.message = row["status_message"] or ""
    set_key_values(sp.attributes, _typed_attrs(row["attributes"]))
    sp.dropped_attributes_count = row["dropped_attributes_count"] or 0
    for e in orjson.loads(row["events"] or "[]"):
        ev = sp.events.add()
        ev.time_unix_nano = e["time_unix_nano"]
        ev.name = e["name"]
        set_key_values(ev.attributes, from_typed(e["attributes"]))
        ev.dropped_attributes_count = e["dropped_attributes_count"]
    sp.dropped_events_count = row["dropped_events_count"] or 0
    for ln in orjson.loads(row["links"] or "[]"):
        lk = sp.links.add()
        lk.trace_id = bytes.fromhex(ln["trace_id"])
        lk.span_id = bytes.fromhex(ln["span_id"])
        lk.trace_state = ln["trace_state"] or ""
        set_key_values(lk.attributes, from_typed(ln["attributes"]))
        lk.dropped_attributes_count = ln["dropped_attributes_count"]
        lk.flags = ln["flags"]
    sp.dropped_links_count = row["dropped_links_count"] or 0
