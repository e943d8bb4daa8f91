"""LLM attribute conventions: one table of key families, mapped to normalised fields.

`KEY_FAMILIES` is the single source of truth (docs/llm-conventions.md renders it). For every
normalised field it lists the attribute keys that carry it, in precedence order: the first key
present on a span wins. The projector builds its columnar (Polars) extraction from this table and
`normalise` applies the same table to one attribute dict; both must agree (tested).

Families: OpenTelemetry gen_ai.* (current, then deprecated names), msgflux / msgtrace-sdk keys,
OpenInference llm.*, and the original msgtrace llm.usage.* / llm.cost.* / llm.model.

Cost rule: a cost sent on the span wins (`cost_source = 'span'`); otherwise tokens x price from the
price table (`cost_source = 'computed'`); an unknown model gives cost None, never 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

# field -> attribute keys, highest precedence first
KEY_FAMILIES: dict[str, tuple[str, ...]] = {
    "model": (
        "gen_ai.response.model",
        "gen_ai.request.model",
        "llm.model_name",
        "llm.model",
    ),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "input_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "llm.usage.prompt_tokens",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "llm.usage.completion_tokens",
    ),
    "cached_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
    "total_tokens": (
        "gen_ai.usage.total_tokens",
        "llm.token_count.total",
        "llm.usage.total_tokens",
    ),
    "cost_input": ("gen_ai.usage.cost.input_tokens", "llm.cost.prompt", "llm.cost.input"),
    "cost_output": ("gen_ai.usage.cost.output_tokens", "llm.cost.completion", "llm.cost.output"),
    "cost_total": ("llm.cost.total",),
    "currency": ("gen_ai.usage.cost.currency",),
    "span_kind": ("openinference.span.kind",),
    "operation": ("gen_ai.operation.name",),
    "msgflux_span_type": ("span.type",),
    "module_name": ("module.name",),
    "module_type": ("module.type",),
    "workflow": ("workflow.name",),
    "session_id": ("session.id", "gen_ai.conversation.id"),
    "user_id": ("user.id",),
}

INT_FIELDS = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "total_tokens")
FLOAT_FIELDS = ("cost_input", "cost_output", "cost_total")

ALL_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k for keys in KEY_FAMILIES.values() for k in keys))

# gen_ai.operation.name -> span_type
OPERATION_SPAN_TYPES: dict[str, str] = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "completion": "llm",
    "embeddings": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
}

# Costs are summed as integers of this many units per currency unit, so sums are exact and
# independent of the order spans arrive in.
COST_SCALE = 10**12


@dataclass(frozen=True)
class Price:
    """USD per million tokens. `cached_input` and `reasoning` default to input and output."""

    input: float
    output: float
    cached_input: float | None = None
    reasoning: float | None = None

    def cost(self, input_tokens: int, output_tokens: int, cached: int, reasoning: int) -> float:
        """Cached tokens are part of input tokens and reasoning tokens part of output tokens."""
        cached = min(cached, input_tokens)
        reasoning = min(reasoning, output_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        reasoning_price = self.output if self.reasoning is None else self.reasoning
        total = (
            (input_tokens - cached) * self.input
            + cached * cached_price
            + (output_tokens - reasoning) * self.output
            + reasoning * reasoning_price
        )
        return total / 1_000_000


class PriceTable:
    """Model prices: the shipped prices.json, with a user file merged over it.

    Lookup: exact name, then without a `provider/` prefix, then the longest known name that the
    model starts with (dated snapshots such as `gpt-4o-2024-08-06` resolve to `gpt-4o`).
    Case-insensitive. Unknown models return None.
    """

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = {k.lower(): v for k, v in prices.items()}
        self._by_length = sorted(self._prices, key=len, reverse=True)
        self._cache: dict[str, Price | None] = {}

    @classmethod
    def load(cls, user_file: str | Path | None = None) -> PriceTable:
        shipped = resources.files("msgtrace.core").joinpath("prices.json").read_text("utf-8")
        prices = _parse_prices(json.loads(shipped), "prices.json")
        if user_file is not None:
            path = Path(user_file).expanduser()
            try:
                data = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"price table {path}: {exc}") from exc
            prices.update(_parse_prices(data, str(path)))
        return cls(prices)

    def lookup(self, model: str | None) -> Price | None:
        if not model:
            return None
        if model in self._cache:
            return self._cache[model]
        found = self._find(model.lower())
        self._cache[model] = found
        return found

    def _find(self, name: str) -> Price | None:
        candidates = [name]
        if "/" in name:
            candidates.append(name.rsplit("/", 1)[1])
        for c in candidates:
            if c in self._prices:
                return self._prices[c]
        for c in candidates:
            for known in self._by_length:
                if c.startswith(known):
                    return self._prices[known]
        return None


def _parse_prices(data: Any, source: str) -> dict[str, Price]:
    """Accept `{"models": {name: {...}}}` or `{name: {...}}`; entries need input and output."""
    if isinstance(data, dict) and isinstance(data.get("models"), dict):
        data = data["models"]
    if not isinstance(data, dict):
        raise ValueError(f"price table {source}: expected an object of model -> prices")
    out: dict[str, Price] = {}
    for name, entry in data.items():
        if name.startswith("_"):
            continue
        if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:
            raise ValueError(f"price table {source}: model {name!r} needs 'input' and 'output'")
        try:
            out[name] = Price(
                input=float(entry["input"]),
                output=float(entry["output"]),
                cached_input=_opt_float(entry.get("cached_input")),
                reasoning=_opt_float(entry.get("reasoning")),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"price table {source}: model {name!r}: {exc}") from exc
    return out


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _to_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if math.isfinite(f) else None


def _to_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _to_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return None
    return str(value)


def pick(
    attributes: Mapping[str, Any], field: str, convert: Callable[[Any], Any] | None = None
) -> Any:
    """The value of `field`: the first key of its family whose value is usable (present, not
    null, and convertible by `convert` when given)."""
    for key in KEY_FAMILIES[field]:
        value = attributes.get(key)
        if convert is not None:
            value = convert(value)
        if value is not None:
            return value
    return None


def span_type_of(
    span_kind: str | None, operation: str | None, msgflux_type: str | None, has_model: bool
) -> str | None:
    """OpenInference span kind, else the gen_ai operation, else msgflux span.type, else 'llm' when
    the span names a model."""
    if span_kind:
        return span_kind.lower()
    if operation and operation in OPERATION_SPAN_TYPES:
        return OPERATION_SPAN_TYPES[operation]
    if msgflux_type:
        return msgflux_type
    return "llm" if has_model else None


@dataclass(frozen=True)
class LlmFields:
    model: str | None
    provider: str | None
    span_type: str | None
    operation: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    reasoning_tokens: int | None
    total_tokens: int | None
    cost: float | None
    cost_source: str | None
    currency: str | None
    workflow_name: str | None
    session_id: str | None
    user_id: str | None

    @property
    def carries_usage(self) -> bool:
        return any(
            v is not None
            for v in (
                self.input_tokens,
                self.output_tokens,
                self.cached_tokens,
                self.reasoning_tokens,
                self.total_tokens,
                self.cost,
            )
        )


def normalise(attributes: Mapping[str, Any], prices: PriceTable | None = None) -> LlmFields:
    """Normalised LLM fields of one span's attributes (plain JSON values)."""
    model = pick(attributes, "model", _to_str)
    ints = {f: pick(attributes, f, _to_int) for f in INT_FIELDS}
    total = ints["total_tokens"]
    if total is None and (ints["input_tokens"] is not None or ints["output_tokens"] is not None):
        total = (ints["input_tokens"] or 0) + (ints["output_tokens"] or 0)
    cost_in = pick(attributes, "cost_input", _to_float)
    cost_out = pick(attributes, "cost_output", _to_float)
    cost = pick(attributes, "cost_total", _to_float)
    if cost is None and (cost_in is not None or cost_out is not None):
        cost = (cost_in or 0.0) + (cost_out or 0.0)
    source: str | None = "span" if cost is not None else None
    if (
        cost is None
        and prices is not None
        and (ints["input_tokens"] is not None or ints["output_tokens"] is not None)
    ):
        price = prices.lookup(model)
        if price is not None:
            cost = price.cost(
                ints["input_tokens"] or 0,
                ints["output_tokens"] or 0,
                ints["cached_tokens"] or 0,
                ints["reasoning_tokens"] or 0,
            )
            source = "computed"
    operation = pick(attributes, "operation", _to_str)
    msgflux_type = pick(attributes, "msgflux_span_type", _to_str)
    workflow = pick(attributes, "workflow", _to_str)
    if workflow is None and msgflux_type == "flow":
        workflow = pick(attributes, "module_name", _to_str)
    return LlmFields(
        model=model,
        provider=pick(attributes, "provider", _to_str),
        span_type=span_type_of(
            pick(attributes, "span_kind", _to_str), operation, msgflux_type, model is not None
        ),
        operation=operation,
        input_tokens=ints["input_tokens"],
        output_tokens=ints["output_tokens"],
        cached_tokens=ints["cached_tokens"],
        reasoning_tokens=ints["reasoning_tokens"],
        total_tokens=total,
        cost=cost,
        cost_source=source,
        currency=pick(attributes, "currency", _to_str),
        workflow_name=workflow,
        session_id=pick(attributes, "session_id", _to_str),
        user_id=pick(attributes, "user_id", _to_str),
    )
