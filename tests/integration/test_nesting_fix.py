"""The msgflux 0.5.1 nesting fix, in process, with the real OpenTelemetry SDK and msgflux modules.

Spans go to an in-memory exporter through a TracerProvider swapped into msgtrace-sdk's tracer
manager for each test (and restored after).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("msgflux")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from msgtrace import _msgflux_spans


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _pristine_spans_module() -> ModuleType:
    """A fresh copy of the installed SDK's spans module (unpatched, whatever this process did)."""
    import msgtrace.sdk.spans as installed

    spec = importlib.util.spec_from_file_location("pristine_sdk_spans", installed.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    manager = importlib.import_module("msgtrace.sdk.tracer").tracer_manager
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    saved = manager._tracer
    manager._tracer = provider.get_tracer("msgtrace.sdk")
    try:
        yield memory
    finally:
        manager._tracer = saved
        provider.shutdown()


def test_probe_detects_the_installed_sdk_behaviour_without_recording_spans(
    exporter: InMemorySpanExporter,
) -> None:
    pristine = _pristine_spans_module()
    activates, accepts_type = _msgflux_spans._probe_helper(pristine.Spans.__dict__["init_module"])
    assert (activates, accepts_type) == (False, False)
    assert _msgflux_spans.needs_nesting_fix(pristine.Spans) is True
    assert exporter.get_finished_spans() == (), "probing must not record or export spans"


def test_an_sdk_that_already_activates_its_spans_is_left_untouched() -> None:
    class FixedSpans:
        @staticmethod
        @contextmanager
        def init_module(module_name: str, module_type: str | None = None, **kw: Any) -> Iterator[Any]:
            tracer_manager: Any = None  # the probe re-binds this global name
            del tracer_manager
            with trace.get_tracer("x").start_as_current_span(module_name) as span:
                yield span

    original = FixedSpans.__dict__["init_module"]
    assert _msgflux_spans.ensure_nested_spans(FixedSpans) is False
    assert FixedSpans.__dict__["init_module"] is original


def test_patching_a_pristine_copy_fixes_it_and_is_idempotent() -> None:
    pristine = _pristine_spans_module()
    assert _msgflux_spans.ensure_nested_spans(pristine.Spans) is True
    patched = pristine.Spans.__dict__["init_module"]
    assert _msgflux_spans.ensure_nested_spans(pristine.Spans) is True
    assert pristine.Spans.__dict__["init_module"] is patched


def test_nested_modules_form_one_trace_with_module_attributes(exporter: InMemorySpanExporter) -> None:
    import msgflux.nn as nn

    _msgflux_spans.ensure_nested_spans()

    class Leaf(nn.Module):
        def forward(self, x: int) -> int:
            return x + 1

    class Branch(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.leaf = Leaf()

        def forward(self, x: int) -> int:
            return self.leaf(self.leaf(x))

    class Tree(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.branch = Branch()

        def forward(self, x: int) -> int:
            return self.branch(x) * 10

    assert Tree()(1) == 30
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["Branch", "Leaf", "Leaf", "Tree"]
    assert len({s.context.trace_id for s in exporter.get_finished_spans()}) == 1
    assert spans["Tree"].parent is None
    assert _attrs(spans["Tree"])["span.type"] == "flow"
    assert _attrs(spans["Tree"])["module.name"] == "Tree"
    assert _parent_id(spans["Branch"]) == spans["Tree"].context.span_id
    assert _attrs(spans["Branch"])["module.type"] == "branch"
    for leaf in [s for s in exporter.get_finished_spans() if s.name == "Leaf"]:
        assert _parent_id(leaf) == spans["Branch"].context.span_id
        assert _attrs(leaf)["span.type"] == "module"


def test_errors_are_recorded_on_the_failing_module_and_propagate(exporter: InMemorySpanExporter) -> None:
    import msgflux.nn as nn

    _msgflux_spans.ensure_nested_spans()

    class Broken(nn.Module):
        def forward(self) -> None:
            raise ValueError("bad input")

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.broken = Broken()

        def forward(self) -> None:
            self.broken()

    with pytest.raises(ValueError, match="bad input"):
        Outer()()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["Broken"].status.status_code.name == "ERROR"
    assert spans["Broken"].status.description == "bad input"
    assert any(e.name == "exception" for e in spans["Broken"].events)
    assert spans["Outer"].status.status_code.name == "ERROR"


def test_async_module_calls_nest_too(exporter: InMemorySpanExporter) -> None:
    import msgflux.nn as nn

    _msgflux_spans.ensure_nested_spans()

    class AsyncLeaf(nn.Module):
        async def aforward(self, x: int) -> int:
            return x + 1

    class AsyncRoot(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.leaf = AsyncLeaf()

        async def aforward(self, x: int) -> int:
            return await self.leaf.acall(await self.leaf.acall(x))

    assert asyncio.run(AsyncRoot().acall(1)) == 3
    finished = exporter.get_finished_spans()
    assert len({s.context.trace_id for s in finished}) == 1
    root, = [s for s in finished if s.name == "Async Root"]
    leaves = [s for s in finished if s.name == "Async Leaf"]
    assert len(leaves) == 2
    assert all(_parent_id(leaf) == root.context.span_id for leaf in leaves)
