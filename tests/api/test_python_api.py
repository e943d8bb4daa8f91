"""The original README's Python API examples, run as written against a views database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.api.views import build_sample

README_PYTHON_API = """
from msgtrace.backend.storage import SQLiteTraceStorage
from msgtrace.core.models import TraceQueryParams

# Query traces
storage = SQLiteTraceStorage("msgtrace.db")

# List traces
params = TraceQueryParams(
    workflow_name="MyWorkflow",
    has_errors=False,
    limit=10
)
traces = await storage.list_traces(params)

# Get specific trace
trace = await storage.get_trace(trace_id)

# Build span tree for visualization
tree = trace.build_span_tree()

await storage.close()
"""

README_QUERYING = """
import asyncio
from msgtrace.backend.storage import SQLiteTraceStorage
from msgtrace.core.models import TraceQueryParams

async def analyze_traces():
    storage = SQLiteTraceStorage("msgtrace.db")

    # Find slow traces
    slow_traces = await storage.list_traces(
        TraceQueryParams(min_duration_ms=1000, limit=10)
    )

    print("Slow traces:")
    for trace in slow_traces:
        print(f"  {trace.workflow_name}: {trace.duration_ms:.2f}ms")

    # Find error traces
    error_traces = await storage.list_traces(
        TraceQueryParams(has_errors=True, limit=10)
    )

    print(f"\\nError traces: {len(error_traces)}")

    await storage.close()

asyncio.run(analyze_traces())
"""


@pytest.fixture
def cwd_with_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    build_sample(tmp_path / "msgtrace.db").close()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_python_api_section_runs_as_written(cwd_with_db: Path) -> None:
    """The snippet uses top-level await, so it runs inside a coroutine with `trace_id` in scope."""
    body = textwrap.indent(README_PYTHON_API, "    ")
    source = f"async def _example(trace_id):\n{body}\n    return traces, trace, tree\n"
    namespace: dict[str, object] = {}
    exec(compile(source, "README-python-api", "exec"), namespace)
    traces, trace, tree = asyncio.run(namespace["_example"]("0" * 31 + "1"))  # type: ignore[operator]
    assert traces == []  # no workflow named MyWorkflow in the sample
    assert trace.trace_id == "0" * 31 + "1"
    assert [n.name for n in tree] == ["chat_flow"]
    assert [c.name for c in tree[0].children] == ["llm.call", "tool.search"]


def test_querying_traces_section_runs_as_written(cwd_with_db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", README_QUERYING],
        cwd=cwd_with_db,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Slow traces:",
        "  batch: 5000.00ms",
        "  chat: 3500.00ms",
        "  chat: 1500.00ms",
        "",
        "Error traces: 1",
    ]


def test_missing_database_reads_as_empty(tmp_path: Path) -> None:
    from msgtrace.backend.storage import SQLiteTraceStorage

    async def run() -> tuple[int, object, dict[str, object]]:
        storage = SQLiteTraceStorage(tmp_path / "nothing-here.db")
        traces = await storage.list_traces()
        trace = await storage.get_trace("0" * 32)
        stats = await storage.get_stats()
        await storage.close()
        return len(traces), trace, stats

    count, trace, stats = asyncio.run(run())
    assert count == 0 and trace is None and stats["total_traces"] == 0
    assert not (tmp_path / "nothing-here.db").exists()  # reading never creates the file


def test_data_dir_path_reads_the_db_inside(tmp_path: Path) -> None:
    from msgtrace.backend.storage import SQLiteTraceStorage

    build_sample(tmp_path / "msgtrace.db").close()

    async def run() -> int:
        async with SQLiteTraceStorage(tmp_path) as storage:
            return await storage.count_traces()

    assert asyncio.run(run()) == 6


def test_importing_models_and_storage_stays_light() -> None:
    code = (
        "import sys, msgtrace.core.models, msgtrace.backend.storage;"
        "heavy = [m for m in ('fastapi', 'polars', 'pyarrow') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_backend_all_is_complete() -> None:
    import msgtrace.backend as backend
    import msgtrace.backend.storage as storage

    assert backend.__all__ == ["SQLiteTraceStorage"] == storage.__all__
    assert backend.SQLiteTraceStorage is storage.SQLiteTraceStorage
