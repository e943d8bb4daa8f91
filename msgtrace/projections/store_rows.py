"""Row mapping for the read store: SQLite view rows to `Span`/`TraceSummary` and segment rows.

The API serialises dicts straight to JSON (`span_dict(raw=True)` embeds stored attribute JSON
verbatim), so a 10,000-span trace never pays for 10,000 pydantic models; the Python API validates
the same dicts into models.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import orjson

from msgtrace.core.models import SPAN_KINDS, STATUS_CODES, Span, TraceSummary, tree_links

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


# The Span JSON of docs/api.md for bodies of thousands of spans. SQLite builds the scalar fields
# with json_object (C; measured faster than printf/|| with json_quote and than Python dicts with
# orjson); Python splices in the rest: the trace id (the same in every span: quoted once), the
# attribute maps verbatim (the projector wrote them as JSON; re-parsing them in SQLite costs a
# third of the time) and events/links reshaped with orjson (faster than json_each in SQLite), the
# last two only when not empty. Rows come back unsorted and are sorted in Python: an ORDER BY
# makes SQLite sort every whole row (about a fifth of the query), Python sorts 10,000 tuples in
# well under a millisecond.
SPAN_HEAD_SQL = """json_object(
    'span_id', span_id, 'parent_span_id', nullif(parent_span_id, ''),
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

# (start_time, span_id, parent or None, head object, attributes, resource_attributes, events,
# links): the sort key leads, so sorting the tuples sorts by (start_time, span_id)
_TRACE_SPANS_SQL = (
    f"SELECT start_time, span_id, nullif(parent_span_id, ''), {SPAN_HEAD_SQL},"
    " attributes, resource_attributes, events, links FROM spans WHERE trace_id = ?"
)


def trace_span_bodies(
    conn: sqlite3.Connection, trace_id: str
) -> tuple[list[str], list[str | None], list[str]]:
    """(span ids, parent ids, bodies) of a trace's spans sorted by (start_time, span_id).

    A body is the span's JSON object (docs/api.md) without its closing brace, so callers join
    bodies into an array or append members ("children") without copying them again.
    """
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: cheaper than sqlite3.Row, and they sort
    rows = cursor.execute(_TRACE_SPANS_SQL, (trace_id,)).fetchall()
    try:
        # (start_time, span_id) is unique in a trace (the primary key), so later columns are
        # never compared; mixed types there (not written by the projector) fall back to SQLite
        rows.sort()
    except TypeError:
        sql = _TRACE_SPANS_SQL + " ORDER BY start_time, span_id"
        rows = cursor.execute(sql, (trace_id,)).fetchall()
    quoted = cursor.execute("SELECT json_quote(?)", (trace_id,)).fetchone()[0]
    lead = f'{{"trace_id":{quoted},'
    bodies = [
        f'{lead}{head[1:-1]},"attributes":'
        f'{attrs if attrs[:1] == "{" and attrs[-1:] == "}" else "{}"},"resource_attributes":'
        f'{res if res[:1] == "{" and res[-1:] == "}" else "{}"},"events":'
        f'{"[]" if events == "[]" else _events_json(events)},"links":'
        f"{'[]' if links == '[]' else _links_json(links)}"
        for _, _, _, head, attrs, res, events, links in rows
    ]
    return [r[1] for r in rows], [r[2] for r in rows], bodies


def trace_json(summary: dict[str, Any], bodies: list[str]) -> bytes:
    """`{**summary, "spans": [...]}` as JSON, the spans from `trace_span_bodies` bodies.

    Equal to orjson.dumps of that dict with the spans array as a Fragment, with fewer copies of
    a body that runs to megabytes.
    """
    head = orjson.dumps(summary)
    if not bodies:
        return head[:-1] + b',"spans":[]}'
    return b"".join((head[:-1], b',"spans":[', "},".join(bodies).encode(), b"}]}"))


def tree_json(trace_id: str, ids: list[str], parents: list[str | None], bodies: list[str]) -> bytes:
    """`{"trace_id", "roots"}` as JSON: each node is a span's object plus "children" (its child
    nodes in input order), with the parent rules of `tree_links`; ids repeated later in the
    input are dropped. Iterative, so a chain of any depth builds."""
    index: dict[str, int] = {}
    for i, sid in enumerate(ids):
        index.setdefault(sid, i)
    if len(index) != len(ids):
        keep = sorted(index.values())
        ids = [ids[i] for i in keep]
        parents = [parents[i] for i in keep]
        bodies = [bodies[i] for i in keep]
        index = {sid: i for i, sid in enumerate(ids)}
    roots, children = _tree_links(index, ids, parents)
    out = ['{"trace_id":', orjson.dumps(trace_id).decode(), ',"roots":[']
    put = out.append
    # depth-first: one iterator over each open node's children; leaves (most spans) are
    # written without touching the stack
    stack = [iter(roots)]
    comma = False
    while stack:
        for k in stack[-1]:
            if comma:
                put(",")
            put(bodies[k])
            kids = children[k]
            if kids:
                put(',"children":[')
                stack.append(iter(kids))
                comma = False
                break
            put(',"children":[]}')
            comma = True
        else:
            stack.pop()
            put("]}")  # the children array and its node; at the bottom, roots and the body
            comma = True
    return "".join(out).encode()


class BodyCache:
    """A bounded LRU of finished detail/tree bodies, shared by the stores of a process.

    Keys must prove a body current: the store keys them by the database file's identity, the
    projector's checkpoints (committed in the same transaction as the rows they describe, read
    in the same read transaction as the lookup) and the trace's updated_at and span count. A
    body larger than `max_bytes` is not kept. Thread-safe.
    """

    def __init__(self, *, max_bytes: int = 64 << 20, max_entries: int = 32) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._bodies.pop(key, None)
            self._size += len(body) - (len(old) if old is not None else 0)
            self._bodies[key] = body
            while self._size > self.max_bytes or len(self._bodies) > self.max_entries:
                _, evicted = self._bodies.popitem(last=False)
                self._size -= len(evicted)

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()
            self._size = 0

    def __len__(self) -> int:
        return len(self._bodies)


BODY_CACHE = BodyCache()


def projector_version(conn: sqlite3.Connection) -> tuple[tuple[str, str], ...]:
    """The projector's checkpoints as of this read transaction; empty for a database the
    projector did not write (nothing may be cached then)."""
    rows = conn.execute(
        "SELECT key, value FROM meta WHERE key LIKE '%checkpoint' ORDER BY key"
    ).fetchall()
    return tuple((str(k), str(v)) for k, v in rows)


def _tree_links(
    index: dict[str, int], ids: list[str], parents: list[str | None]
) -> tuple[list[int], list[list[int]]]:
    """`tree_links(ids, parents)`, in one pass when every parent precedes its child (spans sorted
    by start time: a parent loop needs an edge pointing forward, so there is none to cut)."""
    roots: list[int] = []
    children: list[list[int]] = [[] for _ in ids]
    get = index.get
    for i, parent in enumerate(parents):
        j = get(parent) if parent is not None else None
        if j is None or j == i:
            roots.append(i)
        elif j < i:
            children[j].append(i)
        else:
            return tree_links(ids, parents)
    return roots, children


def _events_json(text: str | None) -> str:
    """The stored events as docs/api.md events (`_events` rules, without its per-key lookups:
    one span in ten thousand is a millisecond here)."""
    if not text or text == "[]":
        return "[]"
    try:
        items = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "[]"
    if type(items) is not list:
        return "[]"
    out = []
    for e in items:
        if type(e) is not dict:
            continue
        name = e.get("name", "")
        time = e["time_unix_nano"] if "time_unix_nano" in e else e.get("timestamp", 0)
        attributes = e.get("attributes")
        out.append(
            {
                "name": name if type(name) is str else str(name),
                "timestamp": time if type(time) is int else _int(time),
                "attributes": attributes if type(attributes) is dict else {},
            }
        )
    return orjson.dumps(out).decode()


def _links_json(text: str | None) -> str:
    if not text or text == "[]":
        return "[]"
    return orjson.dumps(_links(_json(text, []))).decode()


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
