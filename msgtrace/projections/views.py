"""The extension point for derived views: the built-in views register here like any other.

Per batch, the projector hands every view a `TraceChange`: the complete span sets and summaries
of the traces the batch touched, before and after it. A view updates its tables inside the
batch's transaction. Contract: a view's rows must be a function of the traces' span sets only
(never of arrival order, batch size or wall clock), so they are order independent and
`msgtrace reindex` reproduces them exactly; `apply` must leave the view unchanged when old and
new are equal (a re-applied segment).

    class SlowLlmCalls:
        name = "slow_llm_calls"
        tables = ("slow_llm_calls",)
        ddl = "CREATE TABLE IF NOT EXISTS slow_llm_calls (trace_id TEXT, span_id TEXT, ms REAL)"

        def apply(self, conn, change):
            ...  # delete rows of change.touched_ids(), insert from change.new_spans

    Projector(data_dir, db_path, views=[*BUILTIN_VIEWS, SlowLlmCalls()])
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import polars as pl

from msgtrace.projections import apply_rollups as rollups
from msgtrace.projections import apply_traces as traces
from msgtrace.projections import sqlite_writer

# The temp table (trace_id) holding the touched trace ids during `View.apply`.
TOUCHED_TABLE = "_touched"


@dataclass(frozen=True)
class TraceChange:
    """The traces one batch touched, before and after it.

    Spans frames hold every stored span of those traces (columns `projector.STATE_COLUMNS`, with
    boolean `counts_usage`); summary frames hold one `traces` row per trace
    (`apply_traces.SUMMARY_SCHEMA`). A trace absent from `new_summary` has been deleted."""

    old_spans: pl.DataFrame
    new_spans: pl.DataFrame
    old_summary: pl.DataFrame
    new_summary: pl.DataFrame


class View(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> tuple[str, ...]:
        """Tables this view owns besides schema.sql's: dropped by reindex."""
        ...

    @property
    def ddl(self) -> str:
        """CREATE ... IF NOT EXISTS statements, run whenever the schema is created."""
        ...

    def apply(self, conn: sqlite3.Connection, change: TraceChange) -> None: ...


@dataclass(frozen=True)
class RollupView:
    """A roll-up kept by difference (see apply_rollups), and its coarser copies.

    `coarser` holds the same roll-up per longer buckets, finest first (e.g. per quarter hour,
    hour, then day): this view owns their tables and, after applying the batch's changes to
    `rollup`, recomputes each copy's touched buckets from the next finer copy's rows (a few rows
    per key). Each copy's rows equal a GROUP BY of `rollup`'s rows per bucket."""

    rollup: rollups.Rollup
    contributions: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame]
    coarser: tuple[rollups.Rollup, ...] = ()

    @property
    def name(self) -> str:
        return self.rollup.table

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(c.table for c in self.coarser)

    @property
    def ddl(self) -> str:
        return "\n".join(rollups.table_ddl(self.rollup.table, c.table) for c in self.coarser)

    def apply(self, conn: sqlite3.Connection, change: TraceChange) -> None:
        changed = rollups.signed_changes(
            self.contributions(change.old_spans, change.old_summary),
            self.contributions(change.new_spans, change.new_summary),
        )
        rollups.apply_changes(conn, self.rollup, changed)
        if changed.height == 0:
            return
        finer, buckets = self.rollup, changed.get_column("bucket_start").unique().to_list()
        for coarse in self.coarser:
            rollups.refresh_coarser(conn, finer, coarse, buckets)
            finer = coarse


@dataclass(frozen=True)
class TraceModelsView:
    """trace_models: one row per (model, trace) for the model filter and facet."""

    name: str = "trace_models"
    tables: tuple[str, ...] = ()
    ddl: str = ""

    def apply(self, conn: sqlite3.Connection, change: TraceChange) -> None:
        conn.execute(
            f"DELETE FROM trace_models WHERE trace_id IN (SELECT trace_id FROM {TOUCHED_TABLE})"
        )
        models = traces.trace_models(change.new_summary, change.new_spans)
        if models.height:
            sqlite_writer.insert_rows(
                conn,
                "trace_models",
                ("model", "start_time", "trace_id"),
                models.rows(),
                verb="INSERT OR IGNORE",
            )


BUILTIN_VIEWS: tuple[View, ...] = (
    TraceModelsView(),
    RollupView(
        rollups.USAGE,
        rollups.usage_contributions,
        (rollups.USAGE_15M, rollups.USAGE_HOUR, rollups.USAGE_6H, rollups.USAGE_DAY),
    ),
    RollupView(
        rollups.TRACES,
        lambda spans, summary: rollups.trace_contributions(summary),
        (rollups.TRACES_15M, rollups.TRACES_HOUR, rollups.TRACES_6H, rollups.TRACES_DAY),
    ),
    RollupView(
        rollups.HISTOGRAM,
        lambda spans, summary: rollups.histogram_contributions(summary),
        (rollups.HISTOGRAM_DAY,),
    ),
)
