"""Native OTLP decoder: `otlp_native.decode_table` vs `decode_rows` + `pa.Table.from_pydict`, and the
seal pipeline built on each.

- decode: every request of the corpus decoded once into an Arrow table with the segment schema
  (native: `decode_table`; Python: `decode_rows` then `pa.Table.from_pydict`).
- seal: the whole corpus as one journal's worth of requests: decode every request, build one
  table (native: `pa.concat_tables`; Python: columns extended like segment_writer), `sort_spans`,
  then `write_parquet_atomic` (zstd, fsync) into a temporary directory, with Arrow's thread
  pools limited to one thread.

Rates are spans per CPU second of this process (`time.process_time`), medians over repeated runs.
Corpus: benchmarks.corpus, 512 spans per request, `realistic` (with targets) and `small`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from benchmarks.common import Figure, Result, bench_arguments, command_line, emit, log, repeats
from benchmarks.corpus import Variant, generate_requests
from msgtrace.core import otlp_native, schema
from msgtrace.core.otlp import ContentType, decode_rows
from msgtrace.segments.segment_writer import file_metadata, sort_spans, write_parquet_atomic

SPANS_PER_REQUEST = 512
DECODE_TARGET = 100_000.0
SEAL_TARGET = 70_000.0


def native_table(body: bytes, offset: int) -> pa.Table:
    got = otlp_native.decode_table(body, offset=offset, received_time_unix_nano=1)
    if got is None:
        raise RuntimeError("the native decoder declined a corpus request")
    return got[0]


def python_table(body: bytes, offset: int) -> pa.Table:
    rows = decode_rows(body, ContentType.PROTOBUF, offset=offset, received_time_unix_nano=1)
    return pa.Table.from_pydict(rows.columns, schema=schema.span_schema())


def python_journal_table(bodies: list[bytes]) -> pa.Table:
    """What segment_writer does today: extend Python lists per column, then one pa.array each."""
    columns: dict[str, list[Any]] = {name: [] for name in schema.SPAN_COLUMN_NAMES}
    for i, body in enumerate(bodies):
        rows = decode_rows(body, ContentType.PROTOBUF, offset=i, received_time_unix_nano=1)
        for name, values in rows.columns.items():
            columns[name].extend(values)
    arrow_schema = schema.span_schema()
    arrays = [pa.array(columns[f.name], type=f.type) for f in arrow_schema]
    return pa.Table.from_arrays(arrays, schema=arrow_schema)


def native_journal_table(bodies: list[bytes]) -> pa.Table:
    return pa.concat_tables([native_table(b, i) for i, b in enumerate(bodies)]).combine_chunks()


def decode_rate(fn: Callable[[bytes, int], pa.Table], bodies: list[bytes]) -> float:
    start = time.process_time()
    spans = sum(fn(b, i).num_rows for i, b in enumerate(bodies))
    return spans / (time.process_time() - start)


def seal_rate(build: Callable[[list[bytes]], pa.Table], bodies: list[bytes], out: Path) -> float:
    start = time.process_time()
    table = sort_spans(build(bodies))
    write_parquet_atomic(
        [table], schema.span_schema(), out / "segment.parquet",
        file_metadata("spans", 0, len(bodies) - 1),
    )
    return table.num_rows / (time.process_time() - start)


def measure_variant(
    result: Result, variant: str, bodies: list[bytes], out: Path, n: int, cmd: str
) -> list[str]:
    """Add the decode and seal figures of one corpus variant; markdown rows comparing them."""
    realistic = variant == "realistic"
    plan: list[tuple[str, Callable[[], float], Callable[[], float], float]] = [
        ("decode", lambda: decode_rate(native_table, bodies),
         lambda: decode_rate(python_table, bodies), DECODE_TARGET),
        ("seal", lambda: seal_rate(native_journal_table, bodies, out),
         lambda: seal_rate(python_journal_table, bodies, out), SEAL_TARGET),
    ]
    rows = []
    for step, native_fn, python_fn, target in plan:
        native_fn()  # warm up
        medians = []
        for label, fn in (("native", native_fn), ("Python", python_fn)):
            runs = []
            for _ in range(n):
                runs.append(fn())
                log(f"{variant} {step} {label}: {runs[-1]:,.0f} spans/s")
            is_target = realistic and label == "native"
            fig = result.add(Figure(
                f"{step} {label} ({variant})", "spans/s", runs, cmd,
                target if is_target else None, ">=" if is_target else None,
            ))
            medians.append(fig.median)
        rows.append(
            f"| {variant} | {step} | {medians[0]:,.0f} | {medians[1]:,.0f} "
            f"| {medians[0] / medians[1]:.1f}x |"
        )
    return rows


def main() -> int:
    parser = bench_arguments(__doc__ or "")
    parser.add_argument("--spans", type=int, default=None)
    args = parser.parse_args()
    if not otlp_native.AVAILABLE:
        log("the C extension msgtrace.core._otlp_native is not built (pip install -e .)")
        return 1
    n_spans = args.spans or (20_000 if args.quick else 50_000)
    n = repeats(args)
    cmd = command_line("bench_native", args)
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    result = Result("native", "Native OTLP decoder and seal pipeline (one core)")
    rows_md = ["| corpus | step | native spans/s | Python spans/s | speed-up |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="bench-native-") as tmp:
        variant: Variant
        for variant in ("realistic", "small"):
            log(f"generating {n_spans} {variant} spans")
            bodies = generate_requests(n_spans, spans_per_request=SPANS_PER_REQUEST,
                                       variant=variant, seed=0)
            rows_md += measure_variant(result, variant, bodies, Path(tmp), n, cmd)
            mb = sum(map(len, bodies)) / 1e6
            result.notes.append(
                f"{variant}: {n_spans} spans, {SPANS_PER_REQUEST} per request, {mb:.1f} MB "
                f"protobuf ({mb * 1e6 / n_spans:,.0f} B/span)."
            )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    result.notes.append(
        "The native seal combines the per-request tables into one chunk before sorting "
        "(`pa.concat_tables(...).combine_chunks()`): sorting a table of many chunks costs "
        "several times more."
    )
    result.notes.append(f"Spans per CPU second of this process (load average: {load}).")
    result.markdown_extra = "\n".join(rows_md)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
