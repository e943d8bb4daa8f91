"""Web UI: open a 10,000-span trace until the waterfall is interactive, scroll smoothness, the flame
graph and compare view on 10,000 spans, bundle size.

``python -m benchmarks.bench_ui [--quick] [--repeats N]``. Starts ``msgtrace start`` on a loopback
port, sends one trace of 10,000 spans through the OpenTelemetry SDK exporter, then drives headless
Chromium (Debian's, through playwright-core in ui/node_modules) with ``ui/bench/open_trace.mjs``:
each run loads ``/traces/<id>`` with the HTTP cache disabled and stops the clock once a click on a
tree toggle has re-rendered the waterfall; then it scrolls the waterfall 240 px per animation frame
for 150 frames and records the frame times. The flame graph is timed from navigation until its
canvas has drawn, then frame times are recorded over 144 frames of animated zoom clicks and resets;
the compare view (the trace against a second 10,000-span trace of the same shape) is timed until its
first matched row, then scrolled like the waterfall. Bundle sizes are gzip -9 of the committed build.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from benchmarks.common import (
    REPO_DIR,
    WORK_DIR,
    Figure,
    MsgtraceServer,
    Result,
    bench_arguments,
    command_line,
    emit,
    log,
    repeats,
)

STATIC = REPO_DIR / "msgtrace" / "api" / "static"
OPEN_TARGET_MS = 1500.0
FRAME_P95_TARGET_MS = 33.4  # two frames at 60 Hz
MAIN_CHUNK_BUDGET_KB = 300.0


def send_big_trace(url: str, spans: int, fanout: int = 50) -> str:
    """One trace: a root with `fanout` branches, each a run of sequential leaf steps."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "bench-ui"}))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=f"{url}/v1/traces"), max_queue_size=spans + 100,
        max_export_batch_size=1000, schedule_delay_millis=200))
    tracer = provider.get_tracer("bench.ui")
    sent = 1
    per_branch = (spans - 1) // fanout
    with tracer.start_as_current_span("big.run", attributes={"workflow.name": "bench-ui"}) as root:
        for b in range(fanout):
            with tracer.start_as_current_span(f"branch {b}"):
                sent += 1
                for i in range(per_branch - 1):
                    attrs: dict[str, str | int] = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 10} if i % 25 == 0 else {"i": i}
                    with tracer.start_as_current_span(f"step {b}.{i}", attributes=attrs):
                        sent += 1
        while sent < spans:
            with tracer.start_as_current_span("tail"):
                sent += 1
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.force_flush()
    provider.shutdown()
    return trace_id


def bundle_sizes() -> dict[str, tuple[int, int]]:
    """Asset name -> (raw bytes, gzip -9 bytes) for the committed build's JS and CSS."""
    out: dict[str, tuple[int, int]] = {}
    for path in sorted((STATIC / "assets").glob("*")):
        if path.suffix in (".js", ".css"):
            raw = path.read_bytes()
            out[path.name] = (len(raw), len(gzip.compress(raw, 9)))
    return out


def main() -> None:
    args = bench_arguments(__doc__ or "").parse_args()
    n = repeats(args)
    spans = 10_000
    cmd = command_line("bench_ui", args)
    result = Result("ui", "Web UI: 10,000-span trace view and bundle size")

    sizes = bundle_sizes()
    main_js = max((k for k in sizes if k.endswith(".js")), key=lambda k: sizes[k][1])
    result.add(Figure("main JS chunk, gzip", "KB", [sizes[main_js][1] / 1024], cmd,
                      MAIN_CHUNK_BUDGET_KB, "<="))
    result.markdown_extra = "| asset | raw | gzip |\n|---|---|---|\n" + "\n".join(
        f"| {k} | {raw / 1024:.1f} KB | {gz / 1024:.1f} KB |" for k, (raw, gz) in sizes.items())

    node_ok = shutil.which("node") and (REPO_DIR / "ui" / "node_modules" / "playwright-core").exists()
    if not node_ok or not Path("/usr/bin/chromium").exists():
        result.notes.append("browser figures skipped: needs /usr/bin/chromium and `cd ui && npm ci`")
        emit(result)
        return

    data = WORK_DIR / f"ui-{int(time.time())}"
    with MsgtraceServer(data) as server:
        import httpx

        log(f"sending two {spans}-span traces to {server.url}")
        trace_id = send_big_trace(server.url, spans)
        trace_b = send_big_trace(server.url, spans)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready = [httpx.get(f"{server.url}/api/v1/traces/{t}/timeline", timeout=30) for t in (trace_id, trace_b)]
            if all(r.status_code == 200 and len(r.json()["span_id"]) >= spans for r in ready):
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"trace {trace_id} did not reach {spans} spans in the read API")
        t0 = time.perf_counter()
        body = httpx.get(f"{server.url}/api/v1/traces/{trace_id}", timeout=30).content
        api_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        compact = httpx.get(f"{server.url}/api/v1/traces/{trace_id}/timeline", timeout=30).content
        timeline_ms = (time.perf_counter() - t0) * 1000
        log(f"trace JSON {len(body) / 1e6:.1f} MB in {api_ms:.0f} ms, timeline "
            f"{len(compact) / 1e6:.2f} MB in {timeline_ms:.0f} ms; running Chromium x{n}")
        proc = subprocess.run(
            ["node", str(REPO_DIR / "ui" / "bench" / "open_trace.mjs")], cwd=REPO_DIR,
            env={**os.environ, "BASE_URL": server.url, "TRACE_ID": trace_id, "TRACE_B": trace_b,
                 "RUNS": str(n)},
            capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"open_trace.mjs failed:\n{proc.stdout}\n{proc.stderr}")
        measured = json.loads(proc.stdout.strip().splitlines()[-1])

    result.add(Figure(f"open {spans:,}-span trace until waterfall interactive", "ms",
                      [float(v) for v in measured["open_ms"]], cmd, OPEN_TARGET_MS, "<=",
                      note="(navigation → first rows → a collapse click re-rendered)"))
    ui_runs = [float(v) for v in measured["ui_after_api_ms"] if v is not None]
    if ui_runs:
        result.add(Figure("of which UI work after the trace JSON arrived", "ms", ui_runs, cmd,
                          note="(JSON parse, row model, first render, collapse click)"))
    result.add(Figure("scroll frame time p50", "ms", [s["p50"] for s in measured["scroll"]], cmd))
    result.add(Figure("scroll frame time p95", "ms", [s["p95"] for s in measured["scroll"]], cmd,
                      FRAME_P95_TARGET_MS, "<="))
    result.add(Figure("frames over 50 ms per 150-frame scroll", "frames",
                      [float(s["long"]) for s in measured["scroll"]], cmd))
    result.add(Figure(f"flame graph of {spans:,} spans: navigation until drawn", "ms",
                      [float(v) for v in measured["flame_render_ms"]], cmd, OPEN_TARGET_MS, "<="))
    result.add(Figure("flame graph zoom frame time p95", "ms", [s["p95"] for s in measured["flame_zoom"]],
                      cmd, FRAME_P95_TARGET_MS, "<=", note="(animated zoom clicks and resets)"))
    result.add(Figure("flame graph zoom frame time p50", "ms", [s["p50"] for s in measured["flame_zoom"]], cmd))
    result.add(Figure(f"compare two {spans:,}-span traces: navigation until rows", "ms",
                      [float(v) for v in measured["compare_open_ms"]], cmd, 2 * OPEN_TARGET_MS, "<=",
                      note="(two timelines, matching, first render)"))
    result.add(Figure("compare view scroll frame time p95", "ms",
                      [s["p95"] for s in measured["compare_scroll"]], cmd, FRAME_P95_TARGET_MS, "<="))
    result.notes.append(f"GET /api/v1/traces/<id> for the trace: {len(body) / 1e6:.1f} MB JSON, "
                        f"{api_ms:.0f} ms (one request, outside the browser)")
    result.notes.append(f"GET /api/v1/traces/<id>/timeline (what the waterfall loads): "
                        f"{len(compact) / 1e6:.2f} MB JSON, {timeline_ms:.0f} ms")
    result.notes.append(f"budget: main JS chunk <= {MAIN_CHUNK_BUDGET_KB:.0f} KB gzip; "
                        f"open <= {OPEN_TARGET_MS:.0f} ms; scroll p95 <= {FRAME_P95_TARGET_MS} ms")
    emit(result)


if __name__ == "__main__":
    main()
