"""Querying traces from Python: the async `SQLiteTraceStorage` API over msgtrace's views, and
Polars over the raw span log (the Parquet segments), both read straight from the data dir.

Run another example first (or `msgtrace demo`) so there is something to query:

    python examples/agent_tracing.py --data-dir ./msgtrace-data
    python examples/query_traces.py --data-dir ./msgtrace-data
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
from _common import parse_args

from msgtrace.backend.storage import SQLiteTraceStorage
from msgtrace.core.models import SpanNode, TraceQueryParams
from msgtrace.segments import scan_spans


def print_tree(nodes: list[SpanNode], depth: int = 0) -> None:
    for node in nodes:
        print(f"{'  ' * depth}- {node.name} ({node.duration_ms:.1f} ms)")
        print_tree(node.children, depth + 1)


async def analyze_traces(data_dir: Path) -> None:
    storage = SQLiteTraceStorage(data_dir / "msgtrace.db")

    recent = await storage.list_traces(TraceQueryParams(limit=10))
    print(f"recent traces: {len(recent)}")
    for summary in recent:
        print(f"  {summary.workflow_name}: {summary.duration_ms:.2f}ms, "
              f"{summary.span_count} spans, {summary.total_tokens} tokens")

    slow = await storage.list_traces(TraceQueryParams(min_duration_ms=1000, limit=10))
    print(f"slow traces (over 1 s): {len(slow)}")

    errors = await storage.list_traces(TraceQueryParams(has_errors=True, limit=10))
    print(f"error traces: {len(errors)}")

    if recent:
        trace = await storage.get_trace(recent[0].trace_id)
        assert trace is not None
        print(f"span tree of {trace.trace_id}:")
        print_tree(trace.build_span_tree())

    await storage.close()


def analyze_segments(data_dir: Path) -> None:
    """Token use per model over every stored span, with Polars."""
    spans = scan_spans(data_dir).collect()
    print(f"spans in the log: {spans.height}")
    attrs = pl.col("attributes")
    llm = spans.select(
        attrs.str.json_path_match("$['gen_ai.request.model']").alias("model"),
        attrs.str.json_path_match("$['gen_ai.usage.total_tokens']").cast(pl.Int64).alias("tokens"),
    ).filter(pl.col("model").is_not_null())
    usage = llm.group_by("model").agg(pl.len().alias("calls"), pl.col("tokens").sum())
    for row in usage.sort("model").iter_rows(named=True):
        print(f"  model {row['model']}: {row['calls']} calls, {row['tokens']} tokens")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    asyncio.run(analyze_traces(Path(args.data_dir)))
    analyze_segments(Path(args.data_dir))
