"""Roll-ups maintained by difference: subtract a touched trace's previous contribution, add its new one.

Every additive column is kept as an exact integer (costs in 1e-12 units, durations in ns; the REAL
columns are derived from them), so any apply order gives identical rows, and rows whose count
reaches zero are deleted. A maximum cannot be subtracted: when a removed contribution held a key's
maximum, the maximum is recomputed for that key from the traces/spans tables. A coarser copy
(`coarser`: per quarter hour, hour, six hours or day) is not kept by difference: its touched
buckets are recomputed from the next finer copy's rows (`refresh_coarser`), a few rows per key.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace

import polars as pl

from msgtrace.projections.apply_llm import exact_div
from msgtrace.projections.apply_traces import cost_pico
from msgtrace.projections.sqlite_writer import schema_sql

MINUTE_NS = 60_000_000_000
QUARTER_NS = 900_000_000_000
HOUR_NS = 3_600_000_000_000
SIX_HOURS_NS = 21_600_000_000_000
DAY_NS = 86_400_000_000_000
_NO_MAX = -(2**62)


@dataclass(frozen=True)
class Rollup:
    table: str
    keys: tuple[str, ...]
    sums: tuple[str, ...]  # additive integer columns (the first one is the row's count)
    derived: tuple[tuple[str, str, float], ...]  # (REAL column, integer column, divisor)
    max_column: str | None  # integer max column, its REAL twin is derived the same way
    max_sql: str | None  # per-bucket query: params [lo, hi) ns; rows = other keys..., max
    bucket_ns: int


USAGE = Rollup(
    table="usage_rollup",
    keys=("bucket_start", "model", "workflow_name", "service_name"),
    sums=(
        "calls",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "reasoning_tokens",
        "total_tokens",
        "unpriced_calls",
        "errors",
        "cost_pico",
        "duration_ns_sum",
    ),
    derived=(("cost", "cost_pico", 1e12), ("duration_ms_sum", "duration_ns_sum", 1e6)),
    max_column="duration_ns_max",
    max_sql=(
        "SELECT coalesce(s.model, ''), coalesce(t.workflow_name, ''), coalesce(s.service_name, ''),"
        " max(s.end_time - s.start_time)"
        " FROM spans s JOIN traces t ON t.trace_id = s.trace_id"
        " WHERE s.counts_usage = 1 AND s.start_time >= ? AND s.start_time < ? GROUP BY 1, 2, 3"
    ),
    bucket_ns=MINUTE_NS,
)

TRACES = Rollup(
    table="trace_rollup",
    keys=("bucket_start", "workflow_name", "service_name"),
    sums=(
        "traces",
        "error_traces",
        "spans",
        "errors",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cost_pico",
        "duration_ns_sum",
    ),
    derived=(("cost", "cost_pico", 1e12), ("duration_ms_sum", "duration_ns_sum", 1e6)),
    max_column="duration_ns_max",
    max_sql=(
        "SELECT coalesce(workflow_name, ''), coalesce(service_name, ''), max(end_time - start_time)"
        " FROM traces WHERE start_time >= ? AND start_time < ? GROUP BY 1, 2"
    ),
    bucket_ns=MINUTE_NS,
)

HISTOGRAM = Rollup(
    table="duration_histogram",
    keys=("bucket_start", "bin"),
    sums=("traces",),
    derived=(),
    max_column=None,
    max_sql=None,
    bucket_ns=HOUR_NS,
)


def coarser(fine: Rollup, bucket_ns: int, table: str) -> Rollup:
    """`fine` per longer buckets (a multiple of its own), in `table`: same columns and keys, rows
    equal to a GROUP BY of `fine`'s rows per bucket (sums added, maximum taken). The projector
    recomputes a copy's touched buckets from `fine`'s rows (`refresh_coarser`), so `fine` must be
    updated first in the same transaction."""
    assert bucket_ns % fine.bucket_ns == 0
    return replace(fine, table=table, max_sql=None, bucket_ns=bucket_ns)


# Coarser copies, finest first: each one's maximum is recomputed from the one before it. Each
# tier serves the time series whose bucket it divides: the quarter hour ranges of about a day
# (auto bucket 15 or 30 minutes), six hours ranges of a month or two (auto bucket 6 or 12 hours).
USAGE_15M = coarser(USAGE, QUARTER_NS, "usage_rollup_15m")
USAGE_HOUR = coarser(USAGE_15M, HOUR_NS, "usage_rollup_hour")
USAGE_6H = coarser(USAGE_HOUR, SIX_HOURS_NS, "usage_rollup_6h")
USAGE_DAY = coarser(USAGE_6H, DAY_NS, "usage_rollup_day")
TRACES_15M = coarser(TRACES, QUARTER_NS, "trace_rollup_15m")
TRACES_HOUR = coarser(TRACES_15M, HOUR_NS, "trace_rollup_hour")
TRACES_6H = coarser(TRACES_HOUR, SIX_HOURS_NS, "trace_rollup_6h")
TRACES_DAY = coarser(TRACES_6H, DAY_NS, "trace_rollup_day")
HISTOGRAM_DAY = coarser(HISTOGRAM, DAY_NS, "duration_histogram_day")

ROLLUPS = (
    USAGE,
    TRACES,
    HISTOGRAM,
    USAGE_15M,
    USAGE_HOUR,
    USAGE_6H,
    USAGE_DAY,
    TRACES_15M,
    TRACES_HOUR,
    TRACES_6H,
    TRACES_DAY,
    HISTOGRAM_DAY,
)


def table_ddl(base_table: str, table: str) -> str:
    """schema.sql's CREATE TABLE of `base_table`, for `table` (a coarser copy: same columns)."""
    found = re.search(
        rf"CREATE TABLE IF NOT EXISTS {base_table} \(.*?\) WITHOUT ROWID;", schema_sql(), re.DOTALL
    )
    assert found is not None, base_table
    return found.group(0).replace(f" {base_table} (", f" {table} (", 1)


def fill_coarser(conn: sqlite3.Connection, fine: Rollup, coarse: Rollup) -> None:
    """Replace `coarse`'s rows by a GROUP BY of `fine`'s rows per `coarse` bucket.

    For stores written without the projector (benchmark and test builders), whose REAL columns
    may have no integer shadows: REAL sums are added as REALs, so on a projector's store they can
    differ from the projector's rows in the last bits. The projector never calls this."""
    step = coarse.bucket_ns // 1_000_000_000
    others = list(fine.keys[1:])
    reals = [real for real, _, _ in fine.derived]
    maxes = [fine.max_column, "duration_ms_max"] if fine.max_column else []
    columns = ["bucket_start", *others, *fine.sums, *reals, *maxes]
    select = [
        f"bucket_start / {step} * {step}",
        *others,
        *[f"sum({c})" for c in [*fine.sums, *reals]],
        *[f"max({c})" for c in maxes],
    ]
    group = ", ".join(str(i + 1) for i in range(1 + len(others)))
    conn.execute(f"DELETE FROM {coarse.table}")  # names are code constants
    conn.execute(
        f"INSERT INTO {coarse.table} ({', '.join(columns)}) SELECT {', '.join(select)}"
        f" FROM {fine.table} GROUP BY {group}"
    )


def refresh_coarser(
    conn: sqlite3.Connection, fine: Rollup, coarse: Rollup, buckets: Iterable[int]
) -> None:
    """Recompute `coarse`'s rows of the buckets holding `buckets` (fine bucket starts, seconds)
    as a GROUP BY of `fine`'s rows, which the caller has already updated in this transaction.

    Sums are added as integers and each REAL column is derived from its integer shadow exactly as
    `apply_changes` derives it, so the rows equal what applying the same contributions to
    `coarse` directly would give, in one statement per run of adjacent buckets instead of a
    difference pass per copy."""
    step = coarse.bucket_ns // 1_000_000_000
    others = list(fine.keys[1:])
    columns = ["bucket_start", *others, *fine.sums]
    select = [f"bucket_start / {step} * {step}", *others, *[f"sum({c})" for c in fine.sums]]
    for real, integer, divisor in fine.derived:
        columns.append(real)
        select.append(f"sum({integer}) / {divisor!r}")
    if fine.max_column is not None:
        columns += [fine.max_column, "duration_ms_max"]
        select += [f"max({fine.max_column})", f"max({fine.max_column}) / 1e6"]
    group = ", ".join(str(i + 1) for i in range(1 + len(others)))
    insert = (  # names are code constants
        f"INSERT INTO {coarse.table} ({', '.join(columns)}) SELECT {', '.join(select)}"
        f" FROM {fine.table} WHERE bucket_start >= ? AND bucket_start < ? GROUP BY {group}"
    )
    delete = f"DELETE FROM {coarse.table} WHERE bucket_start >= ? AND bucket_start < ?"
    starts = sorted({b // step * step for b in buckets})
    runs: list[list[int]] = []
    for start in starts:  # adjacent buckets in one range
        if runs and runs[-1][1] == start:
            runs[-1][1] = start + step
        else:
            runs.append([start, start + step])
    for lo, hi in runs:
        conn.execute(delete, (lo, hi))
        conn.execute(insert, (lo, hi))


def _bucket(column: str, bucket_ns: int) -> pl.Expr:
    return (pl.col(column).floordiv(bucket_ns) * (bucket_ns // 1_000_000_000)).alias("bucket_start")


def usage_contributions(spans: pl.DataFrame, summary: pl.DataFrame) -> pl.DataFrame:
    """One row per span counting usage, keyed like usage_rollup (per minute)."""
    counted = spans.filter(pl.col("counts_usage")).join(
        summary.select("trace_id", pl.col("workflow_name").alias("_trace_workflow")),
        on="trace_id",
    )
    return counted.select(
        "trace_id",
        "span_id",
        _bucket("start_time", MINUTE_NS),
        pl.col("model").fill_null(""),
        pl.col("_trace_workflow").fill_null("").alias("workflow_name"),
        pl.col("service_name").fill_null(""),
        pl.lit(1, dtype=pl.Int64).alias("calls"),
        *[
            pl.col(c).fill_null(0).cast(pl.Int64)
            for c in (
                "input_tokens",
                "output_tokens",
                "cached_tokens",
                "reasoning_tokens",
                "total_tokens",
            )
        ],
        pl.col("cost").is_null().cast(pl.Int64).alias("unpriced_calls"),
        (pl.col("status_code") == 2).cast(pl.Int64).alias("errors"),
        cost_pico().fill_null(0).alias("cost_pico"),
        (pl.col("end_time") - pl.col("start_time")).alias("duration_ns_sum"),
    )


def trace_contributions(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.select(
        "trace_id",
        _bucket("start_time", MINUTE_NS),
        pl.col("workflow_name").fill_null(""),
        pl.col("service_name").fill_null(""),
        pl.lit(1, dtype=pl.Int64).alias("traces"),
        (pl.col("error_count") > 0).cast(pl.Int64).alias("error_traces"),
        pl.col("span_count").alias("spans"),
        pl.col("error_count").alias("errors"),
        "input_tokens",
        "output_tokens",
        "total_tokens",
        pl.col("cost_pico").fill_null(0),
        pl.col("duration_ns").alias("duration_ns_sum"),
    )


def histogram_contributions(summary: pl.DataFrame) -> pl.DataFrame:
    ms = exact_div(pl.col("duration_ns"), 1_000_000)
    return summary.select(
        "trace_id",
        _bucket("start_time", HOUR_NS),
        pl.when(ms < 1).then(0).otherwise((ms.log(2) * 4).floor()).cast(pl.Int64).alias("bin"),
        pl.lit(1, dtype=pl.Int64).alias("traces"),
    )


def apply_delta(
    conn: sqlite3.Connection, rollup: Rollup, old: pl.DataFrame, new: pl.DataFrame
) -> None:
    """Replace contributions `old` by `new` in `rollup.table` (inside the caller's transaction)."""
    apply_changes(conn, rollup, signed_changes(old, new))


def signed_changes(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """The contributions that differ between `old` and `new`, with `_sign` -1 (removed) or +1
    (added): identical old and new contributions cancel out before touching SQLite."""
    identity = [c for c in old.columns]
    signed = pl.concat(
        [
            old.with_columns(pl.lit(-1, dtype=pl.Int64).alias("_sign")),
            new.select(identity).with_columns(pl.lit(1, dtype=pl.Int64).alias("_sign")),
        ]
    )
    return signed.group_by(identity).agg(pl.col("_sign").sum()).filter(pl.col("_sign") != 0)


def apply_changes(conn: sqlite3.Connection, rollup: Rollup, changed: pl.DataFrame) -> None:
    """Apply `signed_changes` to `rollup.table`."""
    if changed.height == 0:
        return
    keys = list(rollup.keys)
    dur = "duration_ns_sum"
    aggs = [(pl.col(c) * pl.col("_sign")).sum().alias(c) for c in rollup.sums]
    if rollup.max_column is not None:
        aggs.append(
            pl.col(dur)
            .filter(pl.col("_sign") > 0)
            .max()
            .fill_null(_NO_MAX)
            .alias(rollup.max_column)
        )
        aggs.append(pl.col(dur).filter(pl.col("_sign") < 0).max().alias("_removed_max"))
    delta = changed.group_by(keys).agg(aggs)

    recompute: list[tuple[object, ...]] = []
    if rollup.max_column is not None:
        removed = delta.filter(pl.col("_removed_max").is_not_null())
        where = " AND ".join(f"{k} = ?" for k in keys)
        # A removed contribution below the key's maximum, or one replaced by a contribution at
        # least as large, leaves max(current, added) correct; only the rest need the source.
        for row in removed.select(*keys, "_removed_max", rollup.max_column).iter_rows():
            key, removed_max, added_max = row[:-2], row[-2], row[-1]
            current = conn.execute(
                f"SELECT {rollup.max_column} FROM {rollup.table} WHERE {where}", key
            ).fetchone()
            if current is not None and removed_max >= current[0] and added_max < current[0]:
                recompute.append(key)
        delta = delta.drop("_removed_max")

    columns = [*keys, *rollup.sums]
    values = [*keys, *rollup.sums]
    updates = [f"{c} = {c} + excluded.{c}" for c in rollup.sums]
    for real, integer, divisor in rollup.derived:
        columns.append(real)
        values.append(f"{integer} / {divisor!r}")
        updates.append(f"{real} = ({integer} + excluded.{integer}) / {divisor!r}")
    if rollup.max_column is not None:
        columns += [rollup.max_column, "duration_ms_max"]
        values += [rollup.max_column, f"{rollup.max_column} / 1e6"]
        updates.append(
            f"{rollup.max_column} = max({rollup.max_column}, excluded.{rollup.max_column})"
        )
        updates.append(
            f"duration_ms_max = max({rollup.max_column}, excluded.{rollup.max_column}) / 1e6"
        )
    params = ", ".join(
        f"? AS {c}"
        for c in [*keys, *rollup.sums, *([rollup.max_column] if rollup.max_column else [])]
    )
    ordered = delta.select(*keys, *rollup.sums, *([rollup.max_column] if rollup.max_column else []))
    sql = (
        f"INSERT INTO {rollup.table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM (SELECT {params}) WHERE true "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(updates)}"
    )
    conn.executemany(sql, ordered.rows())
    count = rollup.sums[0]
    # only a key whose count went down can have reached zero (no scan of the whole table)
    emptied = delta.filter(pl.col(count) < 0).select(keys)
    if emptied.height:
        where = " AND ".join(f"{k} = ?" for k in keys)
        conn.executemany(
            f"DELETE FROM {rollup.table} WHERE {where} AND {count} = 0", emptied.rows()
        )
    if rollup.max_sql is not None and rollup.max_column is not None:
        _recompute_max(conn, rollup, recompute)


def _recompute_max(
    conn: sqlite3.Connection, rollup: Rollup, keys: list[tuple[object, ...]]
) -> None:
    """Set the maximum of `keys` from the source tables: one grouped query per time bucket."""
    assert rollup.max_sql is not None and rollup.max_column is not None
    where = " AND ".join(f"{k} = ?" for k in rollup.keys)
    step = rollup.bucket_ns // 1_000_000_000
    by_bucket: dict[int, set[tuple[object, ...]]] = {}
    for key in keys:
        by_bucket.setdefault(int(key[0]), set()).add(tuple(key[1:]))  # type: ignore[call-overload]
    for bucket, wanted in sorted(by_bucket.items()):
        lo, hi = bucket * 1_000_000_000, (bucket + step) * 1_000_000_000
        for *rest, value in conn.execute(rollup.max_sql, (lo, hi)):
            if tuple(rest) not in wanted or value is None:
                continue  # a key whose row was deleted (count reached zero) is absent here
            conn.execute(
                f"UPDATE {rollup.table} SET {rollup.max_column} = ?, duration_ms_max = ? / 1e6 "
                f"WHERE {where}",
                (value, value, bucket, *rest),
            )
