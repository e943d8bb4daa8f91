"""Newest-first pages of sparse queries, answered from candidates in growing time windows.

A list sorted by start time walks `traces_start` and tests every trace until the page is full.
When the newest traces do not match (a query for an older workflow while another one is busy),
that walk reads all of them first. This module answers such pages from the other end: each
query term that an index can enumerate (a span name, a workflow, a model, free text resolved to
names) lists the traces it matches that started at or after a bound T0, the terms' lists are
combined as the query combines them (AND intersects, OR unites), and only those candidates are
tested against the full filter. When the window [T0, now] holds a full page, that page is the
answer; otherwise T0 moves back and the window grows.

Exactness: a trace starts at its earliest span, so a trace that matches `name:X` and started at
or after T0 has a span named X that started at or after T0, and the same holds for the other
enumerable terms through their own (column, start_time) indexes. The candidates of a window are
therefore a superset of the matching traces in it; the full filter then keeps exactly those. A
page of `offset + limit + 1` rows in [T0, now] is the page of the whole store, because every
trace outside the window started before each of them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from msgtrace.core.models import TraceQueryParams
from msgtrace.projections.query import (
    SEARCH_COLUMNS,
    TRACE_ID_PREFIX_MIN,
    SpanNames,
    Values,
    like_pattern,
)
from msgtrace.projections.query_parse import And, Node, Not, Or, Term, parse
from msgtrace.projections.store_list import within

__all__ = [
    "Candidates",
    "budgeted_rows",
    "candidates_sql",
    "page_candidates",
    "windowed_rows",
]

FIRST_WINDOW = 1000  # candidates in the first window, shared among the enumerated values
GROWTH = 8  # each further window holds this many times more
MAX_VALUES = 16  # a term enumerating more values (a broad free-text word) keeps the walk

_T0 = object()  # stands for the window's lower bound in a parameter list

# how far back a window reaches: ("seek", (sql, params)) the start time of a source's k-th
# newest row, ("and" | "or", [parts]) combined as the candidates are, ("all", None) the store
Reach = tuple[str, Any]


class Candidates:
    """A SELECT of `trace_id`s (a superset of the matching traces that started at or after
    T0) and its parameters, where `_T0` marks the bound; `reach` sizes the windows."""

    __slots__ = ("params", "reach", "sql")

    def __init__(self, sql: str, params: list[Any], reach: Reach) -> None:
        self.sql = sql
        self.params = params
        self.reach = reach

    def bind(self, t0: int) -> list[Any]:
        return [t0 if p is _T0 else p for p in self.params]

    def lower_bound(self, conn: sqlite3.Connection, k: int) -> int | None:
        """A T0 whose window holds about `k` candidates per enumerated value, or None when the
        whole store does."""
        return _reach(conn, self.reach, k)


def _reach(conn: sqlite3.Connection, reach: Reach, k: int) -> int | None:
    kind, arg = reach
    if kind == "all":
        return None
    if kind == "seek":
        sql, params = arg
        row = conn.execute(sql, [*params, k]).fetchone()
        return None if row is None else int(row[0])
    bounds = [_reach(conn, r, k) for r in arg]
    known = [b for b in bounds if b is not None]
    if kind == "and":
        # the intersection is no larger than its sparsest part: the window where that part
        # holds k rows (a part with fewer than k rows in all: the whole store)
        return None if len(known) < len(bounds) else min(known)
    # "or": every part holds at most k rows after the latest of their bounds
    return max(known) if known else None


def _seeks(reach: Reach) -> int:
    kind, arg = reach
    if kind in ("all", "seek"):
        return 1
    return sum(_seeks(r) for r in arg)


def _combine(parts: list[Candidates], op: str) -> Candidates:
    if len(parts) == 1:
        return parts[0]
    sql = f" {op} ".join(f"SELECT trace_id FROM ({p.sql})" for p in parts)
    kind = "and" if op == "INTERSECT" else "or"
    return Candidates(sql, [v for p in parts for v in p.params], (kind, [p.reach for p in parts]))


def _seek(source: str, column: str, value: str) -> Reach:
    return (
        "seek",
        (
            f"SELECT start_time FROM {source} WHERE {column} = ?"
            " ORDER BY start_time DESC LIMIT 1 OFFSET ?",
            [value],
        ),
    )


def _listed(source: str, column: str, values: list[str]) -> Candidates:
    marks = ", ".join("?" for _ in values)
    return Candidates(
        f"SELECT trace_id FROM {source} WHERE {column} IN ({marks}) AND start_time >= ?",
        [*values, _T0],
        ("or", [_seek(source, column, v) for v in values]),
    )


def _column_in(column: str, values: list[str]) -> Candidates:
    return _listed("traces", column, values)


def _span_names_in(names: list[str]) -> Candidates:
    return _listed("spans", "name", names)


_TRACE_COLUMNS = {
    "workflow": "workflow_name",
    "service": "service_name",
    "root": "root_span_name",
    "session": "session_id",
    "user": "user_id",
}


def candidates_sql(
    node: Node, span_names: SpanNames | None, values: Values | None
) -> Candidates | None:
    """The candidates of `node` (see the module docstring), or None when an index cannot
    enumerate them (a comparison, a negation, a wildcard, an OR with such a branch)."""
    if isinstance(node, And):
        found = [c for c in (candidates_sql(n, span_names, values) for n in node.children) if c]
        return _combine(found, "INTERSECT") if found else None
    if isinstance(node, Or):
        parts = [candidates_sql(n, span_names, values) for n in node.children]
        if any(p is None for p in parts):
            return None
        return _combine([p for p in parts if p is not None], "UNION")
    if isinstance(node, Not):
        return None
    return _term(node, span_names, values)


def _term(term: Term, span_names: SpanNames | None, values: Values | None) -> Candidates | None:
    if term.op != "=" or (not term.quoted and ("*" in term.value or "?" in term.value)):
        return None
    if term.field is None:
        return _free_text(term.value, span_names, values)
    field = term.field.lower()
    if field in _TRACE_COLUMNS:
        return _column_in(_TRACE_COLUMNS[field], [term.value])
    if field == "name":
        return _span_names_in([term.value])
    if field == "model":
        return _listed("trace_models", "model", [term.value])
    return None


def _free_text(text: str, span_names: SpanNames | None, values: Values | None) -> Candidates | None:
    """What `text_search_sql` matches: a trace id prefix, or a substring of the workflow,
    service, root span name or any span name, each resolved to its matching values."""
    text = text.strip()
    if not text or span_names is None or values is None:
        return None
    hexlike = all(c in "0123456789abcdefABCDEF" for c in text)
    if hexlike and len(text) >= TRACE_ID_PREFIX_MIN:
        low = text.lower()
        return Candidates(
            "SELECT trace_id FROM traces WHERE trace_id >= ? AND trace_id < ?",
            [low, low + "g"],
            ("all", None),
        )
    if hexlike:
        return None  # a short trace id prefix: too many traces to list
    like = like_pattern(text)
    parts: list[Candidates] = []
    for column in SEARCH_COLUMNS:
        found = values(column, like)
        if found is None or len(found) > MAX_VALUES:
            return None
        if found:
            parts.append(_column_in(column, found))
    names = span_names(like)
    if names is None or len(names) > MAX_VALUES:
        return None
    if names:
        parts.append(_span_names_in(names))
    if not parts:
        return Candidates("SELECT NULL AS trace_id WHERE 0", [], ("all", None))
    return _combine(parts, "UNION")


def page_candidates(
    params: TraceQueryParams, span_names: SpanNames | None, values: Values | None
) -> Candidates | None:
    """The candidates of a newest-first page's `q` and `search` terms, or None when the page is
    not newest-first or no term can enumerate its traces."""
    if params.sort_key != ("start_time", "desc"):
        return None
    terms: list[Node] = []
    if params.q and params.q.strip():
        terms.append(parse(params.q))
    if params.search and params.search.strip():
        terms.append(Term(None, "=", params.search, True, 1, 1))
    if not terms:
        return None
    node = terms[0] if len(terms) == 1 else And(tuple(terms), 1)
    return candidates_sql(node, span_names, values)


def windowed_rows(
    conn: sqlite3.Connection,
    candidates: Candidates,
    *,
    select: str,
    where: list[str],
    args: list[Any],
    rows_needed: int,
    offset: int,
    budget_s: float,
) -> list[sqlite3.Row] | None:
    """The newest-first page (`rows_needed` rows after `offset`) of traces passing `where`,
    found among `candidates` in growing windows; None when `budget_s` ran out first.

    `select` is the column list; `where` must hold the whole filter (the candidates only narrow
    what is read)."""
    sql = (
        f"SELECT {select} FROM traces WHERE traces.trace_id IN ({candidates.sql})"
        f" AND +traces.start_time >= ?{''.join(' AND ' + w for w in where)}"
        " ORDER BY +traces.start_time DESC, traces.trace_id DESC LIMIT ? OFFSET ?"
    )

    def grow() -> list[sqlite3.Row]:
        k = max(1, FIRST_WINDOW // _seeks(candidates.reach))
        while True:
            t0 = candidates.lower_bound(conn, k)
            bound = 0 if t0 is None else t0
            rows = conn.execute(
                sql, [*candidates.bind(bound), bound, *args, rows_needed, offset]
            ).fetchall()
            if len(rows) >= rows_needed or t0 is None:
                return rows
            k *= GROWTH

    return within(conn, budget_s, grow)


def budgeted_rows(
    conn: sqlite3.Connection, sql: str, args: list[Any], budget_s: float
) -> list[sqlite3.Row] | None:
    """`sql`'s rows, or None when it ran longer than `budget_s`."""
    return within(conn, budget_s, lambda: conn.execute(sql, args).fetchall())
