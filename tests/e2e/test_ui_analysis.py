"""The UI's analysis tools in headless Chromium against a real `msgtrace start` (ui/e2e/analysis.mjs)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO, node_script
from tests.e2e.traces import send_agent_trace, send_wide_trace

pytestmark = pytest.mark.xdist_group("browser")

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
WIDE_SPANS = 2_000


@pytest.fixture
def analysis_env(msgtrace_server: Any, tracer_provider_factory: Any, browser_ready: None, tmp_path: Path) -> dict[str, str]:
    workflow = f"e2e-an-{uuid.uuid4().hex[:8]}"
    provider = tracer_provider_factory(msgtrace_server.otlp_endpoint, service="e2e-ui")
    main = send_agent_trace(provider, workflow)
    variant = send_agent_trace(provider, workflow, fail=False, answer="Paris is the capital of France.",
                               output_tokens=900, rerank=True)
    wide = send_wide_trace(provider, f"{workflow}-wide", WIDE_SPANS)
    provider.force_flush()
    for sent in (main, variant, wide):
        msgtrace_server.wait_for_spans(sent.trace_id, sent.span_count, timeout=60)
    return {
        "BASE_URL": msgtrace_server.url,
        "WORKFLOW": workflow,
        "TRACE_ID": main.trace_id,
        "LLM_SPAN_ID": main.llm_span_id,
        "SPAN_COUNT": str(main.span_count),
        "VARIANT_ID": variant.trace_id,
        "WIDE_ID": wide.trace_id,
        "SCREENSHOT_DIR": str(SCREENSHOTS),
        "DOWNLOAD_DIR": str(tmp_path / "downloads"),
    }


def test_analysis_tools(analysis_env: dict[str, str]) -> None:
    result = node_script("analysis.mjs", analysis_env, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for step in (
        "critical path on the waterfall", "keyboard navigation", "detail panel loads one span on demand",
        "flame graph: zoom, colour, search", "flame graph of a large trace", "compare two traces",
        "workflow aggregates", "export a trace and view it offline", "export the filtered list as CSV",
        "copy links to a trace and a span", "no uncaught page errors",
    ):
        assert f"ok {step}" in output, output
    for name in ("critical-path", "search", "shortcuts", "flame-graph", "flame-graph-dark",
                 "flame-graph-large-zoomed", "compare", "workflow-aggregates", "import-offline"):
        data = (SCREENSHOTS / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, name
