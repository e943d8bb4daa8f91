"""OTLP protobuf: decode `ExportTraceServiceRequest` bytes into span rows, and rows back.

The walk reads the upb message fields directly (never `json_format`). Rows are tuples in
`ROW_COLUMNS` order; `otlp.decode_rows` turns them into columns. The acceptance rule is
otlp_validate.span_problem, shared with the OTLP/JSON decoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableSequence
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from msgtrace.core.otlp_validate import (
    INT64_MAX,
    MAX_KIND,
    MAX_STATUS,
    ZERO_SPAN_ID,
    ZERO_TRACE_ID,
    Problems,
    parent_hex,
    parse_request_lenient,
    span_problem,
)
from msgtrace.core.schema import SPAN_COLUMN_NAMES
from msgtrace.core.typed_json import encode_bytes, encode_double, from_typed

# A row tuple holds every column but the two per-request ones (offset, received time), which
# `otlp.decode_rows` adds as constant columns.
ROW_COLUMNS = SPAN_COLUMN_NAMES[2:]
assert SPAN_COLUMN_NAMES[:2] == ("offset", "received_time_unix_nano")
assert ROW_COLUMNS[:17][-1] == "dropped_links_count" and ROW_COLUMNS[17] == "service_name"

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
        s = v.string_value  # most values are non-empty strings: skip WhichOneof for them
        if s:
            out[k] = s
        elif v.WhichOneof("value") == "int_value":
            out[k] = v.int_value
        else:
            out[k] = _value(v)
    return out


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def decode_protobuf_rows(payload: bytes) -> tuple[list[tuple[Any, ...]], Problems]:
    """Row tuples (ROW_COLUMNS order) for every accepted span, in request order."""
    request = parse_request_lenient(payload)
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
                start = sp.start_time_unix_nano
                end = sp.end_time_unix_nano
                if start > INT64_MAX or end > INT64_MAX:  # fixed64 past year 2262: clamp
                    start, end = min(start, INT64_MAX), min(end, INT64_MAX)
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
                        start,
                        end,
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
    """Inverse of decode_rows: group rows by resource, then scope, in first-seen order.

    Rows are mappings with the segment columns; only trace_id and span_id are required, a missing
    or null column is the field's empty value.
    """
    request = ExportTraceServiceRequest()
    resources: dict[tuple[Any, ...], tuple[Any, dict[tuple[Any, ...], Any]]] = {}
    for row in rows:
        rkey = (
            row.get("resource_attributes"),
            row.get("resource_dropped_attributes_count"),
            row.get("resource_schema_url"),
        )
        entry = resources.get(rkey)
        if entry is None:
            rs = request.resource_spans.add()
            set_key_values(rs.resource.attributes, _typed_attrs(row.get("resource_attributes")))
            rs.resource.dropped_attributes_count = row.get("resource_dropped_attributes_count") or 0
            rs.schema_url = row.get("resource_schema_url") or ""
            entry = resources[rkey] = (rs, {})
        rs, scopes = entry
        skey = (
            row.get("scope_name"),
            row.get("scope_version"),
            row.get("scope_attributes"),
            row.get("scope_dropped_attributes_count"),
            row.get("scope_schema_url"),
        )
        ss = scopes.get(skey)
        if ss is None:
            ss = scopes[skey] = rs.scope_spans.add()
            ss.scope.name = row.get("scope_name") or ""
            ss.scope.version = row.get("scope_version") or ""
            set_key_values(ss.scope.attributes, _typed_attrs(row.get("scope_attributes")))
            ss.scope.dropped_attributes_count = row.get("scope_dropped_attributes_count") or 0
            ss.schema_url = row.get("scope_schema_url") or ""
        _fill_span(ss.spans.add(), row)
    return request


def _fill_span(sp: Span, row: Mapping[str, Any]) -> None:
    sp.trace_id = bytes.fromhex(row["trace_id"])
    sp.span_id = bytes.fromhex(row["span_id"])
    parent = row.get("parent_span_id")
    if parent:
        sp.parent_span_id = bytes.fromhex(parent)
    sp.trace_state = row.get("trace_state") or ""
    sp.flags = row.get("flags") or 0
    sp.name = row.get("name") or ""
    sp.kind = row.get("kind") or 0  # type: ignore[assignment]
    sp.start_time_unix_nano = row.get("start_time_unix_nano") or 0
    sp.end_time_unix_nano = row.get("end_time_unix_nano") or 0
    sp.status.code = row.get("status_code") or 0  # type: ignore[assignment]
    sp.status.message = row.get("status_message") or ""
    set_key_values(sp.attributes, _typed_attrs(row.get("attributes")))
    sp.dropped_attributes_count = row.get("dropped_attributes_count") or 0
    for e in orjson.loads(row.get("events") or "[]"):
        ev = sp.events.add()
        ev.time_unix_nano = e["time_unix_nano"]
        ev.name = e["name"]
        set_key_values(ev.attributes, from_typed(e["attributes"]))
        ev.dropped_attributes_count = e["dropped_attributes_count"]
    sp.dropped_events_count = row.get("dropped_events_count") or 0
    for ln in orjson.loads(row.get("links") or "[]"):
        lk = sp.links.add()
        lk.trace_id = bytes.fromhex(ln["trace_id"])
        lk.span_id = bytes.fromhex(ln["span_id"])
        lk.trace_state = ln["trace_state"] or ""
        set_key_values(lk.attributes, from_typed(ln["attributes"]))
        lk.dropped_attributes_count = ln["dropped_attributes_count"]
        lk.flags = ln["flags"]
    sp.dropped_links_count = row.get("dropped_links_count") or 0
