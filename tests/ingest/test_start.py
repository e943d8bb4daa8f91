"""`msgtrace start`: configuration, banner, health and metrics, one owner per data dir, clean stop."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from msgtrace.core.config import MsgTraceConfig
from tests.ingest.ports import free_port


def _post_one(url: str) -> str:
    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = uuid.uuid4().bytes, b"\x01" * 8, "one"
    span.start_time_unix_nano, span.end_time_unix_nano = 10, 20
    r = httpx.post(f"{url}/v1/traces", content=req.SerializeToString(),
                   headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 200
    return span.trace_id.hex()


def test_defaults_bind_loopback_and_banner_names_endpoints(server_factory: Any) -> None:
    server = server_factory()
    assert server.info["host"] == "127.0.0.1"
    log = server.log
    for needle in ("/docs", "/v1/traces", "/api/v1/traces/export", "UI"):
        assert needle in log
    assert "WARNING" not in log


def test_config_defaults_and_env() -> None:
    cfg = MsgTraceConfig()
    assert (cfg.host, cfg.port, cfg.otlp_port, cfg.grpc_port) == ("127.0.0.1", 4321, 4318, 4317)
    assert cfg.max_request_bytes == 64 * 1024 * 1024
    env = {"MSGTRACE_HOST": "0.0.0.0", "MSGTRACE_PORT": "9999", "MSGTRACE_DB_PATH": "x.db",
           "MSGTRACE_CORS_ORIGINS": "http://a, http://b", "MSGTRACE_QUEUE_SIZE": "7"}
    cfg = MsgTraceConfig.from_env(env, port=1234)
    assert (cfg.host, cfg.port, str(cfg.database_path), cfg.queue_size) == ("0.0.0.0", 1234, "x.db", 7)
    assert cfg.cors_origins == ["http://a", "http://b"]
    # the original README's constructor works as written
    original = MsgTraceConfig(host="0.0.0.0", port=4321, db_path="msgtrace.db",
                              cors_origins=["*"], queue_size=1000)
    assert original.database_path == Path("msgtrace.db")
    with pytest.raises(ValueError, match="MSGTRACE_PORT"):
        MsgTraceConfig.from_env({"MSGTRACE_PORT": "abc"})


def test_env_vars_configure_the_server(server_factory: Any, tmp_path: Path) -> None:
    db = tmp_path / "views" / "custom.db"
    db.parent.mkdir()
    server = server_factory(env={"MSGTRACE_DB_PATH": str(db)})
    assert Path(server.info["db_path"]) == db
    trace_id = _post_one(server.url)
    server.wait_for_spans(trace_id, 1)
    assert db.exists()


def test_health_and_metrics(server_factory: Any) -> None:
    server = server_factory()
    _post_one(server.url)
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok"
    assert health["uptime_s"] >= 0
    assert {"journal_backlog_bytes", "projection_lag", "version"} <= set(health)
    assert set(health["projection_lag"]) >= {"offsets", "seconds"}
    text = httpx.get(f"{server.url}/metrics").text
    assert 'msgtrace_otlp_requests_total{content_type="protobuf",status="200",transport="http"}' in text
    assert "msgtrace_spans_received_total 1.0" in text
    assert "msgtrace_projection_lag_offsets" in text


def test_second_server_on_same_data_dir_refuses_naming_holder(server_factory: Any) -> None:
    first = server_factory()
    r = subprocess.run(
        [sys.executable, "-m", "msgtrace", "start", "--port", "0", "--otlp-port", "0",
         "--grpc-port", "0", "--data-dir", str(first.data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 1
    assert "in use" in r.stderr and str(first.proc.pid) in r.stderr
    assert httpx.get(f"{first.url}/health").status_code == 200


def test_taken_otlp_port_is_a_warning(server_factory: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = server_factory("--otlp-port", str(port))
        assert server.info["otlp_http_port"] is None
        assert f"OTLP/HTTP port {port} is not available" in server.log
        _post_one(server.url)


def test_standard_otlp_port_serves_otlp(server_factory: Any) -> None:
    port = free_port()
    server = server_factory("--otlp-port", str(port))
    assert server.info["otlp_http_port"] == port
    trace_id = _post_one(f"http://127.0.0.1:{port}")
    server.wait_for_spans(trace_id, 1)


def test_sigterm_seals_journal_and_stops_workers(server_factory: Any) -> None:
    server = server_factory()
    trace_id = _post_one(server.url)
    workers = [p for p in Path("/proc").glob("[0-9]*") if _ppid(p) == server.proc.pid]
    assert len(workers) >= 2
    assert server.stop() == 0
    journal = server.data_dir / "journal"
    assert not [p for p in journal.iterdir() if not p.name.startswith(".")] if journal.exists() else True
    assert all(not p.exists() for p in workers)
    from msgtrace.segments import scan_spans

    rows = scan_spans(server.data_dir).collect()
    assert trace_id in rows["trace_id"].to_list()
    assert not (server.data_dir / "server.json").exists()


def _ppid(proc_dir: Path) -> int:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_static_routes_cannot_escape(server_factory: Any) -> None:
    server = server_factory()
    for path in ("/..%2f..%2fetc/passwd", "/assets/../../../../etc/passwd", "/%2e%2e/pyproject.toml"):
        r = httpx.get(f"{server.url}{path}")
        assert "root:" not in r.text and "[project]" not in r.text
    r = httpx.get(f"{server.url}/traces/abc?span=def")
    assert r.status_code == 200 and "<html" in r.text.lower()


def test_listening_socket_disables_nagle() -> None:
    """Accepted connections inherit TCP_NODELAY; without it keep-alive responses wait ~40 ms."""
    from msgtrace.api.server import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()
