"""OTLP codec speed: `validate` and `decode_rows` on protobuf and OTLP/JSON request bodies.

Corpus: realistic LLM-agent spans (10-15 attributes, prompt/completion strings of 0.5-4 KB, one
resource per request), 512 spans per request. It comes from the shared `benchmarks.corpus`
generator when present, else from the small seeded generator below. Each figure is the median
over repeated runs of decoding the whole corpus once on one core (spans per second).
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from benchmarks.common import Figure, Result, bench_arguments, command_line, emit, log, repeats
from msgtrace.core import otlp_native
from msgtrace.core.otlp import ContentType, decode_rows, request_to_json, validate
from msgtrace.core.otlp_validate import parse_request_lenient, validate_protobuf

SPANS_PER_REQUEST = 512
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "gemini-2.0-flash", "llama-3.1-70b")
WORDS = [
    "the",
    "agent",
    "calls",
    "a",
    "tool",
    "then",
    "asks",
    "the",
    "model",
    "to",
    "plan",
    "next",
    "step",
    "and",
    "summarise",
    "results",
]


def _text(rng: random.Random, low: int, high: int) -> str:
    size = rng.randint(low, high)
    out: list[str] = []
    n = 0
    while n < size:
        w = rng.choice(WORDS)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:size]


def _put(span_attrs: object, key: str, value: object) -> None:
    kv = span_attrs.add()  # type: ignore[attr-defined]
    kv.key = key
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    else:
        kv.value.string_value = str(value)


def generate_requests(n_spans: int, seed: int = 0) -> list[bytes]:
    """Seeded protobuf requests of LLM-agent spans, SPANS_PER_REQUEST spans each."""
    rng = random.Random(seed)
    bodies: list[bytes] = []
    t0 = 1_767_225_600_000_000_000
    made = 0
    while made < n_spans:
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        for k, v in (
            ("service.name", f"agent-{len(bodies) % 4}"),
            ("python.version", "3.11.9"),
            ("platform.system", "Linux"),
            ("telemetry.sdk.name", "opentelemetry"),
        ):
            _put(rs.resource.attributes, k, v)
        ss = rs.scope_spans.add()
        ss.scope.name = "msgtrace.sdk"
        ss.scope.version = "1.2.0"
        for _ in range(min(SPANS_PER_REQUEST, n_spans - made)):
            sp = ss.spans.add()
            sp.trace_id = rng.randbytes(16)
            sp.span_id = rng.randbytes(8)
            sp.parent_span_id = rng.randbytes(8)
            sp.name = rng.choice(("chat", "tool.search", "module.planner", "flow.agent"))
            sp.kind = 3
            sp.start_time_unix_nano = t0 + made * 1000
            sp.end_time_unix_nano = sp.start_time_unix_nano + rng.randint(10**6, 10**9)
            attrs = sp.attributes
            _put(attrs, "span.type", "module")
            _put(attrs, "module.name", "planner")
            _put(attrs, "gen_ai.operation.name", "chat")
            _put(attrs, "gen_ai.request.model", rng.choice(MODELS))
            _put(attrs, "gen_ai.response.model", rng.choice(MODELS))
            _put(attrs, "gen_ai.usage.input_tokens", rng.randint(10, 5000))
            _put(attrs, "gen_ai.usage.output_tokens", rng.randint(10, 2000))
            _put(attrs, "gen_ai.usage.cost.input_tokens", rng.random() / 100)
            _put(attrs, "workflow.name", "research")
            _put(attrs, "session.id", f"s-{rng.randint(1, 50)}")
            _put(attrs, "gen_ai.request.stream", rng.random() < 0.5)
            if rng.random() < 0.6:
                _put(attrs, "gen_ai.input.messages", _text(rng, 500, 4000))
                _put(attrs, "gen_ai.output.messages", _text(rng, 500, 2000))
            if rng.random() < 0.05:
                sp.status.code = 2
                ev = sp.events.add()
                ev.name = "exception"
                ev.time_unix_nano = sp.end_time_unix_nano
                _put(ev.attributes, "exception.type", "ValueError")
                _put(ev.attributes, "exception.message", "bad plan")
            made += 1
        bodies.append(req.SerializeToString())
    return bodies


def corpus(n_spans: int) -> tuple[list[bytes], str]:
    try:
        from benchmarks.corpus import generate_requests as shared
    except ImportError:
        return generate_requests(n_spans), "bench_codec generator"
    return shared(n_spans, spans_per_request=SPANS_PER_REQUEST, variant="realistic", seed=0), (
        "benchmarks.corpus realistic"
    )


def to_json_bodies(bodies: list[bytes]) -> list[bytes]:
    out = []
    for body in bodies:
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        out.append(orjson.dumps(request_to_json(req)))
    return out


def rate(fn: Callable[[bytes], int], bodies: list[bytes]) -> float:
    """Spans per CPU second of calling `fn` over every body once.

    CPU time (`time.process_time`) rather than wall time, so other load on a shared machine does
    not count as codec time; the codec is single-threaded, so this is the one-core rate.
    """
    t = time.process_time()
    spans = sum(fn(b) for b in bodies)
    return spans / (time.process_time() - t)


def main() -> int:
    parser = bench_arguments(__doc__ or "")
    parser.add_argument("--spans", type=int, default=None)
    args = parser.parse_args()
    n_spans = args.spans or (20_000 if args.quick else 50_000)
    n = repeats(args)
    cmd = command_line("bench_codec", args)

    log(f"generating {n_spans} spans")
    pb, source = corpus(n_spans)
    js = to_json_bodies(pb)
    pb_mb = sum(map(len, pb)) / 1e6
    js_mb = sum(map(len, js)) / 1e6

    def decode(ct: ContentType) -> Callable[[bytes], int]:
        return lambda b: len(decode_rows(b, ct, offset=1, received_time_unix_nano=1))

    def check(ct: ContentType) -> Callable[[bytes], int]:
        return lambda b: validate(b, ct).accepted_spans

    def check_python(b: bytes) -> int:
        """`validate` without the C extension: reduced-schema counts, then the full parse."""
        accepted, _ = validate_protobuf(b)
        if accepted:
            parse_request_lenient(b)
        return accepted

    result = Result("codec", "OTLP codec (one core)")
    plan = [
        ("validate protobuf", check(ContentType.PROTOBUF), pb, 1_000_000.0),
        ("validate protobuf (Python path)", check_python, pb, None),
        ("decode_rows protobuf", decode(ContentType.PROTOBUF), pb, 100_000.0),
        ("validate OTLP/JSON", check(ContentType.JSON), js, None),
        ("decode_rows OTLP/JSON", decode(ContentType.JSON), js, None),
    ]
    for name, fn, bodies, target in plan:
        rate(fn, bodies[:2])  # warm up
        runs = []
        for _ in range(n):
            runs.append(rate(fn, bodies))
            log(f"{name}: {runs[-1]:,.0f} spans/s")
        result.add(Figure(name, "spans/s", runs, cmd, target, ">=" if target else None))
    result.notes.append(
        f"{n_spans} spans from the {source}, {SPANS_PER_REQUEST} per request; "
        f"{pb_mb:.1f} MB protobuf ({pb_mb * 1e6 / n_spans:,.0f} B/span), {js_mb:.1f} MB OTLP/JSON."
    )
    result.notes.append(
        "validate protobuf is what ingest runs: "
        + ("the C walk (msgtrace.core._otlp_native)" if otlp_native.AVAILABLE
           else "the Python path (the C extension is not built)")
        + "; validate protobuf (Python path) is the protobuf parse it replaces."
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    result.notes.append(
        f"Rates are spans per CPU second of this process (load average during the run: {load})."
    )
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
