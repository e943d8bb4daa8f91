"""Runs a `System` behind uvicorn (and optionally OTLP/gRPC) until SIGINT/SIGTERM.

Listeners: the main port (UI, REST API, OTLP/HTTP at both paths), the standard OTLP/HTTP port
(4318 unless disabled with 0; a port already taken is a warning, not a failure), and OTLP/gRPC
(4317 when grpcio is installed). On a signal every listener stops accepting, in-flight requests
finish, then the system drains, seals and stops its workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from msgtrace.api.app import create_app
from msgtrace.api.system import System
from msgtrace.core.config import MsgTraceConfig
from msgtrace.ingest.grpc_server import grpc_available, start_grpc_server

log = logging.getLogger("msgtrace.server")

SERVER_INFO_FILE = "server.json"


class _Server(uvicorn.Server):
    """uvicorn.Server whose signals are handled by `serve`, for several servers in one loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Listeners:
    main: socket.socket
    otlp: socket.socket | None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it, a response written in two sends waits for
    # the client's delayed ACK (a 40 ms floor on every keep-alive request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = "localhost" if host in ("127.0.0.1", "localhost") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


async def serve(config: MsgTraceConfig, *, lock_wait_s: float = 0.0) -> None:
    """Start everything for `config`, serve until a signal, then shut down cleanly."""
    main_sock = bind(config.host, config.port)
    otlp_sock: socket.socket | None = None
    if config.otlp_port and config.otlp_port != config.port:
        try:
            otlp_sock = bind(config.host, config.otlp_port)
        except OSError as exc:
            log.warning(
                "OTLP/HTTP port %s is not available (%s); OTLP stays on port %s",
                config.otlp_port, exc.strerror, main_sock.getsockname()[1],
            )
    system = System.start(config, lock_wait_s=lock_wait_s)
    try:
        await _run(config, system, Listeners(main_sock, otlp_sock))
    finally:
        system.stop()
        _remove_info(config.data_path)
        log.info("msgtrace stopped")


async def _run(config: MsgTraceConfig, system: System, listeners: Listeners) -> None:
    app = create_app(system)
    level = config.log_level.lower()
    servers: list[tuple[_Server, socket.socket]] = []
    for sock in (listeners.main, listeners.otlp):
        if sock is None:
            continue
        ucfg = uvicorn.Config(
            app,
            log_level=level,
            access_log=level == "debug",
            timeout_graceful_shutdown=30,
            limit_concurrency=max(64, config.queue_size * 2),
            server_header=False,
        )
        servers.append((_Server(ucfg), sock))

    grpc_server: Any = None
    grpc_port: int | None = None
    if config.grpc_port and grpc_available():
        try:
            grpc_server, grpc_port = await start_grpc_server(
                app.state.receiver, config.host, config.grpc_port, config.api_key
            )
        except (OSError, RuntimeError) as exc:
            log.warning("OTLP/gRPC port %s is not available (%s)", config.grpc_port, exc)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal() -> None:
        stop.set()
        for server, _ in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    port = listeners.main.getsockname()[1]
    otlp_port = listeners.otlp.getsockname()[1] if listeners.otlp else None
    tasks = [asyncio.create_task(s.serve(sockets=[sock])) for s, sock in servers]
    while not all(s.started for s, _ in servers):
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.01)
    _write_info(config, port, otlp_port, grpc_port)
    _banner(config, port, otlp_port, grpc_port)
    try:
        await asyncio.gather(*tasks)
    finally:
        if grpc_server is not None:
            await grpc_server.stop(grace=10)


def _write_info(config: MsgTraceConfig, port: int, otlp_port: int | None, grpc_port: int | None) -> None:
    """`<data-dir>/server.json`: where this server listens, for clients and tests to find it."""
    base = _url(config.host, port)
    info = {
        "pid": os.getpid(),
        "url": base,
        "host": config.host,
        "port": port,
        "otlp_http_port": otlp_port,
        "otlp_grpc_port": grpc_port,
        "otlp_endpoint": f"{base}/v1/traces",
        "db_path": str(config.database_path),
        "started_at": time.time(),
    }
    path = config.data_path / SERVER_INFO_FILE
    tmp = path.with_name(f".{SERVER_INFO_FILE}.tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(path)


def _remove_info(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / SERVER_INFO_FILE).unlink()


def read_server_info(data_dir: Path) -> dict[str, Any] | None:
    """The running server's info for a data dir, or None when none is running there."""
    try:
        return dict(json.loads((data_dir / SERVER_INFO_FILE).read_text()))
    except (OSError, ValueError):
        return None


def _banner(config: MsgTraceConfig, port: int, otlp_port: int | None, grpc_port: int | None) -> None:
    base = _url(config.host, port)
    lines = [
        f"msgtrace listening on {base}",
        f"  UI        {base}/",
        f"  API docs  {base}/docs",
        f"  OTLP/HTTP {base}/v1/traces  (also {base}/api/v1/traces/export)",
    ]
    if otlp_port:
        lines.append(f"  OTLP/HTTP {_url(config.host, otlp_port)}/v1/traces  (standard port)")
    if grpc_port:
        lines.append(f"  OTLP/gRPC {config.host}:{grpc_port}")
    lines.append(f"  data      {config.data_path}  (views: {config.database_path})")
    if not _is_loopback(config.host) and not config.api_key:
        lines.append(
            "  WARNING: listening on a non-loopback address without an API key: anyone who can "
            "reach it can read every prompt and completion. Set --api-key or MSGTRACE_API_KEY."
        )
    print("\n".join(lines), file=sys.stderr, flush=True)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (uvicorn[standard] brings it), else asyncio's default.

    uvicorn picks uvloop itself only when it creates the loop; `serve` runs several servers (and
    OTLP/gRPC) in a loop of its own, so it chooses the same way here."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(config: MsgTraceConfig, *, lock_wait_s: float = 0.0) -> None:
    """Blocking entry point for `msgtrace start`."""
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(config, lock_wait_s=lock_wait_s))
