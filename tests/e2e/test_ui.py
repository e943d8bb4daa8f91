"""The web UI in headless Chromium against a real `msgtrace start`, fed by the OpenTelemetry SDK."""

from __future__ import annotations

import os
import subprocess
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import REPO, UI, node_script
from tests.e2e.traces import send_agent_trace

pytestmark = pytest.mark.xdist_group("browser")

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


@pytest.fixture
def seeded(msgtrace_server: Any, tracer_provider_factory: Any, browser_ready: None) -> dict[str, str]:
    workflow = f"e2e-{uuid.uuid4().hex[:10]}"
    provider = tracer_provider_factory(msgtrace_server.otlp_endpoint, service="e2e-ui")
    main = send_agent_trace(provider, workflow)
    doomed = send_agent_trace(provider, workflow, root_name="agent.retry", fail=False)
    provider.force_flush()
    msgtrace_server.wait_for_spans(main.trace_id, main.span_count)
    msgtrace_server.wait_for_spans(doomed.trace_id, doomed.span_count)
    return {
        "BASE_URL": msgtrace_server.url,
        "WORKFLOW": workflow,
        "TRACE_ID": main.trace_id,
        "LLM_SPAN_ID": main.llm_span_id,
        "SPAN_COUNT": str(main.span_count),
        "DELETE_TRACE_ID": doomed.trace_id,
    }


def test_scenarios(seeded: dict[str, str], msgtrace_server: Any, tracer_provider_factory: Any) -> None:
    live_name = f"live-arrival-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        ["node", str(UI / "e2e" / "scenarios.mjs")],
        cwd=REPO, env={**os.environ, **seeded, "LIVE_NAME": live_name},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("WAITING_LIVE"):
                # The page is open on the filtered list; this trace must appear without a reload.
                provider = tracer_provider_factory(msgtrace_server.otlp_endpoint, service="e2e-ui")
                send_agent_trace(provider, seeded["WORKFLOW"], root_name=live_name, fail=False)
                provider.force_flush()
        code = proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "\n".join(lines)
    assert code == 0, output
    for step in (
        "search with a query", "open a trace", "expand and collapse the tree",
        "select a span and read its LLM section", "delete a trace", "see a new trace arrive live",
        "no uncaught page errors",
    ):
        assert f"ok {step}" in output, output


def test_screenshots_in_both_themes(seeded: dict[str, str]) -> None:
    result = node_script("screenshots.mjs", {**seeded, "SCREENSHOT_DIR": str(SCREENSHOTS)})
    assert result.returncode == 0, result.stdout + result.stderr
    for view in ("dashboard", "traces", "trace", "span-detail"):
        for scheme in ("light", "dark"):
            png = SCREENSHOTS / f"{view}-{scheme}.png"
            data = png.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n", png
            assert len(data) > 5_000, f"{png} is suspiciously small ({len(data)} bytes)"
