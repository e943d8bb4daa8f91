"""Command-line options shared by the examples (port and data dir), so tests can run them on
a free port and a temporary directory. Defaults are what a user would type."""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx


def parse_args(description: str, *, serve_flag: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    if serve_flag:
        parser.add_argument("--serve", action="store_true", help="keep serving until Ctrl-C")
    parser.add_argument("--port", type=int, default=4321, help="msgtrace port (0 picks a free one)")
    parser.add_argument("--data-dir", default="./msgtrace-data", help="where msgtrace keeps data")
    return parser.parse_args()


def wait_for_trace(url: str, root_name: str, min_spans: int, timeout: float = 30.0) -> dict[str, Any]:
    """Poll the REST API until the newest trace named `root_name` has `min_spans` spans."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = httpx.get(f"{url}/api/v1/traces", params={"limit": 200}).json()["traces"]
        for summary in listing:
            if root_name in (summary["root_span_name"], summary["workflow_name"]):
                if summary["span_count"] >= min_spans:
                    trace: dict[str, Any] = httpx.get(
                        f"{url}/api/v1/traces/{summary['trace_id']}").json()
                    return trace
                break
        time.sleep(0.1)
    raise TimeoutError(f"no trace {root_name!r} with {min_spans} spans after {timeout}s")
