"""Trace/Span models and `build_span_tree` on broken data."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from msgtrace.core.models import Span, Trace, TraceQueryParams


def span(sid: str, parent: str | None, start: int = 0) -> Span:
    return Span(
        trace_id="t" * 32,
        span_id=sid,
        parent_span_id=parent,
        name=sid,
        start_time=start,
        end_time=start + 1,
    )


def tree_of(spans: list[Span]) -> list[tuple[str, list[object]]]:
    def walk(nodes):  # type: ignore[no-untyped-def]
        return [(n.span_id, walk(n.children)) for n in nodes]

    trace = Trace(trace_id="t" * 32, start_time=0, end_time=1, duration_ms=0, spans=spans)
    return walk(trace.build_span_tree())


def test_nesting_and_order() -> None:
    spans = [span("c", "a", 3), span("a", None, 0), span("b", "a", 2), span("d", "b", 4)]
    assert tree_of(spans) == [("a", [("b", [("d", [])]), ("c", [])])]


def test_missing_parent_and_self_parent_become_roots() -> None:
    spans = [span("a", None, 0), span("x", "gone", 1), span("s", "s", 2)]
    assert tree_of(spans) == [("a", []), ("x", []), ("s", [])]


def test_cycle_is_broken_at_its_earliest_span() -> None:
    spans = [span("p", "q", 5), span("q", "r", 6), span("r", "p", 7), span("k", "q", 8)]
    roots = tree_of(spans)
    assert [r[0] for r in roots] == ["p"]
    flat: list[str] = []

    def collect(nodes):  # type: ignore[no-untyped-def]
        for sid, children in nodes:
            flat.append(sid)
            collect(children)

    collect(roots)
    assert sorted(flat) == ["k", "p", "q", "r"]


def test_duplicate_span_ids_keep_one() -> None:
    spans = [span("a", None, 0), span("a", None, 0), span("b", "a", 1)]
    assert tree_of(spans) == [("a", [("b", [])])]


def test_deep_chain_does_not_recurse() -> None:
    spans = [span(f"{i:05d}", f"{i - 1:05d}" if i else None, i) for i in range(5000)]
    trace = Trace(trace_id="t" * 32, start_time=0, end_time=1, duration_ms=0, spans=spans)
    roots = trace.build_span_tree()
    depth = 0
    node = roots[0]
    while node.children:
        node = node.children[0]
        depth += 1
    assert depth == 4999


def test_query_params_validation() -> None:
    assert TraceQueryParams(sort="-duration").sort_key == ("duration", "desc")
    assert TraceQueryParams(sort="+cost").sort_key == ("cost", "asc")
    assert TraceQueryParams(sort="tokens", order="asc").sort_key == ("tokens", "asc")
    for bad in (
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"sort": "nope"},
        {"min_cost": -1},
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            TraceQueryParams(**bad)  # type: ignore[arg-type]
