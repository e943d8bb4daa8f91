"""`msgtrace demo`: send workflow plans to msgtrace through the real OpenTelemetry SDK over OTLP.

Finds the server (`--url`, or `--port` on loopback), starting one with `start_observer` when
none answers on the port. Traces spread over the last hour, about 8% fail, about 5% are slow
outliers, and a few are very large (thousands of spans).
"""

from __future__ import annotations

import random
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from msgtrace.demo_workflows import PlannedSpan, Planner

SERVICES = ("research-api", "support-bot", "reporting")
LARGE_TRACE_EXAMPLES = 1200  # about 3,600 spans


@dataclass
class DemoSummary:
    url: str
    traces: int
    spans: int
    errors: int
    large: int
    started_server: bool

    def describe(self) -> str:
        origin = "started here" if self.started_server else "already running"
        return (
            f"sent {self.traces} traces ({self.spans} spans, {self.errors} with errors, "
            f"{self.large} very large) to msgtrace at {self.url} ({origin})\n"
            f"open {self.url} to explore them"
        )


def _emit(tracer: Any, plan: PlannedSpan, parent: Any = None) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    attributes = {k: v for k, v in plan.attributes.items() if k != "fatal"}
    span = tracer.start_span(plan.name, context=parent, kind=SpanKind[plan.kind],
                             attributes=attributes, start_time=plan.start_ns)
    context = trace.set_span_in_context(span)
    for child in plan.children:
        _emit(tracer, child, context)
    if plan.error:
        kind, _, message = plan.error.partition(": ")
        span.add_event("exception", {"exception.type": kind, "exception.message": message},
                       timestamp=plan.end_ns)
        span.set_status(Status(StatusCode.ERROR, plan.error))
    else:
        span.set_status(Status(StatusCode.OK))
    span.end(end_time=plan.end_ns)


def _providers(endpoint: str) -> dict[str, Any]:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    providers = {}
    for service in SERVICES:
        provider = TracerProvider(resource=Resource.create({
            "service.name": service, "deployment.environment": "demo"}))
        provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, timeout=30),
            max_queue_size=1 << 16, max_export_batch_size=512, schedule_delay_millis=200))
        providers[service] = provider
    return providers


def send_demo_traffic(endpoint: str, traces: int, seed: int = 7, large: int | None = None,
                      now_ns: int | None = None) -> tuple[int, int, int, int]:
    """Send `traces` traces (of which `large` very large); returns (traces, spans, errors, large)."""
    rng = random.Random(seed)
    planner = Planner(rng)
    large = max(0, min(traces, large if large is not None else (1 if traces < 40 else 2)))
    now = now_ns if now_ns is not None else time.time_ns()
    providers = _providers(endpoint)
    spans = errors = 0
    try:
        for index in range(traces):
            start = now - int(rng.uniform(5, 3600) * 1e9)
            if index < large:
                plan = planner.batch_eval(start, LARGE_TRACE_EXAMPLES)
                service = "reporting"
            else:
                slow = rng.uniform(6, 12) if rng.random() < 0.05 else 1.0
                plan = planner.any_workflow(start, slow, failing=rng.random() < 0.08)
                service = rng.choice(SERVICES[:2])
            tracer = providers[service].get_tracer("msgtrace.demo")
            _emit(tracer, plan)
            spans += plan.count()
            errors += plan.error is not None
            if index < large:
                providers[service].force_flush(60_000)
    finally:
        for provider in providers.values():
            provider.force_flush(60_000)
            provider.shutdown()
    return traces, spans, errors, large


def run_demo(url: str | None = None, port: int | None = None, traces: int = 60, seed: int = 7,
             large: int | None = None, serve: bool = True) -> DemoSummary:
    """Fill msgtrace at `url` (or on loopback `port`, started here if none answers).

    When the server was started here and `serve` is true, keeps it running until SIGINT/SIGTERM
    so the user can explore the data, then stops it.
    """
    from msgtrace.integration import Observer, _health, start_observer

    observer: Observer | None = None
    if url:
        base = url.rstrip("/")
        if _health(base) is None:
            raise RuntimeError(f"no msgtrace answers at {base}/health; start one with `msgtrace start`")
    else:
        observer = start_observer(port=port if port is not None else 4321)
        base = observer.url
    started = observer is not None and observer.owned
    try:
        sent, spans, errors, big = send_demo_traffic(
            f"{base}/api/v1/traces/export", traces, seed, large)
        summary = DemoSummary(base, sent, spans, errors, big, started)
        if started and serve:
            print(summary.describe(), flush=True)
            print("the server keeps running; press Ctrl-C to stop it", flush=True)
            _wait_for_signal()
        return summary
    finally:
        if started and observer is not None:
            observer.stop()


def _wait_for_signal() -> None:
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
