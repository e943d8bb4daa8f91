"""Traces for the browser tests, sent through the real OpenTelemetry SDK exporter."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Status, StatusCode


@dataclass(frozen=True)
class SentTrace:
    trace_id: str
    span_count: int
    llm_span_id: str = ""


def send_agent_trace(
    provider: Any, workflow: str, *, root_name: str = "agent.run", fail: bool = True,
    answer: str = "Paris.", output_tokens: int = 300, rerank: bool = False,
) -> SentTrace:
    """An agent run: root → retrieve, LLM call (with messages and usage), tool call (failing).

    `answer`, `output_tokens` and `rerank` (an extra span after retrieve) make a variant to compare.
    """
    tracer = provider.get_tracer("msgtrace.e2e")
    with tracer.start_as_current_span(root_name, attributes={"workflow.name": workflow, "session.id": "s-e2e"}) as root:
        with tracer.start_as_current_span("retrieve", attributes={"db.system": "vector", "k": 4}):
            pass
        if rerank:
            with tracer.start_as_current_span("rerank"):
                pass
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 1200,
                "gen_ai.usage.output_tokens": output_tokens,
                "gen_ai.input.messages": json.dumps(
                    [
                        {"role": "system", "parts": [{"type": "text", "content": "Answer briefly."}]},
                        {"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]},
                    ]
                ),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
                ),
            },
        ) as llm:
            llm_span_id = format(llm.get_span_context().span_id, "016x")
        with tracer.start_as_current_span("tool search", attributes={"gen_ai.operation.name": "execute_tool"}) as tool:
            with tracer.start_as_current_span("http GET"):
                pass
            if fail:
                try:
                    raise TimeoutError("search backend did not answer in 5s")
                except TimeoutError as exc:
                    tool.record_exception(exc)
                    tool.set_status(Status(StatusCode.ERROR, "search timed out"))
        trace_id = format(root.get_span_context().trace_id, "032x")
    return SentTrace(trace_id, 6 if rerank else 5, llm_span_id)


def send_wide_trace(provider: Any, workflow: str, spans: int, fanout: int = 20) -> SentTrace:
    """One trace of `spans` spans: a root with `fanout` children, each with a chain of leaves."""
    tracer = provider.get_tracer("msgtrace.e2e")
    sent = 1
    with tracer.start_as_current_span("big.run", attributes={"workflow.name": workflow}) as root:
        per_branch = max(1, (spans - 1) // fanout)
        for b in range(fanout):
            if sent >= spans:
                break
            with tracer.start_as_current_span(f"branch {b}", attributes={"branch": b}):
                sent += 1
                for i in range(per_branch - 1):
                    if sent >= spans:
                        break
                    with tracer.start_as_current_span(f"step {b}.{i}", attributes={"i": i}):
                        sent += 1
        trace_id = format(root.get_span_context().trace_id, "032x")
    return SentTrace(trace_id, sent)
