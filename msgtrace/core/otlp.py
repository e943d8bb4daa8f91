"""The OTLP trace codec: content negotiation, decompression, validation and span rows.

Used by the receiver (`parse_content_type`, `decompress`, `validate` at ingest) and by the sealer
(`decode_rows` turns a journal record into segment rows). `validate` and `decode_rows` apply one
rule and count the same spans:

- a span is rejected (counted, named in `error_message`, the rest of the request kept) when its
  trace_id is not 16 bytes or is all zeros, its span_id is not 8 bytes or is all zeros, its
  parent_span_id is neither empty nor 8 bytes, its kind is not 0-5 or its status code not 0-2;
  in OTLP/JSON also when an id is not valid hex;
- a body that cannot be decoded at all raises DecodeError naming the problem;
- an empty body (or a request without spans) is a success with nothing in it.

For protobuf, `validate` walks the whole request once in C (msgtrace.core.otlp_native
`validate_counts`) when the extension is built; otherwise, and for any body the walk does not
vouch for, it checks the fields the rule reads with a reduced schema and parses the whole request
as `decode_rows` will. Both give the same verdict, so an accepted body always decodes; invalid
UTF-8 is replaced by `decode_rows`, not raised. OTLP/JSON is checked in full by `validate`.

Row values follow msgtrace.core.schema and the typed-JSON encoding in msgtrace.core.typed_json
(docs/otlp.md has the rules with examples).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from msgtrace.core.compression import decompress
from msgtrace.core.errors import UnsupportedMediaType
from msgtrace.core.otlp_json import decode_json_rows, request_to_json
from msgtrace.core.otlp_native import validate_counts
from msgtrace.core.otlp_protobuf import ROW_COLUMNS, decode_protobuf_rows, rows_to_request
from msgtrace.core.otlp_validate import Problems, parse_request_lenient, validate_protobuf
from msgtrace.core.schema import SPAN_COLUMN_NAMES
from msgtrace.core.typed_json import attributes_from_json

__all__ = [
    "ContentType",
    "ExportTraceServiceRequest",
    "SpanRows",
    "Validation",
    "attributes_from_json",
    "decode_rows",
    "decompress",
    "parse_content_type",
    "request_to_json",
    "rows_to_request",
    "validate",
]


class ContentType(enum.IntEnum):
    PROTOBUF = 1
    JSON = 2

    @property
    def mime(self) -> str:
        """The canonical media type, e.g. for a response in the request's content type."""
        return "application/x-protobuf" if self is ContentType.PROTOBUF else "application/json"


_MEDIA_TYPES = {
    "application/x-protobuf": ContentType.PROTOBUF,
    "application/protobuf": ContentType.PROTOBUF,
    "application/json": ContentType.JSON,
}


def parse_content_type(header: str | None) -> ContentType:
    """The codec for a Content-Type header; parameters ("; charset=utf-8") and case are ignored.

    Raises UnsupportedMediaType naming the type for anything else, including a missing header.
    """
    media = (header or "").split(";", 1)[0].strip().lower()
    found = _MEDIA_TYPES.get(media)
    if found is None:
        shown = repr(header) if header else "none"
        raise UnsupportedMediaType(f"unsupported Content-Type {shown}")
    return found


@dataclass(frozen=True)
class Validation:
    """What ingest answers: spans kept, spans rejected, and why (empty when none rejected)."""

    accepted_spans: int
    rejected_spans: int
    error_message: str


def _is_empty(payload: bytes, content_type: ContentType) -> bool:
    if not payload:
        return True
    return content_type is ContentType.JSON and not payload.strip()


def validate(payload: bytes, content_type: ContentType) -> Validation:
    """Count accepted and rejected spans of a decompressed request; DecodeError if undecodable.

    Invariant: whatever is accepted here decodes later with `decode_rows`, so an acknowledged
    request is never dropped when it is sealed. Protobuf: ids, kind and status are checked with a
    reduced schema (the fast path) and the whole request must also parse the way `decode_rows`
    parses it (corrupt nested messages, nesting deeper than protobuf's recursion limit).
    OTLP/JSON is walked in full.
    """
    if _is_empty(payload, content_type):
        return Validation(0, 0, "")
    if content_type is ContentType.PROTOBUF:
        counted = validate_counts(payload)
        if counted is not None:
            accepted, problems = counted
        else:
            accepted, problems = validate_protobuf(payload)
            if accepted:
                parse_request_lenient(payload)
    else:
        rows, problems = decode_json_rows(payload)
        accepted = len(rows)
    return Validation(accepted, problems.count, problems.message())


@dataclass
class SpanRows:
    """Columnar span rows: `columns` has exactly the keys of schema.SPAN_COLUMN_NAMES, in order,
    each a list of equal length (one entry per accepted span, in request order)."""

    columns: dict[str, list[Any]]
    rejected_spans: int
    error_message: str

    def __len__(self) -> int:
        return len(self.columns["trace_id"])

    def to_pylist(self) -> list[dict[str, Any]]:
        """The rows as dicts (column name -> value), e.g. for `rows_to_request`."""
        names = list(self.columns)
        return [
            dict(zip(names, values, strict=True))
            for values in zip(*self.columns.values(), strict=True)
        ]


def decode_rows(
    payload: bytes, content_type: ContentType, *, offset: int, received_time_unix_nano: int
) -> SpanRows:
    """Segment rows of a decompressed request: one per accepted span, in request order.

    Every row gets `offset` and `received_time_unix_nano`. Raises DecodeError when undecodable.
    """
    if _is_empty(payload, content_type):
        rows: list[tuple[Any, ...]] = []
        problems = Problems()
    elif content_type is ContentType.PROTOBUF:
        rows, problems = decode_protobuf_rows(payload)
    else:
        rows, problems = decode_json_rows(payload)
    n = len(rows)
    columns: dict[str, list[Any]] = {
        "offset": [offset] * n,
        "received_time_unix_nano": [received_time_unix_nano] * n,
    }
    if n:
        columns.update(zip(ROW_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
    else:
        columns.update((name, []) for name in ROW_COLUMNS)
    assert tuple(columns) == SPAN_COLUMN_NAMES
    return SpanRows(columns, problems.count, problems.message())
