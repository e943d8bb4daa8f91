"""`msgtrace reindex` and `msgtrace replay` (in-process through typer, and as real processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from msgtrace.cli.main import app
from msgtrace.projections.projector import Projector
from msgtrace.segments.ownership import DataDirLock
from tests.projections.segment_files import span, write_segment, write_tombstones
from tests.projections.views import dump, query

runner = CliRunner()
T0 = 1_700_000_000_000_000_000


def trace(name: str, *, start: int = T0, model: str = "gpt-4o") -> list[dict[str, Any]]:
    return [
        span(
            name,
            "1",
            None,
            name="root",
            start=start,
            duration=9_000_000,
            attrs={"workflow.name": "replayed", "span.type": "flow", "user.id": "u"},
        ),
        span(
            name,
            "2",
            "1",
            name="llm",
            start=start + 10,
            duration=5_000_000,
            attrs={
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 12,
                "gen_ai.operation.name": "chat",
            },
        ),
        span(
            name,
            "3",
            "1",
            name="tool",
            start=start + 20,
            duration=1_000_000,
            status=2,
            attrs={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
        ),
    ]


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_reindex_command_rebuilds_the_views(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_segment(data, [trace("a"), trace("b")], 1)
    write_tombstones(data, [(3, "b")])
    result = run("reindex", "--data-dir", str(data))
    assert result.exit_code == 0, result.output
    assert "reindexed 6 spans into 1 traces" in result.output
    db = data / "msgtrace.db"
    assert query(db, "SELECT trace_id FROM traces") == [("a".rjust(32, "0"),)]
    before = dump(db)
    assert run("reindex", "--data-dir", str(data)).exit_code == 0
    assert dump(db) == before


def test_reindex_as_a_process_with_env_paths(tmp_path: Path) -> None:
    data, db = tmp_path / "data", tmp_path / "elsewhere" / "views.db"
    write_segment(data, [trace("a")], 1)
    env = {"MSGTRACE_DATA_DIR": str(data), "MSGTRACE_DB_PATH": str(db), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "msgtrace", "reindex"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert query(db, "SELECT span_count FROM traces") == [(3,)]


def test_reindex_with_a_bad_price_table_fails_with_a_message(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_segment(data, [trace("a")], 1)
    prices = tmp_path / "prices.json"
    prices.write_text('{"m": {"input": 1}}')
    result = runner.invoke(app, ["reindex", "--data-dir", str(data), "--price-table", str(prices)])
    assert result.exit_code == 1
    assert "'m' needs 'input' and 'output'" in result.output


def test_replay_applies_pending_and_from_offset_is_idempotent(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_segment(data, [trace("a"), trace("b")], 1)
    assert run("replay", "--data-dir", str(data)).exit_code == 0
    db = data / "msgtrace.db"
    before = dump(db, bookkeeping=True)
    result = run("replay", "--data-dir", str(data), "--from-offset", "1")
    assert result.exit_code == 0, result.output
    assert "applied 6 spans" in result.output
    assert dump(db, bookkeeping=True) == before


def test_replay_segments_imports_another_log(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    write_segment(source, [trace("a"), trace("b")], 1)
    write_segment(source, [trace("c")], 3)
    write_tombstones(source, [(3, "b")])  # b was deleted in the source log
    write_segment(target, [trace("t"), trace("a")], 1)  # a: also already here
    result = run("replay", "--data-dir", str(target), "--segments", str(source / "segments"))
    assert result.exit_code == 0, result.output
    assert "imported 3 files (9 spans, 1 deletes) as offsets 3..5" in result.output
    db = target / "msgtrace.db"
    ids = [r[0].lstrip("0") for r in query(db, "SELECT trace_id FROM traces ORDER BY 1")]
    assert ids == ["a", "c", "t"]
    assert query(db, "SELECT span_count FROM traces WHERE trace_id = ?", ("a".rjust(32, "0"),)) == [
        (3,)
    ]
    once = dump(db)
    # importing the same log again adds copies to the log; the views do not change
    assert (
        run("replay", "--data-dir", str(target), "--segments", str(source / "segments")).exit_code
        == 0
    )
    assert dump(db) == once
    # and the imported files are part of this log's truth: a reindex gives the same views
    assert run("reindex", "--data-dir", str(target)).exit_code == 0
    assert dump(db) == once


def test_replay_segments_refuses_a_running_server(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    write_segment(source, [trace("a")], 1)
    lock = DataDirLock.acquire(target, purpose="test server")
    try:
        result = runner.invoke(
            app, ["replay", "--data-dir", str(target), "--segments", str(source / "segments")]
        )
    finally:
        lock.release()
    assert result.exit_code == 1
    assert "test server" in result.output or "locked" in result.output.lower()


@pytest.mark.parametrize("command", [["reindex"], ["replay"]])
def test_writing_commands_refuse_a_data_dir_in_use(tmp_path: Path, command: list[str]) -> None:
    write_segment(tmp_path, [trace("a")], 1)
    lock = DataDirLock.acquire(tmp_path, purpose="msgtrace start")
    try:
        result = runner.invoke(app, [*command, "--data-dir", str(tmp_path)])
    finally:
        lock.release()
    assert result.exit_code == 1
    assert "in use by msgtrace start" in " ".join(result.output.split())  # rich wraps lines
    assert not (tmp_path / "msgtrace.db").exists()  # nothing was written


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--segments", "/nonexistent/segments"], 1, "is not a directory"),
        (["--to", "ftp://example"], 1, "not an http(s) URL"),
        (["--to", "http://127.0.0.1:9", "--segments", "x"], 2, "either --to or --segments"),
        (["--to", "http://127.0.0.1:9", "--batch-spans", "0"], 2, "batch-spans"),
    ],
)
def test_replay_bad_arguments(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    data = tmp_path / "data"
    write_segment(data, [trace("a")], 1)
    result = runner.invoke(app, ["replay", "--data-dir", str(data), *args])
    assert result.exit_code == code, result.output
    assert message in result.output


def test_replay_to_an_unreachable_url_fails_with_a_hint(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_segment(data, [trace("a")], 1)
    # bind a port, then close it: nothing listens there
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    result = runner.invoke(
        app, ["replay", "--data-dir", str(data), "--to", f"http://127.0.0.1:{port}"]
    )
    assert result.exit_code == 1
    assert "cannot reach" in result.output


@pytest.mark.slow
def test_replay_to_a_second_msgtrace_reproduces_the_summaries(
    tmp_path: Path, server_factory: Any
) -> None:
    source = tmp_path / "source"
    traces = [
        trace(f"{i:x}", start=T0 + i * 7_000_000_000, model=m)
        for i, m in enumerate(["gpt-4o", "claude-3-5-haiku", "unknown-model"] * 5, start=1)
    ]
    write_segment(source, traces[:8], 1)
    write_segment(source, [t[1:] for t in traces[8:]] + [t[:1] for t in traces[8:]], 9)
    write_tombstones(source, [(30, "2")])
    with Projector(source, tmp_path / "source.db") as p:
        p.apply_pending()
    expected = dump(tmp_path / "source.db")
    server = server_factory()
    result = run("replay", "--data-dir", str(source), "--to", server.url, "--batch-spans", "7")
    assert result.exit_code == 0, result.output
    assert "sent 42 spans" in result.output

    def caught_up() -> bool:
        try:
            return query(server.db_path, "SELECT count(*), sum(span_count) FROM traces") == [
                (14, 42)
            ]
        except Exception:
            return False

    server.wait_for(caught_up, 60, "the replayed traces")
    assert dump(server.db_path) == expected
    unpriced = query(server.db_path, "SELECT value FROM meta WHERE key = 'unpriced_models'")
    assert json.loads(unpriced[0][0]) == ["unknown-model"]
