"""msgtrace and Arize Phoenix side by side: same corpus, same load generator, same machine.

Phoenix is installed into its own venv under ``benchmarks/.work/phoenix-venv`` (pip from PyPI,
reused when present; never a dependency of msgtrace) and runs on loopback with its default SQLite
store in a temporary ``PHOENIX_WORKING_DIR``. For each system and repeat, on a fresh store:

- **normal run**: the realistic corpus at full speed over 8 connections. Acked spans/s; spans
  persisted the moment the load ends (msgtrace: every acked span is in its fsync'd log, and the
  crash run below checks it; Phoenix: rows in its SQLite ``spans`` table); **persisted rate** =
  spans / (first send -> every span queryable: msgtrace ``/api/v1/stats`` ``total_spans``,
  Phoenix its SQLite span count, which its API reads); time from last ack to all queryable; then
  trace list and trace detail latency p50/p95 through each system's API on that data; disk bytes
  per span; peak RSS of the process tree.
- **crash run**: the same load, then SIGKILL of the server's process group the moment the load
  generator finishes. msgtrace is restarted on its data dir and counted once it has caught up;
  Phoenix's SQLite file is counted directly. **Lost** = acknowledged - recovered.

A health check on the same keep-alive connection shows each server's HTTP round-trip floor, so
read latencies can be split into transport and query time. Read queries: msgtrace ``GET /api/v1/traces?limit=50`` and ``GET /api/v1/traces/{id}``; Phoenix
``GET /v1/projects/default/traces?limit=50`` and ``.../traces?...&include_spans=true`` filtered to
one trace where the version offers it, otherwise the GraphQL queries its UI sends.
"""

from __future__ import annotations

import functools
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
    die_with_parent,
    dir_bytes,
    emit,
    fmt_value,
    log,
    percentile,
    repeats,
)
from benchmarks.corpus import corpus_path, generate_traces, load_corpus
from benchmarks.loadgen import run_load

PHOENIX_VENV = WORK_DIR / "phoenix-venv"
PHOENIX_PACKAGE = "arize-phoenix"
CONNECTIONS = 8
QUERYABLE_TIMEOUT_S = 300.0
READ_SAMPLES = 40
LIST_SAMPLES = 200  # p95 of the list call (cheap on both systems): more samples, a steadier tail
READ_SETTLE_S = 2.0  # after the last span is queryable, both systems get this long to go idle


# ---------------------------------------------------------------- Phoenix installation and process

def phoenix_python() -> Path:
    return PHOENIX_VENV / "bin" / "python"


def ensure_phoenix(timeout: float = 900.0) -> str:
    """Install arize-phoenix into its own venv unless it is already there; returns its version."""
    py = phoenix_python()
    probe = [str(py), "-c", "import importlib.metadata as m; print(m.version('arize-phoenix'))"]
    if py.exists():
        r = subprocess.run(probe, capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.strip()
    base = getattr(sys, "_base_executable", sys.executable)
    log(f"installing {PHOENIX_PACKAGE} into {PHOENIX_VENV.name} (once)")
    subprocess.run([base, "-m", "venv", str(PHOENIX_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", PHOENIX_PACKAGE], check=True,
                   timeout=timeout)
    return subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()


def free_port() -> int:
    """A port the OS considers free right now (bind to 0, read it, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PhoenixServer:
    """``phoenix serve`` in its own session with a fresh working dir; SQLite store."""

    def __init__(self, working_dir: Path) -> None:
        self.working_dir = working_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.url = ""

    @property
    def db_path(self) -> Path:
        return self.working_dir / "phoenix.db"

    @property
    def otlp_url(self) -> str:
        return f"{self.url}/v1/traces"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 120.0) -> PhoenixServer:
        self.working_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOENIX_", "OTEL_"))}
        env.update({
            "PHOENIX_PORT": str(self.port), "PHOENIX_GRPC_PORT": str(free_port()),
            "PHOENIX_HOST": "127.0.0.1", "PHOENIX_WORKING_DIR": str(self.working_dir),
            "PHOENIX_TELEMETRY_ENABLED": "false",
        })
        self.url = f"http://127.0.0.1:{self.port}"
        log_file = self.working_dir.parent / "phoenix.log"
        with log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(phoenix_python()), "-m", "phoenix.server.main", "serve"], stdout=out,
                stderr=subprocess.STDOUT, env=env, start_new_session=True,
                preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"phoenix exited {self.proc.returncode}: "
                                   f"{log_file.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.crash()
        raise RuntimeError(f"phoenix not healthy after {timeout}s")

    def span_count(self) -> int:
        """Rows in Phoenix's SQLite ``spans`` table (read-only; 0 before the table exists)."""
        if not self.db_path.exists():
            return 0
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            return int(con.execute("SELECT count(*) FROM spans").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        finally:
            con.close()

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.crash()

    def crash(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# ---------------------------------------------------------------- counting and reading

def msgtrace_count(client: httpx.Client) -> int:
    try:
        r = client.get("/api/v1/stats", timeout=30)
        return int(r.json()["total_spans"]) if r.status_code == 200 else -1
    except (httpx.HTTPError, KeyError, ValueError):
        return -1


def wait_until(count: Callable[[], int], expected: int, timeout: float = QUERYABLE_TIMEOUT_S,
               settle_s: float = 20.0) -> tuple[float, int, bool]:
    """Poll ``count`` until it reaches ``expected`` or stops changing for ``settle_s`` seconds.

    Returns (wall time the final count was first seen, final count, whether it reached
    ``expected``). A store that silently drops spans never reaches ``expected``; the settle rule
    then measures what it did store, and when.
    """
    deadline = time.monotonic() + timeout
    last, changed, changed_wall = -1, time.monotonic(), time.time()
    while time.monotonic() < deadline:
        n = count()
        if n >= expected:
            return time.time(), n, True
        if n != last:
            last, changed, changed_wall = n, time.monotonic(), time.time()
        elif n >= 0 and time.monotonic() - changed >= settle_s:
            break
        time.sleep(0.1)
    return changed_wall, last, False


def latency_ms(fn: Callable[[], httpx.Response], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = fn()
        out.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text[:300]}")
    return out


def timed_each(fn: Callable[[str], httpx.Response], keys: list[str]) -> list[float]:
    """Milliseconds of one ``fn(key)`` call per key (each must answer 200)."""
    return [latency_ms(functools.partial(fn, k), 1)[0] for k in keys]


PHOENIX_TRACE_GQL = """
query ($id: ID!, $traceId: ID!) { node(id: $id) { ... on Project { trace(traceId: $traceId) {
  spans(first: 1000) { edges { node { id spanId name startTime endTime latencyMs statusCode
  parentId attributes } } } } } } }"""
PHOENIX_PROJECT_GQL = "query { projects { edges { node { id name } } } }"


def phoenix_readers(client: httpx.Client, trace_ids: list[str]) -> tuple[
        Callable[[], httpx.Response], Callable[[str], httpx.Response], str]:
    """(list call, detail call, description) using REST where this Phoenix version has it."""
    listing = client.get("/v1/projects/default/traces", params={"limit": 50})
    if listing.status_code == 200:
        def list_call() -> httpx.Response:
            return client.get("/v1/projects/default/traces", params={"limit": 50})
        how = "REST /v1/projects/default/traces?limit=50; detail via GraphQL Project.trace.spans"
    else:
        def list_call() -> httpx.Response:
            return client.post("/graphql", json={"query": (
                "query { projects(first: 1) { edges { node { spans(first: 50, rootSpansOnly: true,"
                " sort: {col: startTime, dir: desc}) { edges { node { spanId name latencyMs"
                " trace { traceId } } } } } } } }")})
        how = "GraphQL root spans (first: 50) and Project.trace.spans"
    projects = client.post("/graphql", json={"query": PHOENIX_PROJECT_GQL}).json()
    pid = next(e["node"]["id"] for e in projects["data"]["projects"]["edges"]
               if e["node"]["name"] == "default")

    def detail_call(trace_id: str) -> httpx.Response:
        r = client.post("/graphql", json={"query": PHOENIX_TRACE_GQL,
                                          "variables": {"id": pid, "traceId": trace_id}})
        if "errors" in r.json():
            raise RuntimeError(f"phoenix trace query failed: {r.text[:300]}")
        return r

    detail_call(trace_ids[0])
    return list_call, detail_call, how


# ---------------------------------------------------------------- one repeat per system

def run_msgtrace(corpus: Path, n_spans: int, trace_ids: list[str], work: Path, crash: bool) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="vs-msgtrace-", dir=work)) / "data"
    srv = MsgtraceServer(data_dir)
    out: dict[str, Any] = {}
    try:
        srv.start()
        with RssSampler(srv.pid) as rss, httpx.Client(base_url=srv.url, timeout=60) as client:
            load = run_load(srv.otlp_url, corpus, connections=CONNECTIONS)
            if crash:
                srv.crash()
                out["queryable_at_end"] = msgtrace_count(client)
            else:
                out["queryable_at_end"] = msgtrace_count(client)
        out.update(load=load, rss_peak=rss.peak)
        if crash:
            # Everything acked is in the fsync'd log; a restart recovers and projects it.
            srv.start()
            with httpx.Client(base_url=srv.url, timeout=60) as client:
                _, n, _ = wait_until(lambda: msgtrace_count(client), load["spans_acked"])
            out["recovered"] = n
            return out
        with httpx.Client(base_url=srv.url, timeout=60) as client:
            done, n, _ = wait_until(lambda: msgtrace_count(client), load["spans_acked"])
            out["all_queryable_unix"], out["stored"] = done, n
            time.sleep(READ_SETTLE_S)
            out["health_ms"] = latency_ms(lambda: client.get("/health"), READ_SAMPLES)
            out["list_ms"] = latency_ms(lambda: client.get("/api/v1/traces", params={"limit": 50}),
                                        LIST_SAMPLES)
            out["detail_ms"] = timed_each(lambda t: client.get(f"/api/v1/traces/{t}"), trace_ids)
        out["disk_bytes"] = dir_bytes(data_dir)
        return out
    finally:
        srv.stop()
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def run_phoenix(corpus: Path, n_spans: int, trace_ids: list[str], work: Path, crash: bool) -> dict[str, Any]:
    wd = Path(tempfile.mkdtemp(prefix="vs-phoenix-", dir=work)) / "phoenix"
    srv = PhoenixServer(wd)
    out: dict[str, Any] = {}
    try:
        srv.start()
        with RssSampler(srv.pid) as rss:
            load = run_load(srv.otlp_url, corpus, connections=CONNECTIONS)
            if crash:
                srv.crash()
            out["queryable_at_end"] = srv.span_count()
        out.update(load=load, rss_peak=rss.peak)
        if crash:
            out["recovered"] = srv.span_count()
            return out
        done, n, _ = wait_until(srv.span_count, load["spans_acked"])
        out["all_queryable_unix"], out["stored"] = done, n
        with httpx.Client(base_url=srv.url, timeout=60) as client:
            list_call, detail_call, how = phoenix_readers(client, trace_ids)
            out["read_how"] = how
            time.sleep(READ_SETTLE_S)
            out["health_ms"] = latency_ms(lambda: client.get("/healthz"), READ_SAMPLES)
            out["list_ms"] = latency_ms(list_call, LIST_SAMPLES)
            out["detail_ms"] = timed_each(detail_call, trace_ids)
        out["disk_bytes"] = dir_bytes(wd)
        return out
    finally:
        srv.stop()
        log_file = wd.parent / "phoenix.log"
        if log_file.exists():
            out["insert_failures_logged"] = log_file.read_text(errors="replace").count(
                "Span insertion failed")
        shutil.rmtree(wd.parent, ignore_errors=True)


# ---------------------------------------------------------------- report

def main() -> int:
    args = bench_arguments(__doc__.split("\n")[0] if __doc__ else "").parse_args()
    n_rep = repeats(args, full=2, quick=1)
    # Phoenix stores on the order of 100 realistic spans/s on a 2-core machine: 12k spans is about
    # 90 s of its ingest per run, enough for msgtrace's persisted rate to show its throughput.
    n_spans = 1_000 if args.quick else 12_000
    version = ensure_phoenix()
    load_corpus(n_spans, variant="realistic", seed=0)
    corpus = corpus_path(n_spans, variant="realistic", seed=0)
    traces = generate_traces(n_spans, variant="realistic", seed=0)
    rng = random.Random(7)
    trace_ids = [t.trace_id_hex for t in rng.sample(traces, min(READ_SAMPLES, len(traces)))]
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    systems: dict[str, Callable[..., dict[str, Any]]] = {"msgtrace": run_msgtrace,
                                                         "Phoenix": run_phoenix}
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
    crashes: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
    for i in range(n_rep):
        for name, fn in systems.items():
            r = fn(corpus, n_spans, trace_ids, WORK_DIR, crash=False)
            runs[name].append(r)
            c = fn(corpus, n_spans, trace_ids, WORK_DIR, crash=True)
            crashes[name].append(c)
            log(f"{name} repeat {i + 1}/{n_rep}: acked {r['load']['acked_spans_per_s']:,.0f}/s, "
                f"at end {r['queryable_at_end']:,}, crash kept {c['recovered']:,} of "
                f"{c['load']['spans_acked']:,}, statuses {r['load']['requests_by_status']}")

    cmd = command_line("bench_phoenix", args)
    res = Result("phoenix", f"msgtrace vs Arize Phoenix {version} (realistic corpus, "
                 f"{n_spans:,} spans, 512-span requests, 8 connections)")
    table: dict[str, dict[str, float]] = {s: {} for s in systems}
    rows = [
        ("acknowledged rate", "spans/s", lambda r, c: r["load"]["acked_spans_per_s"]),
        ("persisted rate (first send -> all queryable)", "spans/s",
         lambda r, c: r["stored"] / (r["all_queryable_unix"] - r["load"]["first_send_unix"])),
        ("acked spans never stored (no crash)", "spans",
         lambda r, c: r["load"]["spans_acked"] - r["stored"]),
        ("last ack -> all queryable", "s",
         lambda r, c: r["all_queryable_unix"] - r["load"]["last_ack_unix"]),
        ("queryable when the load ended", "spans", lambda r, c: r["queryable_at_end"]),
        ("acked spans lost to SIGKILL at load end", "spans",
         lambda r, c: c["load"]["spans_acked"] - c["recovered"]),
        ("health check p50 (HTTP round trip floor)", "ms",
         lambda r, c: percentile(r["health_ms"], 50)),
        ("trace list p50 (50 traces)", "ms", lambda r, c: percentile(r["list_ms"], 50)),
        ("trace list p95 (50 traces)", "ms", lambda r, c: percentile(r["list_ms"], 95)),
        ("trace detail p50", "ms", lambda r, c: percentile(r["detail_ms"], 50)),
        ("trace detail p95", "ms", lambda r, c: percentile(r["detail_ms"], 95)),
        ("disk per span", "bytes", lambda r, c: r["disk_bytes"] / r["load"]["spans_acked"]),
        ("peak RSS (process tree)", "MiB", lambda r, c: max(r["rss_peak"], c["rss_peak"]) / 2**20),
    ]
    for label, unit, get in rows:
        for s in systems:
            values = [float(get(r, c)) for r, c in zip(runs[s], crashes[s], strict=True)]
            fig = res.add(Figure(f"{s}: {label}", unit, values, cmd))
            table[s][label] = fig.median
    md = ["| measure | msgtrace | Phoenix | msgtrace / Phoenix |", "|---|---|---|---|"]
    for label, unit, _ in rows:
        a, b = table["msgtrace"][label], table["Phoenix"][label]
        ratio = f"{a / b:.2f}x" if b else "n/a"
        md.append(f"| {label} | {fmt_value(a)} {unit} | {fmt_value(b)} {unit} | {ratio} |")
    res.markdown_extra = "Medians over repeats:\n\n" + "\n".join(md)
    res.notes.append(f"Phoenix {version} from PyPI in its own venv, SQLite store, default settings; "
                     f"Phoenix reads: {runs['Phoenix'][0].get('read_how', '')}.")
    res.notes.append("Lost spans: acknowledged with HTTP 200 but absent after SIGKILL of the whole "
                     "server process group right after the last ack (msgtrace restarted and "
                     "counted through its API; Phoenix counted in its SQLite file).")
    failures = [r.get("insert_failures_logged", 0) for r in runs["Phoenix"]]
    res.notes.append("\"All queryable\" is when the count reached what was acked, or, for a store "
                     "that never gets there, when its count last changed (stable for 20 s). "
                     f"Phoenix logged 'Span insertion failed' {failures} times per normal run.")
    res.notes.append(f"Reads start {READ_SETTLE_S:.0f} s after all spans are queryable, on both "
                     f"systems; list latency over {LIST_SAMPLES} calls, detail over "
                     f"{READ_SAMPLES} traces (one call each).")
    res.extra = {"statuses": {s: [r["load"]["requests_by_status"] for r in runs[s]] for s in systems}}
    emit(res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
