"""msgtrace ingest: durable acknowledged rate, end-to-end rate, ack latency below saturation, RSS.

Each repeat starts a fresh ``msgtrace start`` (loopback, OS-picked port, fresh data dir) and:

1. sends the realistic corpus once at full speed from a separate load generator process
   (8 keep-alive connections, 512-span requests): **acked spans/s** = spans acknowledged with 200
   (durable: fsync'd before the answer) / load duration;
2. polls ``/api/v1/stats`` until ``total_spans`` equals what was acked: **end-to-end spans/s** =
   spans / (first send -> all queryable), i.e. ingest + seal + projection together, and the
   **lag after the last ack** (last ack -> all queryable);
3. sends a second corpus (other seed, so no duplicates) open-loop at 50% of step 1's acked rate:
   **p99 ack latency below saturation**, and the worst projection lag ``/health`` reports
   meanwhile (bounded lag = the pipeline keeps up at that rate);
4. sends a third corpus open-loop at a steady 10,000 spans/s while sampling ``/health`` every
   100 ms: **projection lag p50/p99** = the age of the oldest acknowledged request not yet visible
   in the views (an upper bound on every request's ack -> visible time at that moment);
   meanwhile it breaks the lag down per closed journal into rotation, seal and projection waits
   (``StageSampler``: medians per journal);
5. reports the peak RSS of the server's process tree over the whole repeat, the peak of each
   process in it (server, log worker, projector: RSS split into anonymous and file-backed pages,
   ``ProcessSampler``), and the data dir's bytes per span once everything is sealed and projected.

``--burst-only`` runs steps 1, 2 and 5 (the full-speed burst, where memory peaks).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import (
    WORK_DIR,
    Figure,
    MsgtraceServer,
    Result,
    RssSampler,
    bench_arguments,
    command_line,
    dir_bytes,
    emit,
    log,
    percentile,
    repeats,
)
from benchmarks.corpus import corpus_path, load_corpus
from benchmarks.loadgen import run_load

CONNECTIONS = 8
SUSTAINED_RATE = 10_000.0  # spans/s, the projections issue's lag target rate
QUERYABLE_TIMEOUT_S = 300.0


def total_spans(client: httpx.Client) -> int:
    r = client.get("/api/v1/stats", timeout=30)
    r.raise_for_status()
    return int(r.json()["total_spans"])


def wait_queryable(client: httpx.Client, expected: int, timeout: float = QUERYABLE_TIMEOUT_S,
                   poll_s: float = 0.1) -> tuple[float | None, int]:
    """Poll until ``total_spans >= expected``; returns (wall time it was seen, last count)."""
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        try:
            count = total_spans(client)
        except (httpx.HTTPError, KeyError, ValueError):
            count = -1
        if count >= expected:
            return time.time(), count
        time.sleep(poll_s)
    return None, count


PROCESS_ROLES = (("msgtrace.segments.worker", "log worker"),
                 ("msgtrace.projections.worker", "projector"))


def _status_kib(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile and RssShmem of ``pid`` in KiB, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0])
    return out


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


class ProcessSampler:
    """Samples each process of the server's tree in a thread (every ``interval`` s): its own peak
    VmRSS with the RssAnon/RssFile split at that peak, per role (server, log worker, projector),
    and the peak of their sum."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        import threading

        self.pid = pid
        self.interval = interval
        self.peak_tree_kib = 0
        self.peaks: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _role(self, pid: int) -> str:
        if pid == self.pid:
            return "server"
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            return "other"
        return next((role for key, role in PROCESS_ROLES if key in cmdline), "other")

    def sample(self) -> None:
        total = 0
        stack = [self.pid]
        while stack:
            pid = stack.pop()
            stack.extend(_children(pid))
            try:
                status = _status_kib(pid)
            except (OSError, ValueError):
                continue
            total += status.get("VmRSS", 0)
            role = self._role(pid)
            if status.get("VmRSS", 0) > self.peaks.get(role, {}).get("VmRSS", -1):
                self.peaks[role] = status
        self.peak_tree_kib = max(self.peak_tree_kib, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def summary(self) -> str:
        return ", ".join(
            f"{role} {p.get('VmRSS', 0) / 1024:.0f} (anon {p.get('RssAnon', 0) / 1024:.0f}, "
            f"file {p.get('RssFile', 0) / 1024:.0f})"
            for role, p in sorted(self.peaks.items()))

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


class HealthSampler:
    """Polls ``/health`` in a thread; keeps the worst projection lag (s) and journal backlog."""

    def __init__(self, url: str, interval: float = 0.5) -> None:
        import threading

        self.url = url
        self.interval = interval
        self.max_lag_s = 0.0
        self.lags: list[float] = []
        self.max_backlog_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    h = client.get("/health").json()
                    lag = float(h["projection_lag"]["seconds"])
                    self.lags.append(lag)
                    self.max_lag_s = max(self.max_lag_s, lag)
                    self.max_backlog_bytes = max(self.max_backlog_bytes,
                                                 int(h.get("journal_backlog_bytes", 0)))
                except (httpx.HTTPError, KeyError, ValueError, TypeError):
                    pass
                self._stop.wait(self.interval)

    def __enter__(self) -> HealthSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class StageSampler:
    """Watches the data dir in a thread (every 20 ms) and breaks the lag down per closed journal:
    **rotation wait** (journal opened -> closed), **seal wait** (closed -> its segment exists) and
    **projection wait** (segment exists -> the views' checkpoint covers it). The open file appears
    with its first acknowledged request, so the three add up to that request's ack -> visible."""

    def __init__(self, data_dir: Path, interval: float = 0.02) -> None:
        import threading

        self.data_dir = data_dir
        self.interval = interval
        self.opened: dict[int, float] = {}
        self.closed: dict[tuple[int, int], float] = {}
        self.sealed: dict[tuple[int, int], float] = {}
        self.projected: list[tuple[float, int]] = []  # (time, checkpoint) when it changed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import sqlite3

        journal, segments = self.data_dir / "journal", self.data_dir / "segments"
        db = self.data_dir / "msgtrace.db"
        while not self._stop.is_set():
            now = time.time()
            try:
                for name in os.listdir(journal):
                    if name.endswith(".open"):
                        self.opened.setdefault(int(name.split(".")[0]), now)
                    elif name.endswith(".wal"):
                        first, last = name[:-4].split("-")
                        self.closed.setdefault((int(first), int(last)), now)
                for name in os.listdir(segments):
                    if name.endswith(".parquet") and not name.startswith("."):
                        first, last = name[:-8].split("-")
                        self.sealed.setdefault((int(first), int(last)), now)
                with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as con:
                    row = con.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
                if row and (not self.projected or self.projected[-1][1] != int(row[0])):
                    self.projected.append((now, int(row[0])))
            except (OSError, ValueError, sqlite3.Error):
                pass
            self._stop.wait(self.interval)

    def stages(self) -> dict[str, float]:
        """Median seconds of each stage over the journals seen whole."""
        waits: dict[str, list[float]] = {"rotation": [], "seal": [], "projection": []}
        for (first, last), closed in self.closed.items():
            opened = self.opened.get(first)
            sealed = next((t for (a, b), t in self.sealed.items() if a <= first and last <= b),
                          None)
            projected = next((t for t, cp in self.projected if cp >= last), None)
            if opened is None or sealed is None or projected is None:
                continue
            waits["rotation"].append(closed - opened)
            waits["seal"].append(sealed - closed)
            waits["projection"].append(projected - sealed)
        return {k: percentile(v, 50) if v else float("nan") for k, v in waits.items()}

    def __enter__(self) -> StageSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def one_repeat(corpus_a: Path, corpus_b: Path, corpus_c: Path, work: Path,
               burst_only: bool = False) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="ingest-", dir=work)) / "data"
    try:
        with MsgtraceServer(data_dir) as srv, RssSampler(srv.pid) as rss, \
                ProcessSampler(srv.pid) as procs, httpx.Client(base_url=srv.url) as client:
            burst = run_load(srv.otlp_url, corpus_a, connections=CONNECTIONS)
            count_at_end = total_spans(client)
            done, count = wait_queryable(client, burst["spans_acked"])
            if done is None:
                raise RuntimeError(f"only {count} of {burst['spans_acked']} spans queryable after "
                                   f"{QUERYABLE_TIMEOUT_S}s; server log: {srv.log_tail()}")
            e2e = burst["spans_acked"] / (done - burst["first_send_unix"])
            lag_after = done - burst["last_ack_unix"]
            if burst_only:
                return {"acked": burst["acked_spans_per_s"], "e2e": e2e,
                        "lag_after_last_ack_s": lag_after, "burst": burst,
                        "rss_peak": rss.peak, "rss_by_process": procs.peaks,
                        "rss_summary": procs.summary()}
            half = 0.5 * burst["acked_spans_per_s"]
            with HealthSampler(srv.url) as health:
                steady = run_load(srv.otlp_url, corpus_b, connections=CONNECTIONS, rate=half)
            expected = burst["spans_acked"] + steady["spans_acked"]
            done2, count2 = wait_queryable(client, expected)
            if done2 is None:
                raise RuntimeError(f"only {count2} of {expected} spans queryable; {srv.log_tail()}")
            with StageSampler(data_dir) as stages:
                with HealthSampler(srv.url, interval=0.1) as sustained:
                    steady10k = run_load(srv.otlp_url, corpus_c, connections=CONNECTIONS,
                                         rate=SUSTAINED_RATE)
                expected += steady10k["spans_acked"]
                done3, count3 = wait_queryable(client, expected)
            if done3 is None:
                raise RuntimeError(f"only {count3} of {expected} spans queryable; {srv.log_tail()}")
            time.sleep(1.5)  # let the sealer/compactor settle before measuring disk use
            disk = dir_bytes(data_dir)
        return {
            "acked": burst["acked_spans_per_s"], "e2e": e2e, "lag_after_last_ack_s": lag_after,
            "queryable_at_load_end": count_at_end, "burst": burst, "steady": steady,
            "p99_half": steady["latency_ms"]["p99"], "p50_half": steady["latency_ms"]["p50"],
            "half_rate": half, "max_lag_half_s": health.max_lag_s,
            "max_backlog_half_bytes": health.max_backlog_bytes,
            "lag_p50_10k_s": percentile(sustained.lags, 50),
            "lag_p99_10k_s": percentile(sustained.lags, 99),
            "stages_10k": stages.stages(),
            "rate_10k": steady10k["acked_spans_per_s"], "rss_peak": rss.peak,
            "rss_by_process": procs.peaks, "rss_summary": procs.summary(),
            "disk_bytes_per_span": disk / expected,
        }
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def add_rss_figures(res: Result, runs: list[dict[str, Any]], cmd: str) -> None:
    """The tree's peak RSS (the target) and each process's own peak, with its anonymous part."""
    res.add(Figure("peak server RSS (process tree)", "MiB",
                   [r["rss_peak"] / 2**20 for r in runs], cmd, 400, "<="))
    for role in ("server", "log worker", "projector"):
        peaks = [r["rss_by_process"].get(role, {}) for r in runs]
        res.add(Figure(f"peak RSS of the {role} process", "MiB",
                       [p.get("VmRSS", 0) / 1024 for p in peaks], cmd))
        res.add(Figure(f"anonymous part of the {role}'s peak RSS", "MiB",
                       [p.get("RssAnon", 0) / 1024 for p in peaks], cmd))


def emit_burst(runs: list[dict[str, Any]], args: Any) -> int:
    """``--burst-only``: the rates and memory of the full-speed burst."""
    cmd = command_line("bench_ingest", args) + " --burst-only"
    res = Result("ingest", "msgtrace ingest, full-speed burst only (realistic corpus, 512-span "
                           "requests, 8 connections)")
    res.add(Figure("acknowledged (durable) rate, full speed", "spans/s",
                   [r["acked"] for r in runs], cmd, 100_000, ">="))
    res.add(Figure("end-to-end rate (first send -> all queryable)", "spans/s",
                   [r["e2e"] for r in runs], cmd, 30_000, ">="))
    res.add(Figure("lag from last ack to all queryable", "s",
                   [r["lag_after_last_ack_s"] for r in runs], cmd))
    add_rss_figures(res, runs, cmd)
    res.extra["runs"] = [{k: v for k, v in r.items() if k != "burst"} for r in runs]
    emit(res)
    return 0


def main() -> int:
    parser = bench_arguments(__doc__.split("\n")[0] if __doc__ else "")
    parser.add_argument("--burst-only", action="store_true",
                        help="only the full-speed burst: acked and end-to-end rates, RSS")
    args = parser.parse_args()
    n_rep = repeats(args, full=3, quick=2)
    n_a = 50_000 if args.quick else 100_000
    n_b = 25_000 if args.quick else 100_000
    n_c = 30_000 if args.quick else 100_000  # 10 s at 10,000 spans/s
    load_corpus(n_a, variant="realistic", seed=0)
    load_corpus(n_b, variant="realistic", seed=1)
    load_corpus(n_c, variant="realistic", seed=2)
    corpus_c = corpus_path(n_c, variant="realistic", seed=2)
    corpus_a = corpus_path(n_a, variant="realistic", seed=0)
    corpus_b = corpus_path(n_b, variant="realistic", seed=1)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    for i in range(n_rep):
        r = one_repeat(corpus_a, corpus_b, corpus_c, WORK_DIR, burst_only=args.burst_only)
        log(f"ingest repeat {i + 1}/{n_rep}: acked {r['acked']:,.0f}/s e2e {r['e2e']:,.0f}/s "
            f"p99@50% {r.get('p99_half', float('nan')):.1f} ms "
            f"rss {r['rss_peak'] / 2**20:.0f} MiB (peaks, MiB: {r['rss_summary']}) "
            f"statuses {r['burst']['requests_by_status']}")
        runs.append(r)
    if args.burst_only:
        return emit_burst(runs, args)
    cmd = command_line("bench_ingest", args)
    res = Result("ingest", "msgtrace ingest (realistic corpus, 512-span requests, 8 connections)")
    res.add(Figure("acknowledged (durable) rate, full speed", "spans/s",
                   [r["acked"] for r in runs], cmd, 100_000, ">="))
    res.add(Figure("end-to-end rate (first send -> all queryable)", "spans/s",
                   [r["e2e"] for r in runs], cmd, 30_000, ">="))
    res.add(Figure("lag from last ack to all queryable", "s",
                   [r["lag_after_last_ack_s"] for r in runs], cmd))
    res.add(Figure("ack latency p99 at full speed", "ms",
                   [r["burst"]["latency_ms"]["p99"] for r in runs], cmd))
    res.add(Figure("ack latency p50 at 50% of full speed", "ms",
                   [r["p50_half"] for r in runs], cmd))
    res.add(Figure("ack latency p99 at 50% of full speed", "ms",
                   [r["p99_half"] for r in runs], cmd, 50, "<="))
    res.add(Figure("worst projection lag during the 50% load (/health)", "s",
                   [r["max_lag_half_s"] for r in runs], cmd))
    res.add(Figure("projection lag p50 at 10,000 spans/s (oldest unprojected ack, /health)", "s",
                   [r["lag_p50_10k_s"] for r in runs], cmd, 1.0, "<="))
    res.add(Figure("projection lag p99 at 10,000 spans/s (oldest unprojected ack, /health)", "s",
                   [r["lag_p99_10k_s"] for r in runs], cmd, 2.0, "<="))
    for stage in ("rotation", "seal", "projection"):
        res.add(Figure(f"lag breakdown at 10,000 spans/s: {stage} wait (median per journal)", "s",
                       [r["stages_10k"][stage] for r in runs], cmd))
    add_rss_figures(res, runs, cmd)
    res.add(Figure("disk per span (journal + segments + SQLite)", "bytes",
                   [r["disk_bytes_per_span"] for r in runs], cmd))
    statuses: dict[str, int] = {}
    for r in runs:
        for k, v in r["burst"]["requests_by_status"].items():
            statuses[k] = statuses.get(k, 0) + v
    res.notes.append(f"{n_a:,} spans at full speed, then {n_b:,} at 50%, then {n_c:,} at "
                     f"{SUSTAINED_RATE:,.0f} spans/s per repeat; "
                     f"request statuses at full speed over all repeats: {statuses}; "
                     f"load generator retries honouring Retry-After: "
                     f"{sum(r['burst']['retries'] for r in runs)}.")
    res.notes.append("Spans already queryable when the full-speed load ended: "
                     + ", ".join(f"{r['queryable_at_load_end']:,}" for r in runs) + ".")
    res.extra["runs"] = [{k: v for k, v in r.items() if k not in ("burst", "steady")}
                         for r in runs]
    emit(res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
