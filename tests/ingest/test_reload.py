"""`msgtrace start --reload`: serves, and restarts the server when msgtrace's code changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import msgtrace.core.version as version_module


def _info(data_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((data_dir / "server.json").read_text()))
    except (OSError, ValueError):
        return {}


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _healthy(info: dict[str, Any]) -> bool:
    if not info:
        return False
    try:
        return httpx.get(f"http://127.0.0.1:{info['port']}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_reload_restarts_on_code_change(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = (tmp_path / "reload.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "msgtrace", "start", "--reload", "--port", "0",
         "--otlp-port", "0", "--grpc-port", "0", "--data-dir", str(data)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait(lambda: _healthy(_info(data)), 60, "the reloading server")
        first = _info(data)["pid"]
        assert first != proc.pid  # the server runs in a child that --reload restarts
        source = Path(version_module.__file__)
        os.utime(source)  # a code change (same content)
        _wait(lambda: _info(data).get("pid") not in (None, first) and _healthy(_info(data)),
              60, "the server to restart after a code change")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
