"""Real OTLP ExportTraceServiceRequest bodies for the log tests."""

from __future__ import annotations

import random

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

BASE_NS = 1_767_225_600_000_000_000


def request(n_spans: int, *, seed: int = 0, service: str = "svc", text_bytes: int = 0) -> bytes:
    """One protobuf request of `n_spans` spans over a few traces; the same seed gives the same bytes.

    Each span carries attribute `seq` = its index in the request, so tests can count spans.
    """
    rng = random.Random(seed)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    ss = rs.scope_spans.add()
    ss.scope.name = "tests"
    traces = [rng.randbytes(16) for _ in range(max(1, n_spans // 4))]
    for i in range(n_spans):
        span: Span = ss.spans.add()
        span.trace_id = traces[i % len(traces)]
        span.span_id = rng.randbytes(8)
        span.name = f"op-{i % 7}"
        span.kind = Span.SPAN_KIND_INTERNAL
        span.start_time_unix_nano = BASE_NS + rng.randrange(10**12)
        span.end_time_unix_nano = span.start_time_unix_nano + rng.randrange(1, 10**9)
        span.attributes.append(KeyValue(key="seq", value=AnyValue(int_value=i)))
        if text_bytes:
            text = "".join(rng.choice("abcdefghij klmnop") for _ in range(text_bytes))
            span.attributes.append(KeyValue(key="gen_ai.prompt", value=AnyValue(string_value=text)))
    return req.SerializeToString()
