"""The projector's SQLite connection: the only writer of msgtrace.db.

WAL mode (readers never block on the writer), synchronous=NORMAL (a commit is durable once the WAL
is checkpointed or the OS flushes it; a crash loses at most the last batches, which are re-applied
from the log because the checkpoint lives in the same transaction). Schema from schema.sql; a
database with another `schema_version` in meta is rebuilt by the projector (`needs_rebuild`).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

# Bump when schema.sql changes in a way existing databases cannot follow: the projector reindexes.
PROJECTION_SCHEMA_VERSION = "6"

WAL_AUTOCHECKPOINT_PAGES = 8192  # 128 MiB of 16 KiB pages
BUSY_TIMEOUT_MS = 60_000
# How long a quiet-time checkpoint waits for readers of an older snapshot before it leaves the
# WAL file as it is (the next quiet pass tries again).
TRUNCATE_WAIT_MS = 50

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")


def schema_sql() -> str:
    return resources.files("msgtrace.projections").joinpath("schema.sql").read_text("utf-8")


def projection_tables() -> list[str]:
    """Every table schema.sql creates, in file order."""
    return _TABLE.findall(schema_sql())


def connect(db_path: Path) -> sqlite3.Connection:
    """A writer connection in autocommit mode; transactions are explicit (`BEGIN IMMEDIATE`)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=60.0)
    # Larger pages suit rows holding prompt text; takes effect only when the file is created.
    conn.execute("PRAGMA page_size=16384")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint inside a commit only past WAL_AUTOCHECKPOINT_PAGES; the worker checkpoints when
    # it has caught up (`checkpoint_wal`), so a burst is applied without copying pages back.
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA cache_size=-16384")  # 16 MiB: the projector shares a memory budget
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def checkpoint_wal(conn: sqlite3.Connection, *, truncate: bool = False) -> bool:
    """Copy the WAL back into the database as far as readers allow (never waits for them).

    With `truncate` (the log is quiet) it copies all of it and empties the WAL file, which
    otherwise keeps the size of the largest burst on disk; readers are never blocked, but it
    waits at most TRUNCATE_WAIT_MS for those on an older snapshot. True when the WAL was
    emptied."""
    if not truncate:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return False
    conn.execute(f"PRAGMA busy_timeout={TRUNCATE_WAIT_MS}")
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return not busy


def create_schema(conn: sqlite3.Connection, extra_ddl: Iterable[str] = ()) -> None:
    """Create missing tables and indexes (inside the caller's transaction when there is one),
    then run `extra_ddl` (the DDL of additional views)."""
    for statement in _statements(schema_sql()):
        conn.execute(statement)
    for ddl in extra_ddl:
        for statement in _statements(ddl):
            conn.execute(statement)
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
        (PROJECTION_SCHEMA_VERSION,),
    )


# Indexes only readers use: a reindex drops them while it fills the tables and builds them once
# at the end (cheaper than maintaining them row by row). The projector's own lookups use the
# primary keys, spans_usage, traces_start and trace_models_trace, which stay.
READER_INDEXES = (
    "spans_trace",
    "spans_name_time",
    "traces_duration",
    "traces_spans",
    "traces_tokens",
    "traces_cost",
    "traces_workflow",
    "traces_service",
    "traces_root",
    "traces_errors",
    "traces_workflow_errors",
    "traces_service_errors",
    "traces_session",
    "traces_user",
    "traces_updated",
)


def drop_reader_indexes(conn: sqlite3.Connection) -> None:
    for name in READER_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")  # names are constants above


def drop_schema(conn: sqlite3.Connection, extra_tables: Iterable[str] = ()) -> None:
    for table in [*projection_tables(), *extra_tables]:
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')  # names from schema.sql and views


def needs_rebuild(conn: sqlite3.Connection) -> bool:
    """True when the database holds projections of another schema version."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if exists is None:
        return False
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row is not None and row[0] != PROJECTION_SCHEMA_VERSION


def _statements(sql: str) -> Iterable[str]:
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    for part in "\n".join(lines).split(";"):
        if part.strip():
            yield part.strip()


def get_meta(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return default if row is None else str(row[0])


def get_meta_int(conn: sqlite3.Connection, key: str) -> int:
    value = get_meta(conn, key)
    return 0 if value is None else int(value)


def set_meta(conn: sqlite3.Connection, key: str, value: str | int) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, str(value)),
    )


def insert_rows(
    conn: sqlite3.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    verb: str = "INSERT",
) -> None:
    """executemany of `verb INTO table (columns) VALUES (?, ...)`; names are code constants."""
    placeholders = ", ".join("?" for _ in columns)
    conn.executemany(
        f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        rows,
    )


def fill_temp_ids(conn: sqlite3.Connection, name: str, ids: Iterable[str]) -> None:
    """(Re)fill temp table `name(trace_id)` used to join a batch's trace ids."""
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {name} (trace_id TEXT PRIMARY KEY) WITHOUT ROWID"
    )
    conn.execute(f"DELETE FROM {name}")
    conn.executemany(f"INSERT OR IGNORE INTO {name} (trace_id) VALUES (?)", ((i,) for i in ids))
