"""Columnar LLM normalisation of a batch of span rows (Polars), driven by msgtrace.core.llm.

`normalise_frame(spans, prices)` adds the normalised columns (model, provider, span_type,
operation, *_tokens, cost, cost_source, workflow_name, session_id, user_id) to segment rows.
It applies exactly the precedence and cost rules of `msgtrace.core.llm.normalise` (tested for
agreement), but over whole columns: one JSON decode of the keys we know, no per-span Python.
"""

from __future__ import annotations

import logging

import orjson
import polars as pl

from msgtrace.core import llm

log = logging.getLogger(__name__)

_KEY_STRUCT = pl.Struct({k: pl.String for k in llm.ALL_KEYS})
_PREFILTER = "|".join(
    sorted({k.split(".", 1)[0].replace(".", r"\.") + r"\." for k in llm.ALL_KEYS})
)

LLM_COLUMNS: dict[str, pl.DataType] = {
    "span_type": pl.String(),
    "model": pl.String(),
    "provider": pl.String(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "cached_tokens": pl.Int64(),
    "reasoning_tokens": pl.Int64(),
    "total_tokens": pl.Int64(),
    "cost": pl.Float64(),
    "cost_source": pl.String(),
    "operation": pl.String(),
    "workflow_name": pl.String(),
    "session_id": pl.String(),
    "user_id": pl.String(),
}


def _decode_keys(attributes: pl.Series) -> pl.DataFrame:
    """One String column per known key (numbers and bools as text, anything else null)."""
    try:
        return attributes.str.json_decode(_KEY_STRUCT).struct.unnest()
    except pl.exceptions.PolarsError:
        # A known key holds an object or array (e.g. typed-JSON bytes): decode row by row.
        log.debug("columnar attribute decode failed; decoding %d rows one by one", len(attributes))
        rows = []
        for text in attributes.to_list():
            obj = orjson.loads(text) if text else {}
            rows.append({k: _scalar_text(obj.get(k)) for k in llm.ALL_KEYS})
        return pl.DataFrame(rows, schema=dict.fromkeys(llm.ALL_KEYS, pl.String))


def _scalar_text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _first(field: str) -> pl.Expr:
    return pl.coalesce([pl.col(k) for k in llm.KEY_FAMILIES[field]])


def _number(field: str, dtype: pl.DataType) -> pl.Expr:
    values = [
        pl.col(k).cast(pl.Float64, strict=False).pipe(lambda e: pl.when(e.is_finite()).then(e))
        for k in llm.KEY_FAMILIES[field]
    ]
    return pl.coalesce(values).cast(dtype, strict=False)


def normalise_frame(spans: pl.DataFrame, prices: llm.PriceTable) -> tuple[pl.DataFrame, set[str]]:
    """`spans` plus the LLM columns; also the models that carried tokens but have no price."""
    if spans.height == 0:
        return spans.with_columns(
            [pl.lit(None, dtype=t).alias(n) for n, t in LLM_COLUMNS.items()]
        ), set()
    relevant = spans.get_column("attributes").str.contains(_PREFILTER)
    idx = pl.Series("__i", range(spans.height), dtype=pl.UInt32)
    sub_idx = idx.filter(relevant)
    keys = _decode_keys(spans.get_column("attributes").filter(relevant))
    fields = keys.select(
        _first("model").alias("model"),
        _first("provider").alias("provider"),
        *[_number(f, pl.Int64()).alias(f) for f in llm.INT_FIELDS],
        *[_number(f, pl.Float64()).alias(f) for f in llm.FLOAT_FIELDS],
        _first("span_kind").str.to_lowercase().alias("_kind"),
        _first("operation").alias("operation"),
        _first("msgflux_span_type").alias("_mtype"),
        _first("module_name").alias("_module"),
        _first("workflow").alias("_workflow"),
        _first("session_id").alias("session_id"),
        _first("user_id").alias("user_id"),
    )
    has_io = pl.col("input_tokens").is_not_null() | pl.col("output_tokens").is_not_null()
    fields = fields.with_columns(
        pl.coalesce(
            pl.col("total_tokens"),
            pl.when(has_io).then(
                pl.col("input_tokens").fill_null(0) + pl.col("output_tokens").fill_null(0)
            ),
        ).alias("total_tokens"),
        pl.coalesce(
            pl.col("cost_total"),
            pl.when(pl.col("cost_input").is_not_null() | pl.col("cost_output").is_not_null()).then(
                pl.col("cost_input").fill_null(0.0) + pl.col("cost_output").fill_null(0.0)
            ),
        ).alias("_span_cost"),
        pl.coalesce(
            pl.col("_kind"),
            pl.col("operation").replace_strict(
                llm.OPERATION_SPAN_TYPES, default=None, return_dtype=pl.String
            ),
            pl.col("_mtype"),
            pl.when(pl.col("model").is_not_null()).then(pl.lit("llm")),
        ).alias("span_type"),
        pl.coalesce(
            pl.col("_workflow"), pl.when(pl.col("_mtype") == "flow").then(pl.col("_module"))
        ).alias("workflow_name"),
    )
    fields, unpriced = _apply_prices(fields, prices, has_io)
    fields = fields.select(list(LLM_COLUMNS))
    if fields.height != spans.height:
        # scatter the decoded rows back to their positions; only the narrow columns move
        fields = (
            idx.to_frame()
            .join(fields.with_columns(sub_idx.alias("__i")), on="__i", how="left")
            .sort("__i")
            .drop("__i")
        )
    return spans.hstack(fields), unpriced


def _apply_prices(
    fields: pl.DataFrame, prices: llm.PriceTable, has_io: pl.Expr
) -> tuple[pl.DataFrame, set[str]]:
    needs_price = pl.col("_span_cost").is_null() & has_io
    models = fields.filter(needs_price & pl.col("model").is_not_null()).get_column("model")
    table: dict[str, list[object]] = {"model": [], "_pi": [], "_po": [], "_pc": [], "_pr": []}
    unpriced: set[str] = set()
    for model in models.unique().to_list():
        price = prices.lookup(model)
        if price is None:
            unpriced.add(model)
            continue
        table["model"].append(model)
        table["_pi"].append(price.input)
        table["_po"].append(price.output)
        table["_pc"].append(price.input if price.cached_input is None else price.cached_input)
        table["_pr"].append(price.output if price.reasoning is None else price.reasoning)
    price_frame = pl.DataFrame(
        table,
        schema={
            "model": pl.String,
            "_pi": pl.Float64,
            "_po": pl.Float64,
            "_pc": pl.Float64,
            "_pr": pl.Float64,
        },
    )
    fields = fields.join(price_frame, on="model", how="left", maintain_order="left")
    inp = pl.col("input_tokens").fill_null(0)
    out = pl.col("output_tokens").fill_null(0)
    cached = pl.min_horizontal(pl.col("cached_tokens").fill_null(0), inp)
    reasoning = pl.min_horizontal(pl.col("reasoning_tokens").fill_null(0), out)
    computed = exact_div(
        (inp - cached).cast(pl.Float64) * pl.col("_pi")
        + cached.cast(pl.Float64) * pl.col("_pc")
        + (out - reasoning).cast(pl.Float64) * pl.col("_po")
        + reasoning.cast(pl.Float64) * pl.col("_pr"),
        1_000_000,
    )
    fields = fields.with_columns(
        pl.when(pl.col("_span_cost").is_not_null())
        .then(pl.col("_span_cost"))
        .when(needs_price & pl.col("_pi").is_not_null())
        .then(computed)
        .alias("cost"),
        pl.when(pl.col("_span_cost").is_not_null())
        .then(pl.lit("span"))
        .when(needs_price & pl.col("_pi").is_not_null())
        .then(pl.lit("computed"))
        .alias("cost_source"),
    )
    return fields, unpriced


def exact_div(expr: pl.Expr, divisor: float) -> pl.Expr:
    """`expr / divisor` rounded like Python's `/`, element by element.

    Polars turns division by a constant into multiplication by its reciprocal on multi-row
    columns, which can differ in the last bit; a view must not depend on how many rows a batch
    had, so divisions by constants go through numpy's true division instead."""

    def divide(s: pl.Series) -> pl.Series:
        values = s.cast(pl.Float64).to_numpy() / divisor
        return pl.Series(s.name, values, dtype=pl.Float64, nan_to_null=True)

    return expr.map_batches(divide, return_dtype=pl.Float64)
