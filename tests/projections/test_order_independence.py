"""Property: the views depend only on the set of spans, never on order, batching or duplicates."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgtrace.projections.projector import Projector
from tests.projections.segment_files import span, write_segment
from tests.projections.views import dump

T0 = 1_700_000_000_000_000_000
MODELS = ["gpt-4o", "gpt-4o-2024-08-06", "claude-3-5-haiku-latest", "my-private-model", None]


@st.composite
def usage_attrs(draw: st.DrawFn) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    kind = draw(st.sampled_from(["none", "gen_ai", "openinference", "legacy", "cost"]))
    model = draw(st.sampled_from(MODELS))
    tokens = draw(st.integers(0, 5000)), draw(st.integers(0, 5000))
    if kind == "gen_ai":
        attrs |= {"gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1]}
        if model:
            attrs["gen_ai.response.model"] = model
    elif kind == "openinference":
        attrs |= {
            "llm.token_count.prompt": tokens[0],
            "llm.token_count.completion": tokens[1],
            "openinference.span.kind": "LLM",
        }
        if model:
            attrs["llm.model_name"] = model
    elif kind == "legacy":
        attrs |= {"llm.usage.prompt_tokens": tokens[0], "llm.usage.total_tokens": sum(tokens)}
        if model:
            attrs["llm.model"] = model
    elif kind == "cost":
        attrs |= {
            "gen_ai.usage.input_tokens": tokens[0],
            "gen_ai.usage.cost.input_tokens": draw(st.floats(0, 2, allow_nan=False)),
            "gen_ai.usage.cost.output_tokens": draw(st.floats(0, 2, allow_nan=False)),
        }
    if draw(st.booleans()):
        attrs["workflow.name"] = draw(st.sampled_from(["wf-a", "wf-b"]))
    if draw(st.integers(0, 4)) == 0:
        attrs["session.id"] = draw(st.sampled_from(["s1", "s2"]))
    return attrs


@st.composite
def forests(draw: st.DrawFn) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    for t in range(draw(st.integers(1, 4))):
        trace = f"{t + 1:x}"
        n = draw(st.integers(1, 8))
        trace_start = T0 + draw(st.integers(0, 3)) * 45_000_000_000
        for i in range(n):
            parent = None if i == 0 else str(draw(st.integers(1, i)))
            if i == 0 and draw(st.integers(0, 5)) == 0:
                parent = "ff"  # a root that never arrives: trace stays in progress
            spans.append(
                span(
                    trace,
                    str(i + 1),
                    parent,
                    name=draw(st.sampled_from(["root", "agent", "llm", "tool"])),
                    start=trace_start + draw(st.integers(0, 90_000_000_000)),
                    duration=draw(st.integers(0, 10**10)),
                    status=draw(st.sampled_from([0, 0, 1, 2])),
                    attrs=draw(usage_attrs()),
                    service=draw(st.sampled_from(["svc-a", "svc-b", None])),
                )
            )
    return spans


@st.composite
def deliveries(
    draw: st.DrawFn,
) -> tuple[list[dict[str, Any]], list[list[list[dict[str, Any]]]], int]:
    """(spans, segments of requests of spans in a random order with duplicates, batch size)."""
    spans = draw(forests())
    sent = list(spans) + draw(st.lists(st.sampled_from(spans), max_size=len(spans)))
    sent = draw(st.permutations(sent))
    requests: list[list[dict[str, Any]]] = []
    i = 0
    while i < len(sent):
        k = draw(st.integers(1, 5))
        requests.append(sent[i : i + k])
        i += k
    segments: list[list[list[dict[str, Any]]]] = []
    j = 0
    while j < len(requests):
        k = draw(st.integers(1, 3))
        segments.append(requests[j : j + k])
        j += k
    return spans, segments, draw(st.integers(1, 20))


def _views(
    segments: list[list[list[dict[str, Any]]]],
    batch: int,
    apply_each: bool,
    row_group: int | None = None,
) -> dict:
    """Views after applying `segments`; with `row_group`, files have row groups of that many
    rows and every row group is its own chunk."""
    with tempfile.TemporaryDirectory() as tmp:
        data, db = Path(tmp) / "data", Path(tmp) / "db.sqlite"
        offset = 1
        chunk = 1 if row_group else 1 << 40
        with Projector(data, db, batch_spans=batch, chunk_bytes=chunk) as p:
            for requests in segments:
                last, _ = write_segment(data, requests, offset, row_group_size=row_group)
                offset = last + 1
                if apply_each:
                    p.apply_pending()
            p.apply_pending()
        return dump(db)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries(), st.booleans(), st.sampled_from([None, 1, 2, 5]))
def test_views_equal_in_order_application(
    case: tuple[list[dict[str, Any]], list[list[list[dict[str, Any]]]], int],
    apply_each: bool,
    row_group: int | None,
) -> None:
    spans, segments, batch = case
    expected = _views([[spans]], 10_000, apply_each=False)
    assert _views(segments, batch, apply_each, row_group) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries(), st.data())
def test_incremental_with_tombstones_equals_reindex(
    case: tuple[list[dict[str, Any]], list[list[list[dict[str, Any]]]], int], data: st.DataObject
) -> None:
    """Deletes at random points of the log, applied batch by batch as files land (tombstone files
    sometimes before the segment of the same range, as the sealer writes them), equal a reindex."""
    from tests.projections.segment_files import write_tombstones

    spans, segments, batch = case
    trace_ids = sorted({s["trace_id"].lstrip("0") for s in spans})
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, db = Path(tmp) / "data", Path(tmp) / "db.sqlite"
        offset = 1
        with Projector(data_dir, db, batch_spans=batch) as p:
            for requests in segments:
                first = offset
                last = first + len(requests) - 1
                deletes = []
                if data.draw(st.integers(0, 3)) == 0:
                    target = data.draw(st.sampled_from([*trace_ids, None]))
                    deletes.append((last + 1, target))
                    last += 1
                if deletes:
                    write_tombstones(data_dir, deletes)
                    if data.draw(st.booleans()):
                        p.apply_pending()  # the tombstone landed first
                write_segment(data_dir, requests, first)
                offset = last + 1
                if data.draw(st.booleans()):
                    p.apply_pending()
            p.apply_pending()
            incremental = dump(db, (*VIEWS_AND_SPANS,))
            p.reindex()
            assert dump(db, (*VIEWS_AND_SPANS,)) == incremental


VIEWS_AND_SPANS = (
    "traces",
    "trace_models",
    "usage_rollup",
    "trace_rollup",
    "duration_histogram",
    "spans",
)
