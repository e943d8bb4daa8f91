"""Fault handling through a real server: the views database removed or corrupted is rebuilt from
the log, a crashed projector is restarted, a corrupt segment is quarantined and the rest works."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PB = {"content-type": "application/x-protobuf"}


def _send(server: Any, name: str, spans: int = 3) -> str:
    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()
    trace_id = uuid.uuid4().bytes
    for i in range(spans):
        s = scope.spans.add()
        s.trace_id, s.span_id, s.name = trace_id, (i + 1).to_bytes(8, "big"), f"{name}-{i}"
        s.start_time_unix_nano, s.end_time_unix_nano = 1_700_000_000_000_000_000, 1_700_000_000_100_000_000
        if i:
            s.parent_span_id = (1).to_bytes(8, "big")
    r = httpx.post(f"{server.url}/v1/traces", content=req.SerializeToString(), headers=PB)
    assert r.status_code == 200
    return trace_id.hex()


def _projector_pid(server: Any) -> int | None:
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == server.proc.pid and b"msgtrace.projections.worker" in cmd:
            return int(proc.name)
    return None  # between a crash and the restart


def _visible(server: Any, trace_id: str) -> bool:
    return httpx.get(f"{server.url}/api/v1/traces/{trace_id}").status_code == 200


def test_removed_database_is_rebuilt_from_the_log(server_factory: Any) -> None:
    server = server_factory()
    first = _send(server, "before")
    server.wait_for_spans(first, 3)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{server.db_path}{suffix}").unlink(missing_ok=True)
    server.wait_for(lambda: server.db_path.exists() and _visible(server, first), 60,
                    "the views to be rebuilt after the database was removed")
    second = _send(server, "after")
    server.wait_for_spans(second, 3)
    assert "rebuilding it from the log" in server.log


def test_corrupt_database_is_moved_aside_and_rebuilt(server_factory: Any) -> None:
    server = server_factory()
    trace_id = _send(server, "corrupt-db")
    server.wait_for_spans(trace_id, 3)
    server.stop()
    size = server.db_path.stat().st_size
    server.db_path.write_bytes(b"\x00garbage" * (size // 8 + 1))  # every page scribbled over
    for suffix in ("-wal", "-shm"):
        Path(f"{server.db_path}{suffix}").unlink(missing_ok=True)
    server.start()
    server.wait_for_spans(trace_id, 3)
    assert list(server.db_path.parent.glob(f"{server.db_path.name}.corrupt-*")), server.log
    assert "is corrupt" in server.log


def _nice(pid: int) -> int:
    return int((Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split())[16])


def test_crashed_projector_is_restarted(server_factory: Any) -> None:
    """...at the projector's lower CPU priority, like the first one (acknowledging goes first)."""
    from msgtrace.projections.worker import PROJECTOR_NICE

    server = server_factory()
    pid = _projector_pid(server)
    assert pid is not None
    expected = min(_nice(server.proc.pid) + PROJECTOR_NICE, 19)
    server.wait_for(lambda: _nice(pid) == expected, 30, "the projector to lower its priority")
    os.kill(pid, signal.SIGKILL)
    server.wait_for(lambda: _projector_pid(server) not in (None, pid), 30,
                    "the projector to be restarted")
    restarted = _projector_pid(server)
    assert restarted is not None
    server.wait_for(lambda: _nice(restarted) == expected, 30, "the new projector's priority")
    trace_id = _send(server, "after-crash")
    server.wait_for_spans(trace_id, 3)
    assert "projector worker exited" in server.log
    text = httpx.get(f"{server.url}/metrics").text
    assert 'msgtrace_worker_restarts_total{worker="projector"} 1.0' in text


def test_corrupt_segment_is_quarantined_and_the_rest_keeps_working(server_factory: Any) -> None:
    server = server_factory()
    good = _send(server, "good")
    server.wait_for_spans(good, 3)
    server.stop()
    segments = sorted((server.data_dir / "segments").glob("*.parquet"))
    assert segments
    victim = segments[-1]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # truncated
    for suffix in ("", "-wal", "-shm"):  # views gone too: the rebuild must read every segment
        Path(f"{server.db_path}{suffix}").unlink(missing_ok=True)
    server.start()
    later = _send(server, "later")
    server.wait_for_spans(later, 3)
    quarantined = server.data_dir / "quarantine" / victim.name
    server.wait_for(quarantined.exists, 30, "the truncated segment to be quarantined")
    assert not victim.exists()
    assert victim.name in server.log and "quarantine" in server.log
