"""Prometheus metrics of a running server, in a registry of its own (one per app instance)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class IngestMetrics:
    """Counters and gauges exported at /metrics. Create one per running server."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "msgtrace_otlp_requests",
            "OTLP export requests by transport, encoding and response status.",
            ["transport", "content_type", "status"],
            registry=r,
        )
        self.spans_received = Counter(
            "msgtrace_spans_received", "Spans accepted and made durable.", registry=r
        )
        self.spans_rejected = Counter(
            "msgtrace_spans_rejected",
            "Spans refused: invalid (partial success) or in a refused request.",
            ["reason"],
            registry=r,
        )
        self.request_bytes = Counter(
            "msgtrace_otlp_request_bytes", "Decompressed OTLP request bytes accepted.", registry=r
        )
        self.ack_latency = Histogram(
            "msgtrace_ack_latency_seconds",
            "Time from a request's last body byte to its durable acknowledgement.",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
            registry=r,
        )
        self.inflight_bytes = Gauge(
            "msgtrace_ingest_inflight_bytes", "Request bytes held in memory by ingest.", registry=r
        )
        self.journal_pending = Gauge(
            "msgtrace_journal_pending_requests", "Requests waiting for the journal's fsync.", registry=r
        )
        self.journal_backlog_bytes = Gauge(
            "msgtrace_journal_backlog_bytes", "Journal bytes not yet sealed into segments.", registry=r
        )
        self.journal_last_offset = Gauge(
            "msgtrace_journal_last_offset", "Highest log offset made durable.", registry=r
        )
        self.projection_checkpoint = Gauge(
            "msgtrace_projection_checkpoint", "Highest log offset applied to the views.", registry=r
        )
        self.projection_lag_offsets = Gauge(
            "msgtrace_projection_lag_offsets", "Log records not yet visible in the views.", registry=r
        )
        self.projection_lag_seconds = Gauge(
            "msgtrace_projection_lag_seconds",
            "How long the views have been behind the log (0 when caught up).",
            registry=r,
        )
        self.worker_restarts = Counter(
            "msgtrace_worker_restarts", "Worker processes restarted after a crash.", ["worker"], registry=r
        )
