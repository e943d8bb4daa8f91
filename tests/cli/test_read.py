"""The read commands (stats, list, show, clear, export, tail) against a real views database."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from msgtrace.cli.main import app
from tests.api.views import BASE, SpanSpec, ViewsBuilder, build_sample, sid, tid

ABC = "abc" + "0" * 28 + "6"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    build_sample(d / "msgtrace.db").close()
    return d


def run(
    *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def test_stats(data_dir: Path) -> None:
    code, out, _ = run("stats", "--data-dir", str(data_dir))
    assert code == 0
    assert "Traces" in out and "6" in out and "$0.5200" in out
    code, out, _ = run("stats", "--data-dir", str(data_dir), "--json")
    data = json.loads(out)
    assert data["total_traces"] == 6 and data["tokens"]["total"] == 6950


def test_stats_reads_env_and_db_path(data_dir: Path, tmp_path: Path) -> None:
    code, out, _ = run("stats", "--json", env={"MSGTRACE_DATA_DIR": str(data_dir)})
    assert json.loads(out)["total_traces"] == 6
    code, out, _ = run(
        "stats", "--json", "--db-path", str(data_dir / "msgtrace.db"), "--data-dir", str(tmp_path)
    )
    assert code == 0 and json.loads(out)["total_traces"] == 6
    _code, out, _ = run("stats", "--json", env={"MSGTRACE_DB_PATH": str(data_dir / "msgtrace.db")})
    assert json.loads(out)["total_traces"] == 6


def test_list_table(data_dir: Path) -> None:
    code, out, _ = run("list", "--data-dir", str(data_dir))
    assert code == 0
    assert "6 of 6 traces" in out
    assert ABC[:12] in out and "batch" in out and "in progress" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], [ABC, tid(5), tid(4), tid(3), tid(2), tid(1)]),
        (["--limit", "2"], [ABC, tid(5)]),
        (["--workflow", "chat"], [tid(2), tid(1)]),
        (["--errors"], [tid(2)]),
        (["--min-duration-ms", "1500"], [ABC, tid(2), tid(1)]),
        (["--sort", "-duration", "--limit", "1"], [ABC]),
        (["--sort", "tokens"], [tid(4), tid(2), tid(1), ABC, tid(5), tid(3)]),
        (["--query", "model:gpt-4o* cost:>0"], [tid(1)]),
        (["-q", "duration:<100ms OR error:true"], [tid(5), tid(3), tid(2)]),
    ],
)
def test_list_filters(data_dir: Path, args: list[str], expected: list[str]) -> None:
    code, out, err = run("list", "--data-dir", str(data_dir), "--json", *args)
    assert code == 0, err
    assert [t["trace_id"] for t in json.loads(out)["traces"]] == expected


def test_list_bad_query_and_option(data_dir: Path) -> None:
    code, _, err = run("list", "--data-dir", str(data_dir), "--query", "duration:>soon")
    assert code == 1
    assert "duration" in err and "column 11" in err and "hint" in err
    code, _, err = run("list", "--data-dir", str(data_dir), "--limit", "0")
    assert code == 1 and "limit" in err
    code, _, err = run("list", "--data-dir", str(data_dir), "--sort", "random")
    assert code == 1 and "sort" in err


def test_list_empty(tmp_path: Path) -> None:
    code, out, _ = run("list", "--data-dir", str(tmp_path / "none"))
    assert code == 0 and "No traces found" in out


def test_show_tree(data_dir: Path) -> None:
    code, out, _ = run("show", tid(2), "--data-dir", str(data_dir))
    assert code == 0
    assert "chat_flow" in out and "llm.call" in out
    assert "claude-3-5-sonnet" in out and "1000→800" in out and "$0.5000" in out
    assert "rate limited" in out and "✗" in out
    assert out.index("chat_flow") < out.index("llm.call")


def test_show_prefix_and_errors(data_dir: Path) -> None:
    code, out, _ = run("show", "ABC", "--data-dir", str(data_dir), "--json")
    assert code == 0 and json.loads(out)["trace_id"] == ABC
    code, _, err = run("show", "0000", "--data-dir", str(data_dir))
    assert code == 1 and "ambiguous" in err
    code, _, err = run("show", "ffff", "--data-dir", str(data_dir))
    assert code == 1 and "not found" in err


def test_export_trace_otlp_and_json(data_dir: Path, tmp_path: Path) -> None:
    from msgtrace.core.otlp import ContentType, decode_rows

    out_file = tmp_path / "t.json"
    code, _, _ = run("export", tid(1), "--data-dir", str(data_dir), "--output", str(out_file))
    assert code == 0
    rows = decode_rows(out_file.read_bytes(), ContentType.JSON, offset=1, received_time_unix_nano=0)
    assert len(rows) == 3
    code, out, _ = run("export", tid(1), "--format", "json", "--data-dir", str(data_dir))
    assert code == 0 and len(json.loads(out)["spans"]) == 3
    code, _, err = run("export", tid(1), "--format", "xml", "--data-dir", str(data_dir))
    assert code == 1 and "xml" in err
    code, _, err = run("export", "--data-dir", str(data_dir))
    assert code == 1 and "TRACE_ID" in err


def test_export_list(data_dir: Path) -> None:
    code, out, _ = run("export", "--list", "--data-dir", str(data_dir), "--workflow", "rag")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("trace_id,") and len(lines) == 3
    code, out, _ = run(
        "export", "--list", "--format", "json", "--errors", "--data-dir", str(data_dir)
    )
    assert [t["trace_id"] for t in json.loads(out)] == [tid(2)]


def _make_log(data_dir: Path) -> None:
    for name in ("journal", "segments", "tombstones"):
        (data_dir / name).mkdir()
        (data_dir / name / "00000000000000000001-00000000000000000001.parquet").write_bytes(b"x")


def test_clear_asks_first(data_dir: Path) -> None:
    _make_log(data_dir)
    code, _, _ = run("clear", "--data-dir", str(data_dir), input="n\n")
    assert code == 1
    assert (data_dir / "msgtrace.db").exists() and (data_dir / "segments").exists()
    code, _out, _ = run("clear", "--data-dir", str(data_dir), input="y\n")
    assert code == 0
    assert not (data_dir / "msgtrace.db").exists()


def test_clear_yes_removes_log_and_views(data_dir: Path) -> None:
    _make_log(data_dir)
    code, out, _ = run("clear", "--yes", "--data-dir", str(data_dir))
    assert code == 0 and "Cleared" in out
    for name in (
        "journal",
        "segments",
        "tombstones",
        "msgtrace.db",
        "msgtrace.db-wal",
        "msgtrace.db-shm",
    ):
        assert not (data_dir / name).exists()
    code, out, _ = run("stats", "--json", "--data-dir", str(data_dir))
    assert json.loads(out)["total_traces"] == 0
    code, out, _ = run("clear", "--yes", "--data-dir", str(data_dir))
    assert code == 0 and "Nothing to clear" in out


def test_clear_refuses_while_a_server_holds_the_lock(data_dir: Path) -> None:
    _make_log(data_dir)
    fd = os.open(data_dir / "LOCK", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        code, _, err = run("clear", "--yes", "--data-dir", str(data_dir))
    finally:
        os.close(fd)
    assert code == 1
    assert "running msgtrace server" in err and "hint" in err
    assert (data_dir / "msgtrace.db").exists() and (data_dir / "segments").exists()


def test_tail_follows_new_traces(tmp_path: Path) -> None:
    views = ViewsBuilder(tmp_path / "msgtrace.db")
    views.add_trace(tid(1), [SpanSpec(sid(1), "old", BASE, 1.0)], workflow="old", updated_at=10)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "msgtrace",
            "tail",
            "--json",
            "--interval",
            "0.05",
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the first change is written only after tail has read its starting cursor: retry a few
        # writes until the line arrives (each write bumps updated_at, so each is a new change)
        import select

        line = ""
        for n in range(2, 200):
            views.add_trace(
                tid(n),
                [SpanSpec(sid(n), "new", BASE + n, 1.0)],
                workflow="fresh",
                updated_at=100 + n,
            )
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                line = proc.stdout.readline()  # type: ignore[union-attr]
                break
        summary = json.loads(line)
        assert summary["workflow_name"] == "fresh"
        assert summary["trace_id"] != tid(1)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
        views.close()
    assert code == 0
