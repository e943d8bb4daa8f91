"""Nested traces for msgflux programs whose SDK starts spans without making them current.

msgtrace-sdk 1.2.0 (used by msgflux 0.5.1) opens `Spans.init_flow`, `init_module` and
`span_context` with `tracer.start_span` and never activates the span. Consequences in msgflux:

- every module call sees no current span, so it opens a new root "flow": a workflow of N module
  calls becomes N one-span traces;
- `MsgTraceAttributes.set_*` write to the current span, so `module.name`, `module.type`, tool and
  agent attributes are dropped;
- under a caller's own active span msgflux calls `Spans.init_module(name, module_type)`, which
  the SDK defines with one positional parameter: `TypeError`.

`ensure_nested_spans()` probes the installed SDK's behaviour (not its version) and, only where a
probe fails, replaces those six helpers with versions that (a) make the span current for the
body of the `with`, (b) accept msgflux's `module_type` argument (recorded as `module.type`),
and otherwise behave like the originals (same names, kinds, `span.type`, error recording). An SDK
that already activates its spans is left untouched.
"""

from __future__ import annotations

import importlib
import threading
import types
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

_PATCHED_MARK = "__msgtrace_nested__"
_lock = threading.Lock()
_HELPERS = ("span_context", "init_flow", "init_module")


class _ProbeTracer(trace.NoOpTracer):
    """Hands out distinct non-recording spans, so "is it current?" has a meaningful answer."""

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> trace.Span:
        probe_context = trace.SpanContext(trace_id=1, span_id=1, is_remote=False)
        return trace.NonRecordingSpan(probe_context)


class _ProbeManager:
    """Stands in for the SDK's `tracer_manager` during a probe: spans are never exported."""

    tracer = _ProbeTracer()


def _tracer() -> trace.Tracer:
    manager = importlib.import_module("msgtrace.sdk.tracer").tracer_manager
    tracer: trace.Tracer = manager.tracer
    return tracer


def _probe_helper(helper: Any) -> tuple[bool, bool]:
    """(activates, accepts_module_type) for one of the SDK's `Spans` context-manager helpers.

    The helper's generator is re-bound to globals where `tracer_manager` is a no-op stand-in,
    so probing records and exports nothing. A helper that cannot be probed that way is
    reported as fine (we only change what we have seen misbehave).
    """
    if isinstance(helper, staticmethod):
        helper = helper.__func__
    wrapped = getattr(helper, "__wrapped__", None)
    code = getattr(wrapped, "__code__", None)
    if wrapped is None or code is None or "tracer_manager" not in code.co_names:
        return True, True
    isolated = types.FunctionType(
        code, {**wrapped.__globals__, "tracer_manager": _ProbeManager()}, wrapped.__name__
    )
    probe = contextmanager(isolated)
    with probe("msgtrace.probe") as span:
        activates = trace.get_current_span() is span
    try:
        with probe("msgtrace.probe", "module"):
            pass
        accepts_type = True
    except TypeError:
        accepts_type = False
    return activates, accepts_type


def needs_nesting_fix(spans_cls: Any) -> bool:
    """True when one of the SDK's span helpers does not activate its span or rejects msgflux's call."""
    for name in _HELPERS:
        helper = getattr(spans_cls, name, None)
        if helper is None:
            continue
        activates, accepts_type = _probe_helper(helper)
        if not activates or (name == "init_module" and not accepts_type):
            return True
    return False


def _start(name: str, kind: SpanKind, span_type: str | None, attrs: dict[str, Any]) -> Any:
    span = _tracer().start_span(name, kind=kind)
    if span_type is not None:
        span.set_attribute("span.type", span_type)
    for key, value in attrs.items():
        span.set_attribute(key, value)
    return span


def _fail(span: Any, exc: BaseException) -> None:
    span.set_status(Status(StatusCode.ERROR, str(exc)))
    span.record_exception(exc)


@contextmanager
def _active(span: Any) -> Iterator[Any]:
    with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
        try:
            yield span
        except Exception as exc:
            _fail(span, exc)
            raise


@asynccontextmanager
async def _aactive(span: Any) -> AsyncIterator[Any]:
    with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
        try:
            yield span
        except Exception as exc:
            _fail(span, exc)
            raise


def _module_attrs(module_type: str | None, attrs: dict[str, Any]) -> dict[str, Any]:
    if module_type is not None:
        return {"module.type": module_type, **attrs}
    return attrs


@contextmanager
def span_context(name: str, **attrs: Any) -> Iterator[Any]:
    with _active(_start(name, SpanKind.INTERNAL, None, attrs)) as span:
        yield span


@contextmanager
def init_flow(flow_name: str, **attrs: Any) -> Iterator[Any]:
    with _active(_start(flow_name, SpanKind.SERVER, "flow", attrs)) as span:
        yield span


@contextmanager
def init_module(module_name: str, module_type: str | None = None, **attrs: Any) -> Iterator[Any]:
    span = _start(module_name, SpanKind.INTERNAL, "module", _module_attrs(module_type, attrs))
    with _active(span) as active:
        yield active


@asynccontextmanager
async def aspan_context(name: str, **attrs: Any) -> AsyncIterator[Any]:
    async with _aactive(_start(name, SpanKind.INTERNAL, None, attrs)) as span:
        yield span


@asynccontextmanager
async def ainit_flow(flow_name: str, **attrs: Any) -> AsyncIterator[Any]:
    async with _aactive(_start(flow_name, SpanKind.SERVER, "flow", attrs)) as span:
        yield span


@asynccontextmanager
async def ainit_module(
    module_name: str, module_type: str | None = None, **attrs: Any
) -> AsyncIterator[Any]:
    span = _start(module_name, SpanKind.INTERNAL, "module", _module_attrs(module_type, attrs))
    async with _aactive(span) as active:
        yield active


_REPLACEMENTS: dict[str, Callable[..., Any]] = {
    "span_context": span_context,
    "init_flow": init_flow,
    "init_module": init_module,
    "aspan_context": aspan_context,
    "ainit_flow": ainit_flow,
    "ainit_module": ainit_module,
}


def ensure_nested_spans(spans_cls: Any = None) -> bool:
    """Apply the nesting fix to the installed SDK's `Spans` (or `spans_cls`) only if it needs it.

    Returns True when the class is (now or already) patched by us, False when it was left
    untouched because it already behaves. Idempotent and thread-safe; imports `msgtrace.sdk`
    (which reads the SDK's settings if it was not imported yet).
    """
    if spans_cls is None:
        spans_cls = importlib.import_module("msgtrace.sdk.spans").Spans
    with _lock:
        if getattr(spans_cls, _PATCHED_MARK, False):
            return True
        if not needs_nesting_fix(spans_cls):
            return False
        for name, replacement in _REPLACEMENTS.items():
            setattr(spans_cls, name, staticmethod(replacement))
        setattr(spans_cls, _PATCHED_MARK, True)
        return True


def is_patched() -> bool:
    """Whether `ensure_nested_spans` replaced the SDK's helpers in this process."""
    spans_mod = importlib.import_module("msgtrace.sdk.spans")
    return bool(getattr(spans_mod.Spans, _PATCHED_MARK, False))
