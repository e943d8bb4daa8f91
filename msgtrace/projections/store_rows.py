"""Row mapping for the read store: SQLite view rows to `Span`/`TraceSummary` and segment rows.

The API serialises dicts straight to JSON (`span_dict(raw=True)` embeds stored attribute JSON
verbatim), so a 10,000-span trace never pays for 10,000 pydantic models; the Python API validates
the same dicts into models.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from msgtrace.core.models import SPAN_KINDS, STATUS_CODES, Span, TraceSummary

SUMMARY_COLUMNS = (
    "trace_id, start_time, end_time, duration_ms, root_span_name, workflow_name, service_name, "
    "status, span_count, error_count, input_tokens, output_tokens, cached_tokens, "
    "reasoning_tokens, total_tokens, cost, models, session_id, user_id, has_root, updated_at"
)

SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, kind, start_time, end_time, duration_ms, "
    "status_code, status_message, service_name, trace_state, flags, attributes, events, links, "
    "resource_attributes, scope_name, scope_version, span_type, model, provider, input_tokens, "
    "output_tokens, cached_tokens, reasoning_tokens, total_tokens, cost, cost_source, "
    "counts_usage, log_offset"
)

_LLM_FIELDS = (
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost",
)


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return default


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# The Span JSON of docs/api.md built inside SQLite (C), for bodies of thousands of spans, except
# the stored JSON columns, which `complete_span_json` splices in: attribute maps verbatim (the
# projector wrote them as JSON; re-parsing them in SQLite costs a third of the time), events and
# links reshaped with orjson (several times faster than json_each in SQLite).
SPAN_JSON_SQL = """json_object(
    'trace_id', trace_id, 'span_id', span_id, 'parent_span_id', nullif(parent_span_id, ''),
    'name', name,
    'kind', CASE kind WHEN 1 THEN 'INTERNAL' WHEN 2 THEN 'SERVER' WHEN 3 THEN 'CLIENT'
                      WHEN 4 THEN 'PRODUCER' WHEN 5 THEN 'CONSUMER' ELSE 'UNSPECIFIED' END,
    'start_time', start_time, 'end_time', end_time, 'duration_ms', duration_ms + 0.0,
    'status', json_object('code', CASE status_code WHEN 1 THEN 'OK' WHEN 2 THEN 'ERROR' ELSE 'UNSET' END,
                          'message', status_message),
    'service_name', service_name,
    'scope', json_object('name', scope_name, 'version', scope_version),
    'span_type', span_type,
    'llm', CASE WHEN span_type = 'llm' OR model IS NOT NULL OR provider IS NOT NULL
                  OR input_tokens IS NOT NULL OR output_tokens IS NOT NULL OR cached_tokens IS NOT NULL
                  OR reasoning_tokens IS NOT NULL OR total_tokens IS NOT NULL OR cost IS NOT NULL
           THEN json_object('model', model, 'provider', provider, 'input_tokens', input_tokens,
                'output_tokens', output_tokens, 'cached_tokens', cached_tokens,
                'reasoning_tokens', reasoning_tokens, 'total_tokens', total_tokens, 'cost', cost,
                'cost_source', CASE WHEN cost_source IN ('span', 'computed') THEN cost_source END,
                'counts_usage', json(CASE WHEN counts_usage THEN 'true' ELSE 'false' END))
           END)"""


def _events_json(text: str | None) -> str:
    if not text or text == "[]":
        return "[]"
    return orjson.dumps(_events(_json(text, []))).decode()


def _links_json(text: str | None) -> str:
    if not text or text == "[]":
        return "[]"
    return orjson.dumps(_links(_json(text, []))).decode()


def _object_text(text: str | None) -> str:
    """A stored typed-JSON object, verbatim; `{}` when the column does not hold an object."""
    if text and text[0] == "{" and text[-1] == "}":
        return text
    return "{}"


def complete_span_json(
    span_json: str,
    attributes: str | None,
    resource_attributes: str | None,
    events: str | None,
    links: str | None,
) -> str:
    """`span_json` (an object from SPAN_JSON_SQL) with the stored JSON columns added."""
    return (
        f'{span_json[:-1]},"attributes":{_object_text(attributes)},'
        f'"resource_attributes":{_object_text(resource_attributes)},'
        f'"events":{_events_json(events)},"links":{_links_json(links)}}}'
    )


def _events(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        return []
    return [
        {
            "name": str(e.get("name", "")),
            "timestamp": _int(e.get("time_unix_nano", e.get("timestamp", 0))),
            "attributes": e.get("attributes") if isinstance(e.get("attributes"), dict) else {},
        }
        for e in items
        if isinstance(e, dict)
    ]


def _links(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        return []
    return [
        {
            "trace_id": str(link.get("trace_id", "")),
            "span_id": str(link.get("span_id", "")),
            "trace_state": link.get("trace_state"),
            "attributes": link.get("attributes")
            if isinstance(link.get("attributes"), dict)
            else {},
        }
        for link in items
        if isinstance(link, dict)
    ]


def summary_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A TraceSummary as a JSON-ready dict (docs/api.md field names)."""
    status = row["status"] if row["status"] in ("ok", "error", "unset") else "unset"
    models = _json(row["models"], [])
    return {
        "trace_id": row["trace_id"],
        "start_time": row["start_time"],
        "end_time": row["end_time"],
        "duration_ms": float(row["duration_ms"]),
        "root_span_name": row["root_span_name"],
        "workflow_name": row["workflow_name"],
        "service_name": row["service_name"],
        "status": status,
        "span_count": row["span_count"],
        "error_count": row["error_count"],
        "input_tokens": row["input_tokens"] or 0,
        "output_tokens": row["output_tokens"] or 0,
        "cached_tokens": row["cached_tokens"] or 0,
        "reasoning_tokens": row["reasoning_tokens"] or 0,
        "total_tokens": row["total_tokens"] or 0,
        "cost": row["cost"],
        "models": [str(m) for m in models] if isinstance(models, list) else [],
        "session_id": row["session_id"],
        "user_id": row["user_id"],
        "in_progress": not row["has_root"],
        "updated_at": row["updated_at"],
    }


def summary_from_row(row: sqlite3.Row) -> TraceSummary:
    return TraceSummary.model_construct(**summary_dict(row))


def _object(text: str | None, raw: bool) -> Any:
    """A typed-JSON object column: embedded verbatim (raw) or parsed."""
    if raw:
        return orjson.Fragment(text if text and text.startswith("{") else "{}")
    value = _json(text, {})
    return value if isinstance(value, dict) else {}


def span_dict(row: sqlite3.Row, *, raw: bool = False) -> dict[str, Any]:
    """A Span as a JSON-ready dict. With `raw`, attribute maps are `orjson.Fragment`s of the
    stored text (no parse/re-encode: a 10,000-span trace serialises in tens of ms); without, they
    are parsed (for building models)."""
    kind = row["kind"]
    code = row["status_code"]
    events_text = row["events"]
    events = _events(_json(events_text, [])) if events_text and events_text != "[]" else []
    links_text = row["links"]
    links = _links(_json(links_text, [])) if links_text and links_text != "[]" else []
    llm = None
    if row["span_type"] == "llm" or any(row[f] is not None for f in _LLM_FIELDS):
        llm = {f: row[f] for f in _LLM_FIELDS}
        llm["cost_source"] = (
            row["cost_source"] if row["cost_source"] in ("span", "computed") else None
        )
        llm["counts_usage"] = bool(row["counts_usage"])
    return {
        "trace_id": row["trace_id"],
        "span_id": row["span_id"],
        "parent_span_id": row["parent_span_id"] or None,
        "name": row["name"],
        "kind": SPAN_KINDS[kind] if 0 <= kind < len(SPAN_KINDS) else "UNSPECIFIED",
        "start_time": row["start_time"],
        "end_time": row["end_time"],
        "duration_ms": float(row["duration_ms"]),
        "status": {
            "code": STATUS_CODES[code] if 0 <= code < len(STATUS_CODES) else "UNSET",
            "message": row["status_message"],
        },
        "attributes": _object(row["attributes"], raw),
        "events": events,
        "links": links,
        "resource_attributes": _object(row["resource_attributes"], raw),
        "service_name": row["service_name"],
        "scope": {"name": row["scope_name"], "version": row["scope_version"]},
        "span_type": row["span_type"],
        "llm": llm,
    }


def span_from_row(row: sqlite3.Row) -> Span:
    return Span.model_validate(span_dict(row))


def segment_row(row: sqlite3.Row) -> dict[str, Any]:
    """A view row as a segment row (msgtrace.core.schema column names), for OTLP export.

    The views do not keep dropped counts, schema URLs or scope attributes; those come back empty.
    """
    return {
        "offset": row["log_offset"],
        "received_time_unix_nano": 0,
        "trace_id": row["trace_id"],
        "span_id": row["span_id"],
        "parent_span_id": row["parent_span_id"] or None,
        "trace_state": row["trace_state"],
        "flags": row["flags"],
        "name": row["name"],
        "kind": row["kind"],
        "start_time_unix_nano": row["start_time"],
        "end_time_unix_nano": row["end_time"],
        "status_code": row["status_code"],
        "status_message": row["status_message"],
        "attributes": row["attributes"],
        "dropped_attributes_count": 0,
        "events": row["events"],
        "dropped_events_count": 0,
        "links": row["links"],
        "dropped_links_count": 0,
        "service_name": row["service_name"],
        "resource_attributes": row["resource_attributes"],
        "resource_dropped_attributes_count": 0,
        "resource_schema_url": None,
        "scope_name": row["scope_name"],
        "scope_version": row["scope_version"],
        "scope_attributes": "{}",
        "scope_dropped_attributes_count": 0,
        "scope_schema_url": None,
    }
