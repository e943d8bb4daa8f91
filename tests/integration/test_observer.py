"""`start_observer`, `Observer.stop`, `configure_msgflux_telemetry` and `msgtrace demo`, for real.

Programs that change process-wide telemetry state (environment, global TracerProvider) run as
subprocesses; `start_observer` itself is exercised in this process against real servers.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from msgtrace._msgflux_telemetry import resolve_endpoint
from msgtrace.core.config import MsgTraceConfig
from msgtrace.integration import ObserverStartError, free_port, start_observer
from tests.integration.conftest import (
    by_name,
    clean_env,
    find_trace,
    list_traces,
    poll,
    run_program,
)


def test_port_zero_starts_a_server_and_stop_ends_it(tmp_path: Path) -> None:
    observer = start_observer(port=0, data_dir=tmp_path / "data")
    try:
        assert observer.owned and observer.port > 0
        assert observer.url == f"http://127.0.0.1:{observer.port}"
        assert observer.otlp_endpoint == f"{observer.url}/api/v1/traces/export"
        health = observer.health()
        assert health is not None and health["status"] in ("ok", "degraded")
    finally:
        observer.stop()
    assert observer.process is not None and observer.process.returncode == 0, "graceful exit"
    assert observer.health() is None
    observer.stop()  # idempotent


def test_a_healthy_server_on_the_port_is_reused_and_left_running(
    msgtrace_server: Any, tmp_path: Path
) -> None:
    observer = start_observer(port=msgtrace_server.port, data_dir=tmp_path / "unused")
    assert not observer.owned and observer.process is None
    observer.stop()
    assert httpx.get(f"{msgtrace_server.url}/health", timeout=5).status_code == 200
    assert not (tmp_path / "unused").exists(), "reusing starts nothing and writes nothing"


def test_config_is_accepted_and_its_fields_reach_the_server(tmp_path: Path) -> None:
    config = MsgTraceConfig(port=0, data_dir=tmp_path / "cfg", db_path=tmp_path / "views.db",
                            otlp_port=0, grpc_port=0, queue_size=7)
    observer = start_observer(config=config)
    try:
        assert observer.db_path == (tmp_path / "views.db").resolve()
        info = json.loads((tmp_path / "cfg" / "server.json").read_text())
        assert info["db_path"] == str((tmp_path / "views.db").resolve())
    finally:
        observer.stop()


def test_a_port_taken_by_something_else_fails_with_the_server_log(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ObserverStartError) as info:
            start_observer(port=port, data_dir=tmp_path / "data", timeout=60)
    assert "msgtrace start exited with code" in str(info.value)
    assert "cannot listen" in str(info.value) or "in use" in str(info.value).lower()
    assert info.value.hint


@pytest.mark.parametrize(("server", "port", "expected"), [
    (None, None, "http://127.0.0.1:4321/api/v1/traces/export"),
    (None, 9999, "http://127.0.0.1:9999/api/v1/traces/export"),
    ("http://10.0.0.5:80/", None, "http://10.0.0.5:80/api/v1/traces/export"),
    ("localhost:4321", None, "http://localhost:4321/api/v1/traces/export"),
    ("http://h:1/v1/traces", None, "http://h:1/v1/traces"),
])
def test_endpoint_resolution(server: str | None, port: int | None, expected: str) -> None:
    assert resolve_endpoint(server, port) == expected


def test_bad_exporter_is_rejected() -> None:
    from msgtrace import configure_msgflux_telemetry

    with pytest.raises(ValueError, match="exporter must be 'otlp' or 'console'"):
        configure_msgflux_telemetry(port=1, exporter="zipkin")


CONFIGURE_AFTER_IMPORT = '''
import sys
# msgflux and the SDK imported (and their settings read) before msgtrace is configured.
import msgflux.nn as nn
import msgtrace.sdk
from msgflux.envs import envs
assert envs.telemetry_capture_state_dict is False

from msgtrace import configure_msgflux_telemetry
configure_msgflux_telemetry(server=sys.argv[1], enable_state_dict=True, service_name="late-" + sys.argv[2])
assert envs.telemetry_capture_state_dict is True

class Late(nn.Module):
    def forward(self):
        return "ok"

Late.__name__ = "Late" + sys.argv[2]
Late()()
from msgtrace._msgflux_telemetry import flush_pending_spans
flush_pending_spans()
'''


def test_configure_after_msgflux_and_sdk_were_imported(msgtrace_server: Any, tmp_path: Path) -> None:
    pytest.importorskip("msgflux")
    tag = "x" + tmp_path.name[-6:].replace("_", "")
    run_program(CONFIGURE_AFTER_IMPORT, tmp_path, msgtrace_server.url, tag)
    from msgflux.utils.convert import convert_camel_snake_to_title

    name = convert_camel_snake_to_title(f"Late{tag}")
    trace = find_trace(msgtrace_server.url, name, 1)
    root = by_name(trace)[name][0]
    assert root["resource_attributes"]["service.name"] == f"late-{tag}"
    assert "module.state_dict" in root["attributes"]


def test_stop_flushes_spans_finished_just_before_it(tmp_path: Path, server_factory: Any) -> None:
    """Spans ended right before stop() are exported before the server goes away."""
    program = '''
import sys
from msgtrace.integration import quick_start
observer = quick_start(port=0, data_dir=sys.argv[1])
from opentelemetry import trace
tracer = trace.get_tracer("burst")
for i in range(300):
    with tracer.start_as_current_span("burst-root"):
        with tracer.start_as_current_span("child"):
            pass
observer.stop()
'''
    run_program(program, tmp_path, str(tmp_path / "data"))
    server = server_factory(data_dir=tmp_path / "data")
    poll(lambda: list_traces(server.url, limit=1000),
         lambda traces: sum(t["root_span_name"] == "burst-root" for t in traces) == 300,
         "all 300 traces exported before stop()")


def test_demo_fills_a_running_server(msgtrace_server: Any, tmp_path: Path) -> None:
    before = httpx.get(f"{msgtrace_server.url}/api/v1/stats", timeout=10).json()["total_traces"]
    proc = subprocess.run(
        [sys.executable, "-m", "msgtrace", "demo", "--url", msgtrace_server.url,
         "--traces", "25", "--large", "1", "--seed", "3"],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sent 25 traces" in proc.stdout and "1 very large" in proc.stdout
    stats = poll(lambda: httpx.get(f"{msgtrace_server.url}/api/v1/stats", timeout=10).json(),
                 lambda s: s["total_traces"] >= before + 25, "25 demo traces")
    assert stats["tokens"]["total"] > 0 and stats["cost"] > 0
    big = find_trace(msgtrace_server.url, "BatchEvaluation", min_spans=3000)
    assert big["span_count"] >= 3000
    models = httpx.get(f"{msgtrace_server.url}/api/v1/models", timeout=10).json()["items"]
    assert len({m["name"] for m in models}) >= 3


def test_demo_against_nothing_fails_with_a_hint(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "msgtrace", "demo", "--url", f"http://127.0.0.1:{free_port()}"],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert "no msgtrace answers" in proc.stderr and "msgtrace start" in proc.stderr
