"""Projection benchmark: how fast the projector turns the log into the SQLite views.

Figures (medians over repeated runs, each into a fresh database):
- reindex rate: `Projector.reindex()` over a log of realistic agent traces (benchmarks/corpus.py:
  LLM spans with prompt/completion text, tool spans, nested modules), in spans/s.
- reindex rate of the same traces without prompt/completion text (the `small` corpus variant).
- live apply rate: the log applied the way the worker sees it, one sealed segment (about one
  second of ingest) at a time, in spans/s.

The log is built once per corpus (decoded with the real codec, written as segments) and cached
under benchmarks/.work/.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import WORK_DIR, Figure, Result, bench_arguments, command_line, emit, log
from benchmarks.corpus import load_corpus

REQUESTS_PER_SEGMENT = 16  # 8,192 spans: roughly what one second of busy ingest seals


def build_log(n_spans: int, variant: str) -> Path:
    """A data dir with segments of the corpus (cached)."""
    import pyarrow as pa

    from msgtrace.core import schema
    from msgtrace.core.otlp import ContentType, decode_rows
    from msgtrace.segments.naming import SEGMENT_SUFFIX, SEGMENTS_DIR, range_name
    from msgtrace.segments.segment_writer import file_metadata, sort_spans, write_parquet_atomic

    data_dir = WORK_DIR / f"projection-log-{variant}-{n_spans}"
    done = data_dir / "complete"
    if done.exists():
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    (data_dir / SEGMENTS_DIR).mkdir(parents=True)
    corpus = load_corpus(n_spans, variant=variant)  # type: ignore[arg-type]
    arrow_schema = schema.span_schema()
    for first in range(1, len(corpus.requests) + 1, REQUESTS_PER_SEGMENT):
        last = min(first + REQUESTS_PER_SEGMENT - 1, len(corpus.requests))
        tables = []
        for offset in range(first, last + 1):
            rows = decode_rows(
                corpus.requests[offset - 1],
                ContentType.PROTOBUF,
                offset=offset,
                received_time_unix_nano=offset,
            )
            tables.append(pa.Table.from_pydict(rows.columns, schema=arrow_schema))
        table = sort_spans(pa.concat_tables(tables))
        write_parquet_atomic(
            [table],
            arrow_schema,
            data_dir / SEGMENTS_DIR / range_name(first, last, SEGMENT_SUFFIX),
            file_metadata("spans", first, last),
        )
    done.write_text("ok")
    return data_dir


def reindex_once(data_dir: Path, n_spans: int) -> float:
    from msgtrace.projections.projector import Projector

    with (
        tempfile.TemporaryDirectory(dir=WORK_DIR) as tmp,
        Projector(data_dir, Path(tmp) / "msgtrace.db") as projector,
    ):
        t0 = time.perf_counter()
        applied = projector.reindex()
        elapsed = time.perf_counter() - t0
    assert applied == n_spans, (applied, n_spans)
    return n_spans / elapsed


def live_once(data_dir: Path, n_spans: int) -> float:
    """Segments appear one by one (hard links into a fresh dir); apply after each."""
    from msgtrace.projections.projector import Projector
    from msgtrace.segments.naming import SEGMENTS_DIR, live_segments

    with tempfile.TemporaryDirectory(dir=WORK_DIR) as tmp:
        live = Path(tmp) / "data"
        (live / SEGMENTS_DIR).mkdir(parents=True)
        elapsed = 0.0
        with Projector(live, Path(tmp) / "msgtrace.db") as projector:
            for f in live_segments(data_dir):
                (live / SEGMENTS_DIR / f.path.name).hardlink_to(f.path)
                t0 = time.perf_counter()
                projector.apply_pending()
                elapsed += time.perf_counter() - t0
    return n_spans / elapsed


def main() -> int:
    parser = bench_arguments("Projector: reindex and live apply rates on the realistic corpus")
    parser.add_argument("--spans", type=int, default=None)
    parser.add_argument("--variant", default="realistic", choices=["realistic", "small"])
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile")
    args = parser.parse_args()
    n = args.spans or (20_000 if args.quick else 100_000)
    runs = args.repeats or (3 if args.quick else 5)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    log(f"building the log: {n} {args.variant} spans")
    data_dir = build_log(n, args.variant)
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
        reindex_once(data_dir, n)
        profiler.stop()
        log(profiler.output_text(unicode=False, color=False))
        return 0
    result = Result("projection", "Projection (segments -> SQLite views)")
    cmd = command_line("bench_projection", args)
    reindex = []
    for i in range(runs):
        reindex.append(reindex_once(data_dir, n))
        log(f"reindex run {i + 1}/{runs}: {reindex[-1]:,.0f} spans/s")
    result.add(
        Figure(
            "reindex rate",
            "spans/s",
            reindex,
            cmd,
            target=300_000,
            op=">=",
            note=f"({n:,} {args.variant} spans)",
        )
    )
    if args.variant == "realistic":
        # the same traces without prompt/completion text: what the views cost without the text
        small_dir = build_log(n, "small")
        small = []
        for i in range(runs):
            small.append(reindex_once(small_dir, n))
            log(f"reindex (small spans) run {i + 1}/{runs}: {small[-1]:,.0f} spans/s")
        result.add(
            Figure(
                "reindex rate, spans without text",
                "spans/s",
                small,
                cmd,
                note=f"({n:,} small spans)",
            )
        )
    live = []
    for i in range(runs):
        live.append(live_once(data_dir, n))
        log(f"live run {i + 1}/{runs}: {live[-1]:,.0f} spans/s")
    result.add(
        Figure(
            "live apply rate",
            "spans/s",
            live,
            cmd,
            note=f"(one {REQUESTS_PER_SEGMENT * 512:,}-span segment at a time)",
        )
    )
    result.notes.append("2-core machine shared with other work: numbers are noisy.")
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
