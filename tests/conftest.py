"""Shared fixtures: real `msgtrace start` processes on loopback, and real OpenTelemetry SDK exporters.

- `msgtrace_server`: one server per test session (per xdist worker), shared; tests must use their
  own trace ids/workflow names and never assume an empty store.
- `server_factory`: start servers of your own (fresh data dir, extra CLI args) for tests that kill,
  restart or fill a server; they are stopped at the end of the test.
- `tracer_provider_factory`: an SDK TracerProvider exporting OTLP/HTTP protobuf to an endpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_TIMEOUT_S = 60.0


@dataclass
class ServerHandle:
    """A running `msgtrace start` subprocess."""

    data_dir: Path
    args: list[str]
    log_path: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return str(self.info["url"]).replace("localhost", "127.0.0.1")

    @property
    def port(self) -> int:
        return int(self.info["port"])

    @property
    def otlp_endpoint(self) -> str:
        return f"{self.url}/v1/traces"

    @property
    def db_path(self) -> Path:
        return Path(self.info["db_path"])

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> ServerHandle:
        info_path = self.data_dir / "server.json"
        info_path.unlink(missing_ok=True)
        cmd = [
            sys.executable, "-m", "msgtrace", "start",
            "--port", "0", "--otlp-port", "0", "--grpc-port", "0",
            "--data-dir", str(self.data_dir), *self.args,
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"msgtrace start exited with {self.proc.returncode}:\n{self.log}")
            try:
                info = json.loads(info_path.read_text())
            except (OSError, ValueError):
                info = {}
            if info.get("pid") == self.proc.pid:
                self.info = info
                try:
                    if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"msgtrace start not healthy after {timeout}s:\n{self.log}")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait: the clean shutdown path. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL, the crash path; worker children die with the server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> ServerHandle:
        self.kill()
        return self.start()

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 30), **kwargs)

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition"
    ) -> None:
        """Poll `predicate` until true; fail with the server log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        pytest.fail(f"timed out after {timeout}s waiting for {what}\n--- server log ---\n{self.log[-4000:]}")

    def wait_for_spans(self, trace_id: str, count: int, timeout: float = 20.0) -> dict[str, Any]:
        """Wait until the read API shows `trace_id` with `count` spans; returns the trace."""
        found: dict[str, Any] = {}

        def ready() -> bool:
            r = httpx.get(f"{self.url}/api/v1/traces/{trace_id}", timeout=5)
            if r.status_code != 200:
                return False
            found.update(r.json())
            return len(found.get("spans", [])) >= count

        self.wait_for(ready, timeout, f"{count} spans of trace {trace_id}")
        return found


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSGTRACE_", "OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerHandle]]:
    started: list[ServerHandle] = []

    def make(*args: str, data_dir: Path | None = None, env: dict[str, str] | None = None,
             start: bool = True) -> ServerHandle:
        d = data_dir or tmp_path / f"data{len(started)}"
        handle = ServerHandle(d, list(args), tmp_path / f"server{len(started)}.log",
                              {**_server_env(), **(env or {})})
        started.append(handle)
        return handle.start() if start else handle

    yield make
    for handle in started:
        try:
            handle.stop(timeout=30)
        except Exception:
            handle.kill()


@pytest.fixture(scope="session")
def msgtrace_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    base = tmp_path_factory.mktemp("msgtrace-session")
    handle = ServerHandle(base / "data", [], base / "server.log", _server_env()).start()
    yield handle
    try:
        handle.stop(timeout=30)
    except Exception:
        handle.kill()


@pytest.fixture
def tracer_provider_factory() -> Iterator[Callable[..., Any]]:
    """Make SDK TracerProviders exporting OTLP/HTTP protobuf to an endpoint (gzip optional)."""
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    providers: list[Any] = []

    def make(endpoint: str, *, gzip: bool = False, service: str = "test-service",
             headers: dict[str, str] | None = None) -> Any:
        exporter = OTLPSpanExporter(
            endpoint=endpoint,
            compression=Compression.Gzip if gzip else Compression.NoCompression,
            headers=headers,
        )
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
        providers.append(provider)
        return provider

    yield make
    for p in providers:
        p.shutdown()
