"""Every example in examples/ runs offline and prints (and stores) what it promises.

Examples run as a user would run them (`python examples/<name>.py`) from a temporary working
directory, each with its own free port and data dir.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import clean_env

pytest.importorskip("msgflux")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, tmp_path: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], cwd=tmp_path, env=clean_env(),
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr[-6000:]}"
    return proc.stdout


def test_basic_tracing(tmp_path: Path) -> None:
    out = run_example("basic_tracing.py", tmp_path, "--port", "0", "--data-dir", "data")
    assert "result: positive" in out
    assert re.search(r"trace [0-9a-f]{32}: 5 spans, \d+ tokens", out)
    spans = re.findall(r"  span: (.+)", out)
    assert spans == ["Sentiment Analyzer", "Clean Text", "Predictor", "Generator", "chat gpt-4o-mini"]
    assert re.search(r"view it at http://127\.0\.0\.1:\d+/traces/[0-9a-f]{32}", out)
    assert list((tmp_path / "data" / "segments").glob("*.parquet")), "the run is stored"


def test_agent_tracing_then_query_traces(tmp_path: Path) -> None:
    out = run_example("agent_tracing.py", tmp_path, "--port", "0", "--data-dir", "data")
    assert "answer: Findings: 5" in out
    assert re.search(r"9 spans, \d+ tokens, cost \$0\.000\d+", out)
    assert "tool=search_web response='Results for:" in out
    assert "tool=word_count response='5'" in out
    assert re.search(r"^    - chat gpt-4o model=gpt-4o tokens=\d+$", out, re.MULTILINE)

    query = run_example("query_traces.py", tmp_path, "--data-dir", "data")
    assert "recent traces: 1" in query
    assert re.search(r"  Research Agent: [\d.]+ms, 9 spans, \d+ tokens", query)
    assert "error traces: 0" in query
    assert re.search(r"^      - Search Web \(", query, re.MULTILINE)
    assert "spans in the log: 9" in query
    assert re.search(r"model gpt-4o: 2 calls, \d+ tokens", query)


def test_e2e_example(tmp_path: Path) -> None:
    out = run_example("e2e_example.py", tmp_path, "--port", "0", "--data-dir", "data")
    for city in ("Lisbon", "Kyoto", "Natal"):
        assert f"{city}: In short: go." in out
    assert "traces stored: 4, with errors: 1" in out
    assert "models claude-3-5-sonnet, gpt-4o-mini" in out
    assert re.search(r"open the UI: http://127\.0\.0\.1:\d+\n", out)
