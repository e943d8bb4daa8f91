"""`ScriptedChatModel`: an offline chat model implementing msgflux's model interface.

It lets examples and tests run real msgflux agents (agent loop, tool calls) with no network:
- with tool definitions and no tool result yet in the conversation, it answers with a tool call
  to each tool it is told to call (default: the first tool), arguments taken from the task;
- otherwise it answers in text (quoting the last tool result), or with a structured answer
  filled from `generation_schema` (str -> "positive", float -> 0.9, ...).

Each call records an LLM span like an instrumented provider client does: `chat <model>`
(kind CLIENT) with `gen_ai.request.model`, `gen_ai.response.model`, token usage
(`gen_ai.usage.*`, about four characters per token), cost from `price_per_mtok`
(`gen_ai.usage.cost.*`) and the prompt/completion as `gen_ai.input.messages` /
`gen_ai.output.messages`. Requires msgflux.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from msgflux.models.base import BaseModel
from msgflux.models.response import ModelResponse
from msgflux.models.tool_call_agg import ToolCallAggregator
from msgflux.models.types import ChatCompletionModel
from opentelemetry import trace
from opentelemetry.trace import SpanKind

__all__ = ["ScriptedChatModel"]

_SAMPLE_VALUES: dict[type, Any] = {str: "positive", float: 0.9, int: 1, bool: True}


def _text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ScriptedChatModel(BaseModel, ChatCompletionModel):
    """A deterministic chat-completion model for offline runs (see the module docstring)."""

    provider = "scripted"

    def __init__(
        self,
        model_id: str = "gpt-4o-mini",
        *,
        answer: str = "Done.",
        tool_calls: Sequence[str] | None = None,
        price_per_mtok: tuple[float, float] = (0.15, 0.60),
        provider_name: str = "openai",
    ) -> None:
        self.model_id = model_id
        self.answer = answer
        self.tool_calls = list(tool_calls) if tool_calls is not None else None
        self.price_per_mtok = price_per_mtok
        self.provider_name = provider_name
        self.calls = 0
        self._initialize()

    def _initialize(self) -> None:
        """Nothing to connect to; state stays plain data so msgflux can serialise it."""

    # msgflux calls chat models as model(messages=..., system_prompt=..., tool_definitions=...)
    # (Agent) or model(data=...) (Predictor).
    def __call__(
        self,
        messages: str | list[dict[str, Any]] | None = None,
        *,
        data: Any = None,
        system_prompt: str | None = None,
        tool_definitions: Any = None,
        generation_schema: Any = None,
        stream: bool = False,
        **_: Any,
    ) -> ModelResponse:
        self.calls += 1
        if messages is None:
            messages = data if isinstance(data, (str, list)) else str(data or "")
        history = [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
        with trace.get_tracer("msgtrace.demo_model").start_as_current_span(
            f"chat {self.model_id}", kind=SpanKind.CLIENT
        ) as span:
            response, completion = self._respond(history, tool_definitions, generation_schema)
            prompt_text = (system_prompt or "") + "".join(_text_of(m) for m in history)
            self._record(span, system_prompt, history, completion, prompt_text)
        return response

    def _respond(
        self, history: list[dict[str, Any]], tool_definitions: Any, schema: Any
    ) -> tuple[ModelResponse, dict[str, Any]]:
        response = ModelResponse()
        has_tool_results = any(m.get("role") == "tool" for m in history)
        tool_names = [
            s.get("function", {}).get("name") or s.get("name")
            for s in (getattr(tool_definitions, "schemas", None) or [])
        ]
        task = next((_text_of(m) for m in reversed(history) if m.get("role") == "user"), "")
        wanted = [n for n in (self.tool_calls or tool_names[:1]) if n in tool_names]
        if wanted and not has_tool_results:
            aggregator = ToolCallAggregator()
            calls = []
            for index, name in enumerate(wanted):
                call_id = f"call_{self.calls}_{index}"
                arguments = json.dumps(self._arguments(tool_definitions, name, task))
                aggregator.process(index, call_id, name, arguments)
                calls.append({"type": "tool_call", "id": call_id, "name": name,
                              "arguments": json.loads(arguments)})
            response.set_response_type("tool_call")
            response.add(aggregator)
            return response, {"role": "assistant", "parts": calls, "finish_reason": "tool_calls"}
        if schema is not None:
            fields = getattr(schema, "__annotations__", {}) or {}
            data = {name: _SAMPLE_VALUES.get(typ, self.answer) for name, typ in fields.items()}
            response.set_response_type("structured")
            response.add(data)
            text = json.dumps(data)
        else:
            last_tool = next((_text_of(m) for m in reversed(history) if m.get("role") == "tool"), "")
            text = f"{self.answer} {last_tool}".strip()
            response.set_response_type("text_generation")
            response.add(text)
        return response, {"role": "assistant", "parts": [{"type": "text", "content": text}],
                          "finish_reason": "stop"}

    @staticmethod
    def _arguments(tool_definitions: Any, name: str, task: str) -> dict[str, Any]:
        for schema in getattr(tool_definitions, "schemas", None) or []:
            function = schema.get("function", schema)
            if function.get("name") == name:
                properties = function.get("parameters", {}).get("properties", {})
                return {param: task for param in properties}
        return {}

    def _record(self, span: Any, system_prompt: str | None, history: list[dict[str, Any]],
                completion: dict[str, Any], prompt_text: str) -> None:
        input_tokens = _tokens(prompt_text)
        output_tokens = _tokens(json.dumps(completion["parts"]))
        in_price, out_price = self.price_per_mtok
        inputs = [{"role": m.get("role", "user"),
                   "parts": [{"type": "text", "content": _text_of(m)}]} for m in history]
        span.set_attributes({
            "gen_ai.operation.name": "chat",
            "gen_ai.system": self.provider_name,
            "gen_ai.provider.name": self.provider_name,
            "gen_ai.request.model": self.model_id,
            "gen_ai.response.model": self.model_id,
            "gen_ai.response.finish_reasons": [completion["finish_reason"]],
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.usage.total_tokens": input_tokens + output_tokens,
            "gen_ai.usage.cost.input_tokens": round(input_tokens * in_price / 1e6, 10),
            "gen_ai.usage.cost.output_tokens": round(output_tokens * out_price / 1e6, 10),
            "gen_ai.usage.cost.currency": "USD",
            "gen_ai.input.messages": json.dumps(inputs),
            "gen_ai.output.messages": json.dumps([completion]),
        })
        if system_prompt:
            span.set_attribute("gen_ai.system_instructions",
                               json.dumps([{"type": "text", "content": system_prompt}]))
