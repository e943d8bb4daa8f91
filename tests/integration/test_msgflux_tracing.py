"""Real msgflux 0.5.1 programs traced through `quick_start`: one trace per workflow, nested spans.

The programs run as subprocesses from a temporary directory (as a user's program would) and
export to the session's msgtrace server; `quick_start` finds it healthy on its port and reuses it.
The model is `ScriptedChatModel` (offline, implements msgflux's chat-model interface), so the
agent loop, tool calls, token usage and cost are real msgflux/OpenTelemetry spans.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import by_name, find_trace, run_program

pytest.importorskip("msgflux")

WORKFLOW = '''
import sys
from msgtrace.integration import quick_start

observer = quick_start(port=int(sys.argv[1]), service_name="integration-test")
assert not observer.owned, "a healthy msgtrace on the port must be reused"

import msgflux.nn as nn
from msgflux.nn import Agent
from msgtrace.demo_model import ScriptedChatModel

TAG = sys.argv[2]

def lookup_order(order_id: str) -> str:
    """Look up an order by id."""
    return f"order {order_id}: shipped"

class Normalize(nn.Module):
    def forward(self, text):
        return text.strip().lower()

class SupportFlow(nn.Module):
    def __init__(self):
        super().__init__()
        self.normalize = Normalize()
        self.agent = Agent(
            name=f"support_agent_{TAG}",
            model=ScriptedChatModel("gpt-4o-mini", answer="Your order:"),
            tools=[lookup_order],
            system_message="You help customers with their orders.",
        )
    def forward(self, question):
        return self.agent(self.normalize(question))

SupportFlow.__name__ = f"SupportFlow{TAG}"
print("ANSWER", SupportFlow()("  Where is ORDER 42?  "))
observer.stop()
'''


def _children(trace: dict[str, Any], parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in trace["spans"] if s["parent_span_id"] == parent["span_id"]]


def test_workflow_with_agent_and_tools_is_one_nested_trace(msgtrace_server: Any, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    proc = run_program(WORKFLOW, tmp_path, str(msgtrace_server.port), tag)
    assert "ANSWER Your order: order" in proc.stdout

    from msgflux.utils.convert import convert_camel_snake_to_title as title

    root_name = title(f"SupportFlow{tag}")
    trace = find_trace(msgtrace_server.url, root_name, min_spans=6)
    spans = by_name(trace)
    roots = [s for s in trace["spans"] if not s["parent_span_id"]]
    assert [r["name"] for r in roots] == [root_name], "the whole workflow is one trace"
    root = roots[0]
    assert root["attributes"]["span.type"] == "flow"
    assert root["attributes"]["module.name"] == root_name
    assert root["resource_attributes"]["service.name"] == "integration-test"

    # Module calls nest under the flow with their msgflux attributes.
    normalize, = spans["Normalize"]
    assert normalize["parent_span_id"] == root["span_id"]
    assert normalize["attributes"]["module.type"] == "normalize"
    agent, = spans[title(f"support_agent_{tag}")]
    assert agent["parent_span_id"] == root["span_id"]
    assert agent["attributes"]["span.type"] == "module"
    assert agent["attributes"]["module.type"] == "agent"

    # The tool call is a span below the agent with msgflux's tool attributes.
    tool, = spans["Lookup Order"]
    assert tool["attributes"]["gen_ai.tool.name"] == "lookup_order"
    assert tool["attributes"]["gen_ai.tool.call.arguments"]
    assert "shipped" in tool["attributes"]["gen_ai.tool.response"]
    ancestors = {s["span_id"]: s for s in trace["spans"]}
    cursor = tool
    while cursor["parent_span_id"]:
        cursor = ancestors[cursor["parent_span_id"]]
        if cursor["span_id"] == agent["span_id"]:
            break
    assert cursor["span_id"] == agent["span_id"], "the tool span descends from the agent"

    # Two model calls (tool call, then answer), each with tokens and cost.
    chats = spans["chat gpt-4o-mini"]
    assert len(chats) == 2
    for chat in chats:
        assert chat["attributes"]["gen_ai.usage.input_tokens"] > 0
        assert chat["attributes"]["gen_ai.usage.cost.input_tokens"] > 0
    assert trace["total_tokens"] == sum(c["attributes"]["gen_ai.usage.total_tokens"] for c in chats)
    assert trace["models"] == ["gpt-4o-mini"]


def test_user_span_around_msgflux_modules_nests_instead_of_raising(
    msgtrace_server: Any, tmp_path: Path
) -> None:
    """msgflux 0.5.1 alone raises TypeError here (init_module(name, module_type))."""
    tag = uuid.uuid4().hex[:8]
    code = '''
import sys
from opentelemetry import trace
from msgtrace import configure_msgflux_telemetry

configure_msgflux_telemetry(server=sys.argv[1])
import msgflux.nn as nn

class Step(nn.Module):
    def forward(self, x):
        return x * 2

with trace.get_tracer("user").start_as_current_span(f"request-{sys.argv[2]}"):
    print("RESULT", Step()(21))

from msgtrace.integration import Observer
Observer(url=sys.argv[1], port=0, host="").stop()  # flush only: not ours to stop
'''
    proc = run_program(code, tmp_path, msgtrace_server.url, tag)
    assert "RESULT 42" in proc.stdout
    trace = find_trace(msgtrace_server.url, f"request-{tag}", min_spans=2)
    spans = by_name(trace)
    step, = spans["Step"]
    assert step["parent_span_id"] == spans[f"request-{tag}"][0]["span_id"]
    assert step["attributes"]["module.name"] == "Step"
