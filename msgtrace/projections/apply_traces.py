"""Per-trace derivations over a trace's complete set of stored spans (Polars, no per-span Python).

Both functions are pure: given the same set of spans (in any row order) they return the same
rows, which is what makes the views independent of the order spans arrive in.

- `counts_usage`: a span's usage counts toward its trace only if no descendant span in the same
  trace carries usage (the LLM leaf wins over an agent/workflow span carrying aggregated usage).
- `summarise`: one `traces` row per trace (see schema.sql), plus the integer shadows the roll-ups
  need (`cost_pico`, `duration_ns`).
"""

from __future__ import annotations

import polars as pl

from msgtrace.core.llm import COST_SCALE
from msgtrace.projections.apply_llm import exact_div

USAGE_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
)

# Longest parent chain followed when marking ancestors; deeper (or cyclic) chains stop here.
MAX_DEPTH = 4096


def carries_usage() -> pl.Expr:
    return pl.any_horizontal([pl.col(c).is_not_null() for c in (*USAGE_COLUMNS, "cost")])


def cost_pico() -> pl.Expr:
    """Cost as an exact integer of 1e-12 currency units (null when the cost is unknown)."""
    return (pl.col("cost") * COST_SCALE).round(0).cast(pl.Int64)


def counts_usage(spans: pl.DataFrame) -> pl.Series:
    """Boolean column aligned with `spans` rows: carries usage and no descendant does."""
    carrying = spans.select(carries_usage()).to_series()
    if not carrying.any():
        return carrying.alias("counts_usage")
    keyed = spans.select("trace_id", "span_id", "parent_span_id")
    usage_traces = keyed.filter(carrying).select("trace_id").unique()
    edges = keyed.join(usage_traces, on="trace_id", how="semi").drop_nulls("parent_span_id")
    marked = pl.DataFrame(schema={"trace_id": pl.String, "span_id": pl.String})
    frontier = (
        keyed.filter(carrying)
        .select("trace_id", pl.col("parent_span_id").alias("span_id"))
        .drop_nulls()
        .unique()
    )
    for _ in range(MAX_DEPTH):
        frontier = frontier.join(marked, on=["trace_id", "span_id"], how="anti")
        if frontier.height == 0:
            break
        marked = pl.concat([marked, frontier])
        frontier = (
            frontier.join(edges, on=["trace_id", "span_id"], how="inner")
            .select("trace_id", pl.col("parent_span_id").alias("span_id"))
            .unique()
        )
    has_usage_below = (
        keyed.select("trace_id", "span_id")
        .with_columns(pl.lit(True).alias("_below"))
        .join(
            marked.with_columns(pl.lit(True).alias("_m")),
            on=["trace_id", "span_id"],
            how="left",
            maintain_order="left",
        )
        .get_column("_m")
        .fill_null(False)
    )
    return (carrying & ~has_usage_below).alias("counts_usage")


SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "start_time": pl.Int64(),
    "end_time": pl.Int64(),
    "duration_ms": pl.Float64(),
    "root_span_id": pl.String(),
    "root_span_name": pl.String(),
    "workflow_name": pl.String(),
    "service_name": pl.String(),
    "status": pl.String(),
    "span_count": pl.Int64(),
    "error_count": pl.Int64(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "cached_tokens": pl.Int64(),
    "reasoning_tokens": pl.Int64(),
    "total_tokens": pl.Int64(),
    "cost": pl.Float64(),
    "models": pl.String(),
    "session_id": pl.String(),
    "user_id": pl.String(),
    "has_root": pl.Int64(),
    "first_offset": pl.Int64(),
    "last_offset": pl.Int64(),
    "cost_pico": pl.Int64(),
    "duration_ns": pl.Int64(),
}


def summarise(spans: pl.DataFrame) -> pl.DataFrame:
    """One row per trace in `spans` (which must hold every stored span of those traces and a
    boolean `counts_usage` column). Columns: SUMMARY_SCHEMA."""
    if spans.height == 0:
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    counting = pl.col("counts_usage")
    is_root = pl.col("parent_span_id").is_null()
    ordered = spans.sort(["trace_id", "start_time", "span_id"])
    agg = ordered.group_by("trace_id").agg(
        pl.col("start_time").min(),
        pl.col("end_time").max(),
        pl.col("span_id").filter(is_root).first().alias("root_span_id"),
        pl.col("name").filter(is_root).first().alias("root_span_name"),
        pl.col("workflow_name").filter(is_root).first().alias("_root_workflow"),
        pl.col("service_name").filter(is_root).first().alias("_root_service"),
        pl.col("session_id").filter(is_root).first().alias("_root_session"),
        pl.col("user_id").filter(is_root).first().alias("_root_user"),
        pl.col("workflow_name").drop_nulls().first().alias("_any_workflow"),
        pl.col("service_name").drop_nulls().first().alias("_any_service"),
        pl.col("session_id").drop_nulls().first().alias("_any_session"),
        pl.col("user_id").drop_nulls().first().alias("_any_user"),
        is_root.any().cast(pl.Int64).alias("has_root"),
        pl.len().cast(pl.Int64).alias("span_count"),
        (pl.col("status_code") == 2).sum().cast(pl.Int64).alias("error_count"),
        *[pl.col(c).filter(counting).sum().cast(pl.Int64).alias(c) for c in USAGE_COLUMNS],
        cost_pico().filter(counting).sum().cast(pl.Int64).alias("cost_pico"),
        (counting & pl.col("cost").is_not_null()).any().alias("_cost_known"),
        pl.col("model").drop_nulls().unique().sort().alias("_models"),
        pl.col("log_offset").min().alias("first_offset"),
        pl.col("log_offset").max().alias("last_offset"),
    )
    has_root = pl.col("has_root") == 1
    return agg.select(
        "trace_id",
        "start_time",
        "end_time",
        exact_div(pl.col("end_time") - pl.col("start_time"), 1_000_000).alias("duration_ms"),
        "root_span_id",
        "root_span_name",
        pl.when(has_root)
        .then(pl.coalesce("_root_workflow", "root_span_name"))
        .otherwise(pl.col("_any_workflow"))
        .alias("workflow_name"),
        pl.coalesce("_root_service", "_any_service").alias("service_name"),
        pl.when(pl.col("error_count") > 0)
        .then(pl.lit("error"))
        .when(has_root)
        .then(pl.lit("ok"))
        .otherwise(pl.lit("unset"))
        .alias("status"),
        "span_count",
        "error_count",
        *USAGE_COLUMNS,
        pl.when(pl.col("_cost_known"))
        .then(exact_div(pl.col("cost_pico"), COST_SCALE))
        .alias("cost"),
        pl.struct(pl.col("_models").alias("m"))
        .struct.json_encode()
        .str.slice(5)
        .str.strip_suffix("}")
        .alias("models"),
        pl.coalesce("_root_session", "_any_session").alias("session_id"),
        pl.coalesce("_root_user", "_any_user").alias("user_id"),
        "has_root",
        "first_offset",
        "last_offset",
        "cost_pico",
        (pl.col("end_time") - pl.col("start_time")).alias("duration_ns"),
    ).cast(SUMMARY_SCHEMA)  # type: ignore[arg-type]


def trace_models(summary: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """trace_models rows (model, start_time, trace_id) for the traces of `summary`."""
    return (
        spans.select("trace_id", "model")
        .drop_nulls()
        .unique()
        .join(summary.select("trace_id", "start_time"), on="trace_id")
        .select("model", "start_time", "trace_id")
    )
