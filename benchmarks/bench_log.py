"""The append-only log: durable group-committed appends, sealing, and segment size.

- append: 8 threads append every request of the corpus to a fresh Journal (default seal age and
  size); a request counts once `append` returned, i.e. after its group's fdatasync.
- seal: every closed journal of that run is sealed by `seal_journal` on one thread with Arrow's
  thread pool limited to one thread (decode + sort + zstd Parquet write + fsyncs).
- size: bytes of the resulting segments vs the same requests as gzip'd OTLP protobuf (level 6,
  what OpenTelemetry exporters send with compression=gzip).
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import threading
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
from benchmarks.corpus import load_corpus
from msgtrace.segments.journal import Journal, RecordKind
from msgtrace.segments.naming import closed_journals, live_segments
from msgtrace.segments.segment_writer import seal_journal

THREADS = 8
MB = 1e6


def append_once(data_dir: Path, requests: list[bytes]) -> float:
    """Seconds to append every request durably from THREADS threads."""
    journal = Journal.open(data_dir)
    shares = [requests[i::THREADS] for i in range(THREADS)]
    barrier = threading.Barrier(THREADS + 1)

    def run(share: list[bytes]) -> None:
        barrier.wait()
        for body in share:
            journal.append(RecordKind.SPANS, 1, body)

    threads = [threading.Thread(target=run, args=(s,)) for s in shares]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    stats = journal.stats
    journal.close()
    log(f"append: {elapsed:.2f}s, {stats.appends} records in {stats.fsyncs} syncs")
    return elapsed


def seal_once(data_dir: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to seal every closed journal on one thread."""
    start, cpu = time.perf_counter(), time.process_time()
    for wal in closed_journals(data_dir):
        seal_journal(data_dir, wal)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    log(f"seal: {elapsed:.2f}s wall, {cpu:.2f}s CPU")
    return elapsed, cpu


def main() -> int:
    args = bench_arguments("Journal append (group commit) and sealing throughput").parse_args()
    import pyarrow as pa  # imported up front: no measurement pays for an import
    import pyarrow.parquet

    import msgtrace.core.otlp  # noqa: F401

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    n_spans = 20_000 if args.quick else 60_000
    corpus = load_corpus(n_spans)
    small = load_corpus(n_spans * 2, variant="small")
    requests = corpus.requests
    n_bytes = sum(len(r) for r in requests)
    gzip_bytes = sum(len(gzip.compress(r, 6)) for r in requests)
    log(f"corpus: {corpus.n_spans} spans in {len(requests)} requests, {n_bytes / MB:.1f} MB")
    cmd = command_line("bench_log", args)
    append_sps, append_mbs, small_sps, seal_sps, seal_cpu_sps, seal_mbs, ratio, seg_bytes = (
        [], [], [], [], [], [], [], []
    )
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    for _ in range(repeats(args)):
        data_dir = Path(tempfile.mkdtemp(prefix="bench-log-", dir=WORK_DIR))
        try:
            t_append = append_once(data_dir, requests)
            t_seal, cpu_seal = seal_once(data_dir)
            size = sum(s.path.stat().st_size for s in live_segments(data_dir))
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        data_dir = Path(tempfile.mkdtemp(prefix="bench-log-", dir=WORK_DIR))
        try:
            small_sps.append(small.n_spans / append_once(data_dir, small.requests))
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        seal_cpu_sps.append(corpus.n_spans / cpu_seal)
        append_sps.append(corpus.n_spans / t_append)
        append_mbs.append(n_bytes / MB / t_append)
        seal_sps.append(corpus.n_spans / t_seal)
        seal_mbs.append(n_bytes / MB / t_seal)
        ratio.append(size / gzip_bytes)
        seg_bytes.append(size / corpus.n_spans)

    result = Result("log", "Append-only log: journal and sealer")
    result.add(Figure(f"durable append, {THREADS} threads", "spans/s", append_sps, cmd, 200_000, ">="))
    result.add(Figure(f"durable append, {THREADS} threads", "MB/s", append_mbs, cmd))
    result.add(Figure(f"durable append, {THREADS} threads, small spans", "spans/s", small_sps, cmd, 200_000, ">="))
    result.add(Figure("seal (decode + sort + write), per CPU-second", "spans/s", seal_cpu_sps, cmd, 70_000, ">="))
    result.add(Figure("seal (decode + sort + write), one thread, wall clock", "spans/s", seal_sps, cmd))
    result.add(Figure("seal (decode + sort + write), one thread, wall clock", "MB/s", seal_mbs, cmd))
    result.add(Figure("segment bytes / gzip'd OTLP bytes", "x", ratio, cmd, 1.2, "<="))
    result.add(Figure("segment bytes per span", "B", seg_bytes, cmd))
    result.notes.append(
        f"corpus: realistic, {corpus.n_spans} spans, 512 spans per request, "
        f"{n_bytes / corpus.n_spans:.0f} protobuf bytes per span, {gzip_bytes / corpus.n_spans:.0f} gzip'd"
    )
    result.notes.append(
        f"small spans: the same shapes without prompt/completion text, {small.n_spans} spans, "
        f"{small.n_bytes / small.n_spans:.0f} protobuf bytes per span"
    )
    result.notes.append("MB/s counts uncompressed OTLP protobuf request bytes")
    result.notes.append(
        "seal per CPU-second: CPU time of the sealing thread (Arrow pools set to one thread), "
        "so the figure does not depend on what else the machine runs; wall clock shown beside it"
    )
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
