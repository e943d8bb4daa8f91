"""Realistic msgflux-style workflows as span plans, for `msgtrace demo`.

A plan is a tree of `PlannedSpan` with absolute timestamps; `demo_traffic` emits it through the
real OpenTelemetry SDK. Plans use the attribute keys msgflux and msgtrace-sdk write (`span.type`,
`module.*`, `gen_ai.*`, `workflow.name`, `session.id`, `user.id`) and carry prompt/completion
messages (`gen_ai.input.messages` / `gen_ai.output.messages`) so the chat view has content.

Invariant: plans depend only on the `random.Random` they are given (same seed, same traffic),
and a child's time range lies inside its parent's.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

MS = 1_000_000  # nanoseconds per millisecond

# USD per million tokens (input, output) and provider, for the demo's models.
MODELS: dict[str, tuple[float, float, str]] = {
    "gpt-4o": (2.50, 10.00, "openai"),
    "gpt-4o-mini": (0.15, 0.60, "openai"),
    "claude-3-5-sonnet": (3.00, 15.00, "anthropic"),
    "claude-3-5-haiku": (0.80, 4.00, "anthropic"),
    "llama-3.1-70b": (0.59, 0.79, "groq"),
    "gemini-1.5-flash": (0.075, 0.30, "google"),
}

QUESTIONS = [
    "What were the main AI infrastructure trends in 2024?",
    "Compare vector databases for a 10M document corpus.",
    "Why did my invoice double this month?",
    "Summarise the attached incident report for the on-call channel.",
    "How do I rotate the API keys without downtime?",
    "Which of our customers are most likely to churn next quarter?",
    "Draft a polite reply declining the partnership proposal.",
    "Explain the difference between p50 and p99 latency to a PM.",
]

TOOLS: dict[str, str] = {
    "search_web": "Search the web for recent information.",
    "fetch_page": "Download a web page and return its text.",
    "calculator": "Evaluate an arithmetic expression.",
    "lookup_invoice": "Fetch an invoice by customer id.",
    "query_metrics": "Query the metrics store with PromQL.",
}


@dataclass
class PlannedSpan:
    """One span to emit: name, kind (OTel SpanKind name), absolute times, attributes, children."""

    name: str
    start_ns: int
    end_ns: int
    kind: str = "INTERNAL"
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    children: list[PlannedSpan] = field(default_factory=list)

    def count(self) -> int:
        return 1 + sum(child.count() for child in self.children)


def _messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


class Planner:
    """Builds workflow plans from one random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def llm(self, start: int, model: str, prompt: str, answer: str, *, slow: float = 1.0,
            error: str | None = None) -> PlannedSpan:
        rng = self.rng
        in_price, out_price, provider = MODELS[model]
        input_tokens = rng.randint(150, 2400)
        output_tokens = rng.randint(20, 600) if error is None else 0
        duration = int((rng.uniform(250, 1400) + output_tokens * 4) * slow * MS)
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": provider,
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.request.temperature": round(rng.choice([0.0, 0.2, 0.7]), 1),
            "gen_ai.system_instructions": json.dumps(
                [{"type": "text", "content": "You are a precise, helpful assistant."}]
            ),
            "gen_ai.input.messages": _messages("user", prompt),
        }
        if error is None:
            attrs.update({
                "gen_ai.response.model": model,
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.output.messages": _messages("assistant", answer),
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.usage.output_tokens": output_tokens,
                "gen_ai.usage.total_tokens": input_tokens + output_tokens,
                "gen_ai.usage.cost.input_tokens": round(input_tokens * in_price / 1e6, 8),
                "gen_ai.usage.cost.output_tokens": round(output_tokens * out_price / 1e6, 8),
                "gen_ai.usage.cost.currency": "USD",
            })
        return PlannedSpan(f"chat {model}", start, start + duration, "CLIENT", attrs, error)

    def tool(self, start: int, name: str, arguments: dict[str, Any], response: str, *,
             error: str | None = None, attempt: int = 1) -> PlannedSpan:
        duration = int(self.rng.uniform(15, 450) * MS)
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.description": TOOLS.get(name, ""),
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.id": f"call_{self.rng.getrandbits(48):012x}",
            "gen_ai.tool.call.arguments": json.dumps(arguments),
            "gen_ai.tool.execution.type": "local",
            "retry.count": attempt - 1,
        }
        if error is None:
            attrs["gen_ai.tool.response"] = response
        return PlannedSpan(f"tool {name}", start, start + duration, "INTERNAL", attrs, error)

    def module(self, name: str, module_type: str, start: int,
               children: list[PlannedSpan], extra: dict[str, Any] | None = None) -> PlannedSpan:
        end = max([c.end_ns for c in children], default=start + MS) + int(self.rng.uniform(1, 6) * MS)
        attrs = {"span.type": "module", "module.name": name, "module.type": module_type,
                 **(extra or {})}
        error = next((c.error for c in children if c.error and c.attributes.get("fatal")), None)
        return PlannedSpan(name, start, end, "INTERNAL", attrs, error, children)

    def flow(self, workflow: str, start: int, children: list[PlannedSpan]) -> PlannedSpan:
        end = max([c.end_ns for c in children], default=start + MS) + int(self.rng.uniform(1, 4) * MS)
        rng = self.rng
        attrs = {
            "span.type": "flow",
            "workflow.name": workflow,
            "module.name": workflow,
            "session.id": f"sess_{rng.randint(1, 40):04d}",
            "user.id": f"user_{rng.randint(1, 25):03d}",
        }
        error = next((c.error for c in children if c.error), None)
        return PlannedSpan(workflow, start, end, "SERVER", attrs, error, children)

    # ---- workflows -------------------------------------------------------------------------

    def research_agent(self, start: int, slow: float, failing: bool) -> PlannedSpan:
        rng = self.rng
        model = rng.choice(["gpt-4o", "claude-3-5-sonnet", "gpt-4o-mini"])
        question = rng.choice(QUESTIONS)
        t = start + MS
        steps: list[PlannedSpan] = []
        for step in range(rng.randint(1, 4)):
            plan = self.llm(t, model, question if step == 0 else "Continue with the tool results.",
                            "I will call a tool.", slow=slow)
            steps.append(plan)
            t = plan.end_ns + MS
            name = rng.choice(["search_web", "fetch_page", "calculator"])
            if rng.random() < 0.15:  # a failing call, retried
                failed = self.tool(t, name, {"query": question}, "", error="TimeoutError: upstream timed out")
                steps.append(failed)
                t = failed.end_ns + 50 * MS
                retried = self.tool(t, name, {"query": question}, "3 results", attempt=2)
                steps.append(retried)
                t = retried.end_ns + MS
            else:
                call = self.tool(t, name, {"query": question}, f"Results for: {question[:40]}")
                steps.append(call)
                t = call.end_ns + MS
        if failing:
            bad = self.tool(t, "fetch_page", {"url": "https://example.invalid"}, "",
                            error="ConnectionError: name resolution failed")
            bad.attributes["fatal"] = True
            steps.append(bad)
        else:
            steps.append(self.llm(t, model, "Write the final answer.",
                                  "Here is a concise answer with sources.", slow=slow))
        agent = self.module("research_agent", "agent", start + MS // 2, steps,
                            {"gen_ai.agent.name": "research_agent"})
        return self.flow("ResearchWorkflow", start, [agent])

    def rag_pipeline(self, start: int, slow: float, failing: bool) -> PlannedSpan:
        rng = self.rng
        question = rng.choice(QUESTIONS)
        t = start + MS
        retrieve = PlannedSpan("Retriever", t, t + int(rng.uniform(20, 120) * MS), "INTERNAL", {
            "span.type": "module", "module.name": "retriever", "module.type": "retriever",
            "retriever.top_k": 8, "retriever.documents": rng.randint(3, 8)})
        t = retrieve.end_ns + MS
        rerank = self.llm(t, "gpt-4o-mini", f"Rank passages for: {question}", "[2, 0, 5]", slow=slow)
        t = rerank.end_ns + MS
        if failing:
            answer = self.llm(t, "claude-3-5-haiku", question, "", slow=slow,
                              error="RateLimitError: 429 Too Many Requests")
            answer.attributes["fatal"] = True
        else:
            answer = self.llm(t, rng.choice(["claude-3-5-haiku", "gemini-1.5-flash"]), question,
                              "Based on the documents, the answer is ...", slow=slow)
        predictor = self.module("answer_predictor", "predictor", t, [answer])
        return self.flow("RAGPipeline", start, [retrieve, self.module(
            "reranker", "predictor", rerank.start_ns, [rerank]), predictor])

    def support_router(self, start: int, slow: float, failing: bool) -> PlannedSpan:
        rng = self.rng
        question = rng.choice(QUESTIONS)
        classify = self.llm(start + MS, "gpt-4o-mini", f"Classify: {question}", "billing", slow=slow)
        classifier = self.module("intent_classifier", "predictor", start + MS, [classify])
        t = classifier.end_ns + MS
        route = rng.choice(["billing_agent", "tech_agent"])
        tool_name = "lookup_invoice" if route == "billing_agent" else "query_metrics"
        call = self.tool(t + MS, tool_name, {"customer": f"cus_{rng.randint(100, 999)}"},
                         '{"status": "ok"}', error="KeyError: 'customer'" if failing else None)
        if failing:
            call.attributes["fatal"] = True
            children = [call]
        else:
            reply = self.llm(call.end_ns + MS, "llama-3.1-70b", question, "Thanks for reaching out!",
                             slow=slow)
            children = [call, reply]
        agent = self.module(route, "agent", t, children, {"gen_ai.agent.name": route})
        return self.flow("SupportRouter", start, [classifier, agent])

    def summarizer(self, start: int, slow: float, failing: bool) -> PlannedSpan:
        rng = self.rng
        chunks = [self.llm(start + 2 * MS + i * 3 * MS, "gemini-1.5-flash", f"Summarise chunk {i}",
                           f"Chunk {i} says ...", slow=slow) for i in range(rng.randint(3, 8))]
        mapper = self.module("chunk_summaries", "sequential", start + MS, chunks)
        final = self.llm(mapper.end_ns + MS, "gpt-4o", "Merge the chunk summaries.",
                         "The report in short: ...", slow=slow)
        return self.flow("ReportSummarizer", start, [mapper, self.module(
            "merge", "predictor", final.start_ns, [final])])

    def batch_eval(self, start: int, examples: int) -> PlannedSpan:
        """A very large trace: an evaluation run over many examples (about 3 spans each)."""
        rng = self.rng
        children: list[PlannedSpan] = []
        t = start + MS
        for i in range(examples):
            answer = self.llm(t, "gpt-4o-mini", f"Example {i}: {rng.choice(QUESTIONS)}", "An answer.")
            grade = self.tool(answer.end_ns, "calculator", {"expr": "score"}, str(rng.randint(0, 5)))
            children.append(self.module(f"example_{i}", "predictor", t, [answer, grade]))
            t += int(rng.uniform(5, 40) * MS)  # concurrent workers: examples overlap
        return self.flow("BatchEvaluation", start, children)

    def any_workflow(self, start: int, slow: float, failing: bool) -> PlannedSpan:
        build = self.rng.choice(
            [self.research_agent, self.research_agent, self.rag_pipeline, self.support_router,
             self.summarizer]
        )
        return build(start, slow, failing)
