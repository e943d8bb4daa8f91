"""Helpers for the msgflux integration tests: user programs run as real subprocesses.

Each program runs with `sys.executable` from a temporary working directory (not the checkout,
as a user's program would), with the `MSGTRACE_*`/`OTEL_*` environment of the test run removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

PROGRAM_TIMEOUT_S = 180.0
POLL_TIMEOUT_S = 30.0


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSGTRACE_", "OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_program(
    code: str, cwd: Path, *args: str, env: dict[str, str] | None = None,
    timeout: float = PROGRAM_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    """Write `code` to `cwd/program.py` and run it; fail with its output when it exits non-zero."""
    script = cwd / "program.py"
    script.write_text(textwrap.dedent(code))
    proc = subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd, env=env or clean_env(),
        capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        pytest.fail(f"program exited {proc.returncode}\n--- stdout ---\n{proc.stdout}"
                    f"\n--- stderr ---\n{proc.stderr[-6000:]}")
    return proc


def poll(fetch: Callable[[], Any], ready: Callable[[Any], bool], what: str | Callable[[], str],
         timeout: float = POLL_TIMEOUT_S) -> Any:
    """Call `fetch` until `ready(result)`; fail with the last result after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fetch()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if ready(last):
                return last
        time.sleep(0.1)
    described = what() if callable(what) else what
    pytest.fail(f"timed out after {timeout}s waiting for {described}; last: {last!r}"[:4000])


def list_traces(url: str, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/traces", params={"limit": 1000, **params}, timeout=10)
    response.raise_for_status()
    traces: list[dict[str, Any]] = response.json()["traces"]
    return traces


def find_trace(url: str, root_name: str, min_spans: int = 1) -> dict[str, Any]:
    """The full trace (with spans) whose root span or workflow is named `root_name`."""

    seen: list[str] = []

    def fetch() -> dict[str, Any] | None:
        summaries = list_traces(url)
        seen[:] = [str(s.get("root_span_name")) for s in summaries[:20]]
        for summary in summaries:
            if root_name in (summary.get("root_span_name"), summary.get("workflow_name")):
                detail = httpx.get(f"{url}/api/v1/traces/{summary['trace_id']}", timeout=10)
                if detail.status_code == 200:
                    found: dict[str, Any] = detail.json()
                    return found
        return None

    found: dict[str, Any] = poll(
        fetch, lambda t: t is not None and len(t.get("spans", [])) >= min_spans,
        lambda: f"trace {root_name!r} with {min_spans} spans (newest roots seen: {seen})")
    return found


def by_name(trace: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The trace's spans grouped by span name."""
    spans: dict[str, list[dict[str, Any]]] = {}
    for span in trace["spans"]:
        spans.setdefault(span["name"], []).append(span)
    return spans
