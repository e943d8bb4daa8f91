"""One line to trace a msgflux program: start msgtrace, point msgflux's telemetry at it.

- `start_observer(...)` runs `msgtrace start` as a subprocess (its CPU work stays outside the
  caller's process and GIL), waits for `GET /health`, and returns an `Observer`. A healthy
  msgtrace already answering on the port is reused instead (then `stop()` only flushes).
- `configure_msgflux_telemetry(...)` sets the `MSGTRACE_*` variables msgtrace-sdk reads, msgflux's
  own capture settings, reconfigures an already-imported SDK, and applies the nested-span fix
  where the installed SDK needs it (`msgtrace._msgflux_spans`).
- `quick_start(port, **options)` does both.

Invariant: `Observer.stop()` flushes the program's pending spans (the global TracerProvider and
msgtrace-sdk's) before it stops the server gracefully, so nothing exported before `stop()` is lost.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msgtrace._msgflux_telemetry import (
    configure_msgflux_telemetry,
    flush_pending_spans,
)
from msgtrace.core.config import DEFAULT_HOST, DEFAULT_PORT, MsgTraceConfig
from msgtrace.core.errors import MsgTraceError

__all__ = [
    "Observer",
    "ObserverStartError",
    "configure_msgflux_telemetry",
    "quick_start",
    "start_observer",
]

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SERVER_INFO_FILE = "server.json"
_OBSERVER_OPTIONS = frozenset({"config", "host", "data_dir", "db_path", "timeout"})


class ObserverStartError(MsgTraceError):
    """`msgtrace start` exited or did not become healthy; the message ends with its log."""

    hint = "read the server log above; pick another port or data dir if one is in use"


@dataclass
class Observer:
    """A msgtrace server this program started (or found running) on loopback or `host`.

    `url` is the base URL of the UI and API; `otlp_endpoint` is where msgtrace-sdk exports.
    Usable as a context manager; `stop()` is idempotent.
    """

    url: str
    port: int
    host: str
    data_dir: Path | None = None
    db_path: Path | None = None
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    owned: bool = False
    _stopped: bool = field(default=False, repr=False)

    @property
    def otlp_endpoint(self) -> str:
        return f"{self.url}/api/v1/traces/export"

    @property
    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return _health(self.url) is not None

    def health(self) -> dict[str, Any] | None:
        """The server's `/health` document, or None when it does not answer."""
        return _health(self.url)

    def trace_url(self, trace_id: str) -> str:
        """The UI page of one trace."""
        return f"{self.url}/traces/{trace_id}"

    def flush(self) -> None:
        """Export every span this program has finished so far (blocks up to about 10 s)."""
        flush_pending_spans()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Flush this program's pending spans, then (if we started it) SIGTERM the server and wait."""
        flush_pending_spans()
        if self._stopped:
            return
        self._stopped = True
        _OWNED.discard(self)
        proc = self.process
        if not self.owned or proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Observer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __hash__(self) -> int:
        return id(self)


_OWNED: set[Observer] = set()
_owned_lock = threading.Lock()


@atexit.register
def _stop_owned_at_exit() -> None:
    with _owned_lock:
        for observer in list(_OWNED):
            observer.stop()


def _client_host(host: str) -> str:
    """The address a client on this machine uses to reach a server bound to `host`."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _url(host: str, port: int) -> str:
    host = _client_host(host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The `/health` document of a msgtrace at `url`, or None (not answering, not msgtrace).

    Uses the standard library: this module is imported at the start of users' programs.
    """
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            if response.status != 200:
                return None
            body = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) and "status" in body else None


def _config_env(config: MsgTraceConfig) -> dict[str, str]:
    """`MSGTRACE_<FIELD>` for every config field that differs from the default (read by `from_env`)."""
    env: dict[str, str] = {}
    default = MsgTraceConfig()
    for name in config.__dataclass_fields__:
        value = getattr(config, name)
        if value == getattr(default, name) or value is None:
            continue
        env[f"MSGTRACE_{name.upper()}"] = ",".join(value) if isinstance(value, list) else str(value)
    return env


def _read_info(data_dir: Path, pid: int) -> dict[str, Any] | None:
    try:
        info = json.loads((data_dir / SERVER_INFO_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("pid") == pid else None


def start_observer(
    port: int | None = None,
    config: MsgTraceConfig | None = None,
    host: str | None = None,
    data_dir: str | Path | None = None,
    db_path: str | Path | None = None,
    timeout: float = STARTUP_TIMEOUT_S,
) -> Observer:
    """Start `msgtrace start` in a subprocess and wait until it is healthy.

    Values: explicit arguments > `config` > defaults (port 4321, host 127.0.0.1, data dir
    `./msgtrace-data`). `port=0` lets the server pick a free port (read back from
    `<data-dir>/server.json`). If a healthy msgtrace already answers on a non-zero port, it is
    reused and nothing is started. The standard OTLP ports (4318/4317) are only opened when
    `config` asks for them. Raises `ObserverStartError` (with the server log) on failure.
    """
    base = config or MsgTraceConfig()
    chosen_host = host if host is not None else (config.host if config else DEFAULT_HOST)
    chosen_port = port if port is not None else (config.port if config else DEFAULT_PORT)
    if chosen_port:
        existing = _health(_url(chosen_host, chosen_port))
        if existing is not None:
            return Observer(url=_url(chosen_host, chosen_port), port=chosen_port, host=chosen_host)
    chosen_dir = Path(data_dir if data_dir is not None else base.data_dir).expanduser().resolve()
    chosen_dir.mkdir(parents=True, exist_ok=True)
    (chosen_dir / SERVER_INFO_FILE).unlink(missing_ok=True)
    cmd = [
        sys.executable, "-m", "msgtrace", "start",
        "--host", chosen_host,
        "--port", str(chosen_port),
        "--data-dir", str(chosen_dir),
        "--otlp-port", str(config.otlp_port if config else 0),
        "--grpc-port", str(config.grpc_port if config else 0),
    ]
    chosen_db = db_path if db_path is not None else base.db_path
    if chosen_db is not None:
        cmd += ["--db-path", str(Path(chosen_db).expanduser().resolve())]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGTRACE_")}
    if config is not None:
        env.update(_config_env(config))
    log_path = chosen_dir / "server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    observer = _wait_healthy(proc, chosen_dir, chosen_host, log_path, timeout)
    with _owned_lock:
        _OWNED.add(observer)
    return observer


def _wait_healthy(
    proc: subprocess.Popen[bytes], data_dir: Path, host: str, log_path: Path, timeout: float
) -> Observer:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ObserverStartError(
                f"msgtrace start exited with code {proc.returncode}:\n{_tail(log_path)}"
            )
        info = _read_info(data_dir, proc.pid)
        if info is not None:
            port = int(info["port"])
            url = _url(host, port)
            if _health(url) is not None:
                db = info.get("db_path")
                return Observer(
                    url=url, port=port, host=host, data_dir=data_dir,
                    db_path=Path(db) if db else None, log_path=log_path,
                    process=proc, owned=True,
                )
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise ObserverStartError(
        f"msgtrace start was not healthy after {timeout:.0f}s:\n{_tail(log_path)}"
    )


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no server log)"


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on `host` (for tests and examples that need one up front)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def quick_start(port: int | None = DEFAULT_PORT, **options: Any) -> Observer:
    """`start_observer` then `configure_msgflux_telemetry(server=observer)`, in one call.

    Options named `config`, `host`, `data_dir`, `db_path`, `timeout` go to `start_observer`; the
    rest (`enable_state_dict`, `enable_platform`, `capture_tool_call_responses`, `service_name`,
    ...) go to `configure_msgflux_telemetry`. The data dir defaults to `./msgtrace-data`, the same
    as `msgtrace start`, so `msgtrace list` and the UI show the run afterwards.
    """
    observer_options = {k: options.pop(k) for k in list(options) if k in _OBSERVER_OPTIONS}
    observer = start_observer(port=port, **observer_options)
    configure_msgflux_telemetry(server=observer, **options)
    return observer
