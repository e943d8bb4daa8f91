"""The segment row schema: one row per span, a public interface (see docs/segments.md).

`SPAN_COLUMNS` is the single source of truth for column names, order and Arrow types; the codec
produces these columns, the sealer writes them, and every reader relies on them. Bump
`SCHEMA_VERSION` (and keep a reader for the old version) whenever a column changes.

Attribute maps, events and links are JSON text in msgtrace's typed-JSON encoding
(docs/segments.md#typed-json): string, bool, int and double map to JSON; bytes become
`{"$bytes": "<base64>"}`; non-finite doubles `{"$double": "NaN"}`; arrays are JSON arrays;
kvlists JSON objects; an empty AnyValue is null; object keys that start with `$` get one more `$`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

SCHEMA_VERSION = 1
SCHEMA_VERSIONS_READABLE = (1,)

# (name, arrow type name, nullable, meaning)
SPAN_COLUMNS: tuple[tuple[str, str, bool, str], ...] = (
    ("offset", "int64", False, "log offset of the request (journal record) the span arrived in"),
    ("received_time_unix_nano", "int64", False, "when msgtrace accepted that request"),
    ("trace_id", "string", False, "32 lowercase hex characters"),
    ("span_id", "string", False, "16 lowercase hex characters"),
    ("parent_span_id", "string", True, "16 lowercase hex characters; null for a root span"),
    ("trace_state", "string", True, "W3C tracestate; null when empty"),
    ("flags", "int64", False, "OTLP span flags (W3C trace flags in the low byte)"),
    ("name", "string", False, "span name"),
    ("kind", "int8", False, "OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer"),
    ("start_time_unix_nano", "int64", False, "span start, ns since the Unix epoch"),
    ("end_time_unix_nano", "int64", False, "span end, ns since the Unix epoch"),
    ("status_code", "int8", False, "0 unset, 1 ok, 2 error"),
    ("status_message", "string", True, "status description; null when empty"),
    ("attributes", "string", False, "span attributes, typed-JSON object"),
    ("dropped_attributes_count", "int64", False, "as sent"),
    ("events", "string", False, "typed-JSON array of {time_unix_nano, name, attributes, dropped_attributes_count}"),
    ("dropped_events_count", "int64", False, "as sent"),
    ("links", "string", False, "typed-JSON array of {trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags}"),
    ("dropped_links_count", "int64", False, "as sent"),
    ("service_name", "string", True, "resource attribute service.name, copied out for convenience"),
    ("resource_attributes", "string", False, "resource attributes, typed-JSON object"),
    ("resource_dropped_attributes_count", "int64", False, "as sent"),
    ("resource_schema_url", "string", True, "ResourceSpans.schema_url; null when empty"),
    ("scope_name", "string", True, "instrumentation scope name; null when empty"),
    ("scope_version", "string", True, "instrumentation scope version; null when empty"),
    ("scope_attributes", "string", False, "instrumentation scope attributes, typed-JSON object"),
    ("scope_dropped_attributes_count", "int64", False, "as sent"),
    ("scope_schema_url", "string", True, "ScopeSpans.schema_url; null when empty"),
)

SPAN_COLUMN_NAMES: tuple[str, ...] = tuple(c[0] for c in SPAN_COLUMNS)

TOMBSTONE_COLUMNS: tuple[tuple[str, str, bool, str], ...] = (
    ("offset", "int64", False, "log offset of the delete record"),
    ("received_time_unix_nano", "int64", False, "when the delete was accepted"),
    ("trace_id", "string", True, "the deleted trace; null deletes every trace before this offset"),
)

# Parquet key-value metadata keys written on every segment and tombstone file.
META_SCHEMA_VERSION = b"msgtrace.schema_version"
META_FIRST_OFFSET = b"msgtrace.first_offset"
META_LAST_OFFSET = b"msgtrace.last_offset"
META_KIND = b"msgtrace.kind"  # b"spans" or b"tombstones"


def _arrow_schema(columns: tuple[tuple[str, str, bool, str], ...]) -> pa.Schema:
    import pyarrow as pa

    types = {"int64": pa.int64(), "int8": pa.int8(), "string": pa.string()}
    return pa.schema([pa.field(n, types[t], nullable=nullable) for n, t, nullable, _ in columns])


def span_schema() -> pa.Schema:
    """Arrow schema of segment files (without file metadata)."""
    return _arrow_schema(SPAN_COLUMNS)


def tombstone_schema() -> pa.Schema:
    """Arrow schema of tombstone files (without file metadata)."""
    return _arrow_schema(TOMBSTONE_COLUMNS)
