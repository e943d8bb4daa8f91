"""Soak: a steady OTLP load with queries running, watching that resources stay flat.

    .venv/bin/python -m benchmarks.soak [--minutes 30] [--rate 5000] [--interval 10] [--save]

Not part of `run_all` (it takes half an hour by default). One `msgtrace start` on a fresh data dir
under benchmarks/.work/soak/ receives `--rate` spans/s from the load generator (rate mode, its
corpus looped) while a query thread asks for the trace list, one trace's detail and the stats
every second. Every `--interval` seconds it samples:

- RSS of the server's process tree (server, log worker, projector), from /proc;
- open file descriptors of that tree (/proc/<pid>/fd);
- projection lag (offsets, and seconds since the views were last fully caught up) and journal
  backlog bytes, from /health;
- the data dir's size (grows by design; shown, not judged).

A metric is *flat* when the least-squares slope over the last two thirds of the samples (the first
third is warm-up), projected over that window, stays under its tolerance (`TOLERANCES`). Output per
benchmarks/README.md: a markdown section (samples, verdicts) and one JSON line last.

The corpus holds `--corpus-spans` distinct spans (default: the whole run, capped at 600,000,
about 230 MB of the `small` variant); after that the load repeats span ids, which the views
deduplicate, so later traffic exercises the duplicate path rather than new traces.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import (
    REPO_DIR,
    WORK_DIR,
    Figure,
    MsgtraceServer,
    Result,
    dir_bytes,
    emit,
    log,
    markdown,
    percentile,
    tree_rss_bytes,
)
from benchmarks.corpus import corpus_path, load_corpus
from benchmarks.loadgen import loadgen_command

MiB = 1024 * 1024
MAX_CORPUS_SPANS = 600_000

# metric -> (absolute tolerance, tolerance relative to the window's median) for the growth over the
# judged window; the larger of the two applies.
TOLERANCES: dict[str, tuple[float, float]] = {
    "rss_mib": (32.0, 0.10),
    "fds": (8.0, 0.0),
    "lag_offsets": (50.0, 0.5),
    "backlog_mib": (16.0, 0.5),
}
LABELS = {
    "rss_mib": ("RSS of the server tree", "MiB"),
    "fds": ("open file descriptors", "fds"),
    "lag_offsets": ("projection lag", "offsets"),
    "backlog_mib": ("journal backlog", "MiB"),
}


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(children.get(p, []))
    return out


def tree_fds(pid: int) -> int:
    total = 0
    for p in tree_pids(pid):
        try:
            total += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            continue
    return total


@dataclass
class Queries:
    """Runs list, detail and stats once a second; keeps latencies and failures."""

    url: str
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {"list": [], "detail": [], "stats": []})
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _timed(self, client: httpx.Client, kind: str, path: str, **params: Any) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            r = client.get(path, params=params)
        except httpx.HTTPError as exc:
            self.errors.append(f"{kind}: {exc!r}")
            return None
        self.latencies_ms[kind].append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            self.errors.append(f"{kind}: HTTP {r.status_code} {r.text[:200]}")
            return None
        return r

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.wait(1.0):
                listed = self._timed(client, "list", "/api/v1/traces", limit=50)
                traces = listed.json().get("traces", []) if listed is not None else []
                if traces:
                    self._timed(client, "detail", f"/api/v1/traces/{traces[len(traces) // 2]['trace_id']}")
                self._timed(client, "stats", "/api/v1/stats")

    def stop(self) -> None:
        self._stop.set()


def sample(server: MsgtraceServer, t0: float) -> dict[str, float]:
    health: dict[str, Any] = {}
    try:
        health = httpx.get(f"{server.url}/health", timeout=10).json()
    except (httpx.HTTPError, ValueError) as exc:
        log(f"soak: /health failed: {exc!r}")
    lag = health.get("projection_lag") or {}
    return {
        "t_s": round(time.monotonic() - t0, 1),
        "rss_mib": tree_rss_bytes(server.pid) / MiB,
        "fds": float(tree_fds(server.pid)),
        "lag_offsets": float(lag.get("offsets", float("nan"))),
        "lag_s": float(lag.get("seconds", float("nan"))),
        "backlog_mib": float(health.get("journal_backlog_bytes", float("nan"))) / MiB,
        "data_mib": dir_bytes(server.data_dir) / MiB,
    }


def slope_per_s(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, value) points; 0 for fewer than two."""
    pts = [(t, v) for t, v in points if v == v]
    if len(pts) < 2:
        return 0.0
    mt = sum(t for t, _ in pts) / len(pts)
    mv = sum(v for _, v in pts) / len(pts)
    den = sum((t - mt) ** 2 for t, _ in pts)
    return 0.0 if den == 0 else sum((t - mt) * (v - mv) for t, v in pts) / den


@dataclass(frozen=True)
class Verdict:
    metric: str
    first: float
    last: float
    peak: float
    median: float
    slope_per_min: float
    growth: float  # slope projected over the judged window
    tolerance: float

    @property
    def flat(self) -> bool:
        return self.growth <= self.tolerance


def judge(samples: list[dict[str, float]]) -> list[Verdict]:
    """Verdicts over the last two thirds of the samples (the first third is warm-up)."""
    judged = samples[len(samples) // 3 :]
    window = judged[-1]["t_s"] - judged[0]["t_s"] if len(judged) > 1 else 0.0
    verdicts = []
    for metric, (abs_tol, rel_tol) in TOLERANCES.items():
        values = [s[metric] for s in judged if s[metric] == s[metric]]
        if not values:
            continue
        slope = slope_per_s([(s["t_s"], s[metric]) for s in judged])
        median = percentile(values, 50)
        verdicts.append(Verdict(
            metric, samples[0][metric], samples[-1][metric], max(s[metric] for s in samples), median,
            slope * 60, slope * window, max(abs_tol, rel_tol * median),
        ))
    return verdicts


def samples_table(samples: list[dict[str, float]]) -> str:
    lines = [
        "| t (s) | RSS (MiB) | fds | lag (offsets) | s since caught up | journal backlog (MiB) | data dir (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in samples:
        lines.append(
            f"| {s['t_s']:.0f} | {s['rss_mib']:.1f} | {s['fds']:.0f} | {s['lag_offsets']:.0f} | "
            f"{s['lag_s']:.1f} | {s['backlog_mib']:.2f} | {s['data_mib']:.1f} |"
        )
    return "\n".join(lines)


def verdict_table(verdicts: list[Verdict]) -> str:
    lines = [
        "| metric | first | median (judged) | peak | last | slope / min | growth over window | tolerance | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        name, unit = LABELS[v.metric]
        lines.append(
            f"| {name} ({unit}) | {v.first:.1f} | {v.median:.1f} | {v.peak:.1f} | {v.last:.1f} | "
            f"{v.slope_per_min:+.2f} | {v.growth:+.1f} | {v.tolerance:.1f} | "
            f"{'flat' if v.flat else '**growing**'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=5000.0, help="spans/s")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--corpus-spans", type=int, default=None)
    parser.add_argument("--variant", choices=("small", "realistic"), default="small")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra `msgtrace start` argument (repeatable), e.g. --server-arg=--retention-days=1")
    parser.add_argument("--keep-data", action="store_true", help="keep the soak data dir")
    parser.add_argument("--save", action="store_true",
                        help="also write the report to benchmarks/SOAK.md (run_all includes it)")
    started = time.time()
    parser.add_argument("--corpus-seed", type=int, default=0)
    args = parser.parse_args(argv)
    duration = args.minutes * 60
    n_spans = args.corpus_spans or int(min(MAX_CORPUS_SPANS, max(args.rate * duration, 10_000)))
    given = sys.argv[1:] if argv is None else argv
    command = " ".join([".venv/bin/python -m benchmarks.soak", *given]).strip()

    log(f"soak: corpus of {n_spans} {args.variant} spans")
    corpus = load_corpus(n_spans, variant=args.variant, seed=args.corpus_seed)
    corpus_file = corpus_path(n_spans, variant=args.variant, seed=args.corpus_seed)
    corpus_s = corpus.n_spans / args.rate
    del corpus

    data_dir = WORK_DIR / "soak" / f"data-{os.getpid()}"
    shutil.rmtree(data_dir, ignore_errors=True)
    samples: list[dict[str, float]] = []
    after: dict[str, float] | None = None
    summary: dict[str, Any] = {}
    try:
        with MsgtraceServer(data_dir, args.server_arg) as server:
            queries = Queries(server.url)
            qthread = threading.Thread(target=queries.run, name="soak-queries", daemon=True)
            qthread.start()
            cmd = loadgen_command(server.otlp_url, corpus_file, connections=args.connections,
                                  rate=args.rate, duration=duration)
            load = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_DIR)
            t0 = time.monotonic()
            log(f"soak: {args.rate:g} spans/s for {args.minutes:g} min against {server.url}")
            while load.poll() is None:
                samples.append(sample(server, t0))
                s = samples[-1]
                log(f"soak: t={s['t_s']:.0f}s rss={s['rss_mib']:.0f}MiB fds={s['fds']:.0f} "
                    f"lag={s['lag_offsets']:.0f} backlog={s['backlog_mib']:.1f}MiB data={s['data_mib']:.0f}MiB")
                deadline = time.monotonic() + args.interval
                while load.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.2)
            out, err = load.communicate()
            queries.stop()
            qthread.join()
            if load.returncode != 0:
                log(f"soak: load generator failed: {err[-2000:]}")
                return 1
            summary = json.loads(out.strip().splitlines()[-1])
            after = sample(server, t0)  # once the load is over: shown, not judged
    finally:
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)

    if not samples:
        log("soak: the load ended before the first sample")
        return 1
    verdicts = judge(samples)
    result = Result("soak", f"Soak: {args.rate:g} spans/s for {args.minutes:g} minutes with queries")
    for v in verdicts:
        name, unit = LABELS[v.metric]
        result.add(Figure(f"{name}: growth over the last two thirds", unit, [round(v.growth, 3)], command,
                          target=round(v.tolerance, 3), op="<=",
                          note=f"first {v.first:.1f}, peak {v.peak:.1f}, last {v.last:.1f}"))
    acked_rate = float(summary.get("acked_spans_per_s", 0.0))
    result.add(Figure("acknowledged spans/s", "spans/s", [acked_rate], command,
                      target=0.95 * args.rate, op=">="))
    all_q = [x for values in queries.latencies_ms.values() for x in values]
    result.add(Figure("query latency p99 (list, detail, stats)", "ms", [round(percentile(all_q, 99), 1)], command,
                      note=f"{len(all_q)} queries, p50 {percentile(all_q, 50):.1f} ms"))
    result.add(Figure("failed queries", "queries", [float(len(queries.errors))], command, target=0, op="<="))
    flat = all(v.flat for v in verdicts)
    growing = [LABELS[v.metric][0] for v in verdicts if not v.flat]
    result.markdown_extra = "\n\n".join([
        "**Verdict: " + ("every watched resource stayed flat.**" if flat else f"growing: {', '.join(growing)}.**"),
        verdict_table(verdicts),
        f"Samples every {args.interval:g} s:",
        samples_table(samples + ([after] if after else [])),
        "The last row is sampled after the load ended and is not judged."
        if after else "",
    ])
    result.notes += [
        f"Load: {summary.get('spans_acked', 0):,} spans acknowledged, requests by status "
        f"{summary.get('requests_by_status')}, {summary.get('retries', 0)} retries, ack latency "
        f"{summary.get('latency_ms')}.",
        f"The corpus ({n_spans:,} {args.variant} spans) lasts {corpus_s:.0f} s at this rate and then repeats.",
        "Flat = least-squares slope over the last two thirds, projected over that window, within "
        "max(absolute, relative x median) tolerance: " + ", ".join(
            f"{LABELS[k][0]} {a:g} {LABELS[k][1]} / {r:.0%}" for k, (a, r) in TOLERANCES.items()),
    ]
    if queries.errors:
        result.notes.append(f"First query errors: {queries.errors[:3]}")
    result.extra = {"samples": samples, "after_load": after, "flat": flat, "load": summary}
    emit(result)
    if args.save:
        save_report(result, time.time() - started)
    return 0


def save_report(result: Result, seconds: float) -> None:
    """benchmarks/SOAK.md: the markdown report, with the commit and date it was run at."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=REPO_DIR).stdout.strip() or "?"
    when = time.strftime("%Y-%m-%d", time.gmtime())
    text = ("<!-- written by `python -m benchmarks.soak --save`; run_all includes it in RESULTS.md -->\n"
            + markdown(result.to_json()).strip()
            + f"\n\n_Run {when} at commit {commit}; {seconds:,.0f} s._\n")
    (Path(__file__).parent / "SOAK.md").write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
