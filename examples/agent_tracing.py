"""Agent workflow tracing: a msgflux Agent with tools; the agent loop, each tool call and each
model call (with token usage and cost) become spans of one trace.

Runs offline: `ScriptedChatModel` implements msgflux's chat-model interface and asks for the
tools it is told to call, then answers; use a real model with `Model.chat_completion(...)`.

    python examples/agent_tracing.py [--port 4321] [--data-dir ./msgtrace-data]
"""

# No `from __future__ import annotations` here: msgflux builds tool schemas from real type hints.
from typing import Any

from _common import parse_args, wait_for_trace

from msgtrace.integration import quick_start

args = parse_args(__doc__ or "")

# Setup with extended telemetry (module state and tool outputs on the spans).
observer = quick_start(port=args.port, data_dir=args.data_dir, enable_state_dict=True)

from msgflux.nn import Agent  # noqa: E402

from msgtrace.demo_model import ScriptedChatModel  # noqa: E402


def search_web(query: str) -> str:
    """Search the web for information."""
    return f"Results for: {query}"


def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


agent = Agent(
    name="research_agent",
    model=ScriptedChatModel("gpt-4o", answer="Findings:", tool_calls=["search_web", "word_count"],
                            price_per_mtok=(2.50, 10.00)),
    tools=[search_web, word_count],
    system_message="You are a helpful research assistant.",
)

answer = agent("Research AI trends in 2024")
print(f"answer: {answer}")

observer.flush()
trace = wait_for_trace(observer.url, "Research Agent", min_spans=8)
by_id = {span["span_id"]: span for span in trace["spans"]}


def depth(span: dict[str, Any]) -> int:
    return 0 if not span["parent_span_id"] else 1 + depth(by_id[span["parent_span_id"]])


print(f"trace {trace['trace_id']}: {trace['span_count']} spans, "
      f"{trace['total_tokens']} tokens, cost ${trace['cost'] or 0:.6f}")
for span in trace["spans"]:
    attrs = span["attributes"]
    extra = ""
    if "gen_ai.tool.name" in attrs:
        extra = f" tool={attrs['gen_ai.tool.name']} response={attrs.get('gen_ai.tool.response')!r}"
    elif "gen_ai.usage.total_tokens" in attrs:
        extra = f" model={attrs['gen_ai.request.model']} tokens={attrs['gen_ai.usage.total_tokens']}"
    print(f"{'  ' * depth(span)}- {span['name']}{extra}")
print(f"view it at {observer.trace_url(trace['trace_id'])}")

observer.stop()
