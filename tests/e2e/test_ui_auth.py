"""The UI's API key prompt against a server started with --api-key (ui/e2e/auth.mjs)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import REPO, node_script
from tests.e2e.traces import send_agent_trace

pytestmark = pytest.mark.xdist_group("browser")

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


def test_api_key_prompt_logs_in(server_factory: Any, tracer_provider_factory: Any, browser_ready: None) -> None:
    key = f"k-{uuid.uuid4().hex}"
    server = server_factory("--api-key", key)
    provider = tracer_provider_factory(server.otlp_endpoint, service="e2e-auth", headers={"x-api-key": key})
    sent = send_agent_trace(provider, "e2e-auth")
    provider.force_flush()
    assert httpx.get(f"{server.url}/api/v1/traces", timeout=5).status_code == 401
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = httpx.get(f"{server.url}/api/v1/traces/{sent.trace_id}/timeline", headers={"x-api-key": key}, timeout=5)
        if r.status_code == 200 and len(r.json()["span_id"]) >= sent.span_count:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"trace not readable in time\n{server.log[-3000:]}")
    result = node_script("auth.mjs", {
        "BASE_URL": server.url, "API_KEY": key, "TRACE_ID": sent.trace_id, "SCREENSHOT_DIR": str(SCREENSHOTS),
    })
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for step in ("asked for the key on a 401", "a wrong key is asked again", "log in and read traces",
                 "live updates carry the key", "the key survives a reload and opens a trace"):
        assert f"ok {step}" in output, output
