"""LLM conventions: one test per key family, cost rules, and the no-double-counting rule.

Every attribute case runs through both implementations of the table (the per-span
`msgtrace.core.llm.normalise` and the projector's columnar `normalise_frame`) and requires the
same answer from each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from msgtrace.core.llm import KEY_FAMILIES, PriceTable, normalise
from msgtrace.projections.apply_llm import normalise_frame
from msgtrace.projections.projector import Projector
from tests.projections.segment_files import span, write_segment
from tests.projections.views import query

PRICES = PriceTable.load()
FIELDS = (
    "model",
    "provider",
    "span_type",
    "operation",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost",
    "cost_source",
    "workflow_name",
    "session_id",
    "user_id",
)


def both(attrs: dict[str, Any], prices: PriceTable = PRICES) -> dict[str, Any]:
    """Normalised fields, asserting the per-span and columnar paths agree."""
    one = normalise(attrs, prices)
    scalar = {f: getattr(one, f) for f in FIELDS}
    frame = pl.DataFrame({"attributes": [orjson.dumps(attrs).decode()] * 3})
    columnar, _ = normalise_frame(frame, prices)
    for row in columnar.select(FIELDS).iter_rows(named=True):
        assert row == scalar
    return scalar


def test_opentelemetry_gen_ai_current_names() -> None:
    f = both(
        {
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.provider.name": "openai",
            "gen_ai.system": "ignored-when-provider-name-present",
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 500,
            "gen_ai.usage.cache_read.input_tokens": 400,
            "gen_ai.usage.reasoning.output_tokens": 100,
            "gen_ai.conversation.id": "conv-1",
        }
    )
    assert f["model"] == "gpt-4o-2024-08-06"  # the response model wins
    assert f["provider"] == "openai"
    assert (f["span_type"], f["operation"]) == ("llm", "chat")
    assert (f["input_tokens"], f["output_tokens"], f["total_tokens"]) == (1000, 500, 1500)
    assert (f["cached_tokens"], f["reasoning_tokens"]) == (400, 100)
    assert f["session_id"] == "conv-1"
    # gpt-4o: 600 x 2.5 + 400 x 1.25 (cached) + 500 x 10 per million
    assert f["cost"] == pytest.approx((600 * 2.5 + 400 * 1.25 + 500 * 10) / 1e6)
    assert f["cost_source"] == "computed"


def test_opentelemetry_gen_ai_deprecated_names() -> None:
    f = both(
        {
            "gen_ai.request.model": "claude-3-5-haiku-20241022",
            "gen_ai.system": "anthropic",
            "gen_ai.usage.prompt_tokens": 200,
            "gen_ai.usage.completion_tokens": 50,
        }
    )
    assert (f["model"], f["provider"]) == ("claude-3-5-haiku-20241022", "anthropic")
    assert (f["input_tokens"], f["output_tokens"], f["total_tokens"]) == (200, 50, 250)
    assert f["cost"] == pytest.approx((200 * 0.8 + 50 * 4.0) / 1e6)


def test_current_name_wins_over_deprecated() -> None:
    f = both({"gen_ai.usage.input_tokens": 7, "gen_ai.usage.prompt_tokens": 9})
    assert f["input_tokens"] == 7


def test_msgflux_keys() -> None:
    f = both(
        {
            "span.type": "flow",
            "module.name": "support_agent",
            "module.type": "Agent",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 20,
            "gen_ai.usage.total_tokens": 35,
            "gen_ai.usage.cost.input_tokens": 0.25,
            "gen_ai.usage.cost.output_tokens": 0.5,
            "gen_ai.usage.cost.currency": "USD",
            "user.id": "u1",
        }
    )
    assert f["workflow_name"] == "support_agent"  # a flow's module.name names the workflow
    assert f["span_type"] == "flow"
    assert f["total_tokens"] == 35  # sent total wins over input + output
    assert (f["cost"], f["cost_source"]) == (0.75, "span")
    assert f["user_id"] == "u1"
    assert normalise({"gen_ai.usage.cost.currency": "EUR"}).currency == "EUR"


def test_msgflux_workflow_name_wins_over_module_name() -> None:
    f = both({"span.type": "flow", "module.name": "m", "workflow.name": "wf"})
    assert f["workflow_name"] == "wf"
    assert both({"span.type": "module", "module.name": "m"})["workflow_name"] is None


def test_openinference_keys() -> None:
    f = both(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gemini-1.5-pro-002",
            "llm.provider": "google",
            "llm.token_count.prompt": 300,
            "llm.token_count.completion": 30,
            "llm.token_count.total": 330,
            "llm.token_count.prompt_details.cache_read": 100,
            "llm.token_count.completion_details.reasoning": 10,
            "session.id": "s-9",
            "user.id": "u-9",
        }
    )
    assert (f["span_type"], f["model"], f["provider"]) == ("llm", "gemini-1.5-pro-002", "google")
    assert (f["input_tokens"], f["output_tokens"], f["total_tokens"]) == (300, 30, 330)
    assert (f["cached_tokens"], f["reasoning_tokens"]) == (100, 10)
    assert (f["session_id"], f["user_id"]) == ("s-9", "u-9")
    assert f["cost_source"] == "computed"
    assert both({"openinference.span.kind": "TOOL"})["span_type"] == "tool"
    costs = both({"llm.cost.prompt": 0.1, "llm.cost.completion": 0.2, "llm.cost.total": 0.4})
    assert (costs["cost"], costs["cost_source"]) == (0.4, "span")  # total wins


def test_original_msgtrace_keys() -> None:
    f = both(
        {
            "llm.model": "gpt-3.5-turbo",
            "llm.usage.prompt_tokens": 100,
            "llm.usage.completion_tokens": 20,
            "llm.usage.total_tokens": 120,
            "llm.cost.input": 0.001,
            "llm.cost.output": 0.002,
        }
    )
    assert (f["model"], f["input_tokens"], f["output_tokens"], f["total_tokens"]) == (
        "gpt-3.5-turbo",
        100,
        20,
        120,
    )
    assert f["cost"] == pytest.approx(0.003)
    assert f["cost_source"] == "span"
    assert both({"llm.model": "x", "llm.cost.total": 0.5})["cost"] == 0.5


def test_every_family_key_is_read() -> None:
    """Each key of the table alone is picked up (guards the table against typos)."""
    for field, keys in KEY_FAMILIES.items():
        for key in keys:
            value: Any = 5 if "token" in key or ("cost" in key and "currency" not in key) else "v"
            one = normalise(
                {key: value, "span.type": "flow"} if field == "module_name" else {key: value}
            )
            got = {
                "model": one.model,
                "provider": one.provider,
                "input_tokens": one.input_tokens,
                "output_tokens": one.output_tokens,
                "cached_tokens": one.cached_tokens,
                "reasoning_tokens": one.reasoning_tokens,
                "total_tokens": one.total_tokens,
                "cost_input": one.cost,
                "cost_output": one.cost,
                "cost_total": one.cost,
                "currency": one.currency,
                "span_kind": one.span_type,
                "operation": one.operation,
                "msgflux_span_type": one.span_type,
                "module_name": one.workflow_name,
                "module_type": "v",
                "workflow": one.workflow_name,
                "session_id": one.session_id,
                "user_id": one.user_id,
            }[field]
            assert got == value, (field, key)


def test_non_numeric_and_odd_values_are_ignored() -> None:
    f = both(
        {
            "gen_ai.usage.input_tokens": "many",
            "gen_ai.usage.output_tokens": True,
            "llm.token_count.prompt": 12,
            "gen_ai.request.model": {"$bytes": "eA=="},
        }
    )
    assert f["input_tokens"] == 12  # the first usable value of the family
    assert f["output_tokens"] is None
    assert f["model"] is None


def test_dated_snapshot_and_provider_prefix_resolve_by_prefix() -> None:
    assert PRICES.lookup("gpt-4o-2024-08-06") == PRICES.lookup("gpt-4o")
    assert PRICES.lookup("gpt-4o-mini-2024-07-18") == PRICES.lookup("gpt-4o-mini")
    assert PRICES.lookup("openai/gpt-4.1") == PRICES.lookup("gpt-4.1")
    assert PRICES.lookup("GPT-4o") == PRICES.lookup("gpt-4o")
    assert PRICES.lookup("totally-unknown") is None


def test_unknown_model_cost_is_null_never_zero(tmp_path: Path) -> None:
    data, db = tmp_path / "data", tmp_path / "db"
    write_segment(
        data,
        [
            [
                span(
                    "a",
                    "1",
                    None,
                    attrs={
                        "gen_ai.request.model": "my-private-model",
                        "gen_ai.usage.input_tokens": 10,
                    },
                ),
                span(
                    "b",
                    "1",
                    None,
                    attrs={"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10},
                ),
            ]
        ],
        1,
    )
    with Projector(data, db) as p:
        p.apply_pending()
    assert query(db, "SELECT model, cost, cost_source FROM spans ORDER BY trace_id") == [
        ("my-private-model", None, None),
        ("gpt-4o", 10 * 2.5 / 1e6, "computed"),
    ]
    assert query(db, "SELECT cost FROM traces ORDER BY trace_id") == [(None,), (10 * 2.5 / 1e6,)]
    ((unpriced,),) = query(db, "SELECT value FROM meta WHERE key = 'unpriced_models'")
    assert json.loads(unpriced) == ["my-private-model"]
    assert query(db, "SELECT model, unpriced_calls, cost FROM usage_rollup ORDER BY model") == [
        ("gpt-4o", 0, 10 * 2.5 / 1e6),
        ("my-private-model", 1, 0.0),
    ]


def test_span_cost_wins_over_computed(tmp_path: Path) -> None:
    data, db = tmp_path / "data", tmp_path / "db"
    write_segment(
        data,
        [
            [
                span(
                    "a",
                    "1",
                    None,
                    attrs={
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.usage.input_tokens": 1_000_000,
                        "gen_ai.usage.cost.input_tokens": 0.01,
                    },
                )
            ]
        ],
        1,
    )
    with Projector(data, db) as p:
        p.apply_pending()
    assert query(db, "SELECT cost, cost_source FROM spans") == [(0.01, "span")]
    assert query(db, "SELECT cost FROM traces") == [(0.01,)]


def test_user_price_file_overrides_and_extends(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "models": {
                    "gpt-4o": {"input": 1.0, "output": 2.0},
                    "my-private-model": {"input": 3.0, "output": 4.0, "cached_input": 0.5},
                }
            }
        )
    )
    data, db = tmp_path / "data", tmp_path / "db"
    write_segment(
        data,
        [
            [
                span(
                    "a",
                    "1",
                    None,
                    attrs={
                        "gen_ai.request.model": "my-private-model",
                        "gen_ai.usage.input_tokens": 100,
                        "gen_ai.usage.cache_read.input_tokens": 50,
                        "gen_ai.usage.output_tokens": 10,
                    },
                ),
                span(
                    "b",
                    "1",
                    None,
                    attrs={
                        "gen_ai.request.model": "gpt-4o-2024-11-20",
                        "gen_ai.usage.input_tokens": 100,
                    },
                ),
                span(
                    "c",
                    "1",
                    None,
                    attrs={"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 100},
                ),
            ]
        ],
        1,
    )
    with Projector(data, db, price_table=prices) as p:
        p.apply_pending()
    assert query(db, "SELECT cost FROM spans ORDER BY trace_id") == [
        ((50 * 3.0 + 50 * 0.5 + 10 * 4.0) / 1e6,),
        (100 * 1.0 / 1e6,),
        (100 * 0.15 / 1e6,),
    ]
    assert query(db, "SELECT count(*) FROM meta WHERE key = 'unpriced_models'") == [(0,)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "prices.json"),
        ('{"m": {"input": 1}}', "'m' needs 'input' and 'output'"),
        ('{"m": {"input": "x", "output": 1}}', "'m'"),
        ("[1, 2]", "expected an object"),
    ],
)
def test_bad_user_price_file_is_rejected(tmp_path: Path, content: str, message: str) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(content)
    with pytest.raises(ValueError, match=message):
        PriceTable.load(prices)


def test_agent_usage_does_not_double_count_its_llm_child(tmp_path: Path) -> None:
    agent = {
        "span.type": "module",
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.usage.input_tokens": 300,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.request.model": "gpt-4o",
    }
    child = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 10,
    }
    data, db = tmp_path / "data", tmp_path / "db"
    # trace a: agent (aggregated usage) -> wrapper without usage -> two LLM calls
    write_segment(
        data,
        [
            [
                span("a", "1", None, name="flow"),
                span("a", "2", "1", name="agent", attrs=agent),
                span("a", "3", "2", name="step"),
                span("a", "4", "3", name="llm", attrs=child),
                span("a", "5", "3", name="llm", attrs=child),
                # trace b: an agent span carrying usage whose children carry none counts
                span("b", "1", None, name="agent", attrs=agent),
                span("b", "2", "1", name="tool", attrs={"gen_ai.operation.name": "execute_tool"}),
            ]
        ],
        1,
    )
    with Projector(data, db) as p:
        p.apply_pending()
    assert query(
        db, "SELECT trace_id, span_id FROM spans WHERE counts_usage = 1 ORDER BY 1, 2"
    ) == [
        ("0" * 31 + "a", "0" * 15 + "4"),
        ("0" * 31 + "a", "0" * 15 + "5"),
        ("0" * 31 + "b", "0" * 15 + "1"),
    ]
    assert query(
        db, "SELECT input_tokens, output_tokens, total_tokens FROM traces ORDER BY trace_id"
    ) == [(200, 20, 220), (300, 30, 330)]
    assert query(db, "SELECT sum(calls), sum(input_tokens) FROM usage_rollup") == [(3, 500)]


def test_double_count_rule_holds_when_the_llm_child_arrives_later(tmp_path: Path) -> None:
    agent = {"gen_ai.usage.input_tokens": 300, "gen_ai.request.model": "gpt-4o"}
    child = {"gen_ai.usage.input_tokens": 100, "gen_ai.request.model": "gpt-4o"}
    data, db = tmp_path / "data", tmp_path / "db"
    write_segment(data, [[span("a", "1", None, attrs=agent)]], 1)
    with Projector(data, db) as p:
        p.apply_pending()
        assert query(db, "SELECT input_tokens FROM traces") == [(300,)]
        write_segment(data, [[span("a", "2", "1", attrs=child)]], 2)
        p.apply_pending()
    assert query(db, "SELECT input_tokens FROM traces") == [(100,)]
    assert query(db, "SELECT span_id, counts_usage FROM spans ORDER BY span_id") == [
        ("0" * 15 + "1", 0),
        ("0" * 15 + "2", 1),
    ]
    assert query(db, "SELECT calls, input_tokens FROM usage_rollup") == [(1, 100)]


def test_docs_list_every_key_of_the_table() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "llm-conventions.md").read_text()
    for field, keys in KEY_FAMILIES.items():
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{field}` |"))
        assert " → ".join(f"`{k}`" for k in keys) in row, field
