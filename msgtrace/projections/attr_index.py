"""The inverted index of span attributes behind `attr.<key>` queries (schema.sql: attr_index).

Layout. Rows are `(gen, key, value, trace_id)` with `gen` = the span's rowid >> GEN_BITS: spans
get rising rowids, so the indexer only inserts into the newest generation's small region of the
b-tree (it stays in the page cache and a commit writes few pages) instead of at random places in
one huge `(key, value, trace_id)` tree. A lookup seeks each generation (a few hundred seeks for
millions of spans); a per-trace probe seeks the generations of the trace's own spans.

Writing. `index_batch` (run by the projector worker, one short transaction per call) extends the
index over the next spans in rowid order and re-indexes dirty traces. Values are extracted by
SQLite's own `json_each`, so an indexed value is exactly what `json_extract` returns to the JSON
scan it replaces (same text, same integer or real, true/false as 1/0). The projector calls
`forget` before it deletes span rows and `clamp` right after, in the same transaction: the
deleted spans' traces lose their index rows (recomputed from their spans, so no trace-led index
is needed) and become dirty, and the checkpoint never covers a rowid SQLite may hand out again.

Reading. `term_sql` compiles one `attr.<key>` condition to a boolean over `traces` that equals
today's JSON condition whatever the indexer's progress: traces matched by the index, plus the
JSON condition over spans not indexed yet (rowid above the checkpoint), over dirty traces, and
over traces whose value for the key the index does not hold (markers). `AttrPlanner` (the read
store's view of one snapshot) drops the parts that cannot match and picks the plan: a small
candidate set becomes `trace_id IN (...)`, a large one a per-trace probe that lets the list walk
its sort index and stop at the page size (an index probe for equality, else the trace's JSON).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

__all__ = [
    "CHECKPOINT_KEY",
    "GEN_BITS",
    "MAX_TEXT",
    "RARE_LIMIT",
    "AttrCondition",
    "AttrPlanner",
    "clamp",
    "forget",
    "index_batch",
    "indexed_rowid",
    "term_sql",
]

CHECKPOINT_KEY = "attr_index_rowid"  # meta: spans with rowid <= this are indexed
MAX_TEXT = 256  # longer strings are not indexed (marker row)
RARE_LIMIT = 5000  # index rows up to which a term resolves its candidate traces first
DIRTY_PER_BATCH = 200  # dirty traces re-indexed per batch
# spans per generation = 2**GEN_BITS: about 5 MiB of index rows for realistic spans, so the
# region the indexer writes fits the projector's page cache
GEN_BITS = 14

# X'' = present with a value the index does not hold; X'01' = an integral real
_OTHER = b""
_INTEGRAL_REAL = b"\x01"

_CHECKPOINT_SQL = (
    f"(SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM meta WHERE key = '{CHECKPOINT_KEY}')"
)


def _gens_sql() -> str:
    """CTE `g(n)`: every generation that may hold rows, from the oldest span's to the
    checkpoint's."""
    return (
        f"WITH RECURSIVE g(n) AS (SELECT (SELECT coalesce(min(rowid), 0) FROM spans) >> {GEN_BITS}"
        f" UNION ALL SELECT n + 1 FROM g WHERE n < {_CHECKPOINT_SQL} >> {GEN_BITS})"
    )


# one pass of json_each per span; the second row of `x` adds the integral-real marker. Rows go
# in span order: the current generation's region is cache-resident, and sorting them first
# measured slower.
_ROWS_SQL = """
SELECT s.rowid >> {gen_bits}, j.key,
    CASE WHEN x.n = 1 THEN X'01'
         WHEN j.type IN ('integer', 'real', 'true', 'false') THEN j.atom
         WHEN j.type = 'text' AND length(j.atom) <= {max_text} THEN j.atom
         ELSE X'' END,
    s.trace_id
FROM {source} CROSS JOIN json_each(s.attributes) j
    CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1) x
WHERE {where} AND (x.n = 0 OR (j.type = 'real' AND j.atom = CAST(j.atom AS INTEGER)))
"""

_INSERT_SQL = "INSERT OR IGNORE INTO attr_index (gen, key, value, trace_id)"


def _rows_sql(source: str, where: str) -> str:
    return _ROWS_SQL.format(gen_bits=GEN_BITS, max_text=MAX_TEXT, source=source, where=where)


# -- writing ------------------------------------------------------------------------------------
def indexed_rowid(conn: sqlite3.Connection) -> int:
    """The checkpoint: every span with a rowid up to it is in the index (unless dirty)."""
    row = conn.execute(f"SELECT {_CHECKPOINT_SQL}").fetchone()
    return int(row[0])


def _set_checkpoint(conn: sqlite3.Connection, rowid: int) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (CHECKPOINT_KEY, str(rowid)),
    )


def index_batch(conn: sqlite3.Connection, max_spans: int) -> int:
    """Index up to `max_spans` spans past the checkpoint and up to DIRTY_PER_BATCH dirty traces,
    in one `BEGIN IMMEDIATE` transaction. Returns the spans and traces handled (0: caught up)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        cp = indexed_rowid(conn)
        row = conn.execute(
            "SELECT max(rowid), count(*) FROM"
            " (SELECT rowid FROM spans WHERE rowid > ? ORDER BY rowid LIMIT ?)",
            (cp, max_spans),
        ).fetchone()
        done = 0
        if row[0] is not None:
            hi = int(row[0])
            conn.execute(
                _INSERT_SQL + _rows_sql("spans s", "s.rowid > ? AND s.rowid <= ?"), (cp, hi)
            )
            _set_checkpoint(conn, hi)
            cp, done = hi, int(row[1])
        dirty = [
            r[0]
            for r in conn.execute(
                "SELECT trace_id FROM attr_dirty ORDER BY trace_id LIMIT ?", (DIRTY_PER_BATCH,)
            )
        ]
        for trace_id in dirty:
            # spans above the checkpoint are the main scan's; rows already there are kept
            conn.execute(
                _INSERT_SQL + _rows_sql("spans s", "s.trace_id = ? AND s.rowid <= ?"),
                (trace_id, cp),
            )
            conn.execute("DELETE FROM attr_dirty WHERE trace_id = ?", (trace_id,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done + len(dirty)


def forget(conn: sqlite3.Connection, keys: list[tuple[str, str]]) -> None:
    """Before span rows `(trace_id, span_id)` are deleted (inside the caller's transaction):
    traces losing an indexed span drop their index rows and become dirty. A trace's rows are
    exactly those its spans up to the checkpoint give, so they are recomputed and deleted by
    primary key."""
    cp = indexed_rowid(conn) if keys else 0
    if cp == 0:
        return  # nothing indexed yet
    traces: set[str] = set()
    for trace_id, span_id in keys:
        if trace_id in traces:
            continue
        hit = conn.execute(
            "SELECT 1 FROM spans WHERE trace_id = ? AND span_id = ? AND rowid <= ?",
            (trace_id, span_id, cp),
        ).fetchone()
        if hit is not None:
            traces.add(trace_id)
    for trace_id in sorted(traces):
        rows = conn.execute(
            _rows_sql("spans s", "s.trace_id = ? AND s.rowid <= ?"), (trace_id, cp)
        ).fetchall()
        conn.executemany(
            "DELETE FROM attr_index WHERE gen = ? AND key = ? AND value = ? AND trace_id = ?", rows
        )
        conn.execute("INSERT OR IGNORE INTO attr_dirty (trace_id) VALUES (?)", (trace_id,))


def clamp(conn: sqlite3.Connection) -> None:
    """After span rows were deleted: SQLite gives the next span max(rowid) + 1, which may be at
    or below the checkpoint when the highest rows went; lower the checkpoint to the highest rowid
    left (every rowid between was deleted, so nothing indexed is lost)."""
    top = conn.execute("SELECT coalesce(max(rowid), 0) FROM spans").fetchone()[0]
    if int(top) < indexed_rowid(conn):
        _set_checkpoint(conn, int(top))


# -- reading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttrCondition:
    """One `attr.<key>` condition, with the SQL of today's JSON test over span `s`.

    kind: 'present' (key present with any value), 'in' (value IN candidates), 'glob'
    (value GLOB pattern) or 'compare' (value <op> number)."""

    key: str
    kind: Literal["present", "in", "glob", "compare"]
    json_sql: str  # over `s.attributes`
    json_params: list[Any]
    values: list[Any] = field(default_factory=list)  # candidates, or [pattern], or [number]
    op: str = "="  # SQL comparison for 'compare'

    def index_sql(self, alias: str) -> tuple[str, list[Any]]:
        """The value test over index rows `alias` (markers never pass it)."""
        v = f"{alias}.value"
        if self.kind == "present":
            return "1", []
        if self.kind == "in":
            return f"{v} IN ({', '.join('?' for _ in self.values)})", list(self.values)
        if self.kind == "glob":
            pattern = self.values[0]
            prefix = _glob_prefix(pattern)
            upper = _next_text(prefix) if prefix else None
            if upper is None:
                return f"{v} < X'' AND {v} GLOB ?", [pattern]
            # a range on the primary key; numbers (sorted before text) only for a numeric start
            text = f"({v} >= ? AND {v} < ?)"
            sql = f"({v} < '' OR {text})" if prefix[0] in "0123456789-I" else text
            return f"{sql} AND {v} GLOB ?", [prefix, upper, pattern]
        return f"{v} < X'' AND {v} {self.op} ?", list(self.values)

    def markers(self) -> list[bytes]:
        """Marker values whose traces need the JSON test for this condition."""
        if self.kind == "present":
            return []
        if self.kind == "glob":
            return [_OTHER, _INTEGRAL_REAL]
        if self.kind == "compare":
            return [_OTHER]
        texts = [c for c in self.values if isinstance(c, str)]
        if any(len(t) > MAX_TEXT or t[:1] in ("[", "{") for t in texts):
            return [_OTHER]  # long text, or the JSON text of an array or object
        return []


class AttrPlanner:
    """What one read snapshot knows about the index: whether unindexed spans or dirty traces
    exist, and how many index rows a condition matches. Use it only inside the same read
    transaction as the query it plans."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @cached_property
    def tail(self) -> bool:
        """Some span is above the checkpoint (not indexed yet)."""
        cp = indexed_rowid(self.conn)
        row = self.conn.execute("SELECT 1 FROM spans WHERE rowid > ? LIMIT 1", (cp,)).fetchone()
        return row is not None

    @cached_property
    def dirty(self) -> bool:
        """Some trace waits to be re-indexed."""
        return self.conn.execute("SELECT 1 FROM attr_dirty LIMIT 1").fetchone() is not None

    def has_markers(self, cond: AttrCondition) -> bool:
        values = cond.markers()
        if not values:
            return False
        marks = ", ".join("?" for _ in values)
        return (
            self.conn.execute(
                f"{_gens_sql()} SELECT 1 FROM g CROSS JOIN attr_index a ON a.gen = g.n"
                f" WHERE a.key = ? AND a.value IN ({marks}) LIMIT 1",
                [cond.key, *values],
            ).fetchone()
            is not None
        )

    def is_rare(self, cond: AttrCondition) -> bool:
        """At most RARE_LIMIT index rows match (markers excluded)."""
        test, params = cond.index_sql("a")
        n = self.conn.execute(
            f"{_gens_sql()} SELECT count(*) FROM (SELECT 1 FROM g CROSS JOIN attr_index a"
            f" ON a.gen = g.n WHERE a.key = ? AND {test} LIMIT ?)",
            [cond.key, *params, RARE_LIMIT + 1],
        ).fetchone()[0]
        return int(n) <= RARE_LIMIT


def term_sql(cond: AttrCondition, planner: AttrPlanner | None) -> tuple[str, list[Any]]:
    """A boolean over `traces`: some span of the trace passes `cond.json_sql`. Without a planner
    every part is kept, in the per-trace probe form (exact; it walks the list's sort index)."""
    if planner is None:
        return _probe(cond, True, True, cond.markers())
    markers = cond.markers() if planner.has_markers(cond) else []
    if planner.is_rare(cond):
        return _candidates(cond, planner.tail, planner.dirty, markers)
    return _probe(cond, planner.tail, planner.dirty, markers)


def _candidates(
    cond: AttrCondition, tail: bool, dirty: bool, markers: list[bytes]
) -> tuple[str, list[Any]]:
    test, params = cond.index_sql("a")
    parts = [
        f"{_gens_sql()} SELECT a.trace_id FROM g CROSS JOIN attr_index a ON a.gen = g.n"
        f" WHERE a.key = ? AND {test}"
    ]
    args: list[Any] = [cond.key, *params]
    if tail:
        parts.append(
            f"SELECT s.trace_id FROM spans s WHERE s.rowid > {_CHECKPOINT_SQL} AND {cond.json_sql}"
        )
        args.extend(cond.json_params)
    if dirty:
        parts.append(
            "SELECT s.trace_id FROM attr_dirty d CROSS JOIN spans s ON s.trace_id = d.trace_id"
            f" WHERE {cond.json_sql}"
        )
        args.extend(cond.json_params)
    if markers:
        marks = ", ".join("?" for _ in markers)
        parts.append(
            "SELECT s.trace_id FROM g CROSS JOIN attr_index m ON m.gen = g.n"
            " CROSS JOIN spans s ON s.trace_id = m.trace_id"
            f" WHERE m.key = ? AND m.value IN ({marks}) AND {cond.json_sql}"
        )
        args.extend([cond.key, *markers, *cond.json_params])
    return f"traces.trace_id IN ({' UNION ALL '.join(parts)})", args


def _probe(
    cond: AttrCondition, tail: bool, dirty: bool, markers: list[bytes]
) -> tuple[str, list[Any]]:
    spans_json = (
        "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = traces.trace_id"
        f" AND {cond.json_sql} LIMIT 1)"
    )
    if cond.kind != "in":
        # a range or presence test cannot seek the (gen, key, value, trace_id) key by trace:
        # the trace's own JSON answers it, exactly
        return spans_json, list(cond.json_params)
    # equality seeks the primary key in each generation of the trace's spans
    gens = f"SELECT t.rowid >> {GEN_BITS} FROM spans t WHERE t.trace_id = traces.trace_id"
    test, params = cond.index_sql("a")
    parts = [
        f"EXISTS (SELECT 1 FROM attr_index a WHERE a.gen IN ({gens}) AND a.key = ? AND {test}"
        " AND a.trace_id = traces.trace_id LIMIT 1)"
    ]
    args: list[Any] = [cond.key, *params]
    if tail:
        parts.append(
            "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = traces.trace_id"
            f" AND s.rowid > {_CHECKPOINT_SQL} AND {cond.json_sql} LIMIT 1)"
        )
        args.extend(cond.json_params)
    unindexed: list[str] = []
    unindexed_args: list[Any] = []
    if dirty:
        unindexed.append("EXISTS (SELECT 1 FROM attr_dirty d WHERE d.trace_id = traces.trace_id)")
    if markers:
        marks = ", ".join("?" for _ in markers)
        unindexed.append(
            f"EXISTS (SELECT 1 FROM attr_index m WHERE m.gen IN ({gens}) AND m.key = ?"
            f" AND m.value IN ({marks}) AND m.trace_id = traces.trace_id LIMIT 1)"
        )
        unindexed_args.extend([cond.key, *markers])
    if unindexed:
        parts.append(f"(({' OR '.join(unindexed)}) AND {spans_json})")
        args.extend([*unindexed_args, *cond.json_params])
    return "(" + " OR ".join(parts) + ")", args


def _glob_prefix(pattern: str) -> str:
    """The literal start of a GLOB pattern (up to the first *, ? or [)."""
    for i, ch in enumerate(pattern):
        if ch in "*?[":
            return pattern[:i]
    return pattern


def _next_text(prefix: str) -> str | None:
    """The smallest text above every text starting with `prefix` (binary order), or None."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF or 0xD7FF <= last < 0xE000:
        return None
    return prefix[:-1] + chr(last + 1)
