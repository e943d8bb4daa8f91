"""OTLP/JSON: decode request bodies into span rows, and encode requests as OTLP/JSON.

Decoding follows the OTLP/HTTP JSON mapping as the OpenTelemetry Collector accepts it: parsed with
orjson and walked as dicts; trace/span ids are hex; int64/fixed64 values are strings or numbers;
enums are integers or names ("SPAN_KIND_SERVER"); keys are lowerCamelCase or snake_case; unknown
fields are ignored. A value of the wrong JSON type anywhere is a DecodeError naming its place; an
id that is not valid hex or has the wrong length only rejects its span.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from msgtrace.core.errors import DecodeError
from msgtrace.core.otlp_validate import (
    INT64_MAX,
    INT64_MIN,
    MAX_KIND,
    MAX_STATUS,
    ZERO_SPAN_ID,
    ZERO_TRACE_ID,
    Problems,
    parent_hex,
    span_problem,
)
from msgtrace.core.typed_json import encode_bytes, encode_double

SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}

# AnyValue member keys (both spellings) -> member tag.
_STR, _BOOL, _INT, _DOUBLE, _BYTES, _ARRAY, _KVLIST = range(7)
_ANY_KEYS = {
    "stringValue": _STR, "string_value": _STR,
    "boolValue": _BOOL, "bool_value": _BOOL,
    "intValue": _INT, "int_value": _INT,
    "doubleValue": _DOUBLE, "double_value": _DOUBLE,
    "bytesValue": _BYTES, "bytes_value": _BYTES,
    "arrayValue": _ARRAY, "array_value": _ARRAY,
    "kvlistValue": _KVLIST, "kvlist_value": _KVLIST,
}  # fmt: skip


class _Bad(Exception):
    """A JSON value of the wrong type; turned into DecodeError with its location."""


class _Reject(Exception):
    """A problem that rejects only the span it is in (a link id that is not hex)."""


def load_json(payload: bytes) -> dict[str, Any]:
    """Parse an OTLP/JSON body; DecodeError for invalid JSON or a non-object document."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if type(doc) is not dict:
        raise DecodeError(
            f"invalid OTLP/JSON: the body must be an object with resourceSpans, got {_jtype(doc)}"
        )
    return doc


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(v), "number")


def _get(d: dict[str, Any], camel: str, snake: str) -> Any:
    v = d.get(camel)
    return d.get(snake) if v is None else v


def _obj(d: dict[str, Any], camel: str, snake: str) -> dict[str, Any]:
    v = _get(d, camel, snake)
    if v is None:
        return {}
    if type(v) is not dict:
        raise _Bad(f"{camel} must be an object, got {_jtype(v)}")
    return v


def _list(d: dict[str, Any], camel: str, snake: str) -> list[Any]:
    v = _get(d, camel, snake)
    if v is None:
        return []
    if type(v) is not list:
        raise _Bad(f"{camel} must be an array, got {_jtype(v)}")
    return v


def _str(d: dict[str, Any], camel: str, snake: str) -> str:
    v = _get(d, camel, snake)
    if v is None:
        return ""
    if type(v) is not str:
        raise _Bad(f"{camel} must be a string, got {_jtype(v)}")
    return v


def _int(d: dict[str, Any], camel: str, snake: str) -> int:
    v = _get(d, camel, snake)
    if v is None:
        return 0
    return _as_int(v, camel)


def _as_int(v: Any, what: str) -> int:
    """An int64/uint64/fixed64 JSON value; values outside int64 are clamped to it (the range of
    the segment columns; only nonsensical timestamps and counts get there)."""
    t = type(v)
    if t is not int:
        if t is not str and t is not float:
            raise _Bad(f"{what} must be an integer or a decimal string, got {v!r:.40}")
        try:
            v = int(v)
        except (ValueError, OverflowError):
            raise _Bad(f"{what} must be an integer or a decimal string, got {v!r:.40}") from None
    if v > INT64_MAX:
        return INT64_MAX
    if v < INT64_MIN:
        return INT64_MIN
    return v


def _enum(d: dict[str, Any], camel: str, snake: str, names: dict[str, int]) -> int:
    v = _get(d, camel, snake)
    if v is None:
        return 0
    if type(v) is str and v in names:
        return names[v]
    if type(v) is int:
        return v
    raise _Bad(f"{camel} must be an integer or one of {', '.join(names)}, got {v!r:.40}")


def _hex_id(d: dict[str, Any], camel: str, snake: str) -> bytes | str:
    """The id's bytes, or a problem string when it is not hex (rejects the span, not the body)."""
    v = _get(d, camel, snake)
    if v is None or v == "":
        return b""
    if type(v) is not str:
        raise _Bad(f"{camel} must be a hex string, got {_jtype(v)}")
    try:
        b = bytes.fromhex(v)
    except ValueError:
        return f"{snake} is not valid hex: {v!r:.40}"
    if len(b) * 2 != len(v):
        return f"{snake} is not valid hex: {v!r:.40}"
    return b


def _value(v: Any) -> Any:
    """An OTLP/JSON AnyValue as a typed-JSON-ready Python value."""
    if type(v) is not dict:
        raise _Bad(f"an AnyValue must be an object, got {_jtype(v)}")
    for key, x in v.items():
        tag = _ANY_KEYS.get(key)
        if tag is None or x is None:
            continue  # unknown member: ignored
        if tag == _STR:
            if type(x) is str:
                return x
        elif tag == _INT:
            return _as_int(x, "intValue")
        elif tag == _BOOL:
            if type(x) is bool:
                return x
        elif tag == _DOUBLE:
            if type(x) is float or type(x) is int:
                return encode_double(float(x))
            if type(x) is str:
                try:
                    return encode_double(float(x))
                except ValueError:
                    pass
        elif tag == _BYTES:
            if type(x) is str:
                return encode_bytes(_b64(x))
        elif tag == _ARRAY:
            if type(x) is dict:
                return [_value(e) for e in _list(x, "values", "values")]
        elif type(x) is dict:  # _KVLIST
            return _attrs(_list(x, "values", "values"))
        raise _Bad(f"{key} has the wrong type: {x!r:.40}")
    return None


def _b64(x: str) -> bytes:
    try:
        if "-" in x or "_" in x:
            return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        return base64.b64decode(x + "=" * (-len(x) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _Bad(f"bytesValue is not base64: {x!r:.40}") from None


def _attrs(kvs: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        if type(kv) is not dict:
            raise _Bad(f"an attribute must be an object with key and value, got {_jtype(kv)}")
        k = kv.get("key")
        if type(k) is not str:
            raise _Bad(f"attribute key must be a string, got {_jtype(k)}")
        if k[:1] == "$":
            k = "$" + k
        v = kv.get("value")
        if v is None:
            out[k] = None
        elif type(v) is dict and len(v) == 1 and type(sv := v.get("stringValue")) is str:
            out[k] = sv
        else:
            out[k] = _value(v)
    return out


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def decode_json_rows(payload: bytes) -> tuple[list[tuple[Any, ...]], Problems]:
    """Row tuples (otlp_protobuf.ROW_COLUMNS order) for every accepted span, in request order."""
    doc = load_json(payload)
    rows: list[tuple[Any, ...]] = []
    problems = Problems()
    ri = -1
    try:
        for ri, rs in enumerate(_list(doc, "resourceSpans", "resource_spans")):
            if type(rs) is not dict:
                raise _Bad(f"must be an object, got {_jtype(rs)}")
            _decode_resource(ri, rs, rows, problems)
    except _Bad as exc:
        where = f"resourceSpans[{ri}]" if ri >= 0 else "the request"
        raise DecodeError(f"invalid OTLP/JSON in {where}: {exc}") from None
    return rows, problems


def _decode_resource(
    ri: int, rs: dict[str, Any], rows: list[tuple[Any, ...]], problems: Problems
) -> None:
    append = rows.append
    res = _obj(rs, "resource", "resource")
    res_attrs = _attrs(_list(res, "attributes", "attributes"))
    service = res_attrs.get("service.name")
    res_const = (
        service if type(service) is str else None,
        _dumps(res_attrs),
        _int(res, "droppedAttributesCount", "dropped_attributes_count"),
        _str(rs, "schemaUrl", "schema_url") or None,
    )
    index = 0
    for si, ss in enumerate(_list(rs, "scopeSpans", "scope_spans")):
        try:
            if type(ss) is not dict:
                raise _Bad(f"must be an object, got {_jtype(ss)}")
            sc = _obj(ss, "scope", "scope")
            const = (
                *res_const,
                _str(sc, "name", "name") or None,
                _str(sc, "version", "version") or None,
                _dumps(_attrs(_list(sc, "attributes", "attributes"))),
                _int(sc, "droppedAttributesCount", "dropped_attributes_count"),
                _str(ss, "schemaUrl", "schema_url") or None,
            )
            spans = _list(ss, "spans", "spans")
        except _Bad as exc:
            raise _Bad(f"scopeSpans[{si}]: {exc}") from None
        for pi, sp in enumerate(spans):
            try:
                row = _span(sp)
            except _Bad as exc:
                raise _Bad(f"scopeSpans[{si}].spans[{pi}]: {exc}") from None
            if isinstance(row, str):
                problems.add(ri, index, row)
            else:
                append((*row, *const))
            index += 1


def _span(sp: Any) -> tuple[Any, ...] | str:
    if type(sp) is not dict:
        raise _Bad(f"must be an object, got {_jtype(sp)}")
    tid = _hex_id(sp, "traceId", "trace_id")
    sid = _hex_id(sp, "spanId", "span_id")
    pid = _hex_id(sp, "parentSpanId", "parent_span_id")
    kind = _enum(sp, "kind", "kind", SPAN_KINDS)
    status = _obj(sp, "status", "status")
    code = _enum(status, "code", "code", STATUS_CODES)
    # Type checks run before the rejection so a malformed body is refused whatever its ids.
    name = _str(sp, "name", "name")
    trace_state = _str(sp, "traceState", "trace_state")
    message = _str(status, "message", "message")
    attrs = _list(sp, "attributes", "attributes")
    events = _list(sp, "events", "events")
    links = _list(sp, "links", "links")
    try:
        links_json = _dumps([_link(ln) for ln in links]) if links else "[]"
    except _Reject as exc:
        return str(exc)
    row = (
        _int(sp, "flags", "flags"),
        name,
        kind,
        _int(sp, "startTimeUnixNano", "start_time_unix_nano"),
        _int(sp, "endTimeUnixNano", "end_time_unix_nano"),
        code,
        message or None,
        _dumps(_attrs(attrs)) if attrs else "{}",
        _int(sp, "droppedAttributesCount", "dropped_attributes_count"),
        _dumps([_event(e) for e in events]) if events else "[]",
        _int(sp, "droppedEventsCount", "dropped_events_count"),
        links_json,
        _int(sp, "droppedLinksCount", "dropped_links_count"),
    )
    if isinstance(tid, str):
        return tid
    if isinstance(sid, str):
        return sid
    if isinstance(pid, str):
        return pid
    if (
        len(tid) != 16
        or len(sid) != 8
        or tid == ZERO_TRACE_ID
        or sid == ZERO_SPAN_ID
        or (pid and len(pid) != 8)
        or not 0 <= kind <= MAX_KIND
        or not 0 <= code <= MAX_STATUS
    ):
        return span_problem(tid, sid, pid, kind, code)
    return (tid.hex(), sid.hex(), parent_hex(pid), trace_state or None, *row)


def _event(e: Any) -> dict[str, Any]:
    if type(e) is not dict:
        raise _Bad(f"an event must be an object, got {_jtype(e)}")
    return {
        "time_unix_nano": _int(e, "timeUnixNano", "time_unix_nano"),
        "name": _str(e, "name", "name"),
        "attributes": _attrs(_list(e, "attributes", "attributes")),
        "dropped_attributes_count": _int(e, "droppedAttributesCount", "dropped_attributes_count"),
    }


def _link(ln: Any) -> dict[str, Any]:
    if type(ln) is not dict:
        raise _Bad(f"a link must be an object, got {_jtype(ln)}")
    tid = _hex_id(ln, "traceId", "trace_id")
    sid = _hex_id(ln, "spanId", "span_id")
    if isinstance(tid, str):
        raise _Reject(f"link {tid}")
    if isinstance(sid, str):
        raise _Reject(f"link {sid}")
    return {
        "trace_id": tid.hex(),
        "span_id": sid.hex(),
        "trace_state": _str(ln, "traceState", "trace_state") or None,
        "attributes": _attrs(_list(ln, "attributes", "attributes")),
        "dropped_attributes_count": _int(ln, "droppedAttributesCount", "dropped_attributes_count"),
        "flags": _int(ln, "flags", "flags"),
    }


# ---------------------------------------------------------------------------------------------
# request -> OTLP/JSON


def _json_value(v: AnyValue) -> dict[str, Any]:
    w = v.WhichOneof("value")
    if w == "string_value":
        return {"stringValue": v.string_value}
    if w == "int_value":
        return {"intValue": str(v.int_value)}
    if w == "bool_value":
        return {"boolValue": v.bool_value}
    if w == "double_value":
        d = v.double_value
        if math.isfinite(d):
            return {"doubleValue": d}
        return {"doubleValue": "NaN" if d != d else ("Infinity" if d > 0 else "-Infinity")}
    if w == "bytes_value":
        return {"bytesValue": base64.b64encode(v.bytes_value).decode("ascii")}
    if w == "array_value":
        return {"arrayValue": {"values": [_json_value(x) for x in v.array_value.values]}}
    if w == "kvlist_value":
        return {"kvlistValue": {"values": _json_attrs(v.kvlist_value.values)}}
    return {}


def _json_attrs(kvs: Any) -> list[dict[str, Any]]:
    return [{"key": kv.key, "value": _json_value(kv.value)} for kv in kvs]


def _put_attrs(out: dict[str, Any], attributes: Any, dropped: int) -> None:
    if attributes:
        out["attributes"] = _json_attrs(attributes)
    if dropped:
        out["droppedAttributesCount"] = dropped


def _json_span(sp: Span) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": sp.trace_id.hex(), "spanId": sp.span_id.hex()}
    if sp.trace_state:
        out["traceState"] = sp.trace_state
    if sp.parent_span_id:
        out["parentSpanId"] = sp.parent_span_id.hex()
    if sp.flags:
        out["flags"] = sp.flags
    out["name"] = sp.name
    out["kind"] = int(sp.kind)
    out["startTimeUnixNano"] = str(sp.start_time_unix_nano)
    out["endTimeUnixNano"] = str(sp.end_time_unix_nano)
    _put_attrs(out, sp.attributes, sp.dropped_attributes_count)
    if sp.events:
        out["events"] = []
        for e in sp.events:
            ev: dict[str, Any] = {"timeUnixNano": str(e.time_unix_nano), "name": e.name}
            _put_attrs(ev, e.attributes, e.dropped_attributes_count)
            out["events"].append(ev)
    if sp.dropped_events_count:
        out["droppedEventsCount"] = sp.dropped_events_count
    if sp.links:
        out["links"] = []
        for ln in sp.links:
            lk: dict[str, Any] = {"traceId": ln.trace_id.hex(), "spanId": ln.span_id.hex()}
            if ln.trace_state:
                lk["traceState"] = ln.trace_state
            _put_attrs(lk, ln.attributes, ln.dropped_attributes_count)
            if ln.flags:
                lk["flags"] = ln.flags
            out["links"].append(lk)
    if sp.dropped_links_count:
        out["droppedLinksCount"] = sp.dropped_links_count
    status: dict[str, Any] = {}
    if sp.status.message:
        status["message"] = sp.status.message
    if sp.status.code:
        status["code"] = int(sp.status.code)
    out["status"] = status
    return out


def request_to_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """OTLP/JSON of `request` (hex ids, 64-bit integers as decimal strings, enums as integers)."""
    resource_spans = []
    for rs in request.resource_spans:
        resource: dict[str, Any] = {}
        _put_attrs(resource, rs.resource.attributes, rs.resource.dropped_attributes_count)
        scope_spans = []
        for ss in rs.scope_spans:
            scope: dict[str, Any] = {}
            if ss.scope.name:
                scope["name"] = ss.scope.name
            if ss.scope.version:
                scope["version"] = ss.scope.version
            _put_attrs(scope, ss.scope.attributes, ss.scope.dropped_attributes_count)
            entry: dict[str, Any] = {"scope": scope, "spans": [_json_span(sp) for sp in ss.spans]}
            if ss.schema_url:
                entry["schemaUrl"] = ss.schema_url
            scope_spans.append(entry)
        out: dict[str, Any] = {"resource": resource, "scopeSpans": scope_spans}
        if rs.schema_url:
            out["schemaUrl"] = rs.schema_url
        resource_spans.append(out)
    return {"resourceSpans": resource_spans}
