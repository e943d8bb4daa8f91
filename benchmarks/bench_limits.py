"""What the hardware, the parser and the client allow, so server figures read as fractions of it.

- protobuf parse ceiling: ``ExportTraceServiceRequest.ParseFromString`` over the whole corpus,
  spans/s (no field walk: the upper bound for any Python OTLP receiver on this machine);
- fsync rate: 4 KB appends each followed by ``fdatasync``, on the disk holding benchmarks/.work/
  (where benchmark data dirs live): the bound on un-batched durable acknowledgements;
- load generator ceiling: ``benchmarks.loadgen`` against a server that only reads the body and
  answers 200, 8 connections, looping the corpus: the bound on any throughput it can show.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchmarks.common import (
    WORK_DIR,
    Figure,
    Result,
    bench_arguments,
    command_line,
    emit,
    log,
    repeats,
)
from benchmarks.corpus import Variant, corpus_path, load_corpus
from benchmarks.loadgen import run_load, start_trivial_server

FULL_SPANS = 100_000
QUICK_SPANS = 50_000


def parse_rate(requests: list[bytes], n_spans: int) -> float:
    """Spans/s for one ``ParseFromString`` pass over every request."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    t = time.perf_counter()
    for body in requests:
        ExportTraceServiceRequest().ParseFromString(body)
    return n_spans / (time.perf_counter() - t)


def fsync_rate(directory: Path, seconds: float) -> float:
    """fdatasync/s for 4 KB appends to a fresh file in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"fsync-probe-{os.getpid()}"
    block = b"x" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    try:
        n = 0
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while True:
            os.write(fd, block)
            os.fdatasync(fd)
            n += 1
            if n % 16 == 0 and time.perf_counter() >= deadline:
                break
        return n / (time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


def main() -> int:
    parser = bench_arguments(__doc__.split("\n")[0] if __doc__ else "")
    args = parser.parse_args()
    n_rep = repeats(args)
    n_spans = QUICK_SPANS if args.quick else FULL_SPANS
    cmd = command_line("bench_limits", args)
    result = Result("limits", "Machine limits: parser, disk, load generator")

    variants: tuple[Variant, ...] = ("realistic", "small")
    for variant in variants:
        corpus = load_corpus(n_spans, variant=variant)
        log(f"parse {variant}: {len(corpus.requests)} requests")
        runs = [parse_rate(corpus.requests, corpus.n_spans) for _ in range(n_rep)]
        result.add(Figure(f"protobuf ParseFromString ceiling ({variant}, 512-span requests)",
                          "spans/s", runs, cmd))
        if variant == "realistic":
            result.extra["realistic_bytes_per_span"] = corpus.n_bytes / corpus.n_spans
        else:
            result.extra["small_bytes_per_span"] = corpus.n_bytes / corpus.n_spans

    fs_seconds = 1.0 if args.quick else 2.0
    runs = [fsync_rate(WORK_DIR, fs_seconds) for _ in range(n_rep)]
    result.add(Figure("fdatasync rate, 4 KB appends (data disk)", "fsync/s", runs, cmd))

    proc, url = start_trivial_server()
    try:
        for variant in variants:
            path = corpus_path(n_spans, variant=variant)
            runs, lat = [], []
            for _ in range(n_rep):
                summary = run_load(url, path, connections=8, duration=fs_seconds)
                runs.append(summary["acked_spans_per_s"])
                lat.append(summary["latency_ms"]["p99"])
            log(f"loadgen ceiling {variant}: {runs}")
            result.add(Figure(f"load generator ceiling vs trivial server ({variant}, 8 conns)",
                              "spans/s", runs, cmd))
            result.add(Figure(f"load generator p99 vs trivial server ({variant}, 8 conns)",
                              "ms", lat, cmd))
    finally:
        proc.terminate()
        proc.wait()

    result.notes.append(
        f"Corpus: {n_spans:,} spans per variant, 512 spans per request; realistic is "
        f"{result.extra['realistic_bytes_per_span']:.0f} B/span of protobuf, small "
        f"{result.extra['small_bytes_per_span']:.0f} B/span."
    )
    result.notes.append("fsync is measured in benchmarks/.work/, the disk benchmark data dirs use.")
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
