"""Browser tests need Debian's Chromium and the UI's node_modules (playwright-core)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "ui"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def node_script(script: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Runs `node ui/e2e/<script>` and returns its completed process (stdout holds ok/FAIL lines)."""
    return subprocess.run(
        ["node", str(UI / "e2e" / script)],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
    )


def _missing(reason: str) -> None:
    """Skip locally; in CI (CI=true) a missing browser is a failure, never a silent skip."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_ready() -> None:
    if not Path(CHROMIUM).exists():
        _missing(f"chromium is not installed at {CHROMIUM} (run `make setup-browser`)")
    if shutil.which("node") is None or not (UI / "node_modules" / "playwright-core").exists():
        _missing("ui/node_modules is missing (run `cd ui && npm ci`)")
