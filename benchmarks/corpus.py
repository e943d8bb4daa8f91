"""Seeded corpus of msgflux-style agent traces, shared by every benchmark.

Two variants:

- ``realistic``: what an AI application sends. Each trace is a root flow span
  (``span.type=flow``, ``workflow.name``) over module spans (``span.type=module``,
  ``module.name``/``module.type``), LLM chat spans (``gen_ai.operation.name=chat``, request and
  response model over several real model names, token usage, sometimes ``gen_ai.usage.cost.*``,
  prompt and completion JSON of 0.5-4 KB each in ``gen_ai.input.messages`` /
  ``gen_ai.output.messages``) and tool spans (``gen_ai.tool.name``, arguments and results).
  About 5% of traces fail: the failing span and its ancestors get status ERROR and the failing
  span an ``exception`` event. Resources carry ``service.name`` over a few services.
- ``small``: the same shapes without any prompt, completion or tool text.

Contract: the same arguments always give byte-identical output (one ``random.Random(seed)``, a
fixed base time, no wall clock). ``generate_traces(n)`` returns exactly ``n`` spans; every
``parent_span_id`` names a span of the same trace, and a trace's ``spans[0]`` is its root.

Requests are batched the way OpenTelemetry's ``BatchSpanProcessor`` batches: each service has its
own exporter, spans are exported in end-time order (children before parents, concurrent traces
interleaved), ``spans_per_request`` at a time, so one trace's spans may span several requests and
its root usually arrives last. Each request holds one ResourceSpans with one ScopeSpans.

Corpus files (``write_corpus``/``read_corpus``) keep pre-serialized requests with their span
counts, so a load generator spends no time encoding. ``load_corpus`` caches them under
``benchmarks/.work/``.
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

WORK_DIR = Path(__file__).resolve().parent / ".work"

Variant = Literal["realistic", "small"]
VARIANTS: tuple[Variant, ...] = ("realistic", "small")

# 2026-01-01T00:00:00Z: fixed so output never depends on the clock.
DEFAULT_BASE_TIME_NS = 1_767_225_600_000_000_000

AttrValue = str | bool | int | float | bytes | list[str]

KIND_INTERNAL = 1
KIND_CLIENT = 3
STATUS_UNSET = 0
STATUS_OK = 1
STATUS_ERROR = 2

SCOPE_NAME = "msgtrace.sdk"
SCOPE_VERSION = "1.2.0"

SERVICES: tuple[str, ...] = ("support-agent", "research-assistant", "rag-api", "code-reviewer")
SERVICE_WEIGHTS: tuple[float, ...] = (0.4, 0.25, 0.25, 0.1)

WORKFLOWS: dict[str, tuple[str, ...]] = {
    "support-agent": ("triage_ticket", "answer_customer", "refund_request"),
    "research-assistant": ("deep_research", "summarize_papers"),
    "rag-api": ("rag_answer", "rerank_and_answer"),
    "code-reviewer": ("review_pull_request",),
}

# (request model, response model, provider, $ per 1M input tokens, $ per 1M output tokens)
MODELS: tuple[tuple[str, str, str, float, float], ...] = (
    ("gpt-4o", "gpt-4o-2024-08-06", "openai", 2.5, 10.0),
    ("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai", 0.15, 0.6),
    ("o3-mini", "o3-mini-2025-01-31", "openai", 1.1, 4.4),
    ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet-20241022", "anthropic", 3.0, 15.0),
    ("claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022", "anthropic", 0.8, 4.0),
    ("gemini-1.5-pro", "gemini-1.5-pro-002", "gcp.gemini", 1.25, 5.0),
    ("llama-3.1-70b-instruct", "meta-llama/Llama-3.1-70B-Instruct", "groq", 0.59, 0.79),
)
MODEL_WEIGHTS: tuple[float, ...] = (0.25, 0.3, 0.05, 0.15, 0.1, 0.08, 0.07)

TOOLS: tuple[str, ...] = (
    "search_web", "lookup_order", "query_database", "read_file", "run_python",
    "fetch_url", "get_weather", "create_ticket",
)
MODULES: tuple[tuple[str, str], ...] = (
    ("planner", "Agent"), ("researcher", "Agent"), ("writer", "Agent"),
    ("retriever", "Retriever"), ("reranker", "Module"), ("classifier", "Predictor"),
    ("guard", "Module"),
)
ERRORS: tuple[tuple[str, str], ...] = (
    ("TimeoutError", "request to provider timed out after 60.0s"),
    ("RateLimitError", "Error code: 429 - Rate limit reached for requests"),
    ("ValueError", "tool arguments failed validation: missing field 'query'"),
    ("ConnectionError", "connection reset by peer"),
)

_WORDS_TEXT = (
    "the a of to and in is for on with that this be are as it by from at or an not we you "
    "customer order refund policy account ticket search result document page paper model answer "
    "question context retrieval summary evidence source citation function argument value error "
    "request response latency token budget plan step tool call observation thought final draft "
    "review change file line test coverage regression performance memory database query index "
    "shipping address invoice payment subscription billing support agent workflow language "
    "please could would should however therefore because although relevant important detailed"
)
_WORDS = _WORDS_TEXT.split()

_FILE_MAGIC = b"MTCORPUS1\n"


@dataclass(slots=True)
class CorpusEvent:
    name: str
    time_ns: int
    attributes: dict[str, AttrValue]


@dataclass(slots=True)
class CorpusSpan:
    """One span. Ids are raw bytes (16 for trace, 8 for span); a root has ``parent_span_id=b""``."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, AttrValue]
    status_code: int = STATUS_UNSET
    status_message: str = ""
    events: list[CorpusEvent] = field(default_factory=list)


@dataclass(slots=True)
class CorpusTrace:
    """One trace, all from one service; ``spans[0]`` is the root."""

    trace_id: bytes
    service_name: str
    workflow_name: str
    spans: list[CorpusSpan]
    has_error: bool

    @property
    def trace_id_hex(self) -> str:
        return self.trace_id.hex()


@dataclass(slots=True)
class Corpus:
    """Pre-serialized ExportTraceServiceRequest bodies and how many spans each holds."""

    requests: list[bytes]
    span_counts: list[int]
    meta: dict[str, object]

    @property
    def n_spans(self) -> int:
        return sum(self.span_counts)

    @property
    def n_bytes(self) -> int:
        return sum(len(r) for r in self.requests)


def resource_attributes(service_name: str) -> dict[str, AttrValue]:
    """The resource every span of ``service_name`` carries."""
    return {
        "service.name": service_name,
        "service.version": "1.4.2",
        "deployment.environment": "production",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": "1.27.0",
        "python.version": "3.11.9",
        "platform.system": "Linux",
        "platform.machine": "x86_64",
    }


class _Gen:
    """Builds traces from one seeded RNG; holds the shared text blob for cheap slicing."""

    def __init__(self, seed: int, variant: Variant, base_time_ns: int) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown corpus variant {variant!r}; use one of {VARIANTS}")
        self.rng = random.Random(seed)
        self.variant = variant
        self.text = variant == "realistic"
        self.clock = base_time_ns
        blob_rng = random.Random(seed ^ 0x5EED)
        self.blob = " ".join(blob_rng.choices(_WORDS, k=60_000))

    def _id(self, n_bytes: int) -> bytes:
        """Random non-zero id of ``n_bytes`` (OTLP treats all-zero trace/span ids as invalid)."""
        value = 0
        while value == 0:
            value = self.rng.getrandbits(n_bytes * 8)
        return value.to_bytes(n_bytes, "big")

    def _text(self, lo: int, hi: int) -> str:
        n = self.rng.randint(lo, hi)
        start = self.rng.randrange(0, len(self.blob) - n - 1)
        return self.blob[start : start + n]

    def trace(self, max_spans: int) -> CorpusTrace:
        rng = self.rng
        service = rng.choices(SERVICES, SERVICE_WEIGHTS)[0]
        workflow = rng.choice(WORKFLOWS[service])
        trace_id = self._id(16)
        start = self.clock + rng.randint(0, 400_000_000)
        # Traces start faster than they last, so concurrent traces overlap in a batch.
        self.clock += rng.randint(20_000_000, 300_000_000)
        spans: list[CorpusSpan] = []
        root = CorpusSpan(
            trace_id, self._id(8), b"", workflow, KIND_INTERNAL, start, start,
            {"span.type": "flow", "workflow.name": workflow,
             "session.id": f"sess-{rng.randrange(5000):05d}",
             "user.id": f"user-{rng.randrange(800):04d}"},
        )
        spans.append(root)
        budget = max_spans - 1
        t = start + rng.randint(100_000, 2_000_000)
        n_modules = rng.randint(1, 4)
        for _ in range(n_modules):
            if budget <= 0:
                break
            t, used = self._module(spans, root, t, budget)
            budget -= used
        root.end_ns = t + rng.randint(100_000, 3_000_000)
        has_error = rng.random() < 0.05 and len(spans) > 1
        if has_error:
            self._fail(spans)
        elif rng.random() < 0.5:
            root.status_code = STATUS_OK
        return CorpusTrace(trace_id, service, workflow, spans, has_error)

    def _module(self, spans: list[CorpusSpan], parent: CorpusSpan, t: int, budget: int) -> tuple[int, int]:
        rng = self.rng
        name, mtype = rng.choice(MODULES)
        attrs: dict[str, AttrValue] = {
            "span.type": "module", "module.name": name, "module.type": mtype,
        }
        if rng.random() < 0.1:
            attrs["module.state_dict"] = self._id(rng.randint(16, 96))
        if mtype == "Agent":
            attrs["gen_ai.agent.name"] = name
        mod = CorpusSpan(parent.trace_id, self._id(8), parent.span_id, f"{mtype}.{name}",
                         KIND_INTERNAL, t, t, attrs)
        spans.append(mod)
        used = 1
        t += rng.randint(50_000, 500_000)
        steps = rng.randint(1, 6) if mtype == "Agent" else rng.randint(1, 2)
        for step in range(steps):
            if used >= budget:
                break
            t = self._llm(spans, mod, t)
            used += 1
            last = step == steps - 1
            n_tools = 0 if last else rng.randint(0, 3)
            for _ in range(n_tools):
                if used >= budget:
                    break
                t = self._tool(spans, mod, t)
                used += 1
        mod.end_ns = t + rng.randint(50_000, 800_000)
        return mod.end_ns, used

    def _llm(self, spans: list[CorpusSpan], parent: CorpusSpan, t: int) -> int:
        rng = self.rng
        req, resp, provider, p_in, p_out = rng.choices(MODELS, MODEL_WEIGHTS)[0]
        in_tok = rng.randint(150, 6000)
        out_tok = rng.randint(20, 1200)
        attrs: dict[str, AttrValue] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": provider,
            "gen_ai.request.model": req,
            "gen_ai.response.model": resp,
            "gen_ai.request.temperature": round(rng.choice((0.0, 0.2, 0.7, 1.0)), 1),
            "gen_ai.request.max_tokens": rng.choice((512, 1024, 2048, 4096)),
            "gen_ai.response.id": f"chatcmpl-{self._id(12).hex()}",
            "gen_ai.response.finish_reasons": [rng.choice(("stop", "tool_calls", "length"))],
            "gen_ai.usage.input_tokens": in_tok,
            "gen_ai.usage.output_tokens": out_tok,
            "gen_ai.usage.total_tokens": in_tok + out_tok,
        }
        if rng.random() < 0.6:
            attrs["gen_ai.usage.cost.input_tokens"] = round(in_tok * p_in / 1e6, 8)
            attrs["gen_ai.usage.cost.output_tokens"] = round(out_tok * p_out / 1e6, 8)
            attrs["gen_ai.usage.cost.currency"] = "USD"
        if self.text:
            system = self._text(200, 800)
            user = self._text(300, 3200)
            attrs["gen_ai.input.messages"] = json.dumps(
                [{"role": "system", "parts": [{"type": "text", "content": system}]},
                 {"role": "user", "parts": [{"type": "text", "content": user}]}]
            )
            attrs["gen_ai.output.messages"] = json.dumps(
                [{"role": "assistant", "finish_reason": "stop",
                  "parts": [{"type": "text", "content": self._text(500, 4000)}]}]
            )
        duration = rng.randint(250_000_000, 9_000_000_000)
        span = CorpusSpan(parent.trace_id, self._id(8), parent.span_id, f"chat {req}",
                          KIND_CLIENT, t, t + duration, attrs)
        spans.append(span)
        return span.end_ns + rng.randint(10_000, 200_000)

    def _tool(self, spans: list[CorpusSpan], parent: CorpusSpan, t: int) -> int:
        rng = self.rng
        tool = rng.choice(TOOLS)
        attrs: dict[str, AttrValue] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.call.id": f"call_{self._id(8).hex()}",
            "gen_ai.tool.type": "function",
        }
        if self.text:
            attrs["gen_ai.tool.call.arguments"] = json.dumps({"query": self._text(20, 200)})
            attrs["gen_ai.tool.call.result"] = json.dumps({"result": self._text(100, 2000)})
        duration = rng.randint(2_000_000, 1_500_000_000)
        span = CorpusSpan(parent.trace_id, self._id(8), parent.span_id, f"execute_tool {tool}",
                          KIND_INTERNAL, t, t + duration, attrs)
        spans.append(span)
        return span.end_ns + rng.randint(10_000, 100_000)

    def _fail(self, spans: list[CorpusSpan]) -> None:
        """Mark one non-root span failed (with an exception event) and its ancestors errored."""
        rng = self.rng
        victim = rng.choice(spans[1:])
        etype, message = rng.choice(ERRORS)
        victim.events.append(CorpusEvent("exception", victim.end_ns, {
            "exception.type": etype,
            "exception.message": message,
            "exception.stacktrace": (
                "Traceback (most recent call last):\n  File \"app/agent.py\", line 88, in step\n"
                f"    return await self.call(**kwargs)\n{etype}: {message}"
            ),
            "exception.escaped": True,
        }))
        by_id = {s.span_id: s for s in spans}
        node: CorpusSpan | None = victim
        while node is not None:
            node.status_code = STATUS_ERROR
            node.status_message = f"{etype}: {message}"
            node = by_id.get(node.parent_span_id)


def generate_traces(
    n_spans: int,
    *,
    variant: Variant = "realistic",
    seed: int = 0,
    base_time_ns: int = DEFAULT_BASE_TIME_NS,
) -> list[CorpusTrace]:
    """Traces holding exactly ``n_spans`` spans in total (the last trace may be cut short)."""
    if n_spans < 0:
        raise ValueError("n_spans must be >= 0")
    gen = _Gen(seed, variant, base_time_ns)
    traces: list[CorpusTrace] = []
    remaining = n_spans
    while remaining > 0:
        trace = gen.trace(remaining)
        traces.append(trace)
        remaining -= len(trace.spans)
    return traces


def _set_attrs(target: object, attrs: dict[str, AttrValue]) -> None:
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

    kvs = []
    for key, value in attrs.items():
        kv = KeyValue(key=key)
        v = kv.value
        if isinstance(value, bool):
            v.bool_value = value
        elif isinstance(value, int):
            v.int_value = value
        elif isinstance(value, float):
            v.double_value = value
        elif isinstance(value, bytes):
            v.bytes_value = value
        elif isinstance(value, list):
            for item in value:
                v.array_value.values.add().string_value = item
        else:
            v.string_value = value
        kvs.append(kv)
    target.attributes.extend(kvs)  # type: ignore[attr-defined]


def _encode_batch(service: str, spans: Sequence[CorpusSpan]) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    _set_attrs(rs.resource, resource_attributes(service))
    ss = rs.scope_spans.add()
    ss.scope.name = SCOPE_NAME
    ss.scope.version = SCOPE_VERSION
    for s in spans:
        p = ss.spans.add()
        p.trace_id = s.trace_id
        p.span_id = s.span_id
        if s.parent_span_id:
            p.parent_span_id = s.parent_span_id
        p.flags = 0x101  # W3C sampled, plus "is-remote known" (parent is local)
        p.name = s.name
        p.kind = s.kind
        p.start_time_unix_nano = s.start_ns
        p.end_time_unix_nano = s.end_ns
        _set_attrs(p, s.attributes)
        if s.status_code:
            p.status.code = s.status_code
            if s.status_message:
                p.status.message = s.status_message
        for e in s.events:
            pe = p.events.add()
            pe.name = e.name
            pe.time_unix_nano = e.time_ns
            _set_attrs(pe, e.attributes)
    return req.SerializeToString()


def batch_traces(traces: Sequence[CorpusTrace], spans_per_request: int) -> list[tuple[str, list[CorpusSpan]]]:
    """(service, spans) batches in the order a fleet of BatchSpanProcessors would send them."""
    if spans_per_request < 1:
        raise ValueError("spans_per_request must be >= 1")
    per_service: dict[str, list[CorpusSpan]] = {}
    for tr in traces:
        per_service.setdefault(tr.service_name, []).extend(tr.spans)
    batches: list[tuple[int, str, list[CorpusSpan]]] = []
    for service, spans in per_service.items():
        spans.sort(key=lambda s: s.end_ns)
        for i in range(0, len(spans), spans_per_request):
            chunk = spans[i : i + spans_per_request]
            batches.append((chunk[-1].end_ns, service, chunk))
    batches.sort(key=lambda b: b[0])
    return [(service, chunk) for _, service, chunk in batches]


def generate_requests(
    n_spans: int,
    *,
    spans_per_request: int = 512,
    variant: Variant = "realistic",
    seed: int = 0,
    base_time_ns: int = DEFAULT_BASE_TIME_NS,
) -> list[bytes]:
    """Serialized ExportTraceServiceRequest bodies holding ``n_spans`` spans in total."""
    return generate_corpus(
        n_spans, spans_per_request=spans_per_request, variant=variant, seed=seed,
        base_time_ns=base_time_ns,
    ).requests


def generate_corpus(
    n_spans: int,
    *,
    spans_per_request: int = 512,
    variant: Variant = "realistic",
    seed: int = 0,
    base_time_ns: int = DEFAULT_BASE_TIME_NS,
) -> Corpus:
    """Like ``generate_requests`` but keeps span counts and metadata (trace ids, error count)."""
    traces = generate_traces(n_spans, variant=variant, seed=seed, base_time_ns=base_time_ns)
    batches = batch_traces(traces, spans_per_request)
    requests = [_encode_batch(service, chunk) for service, chunk in batches]
    meta: dict[str, object] = {
        "variant": variant, "seed": seed, "n_spans": n_spans,
        "spans_per_request": spans_per_request, "n_traces": len(traces),
        "n_error_traces": sum(t.has_error for t in traces),
        "base_time_ns": base_time_ns,
    }
    return Corpus(requests, [len(c) for _, c in batches], meta)


def write_corpus(path: Path, corpus: Corpus) -> None:
    """Write atomically: magic, u32 header length, JSON header, then (u32 spans, u32 len, body)*."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = json.dumps(corpus.meta, sort_keys=True).encode()
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(_FILE_MAGIC)
        f.write(struct.pack("<I", len(header)))
        f.write(header)
        for body, count in zip(corpus.requests, corpus.span_counts, strict=True):
            f.write(struct.pack("<II", count, len(body)))
            f.write(body)
    tmp.replace(path)


def read_corpus(path: Path) -> Corpus:
    """Read a file written by ``write_corpus``; raises ValueError on a foreign or torn file."""
    data = Path(path).read_bytes()
    if not data.startswith(_FILE_MAGIC):
        raise ValueError(f"{path} is not a corpus file (bad magic); write one with "
                         "`python -m benchmarks.corpus --spans N --out FILE`")
    pos = len(_FILE_MAGIC)
    (hlen,) = struct.unpack_from("<I", data, pos)
    pos += 4
    meta = json.loads(data[pos : pos + hlen])
    pos += hlen
    requests: list[bytes] = []
    counts: list[int] = []
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError(f"{path} is truncated at byte {pos}")
        count, n = struct.unpack_from("<II", data, pos)
        pos += 8
        if pos + n > len(data):
            raise ValueError(f"{path} is truncated at byte {pos}")
        requests.append(data[pos : pos + n])
        counts.append(count)
        pos += n
    return Corpus(requests, counts, meta)


def corpus_path(n_spans: int, *, spans_per_request: int = 512, variant: Variant = "realistic",
                seed: int = 0) -> Path:
    """Cache file name for a corpus with these parameters (default base time only)."""
    return WORK_DIR / f"corpus-{variant}-{n_spans}-{spans_per_request}-s{seed}.bin"


def load_corpus(n_spans: int, *, spans_per_request: int = 512, variant: Variant = "realistic",
                seed: int = 0) -> Corpus:
    """The cached corpus for these parameters, generated and written on first use."""
    path = corpus_path(n_spans, spans_per_request=spans_per_request, variant=variant, seed=seed)
    if path.exists():
        try:
            return read_corpus(path)
        except ValueError:
            path.unlink()
    corpus = generate_corpus(n_spans, spans_per_request=spans_per_request, variant=variant,
                             seed=seed)
    write_corpus(path, corpus)
    return corpus


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.corpus",
        description="Write a corpus file of serialized OTLP requests once, for the load generator.",
    )
    parser.add_argument("--spans", type=int, required=True, help="total spans")
    parser.add_argument("--out", type=Path, help="output file (default: the cache under benchmarks/.work/)")
    parser.add_argument("--spans-per-request", type=int, default=512)
    parser.add_argument("--variant", choices=VARIANTS, default="realistic")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    if args.out is None:
        corpus = load_corpus(args.spans, spans_per_request=args.spans_per_request,
                             variant=args.variant, seed=args.seed)
        out = corpus_path(args.spans, spans_per_request=args.spans_per_request,
                          variant=args.variant, seed=args.seed)
    else:
        corpus = generate_corpus(args.spans, spans_per_request=args.spans_per_request,
                                 variant=args.variant, seed=args.seed)
        write_corpus(args.out, corpus)
        out = args.out
    summary = dict(corpus.meta, path=str(out), n_requests=len(corpus.requests),
                   n_bytes=corpus.n_bytes, bytes_per_span=round(corpus.n_bytes / max(1, corpus.n_spans), 1),
                   seconds=round(time.perf_counter() - t0, 2))
    print(json.dumps(summary), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
