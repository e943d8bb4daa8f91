"""The trace query language: `duration:>1s AND (model:gpt-4* OR error:true) -workflow:test`.

`compile_query(text)` parses (query_parse.py) and compiles to a SQL boolean expression over the
`traces` table plus its parameter list. Values only ever travel as parameters; the SQL text is
built from fixed fragments chosen by field name, so no input can change the statement's shape.
Errors raise `QueryError` with the 1-based column of the offending token. docs/query-language.md
is the user's reference.

Every `EXISTS` probe ends in `LIMIT 1`: that keeps SQLite from rewriting it into `IN (...)`, which
would materialise every matching trace and sort it instead of walking the list's sort index and
stopping at the page size.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from msgtrace.core.errors import QueryError
from msgtrace.projections.attr_index import AttrCondition, AttrPlanner
from msgtrace.projections.attr_index import term_sql as attr_term_sql
from msgtrace.projections.query_parse import And, Node, Not, Op, Or, Term, parse

__all__ = [
    "SEARCH_COLUMNS",
    "CompiledQuery",
    "Values",
    "compile_query",
    "like_pattern",
    "parse",
    "text_search_sql",
    "validate_query",
]

_DURATION_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_RELATIVE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NUMBER = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_SQL_OPS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "=": "=", "!=": "!="}


@dataclass(frozen=True)
class CompiledQuery:
    """`sql` is a boolean expression over `traces`; `params` are its positional `?` values."""

    sql: str
    params: list[Any]


SpanNames = Callable[[str], list[str] | None]
# (traces column, LIKE pattern) -> the column's distinct values matching it; None: unknown
Values = Callable[[str, str], list[str] | None]
# the traces columns free text matches as substrings (each has an index led by it)
SEARCH_COLUMNS = ("workflow_name", "service_name", "root_span_name")


def compile_query(
    text: str,
    *,
    now_ns: int | None = None,
    span_names: SpanNames | None = None,
    attrs: AttrPlanner | None = None,
    values: Values | None = None,
) -> CompiledQuery:
    """Parse and compile `text`; raises QueryError(message, column).

    `span_names(like_pattern)` may return the distinct span names matching a bare word (the read
    store resolves them from an index) so free text probes names by equality; None means unknown.
    `values(column, like_pattern)` does the same for the traces columns of free text. `attrs`
    plans `attr.<key>` terms against the snapshot the query will run in (see attr_index.py);
    without it they compile to a form that is exact but resolves every candidate first.
    """
    tree = parse(text)
    compiler = _Compiler(time.time_ns() if now_ns is None else now_ns, span_names, attrs, values)
    sql = compiler.node(tree)
    return CompiledQuery(sql, compiler.params)


def validate_query(text: str) -> tuple[bool, str | None, int | None]:
    """(ok, error message, column) without touching a database."""
    try:
        compile_query(text)
    except QueryError as exc:
        return False, exc.message, exc.column
    return True, None, None


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` as a substring, with % _ \\ escaped (use ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _glob_pattern(value: str) -> str:
    """A GLOB pattern where only * and ? are wildcards ([ and ] match themselves)."""
    return re.sub(r"([\[\]])", r"[\1]", value)


def _has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value


TRACE_ID_PREFIX_MIN = 8
MAX_NAME_MATCHES = 500


def text_search_sql(
    text: str, span_names: SpanNames | None = None, values: Values | None = None
) -> tuple[str, list[Any]]:
    """SQL for free text over a trace: a hex word of 8+ characters is a trace id prefix (an index
    range); anything else is a case-insensitive substring of the workflow, service, root span name
    or any span name (`%` and `_` are literal).

    `values(column, like)` and `span_names(like)` resolve the distinct values matching the
    substring, so the SQL is `IN (...)` over indexed columns; a column they cannot resolve (None,
    or more than MAX_NAME_MATCHES matches) keeps its LIKE. Text matching no value at all
    compiles to `0`, answered without reading a row.
    """
    text = text.strip()
    if len(text) >= TRACE_ID_PREFIX_MIN and _HEX.match(text):
        low = text.lower()
        return "(traces.trace_id >= ? AND traces.trace_id < ?)", [low, low + "g"]
    like = like_pattern(text)
    parts: list[str] = []
    params: list[Any] = []
    if _HEX.match(text):
        parts.append("traces.trace_id GLOB ?")
        params.append(text.lower() + "*")
    for column in SEARCH_COLUMNS:
        found = values(column, like) if values is not None else None
        if found is None or len(found) > MAX_NAME_MATCHES:
            parts.append(f"traces.{column} LIKE ? ESCAPE '\\'")
            params.append(like)
        elif found:
            parts.append(f"traces.{column} IN ({', '.join('?' for _ in found)})")
            params.extend(found)
    names = span_names(like) if span_names is not None else None
    if names is None or len(names) > MAX_NAME_MATCHES:
        parts.append(
            "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = traces.trace_id"
            " AND +s.name LIKE ? ESCAPE '\\' LIMIT 1)"
        )
        params.append(like)
    elif names:
        marks = ", ".join("?" for _ in names)
        parts.append(
            f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = traces.trace_id AND +s.name IN ({marks}) LIMIT 1)"
        )
        params.extend(names)
    if not parts:
        return "0", []
    return "(" + " OR ".join(parts) + ")", params


class _Compiler:
    def __init__(
        self,
        now_ns: int,
        span_names: SpanNames | None = None,
        attrs: AttrPlanner | None = None,
        values: Values | None = None,
    ) -> None:
        self.now_ns = now_ns
        self.span_names = span_names
        self.attrs = attrs
        self.values = values
        self.params: list[Any] = []
        self.fields: dict[str, Callable[[Term, str], str]] = {
            "duration": self.duration,
            "status": self.status,
            "error": self.error,
            "errors": self.error,
            "workflow": lambda t, f: self.text_column("traces.workflow_name", t),
            "service": lambda t, f: self.text_column("traces.service_name", t),
            "session": lambda t, f: self.text_column("traces.session_id", t),
            "user": lambda t, f: self.text_column("traces.user_id", t),
            "root": lambda t, f: self.text_column("traces.root_span_name", t),
            "name": self.span_name,
            "model": self.model,
            "tokens": lambda t, f: self.count_column("traces.total_tokens", t),
            "input_tokens": lambda t, f: self.count_column("traces.input_tokens", t),
            "output_tokens": lambda t, f: self.count_column("traces.output_tokens", t),
            "spans": lambda t, f: self.count_column("traces.span_count", t),
            "cost": self.cost,
            "trace": self.trace_id,
            "time": self.time,
        }

    # -- tree ---------------------------------------------------------------------------------
    def node(self, node: Node) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.node(c) for c in node.children) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.node(c) for c in node.children) + ")"
        if isinstance(node, Not):
            # coalesce: NOT of an unknown (NULL column) is "matches", as a user reads `-x:y`
            return f"(NOT coalesce({self.node(node.child)}, 0))"
        return self.term(node)

    def term(self, term: Term) -> str:
        if term.field is None:
            return self.bare(term)
        field = term.field.lower()
        if field.startswith("attr."):
            return self.attribute(term, term.field[5:])
        handler = self.fields.get(field)
        if handler is None:
            known = ", ".join(sorted([*self.fields, "attr.<key>"]))
            raise QueryError(f"unknown field {term.field!r} (known: {known})", column=term.column)
        if term.value == "":
            raise QueryError(f"{term.field}: needs a value", column=term.value_column)
        return handler(term, field)

    def add(self, *values: Any) -> None:
        self.params.extend(values)

    def error_at(self, term: Term, message: str) -> QueryError:
        return QueryError(f"{term.field}: {message}", column=term.value_column)

    def equality_only(self, term: Term) -> None:
        if term.op not in ("=", "!="):
            raise QueryError(
                f"{term.field}: only ':' and ':!=' apply to text fields (got {term.op!r})",
                column=term.value_column - len(term.op),
            )

    # -- fields -------------------------------------------------------------------------------
    def bare(self, term: Term) -> str:
        """Free text: see `text_search_sql`."""
        if term.value == "":
            raise QueryError("empty search text", column=term.column)
        sql, params = text_search_sql(term.value, self.span_names, self.values)
        self.add(*params)
        return sql

    def text_column(self, column: str, term: Term) -> str:
        self.equality_only(term)
        if _has_wildcard(term.value):
            self.add(_glob_pattern(term.value))
            sql = f"{column} GLOB ?"
        else:
            self.add(term.value)
            sql = f"{column} = ?"
        return f"(NOT coalesce({sql}, 0))" if term.op == "!=" else sql

    def span_name(self, term: Term, field: str) -> str:
        self.equality_only(term)
        if _has_wildcard(term.value):
            cond = "+s.name GLOB ?"
            self.add(_glob_pattern(term.value))
        else:
            cond = "+s.name = ?"
            self.add(term.value)
        sql = (
            f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = traces.trace_id AND {cond} LIMIT 1)"
        )
        return f"NOT {sql}" if term.op == "!=" else sql

    def model(self, term: Term, field: str) -> str:
        self.equality_only(term)
        if _has_wildcard(term.value):
            cond = "m.model GLOB ?"
            self.add(_glob_pattern(term.value))
        else:
            cond = "m.model = ?"
            self.add(term.value)
            # a primary-key probe: (model, start_time, trace_id)
            cond += " AND m.start_time = traces.start_time"
        sql = f"EXISTS (SELECT 1 FROM trace_models m WHERE m.trace_id = traces.trace_id AND {cond} LIMIT 1)"
        return f"NOT {sql}" if term.op == "!=" else sql

    def trace_id(self, term: Term, field: str) -> str:
        self.equality_only(term)
        value = term.value.lower()
        pattern = _glob_pattern(value) if _has_wildcard(value) else value + "*"
        if not _HEX.match(value.replace("*", "").replace("?", "") or "0"):
            raise self.error_at(term, f"a trace id is hexadecimal (got {term.value!r})")
        self.add(pattern)
        return "NOT traces.trace_id GLOB ?" if term.op == "!=" else "traces.trace_id GLOB ?"

    def status(self, term: Term, field: str) -> str:
        self.equality_only(term)
        value = term.value.lower()
        if value not in ("ok", "error", "unset"):
            raise self.error_at(term, f"status is ok, error or unset (got {term.value!r})")
        self.add(value)
        return "traces.status != ?" if term.op == "!=" else "traces.status = ?"

    def error(self, term: Term, field: str) -> str:
        self.equality_only(term)
        value = term.value.lower()
        if value in ("true", "yes", "1"):
            flag = True
        elif value in ("false", "no", "0"):
            flag = False
        else:
            raise self.error_at(term, f"expected true or false (got {term.value!r})")
        if term.op == "!=":
            flag = not flag
        return "traces.error_count > 0" if flag else "traces.error_count = 0"

    def duration(self, term: Term, field: str) -> str:
        ms = self.parse_duration(term)
        return self.compare("traces.duration_ms", term.op, ms)

    def cost(self, term: Term, field: str) -> str:
        value = self.parse_number(term, suffixes={"": 1.0, "$": 1.0})
        return self.compare("traces.cost", term.op, value)

    def count_column(self, column: str, term: Term) -> str:
        value = self.parse_number(term, suffixes={"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6})
        return self.compare(column, term.op, value)

    def time(self, term: Term, field: str) -> str:
        ns = self.parse_time(term)
        op: Op = ">=" if term.op == "=" else term.op  # `time:X` means since X
        return self.compare("traces.start_time", op, ns)

    def attribute(self, term: Term, key: str) -> str:
        """Some span's attribute `key` passes the test (attr_index.py answers it exactly)."""
        if not key:
            raise QueryError("attr. needs a key, e.g. attr.user.id:42", column=term.column)
        if '"' in key:
            raise QueryError("attribute keys cannot contain '\"'", column=term.column)
        if term.value == "":
            raise QueryError(f"{term.field}: needs a value", column=term.value_column)
        path = f'$."{key}"'
        extract = "json_extract(s.attributes, ?)"
        cond: AttrCondition
        if term.value == "*" and not term.quoted and term.op in ("=", "!="):
            cond = AttrCondition(key, "present", "json_type(s.attributes, ?) IS NOT NULL", [path])
        elif term.op in ("=", "!="):
            if _has_wildcard(term.value) and not term.quoted:
                pattern = _glob_pattern(term.value)
                cond = AttrCondition(key, "glob", f"{extract} GLOB ?", [path, pattern], [pattern])
            else:
                candidates: list[Any] = [term.value]
                number = _as_number(term.value) if not term.quoted else None
                if number is not None:
                    candidates.append(number)
                elif term.value.lower() in ("true", "false") and not term.quoted:
                    candidates.append(1 if term.value.lower() == "true" else 0)
                marks = ", ".join("?" for _ in candidates)
                cond = AttrCondition(
                    key, "in", f"{extract} IN ({marks})", [path, *candidates], candidates
                )
        else:
            number = _as_number(term.value)
            if number is None:
                raise self.error_at(
                    term, f"comparison {term.op} needs a number (got {term.value!r})"
                )
            sql_op = _SQL_OPS[term.op]
            cond = AttrCondition(
                key, "compare", f"{extract} {sql_op} ?", [path, number], [number], sql_op
            )
        sql, params = attr_term_sql(cond, self.attrs)
        self.add(*params)
        return f"(NOT {sql})" if term.op == "!=" else sql

    # -- values -------------------------------------------------------------------------------
    def compare(self, column: str, op: Op, value: float | int) -> str:
        self.add(value)
        return f"{column} {_SQL_OPS[op]} ?"

    def parse_number(self, term: Term, *, suffixes: dict[str, float]) -> float | int:
        text = term.value
        m = _NUMBER.match(text)
        suffix = text[m.end() :] if m else None
        if m is None or suffix not in suffixes:
            allowed = ", ".join(repr(s) for s in suffixes if s)
            hint = f" (suffixes: {allowed})" if allowed else ""
            raise self.error_at(term, f"expected a number, got {text!r}{hint}")
        value = float(m.group(0)) * suffixes[suffix]
        return int(value) if value.is_integer() else value

    def parse_duration(self, term: Term) -> float:
        text = term.value.strip()
        m = _NUMBER.match(text)
        unit = text[m.end() :].lower() if m else None
        if m is None or unit is None or (unit and unit not in _DURATION_UNITS):
            raise self.error_at(
                term,
                f"expected a duration like 250ms, 1.5s or 2m (units ns us ms s m h), got {text!r}",
            )
        return float(m.group(0)) * _DURATION_UNITS[unit or "ms"]

    def parse_time(self, term: Term) -> int:
        text = term.value.strip()
        lower = text.lower()
        if lower == "now":
            return self.now_ns
        rel = re.fullmatch(r"-([0-9]+(?:\.[0-9]+)?)([smhdw])", lower)
        if rel:
            return self.now_ns - int(float(rel.group(1)) * _RELATIVE_UNITS[rel.group(2)] * 1e9)
        if text.isdigit() and len(text) >= 15:
            return int(text)
        try:
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise self.error_at(
                term, f"expected an ISO-8601 time or a relative time like -1h, got {text!r}"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp()) * 1_000_000_000 + parsed.microsecond * 1000


def _as_number(text: str) -> float | int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return (
        int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    )
