"""The span acceptance rule, protobuf parse diagnostics, and the fast protobuf `validate`.

One rule decides which spans are kept, for validate and decode_rows, protobuf and JSON alike
(`span_problem`). The fast validator parses a request with a reduced schema that declares only
the fields the rule reads (ids, kind, status code): everything else is skipped by length, not
decoded, so attribute strings are neither copied nor UTF-8 checked here (`decode_rows` replaces
invalid UTF-8 instead of failing, see otlp_protobuf). Each ScopeSpans is then re-serialised (a few
dozen bytes per span) and matched as a whole against a regular expression of a valid span list;
only a ScopeSpans that does not match is checked span by span.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from msgtrace.core.errors import DecodeError

ZERO_TRACE_ID = bytes(16)
ZERO_SPAN_ID = bytes(8)
MAX_KIND = 5  # SPAN_KIND_CONSUMER
MAX_STATUS = 2  # STATUS_CODE_ERROR
MAX_PROBLEMS_NAMED = 3
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


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


def _reduced_request_class() -> Any:
    """ExportTraceServiceRequest with only resource_spans/scope_spans/spans and, per span,
    trace_id (1), span_id (2), parent_span_id (4), kind (6) and status (15) with code (3)."""
    field = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="msgtrace/otlp_ids.proto", package="msgtrace.otlp_ids", syntax="proto3"
    )

    def message(name: str, fields: list[tuple[int, str, int, str]]) -> None:
        m = fdp.message_type.add(name=name)
        for number, fname, ftype, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype)
            f.label = field.LABEL_REPEATED if type_name.startswith("*") else field.LABEL_OPTIONAL
            if type_name:
                f.type_name = ".msgtrace.otlp_ids." + type_name.lstrip("*")

    message("Status", [(3, "code", field.TYPE_INT32, "")])
    message(
        "Span",
        [
            (1, "trace_id", field.TYPE_BYTES, ""),
            (2, "span_id", field.TYPE_BYTES, ""),
            (4, "parent_span_id", field.TYPE_BYTES, ""),
            (6, "kind", field.TYPE_INT32, ""),
            (15, "status", field.TYPE_MESSAGE, "Status"),
        ],
    )
    message("ScopeSpans", [(2, "spans", field.TYPE_MESSAGE, "*Span")])
    message("ResourceSpans", [(2, "scope_spans", field.TYPE_MESSAGE, "*ScopeSpans")])
    message("Request", [(1, "resource_spans", field.TYPE_MESSAGE, "*ResourceSpans")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("msgtrace.otlp_ids.Request"))


_ReducedRequest = _reduced_request_class()

# A serialised reduced ScopeSpans whose spans all pass `span_problem`: each span is field 2 of
# at most 46 bytes (one length byte) holding, in field-number order, a non-zero 16-byte trace_id,
# a non-zero 8-byte span_id, an optional 8-byte parent, an optional kind 1-5 and an optional
# status holding an optional code 1-2. Zero values are not serialised by proto3.
_VALID_SPANS = re.compile(
    rb"(?:\x12[\x00-\x7f]"
    rb"\x0a\x10(?!\x00{16}).{16}"
    rb"\x12\x08(?!\x00{8}).{8}"
    rb"(?:\x22\x08.{8})?"
    rb"(?:\x30[\x01-\x05])?"
    rb"(?:\x7a(?:\x00|\x02\x18[\x01\x02]))?"
    rb")*",
    re.DOTALL,
)


def parse_reduced(payload: bytes) -> Any:
    request = _ReducedRequest()
    try:
        request.ParseFromString(payload)
    except (ProtobufDecodeError, RuntimeError, ValueError) as exc:
        raise DecodeError(_diagnose(payload, exc)) from None
    return request


def validate_protobuf(payload: bytes) -> tuple[int, Problems]:
    """(accepted span count, rejections) of a protobuf request; DecodeError when unparseable."""
    request = parse_reduced(payload)
    request.DiscardUnknownFields()
    accepted = 0
    problems = Problems()
    fullmatch = _VALID_SPANS.fullmatch
    for ri, rs in enumerate(request.resource_spans):
        base = 0
        for ss in rs.scope_spans:
            spans = ss.spans
            if fullmatch(ss.SerializeToString()):
                accepted += len(spans)
            else:
                for i, sp in enumerate(spans):
                    problem = span_problem(
                        sp.trace_id, sp.span_id, sp.parent_span_id, sp.kind, sp.status.code
                    )
                    if problem:
                        problems.add(ri, base + i, problem)
                    else:
                        accepted += 1
            base += len(spans)
    return accepted, problems


# ---------------------------------------------------------------------------------------------
# invalid UTF-8


def _lenient_request_class() -> Any:
    """ExportTraceServiceRequest with every string field declared as bytes (no UTF-8 check)."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.resource.v1 import resource_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2

    string, raw = (
        descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    )
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2, trace_pb2, trace_service_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(fdp)
        fdp.ClearField("service")
        stack = list(fdp.message_type)
        while stack:
            m = stack.pop()
            stack.extend(m.nested_type)
            for f in m.field:
                if f.type == string:
                    f.type = raw
        pool.Add(fdp)
    name = ExportTraceServiceRequest.DESCRIPTOR.full_name
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


_lenient_class: Any = None


def parse_request_lenient(payload: bytes) -> ExportTraceServiceRequest:
    """Parse like `parse_request`, but replace invalid UTF-8 in strings with U+FFFD.

    The slow path for a request `validate` accepted but a strict parse refuses; still raises
    DecodeError when the bytes are not a well-formed request at all.
    """
    global _lenient_class
    try:
        return parse_request(payload)
    except DecodeError as strict_error:
        if _lenient_class is None:
            _lenient_class = _lenient_request_class()
        lenient = _lenient_class()
        try:
            lenient.ParseFromString(payload)
        except (ProtobufDecodeError, RuntimeError, ValueError):
            raise strict_error from None
    request = ExportTraceServiceRequest()
    _copy_repairing(lenient, request)
    return request


def _copy_repairing(src: Any, dst: Any) -> None:
    """Copy every set field of `src` into `dst` (same field numbers), decoding bytes fields that
    are strings in `dst` with errors="replace"."""
    string = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    fields = dst.DESCRIPTOR.fields_by_number
    for fd, value in src.ListFields():
        target = fields[fd.number]
        name = target.name
        if target.message_type is not None:
            if target.is_repeated:
                container = getattr(dst, name)
                for item in value:
                    _copy_repairing(item, container.add())
            else:
                sub = getattr(dst, name)
                sub.SetInParent()
                _copy_repairing(value, sub)
        elif target.type == string:
            if target.is_repeated:
                getattr(dst, name).extend(v.decode("utf-8", "replace") for v in value)
            else:
                setattr(dst, name, value.decode("utf-8", "replace"))
        elif target.is_repeated:
            getattr(dst, name).extend(value)
        else:
            setattr(dst, name, value)
