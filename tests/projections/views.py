"""Test helper: dump the projection views for equality checks."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

# bookkeeping columns that legitimately differ between two ways of applying the same spans
BOOKKEEPING = {"updated_at", "first_offset", "last_offset", "log_offset"}

VIEWS = ("traces", "trace_models", "usage_rollup", "trace_rollup", "duration_histogram")


def dump(
    db_path: Path, tables: tuple[str, ...] = VIEWS, *, bookkeeping: bool = False
) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of each table sorted, without bookkeeping columns unless asked."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for table in tables:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in cols if bookkeeping or c not in BOOKKEEPING]
            rows = conn.execute(f"SELECT {', '.join(keep)} FROM {table}").fetchall()
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def query(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
