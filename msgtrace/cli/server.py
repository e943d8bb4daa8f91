"""`msgtrace start`: the server, with everything a user needs in one command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from msgtrace.core.errors import MsgTraceError


def register(app: typer.Typer) -> None:
    """Add `start` to `app`."""
    app.command(help="Start msgtrace: UI, REST API and OTLP receiver, log and projections.")(start)


def start(
    host: Annotated[str | None, typer.Option(help="Address to bind [env MSGTRACE_HOST; default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port for UI, API and OTLP/HTTP [env MSGTRACE_PORT; default 4321; 0 picks a free port]")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the log and views live [env MSGTRACE_DATA_DIR; default ./msgtrace-data]")] = None,
    db_path: Annotated[Path | None, typer.Option(help="SQLite views file [env MSGTRACE_DB_PATH; default <data-dir>/msgtrace.db]")] = None,
    otlp_port: Annotated[int | None, typer.Option(help="Standard OTLP/HTTP port [default 4318; 0 disables]")] = None,
    grpc_port: Annotated[int | None, typer.Option(help="OTLP/gRPC port, needs msgtrace[grpc] [default 4317; 0 disables]")] = None,
    api_key: Annotated[str | None, typer.Option(help="Require this key on OTLP and the API [env MSGTRACE_API_KEY]")] = None,
    cors_origins: Annotated[str | None, typer.Option(help="Comma-separated origins allowed by CORS [env MSGTRACE_CORS_ORIGINS]")] = None,
    queue_size: Annotated[int | None, typer.Option(help="Requests waiting for fsync before 429 [default 1000]")] = None,
    max_request_mb: Annotated[float | None, typer.Option(help="Largest request after decompression, MiB [default 64]")] = None,
    retention_days: Annotated[float | None, typer.Option(help="Drop segments older than this many days")] = None,
    max_disk_gb: Annotated[float | None, typer.Option(help="Drop the oldest segments beyond this size")] = None,
    price_table: Annotated[Path | None, typer.Option(help="JSON file of model prices merged over the shipped table")] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning or error [default info]")] = None,
    reload: Annotated[bool, typer.Option("--reload", help="Restart when msgtrace's code changes (development)")] = False,
) -> None:
    from msgtrace.core.config import MsgTraceConfig

    try:
        config = MsgTraceConfig.from_env(
            host=host,
            port=port,
            data_dir=data_dir,
            db_path=db_path,
            otlp_port=otlp_port,
            grpc_port=grpc_port,
            api_key=api_key,
            cors_origins=[o.strip() for o in cors_origins.split(",") if o.strip()] if cors_origins else None,
            queue_size=queue_size,
            max_request_bytes=int(max_request_mb * 1024 * 1024) if max_request_mb else None,
            retention_days=retention_days,
            max_disk_gb=max_disk_gb,
            price_table=price_table,
            log_level=log_level,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    if reload:
        _run_with_reload()
        return
    from msgtrace.api.server import run

    try:
        run(config)
    except MsgTraceError as exc:
        typer.secho(f"msgtrace: {exc.message}", fg="red", err=True)
        if exc.hint:
            typer.secho(f"hint: {exc.hint}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.secho(f"msgtrace: cannot listen on {config.host}:{config.port}: {exc.strerror}", fg="red", err=True)
        typer.secho("hint: pick another --port, or stop what is using it", err=True)
        raise typer.Exit(1) from None


def _run_with_reload() -> None:
    """Re-run `msgtrace start` (without --reload) in a child, restarting it on code changes."""
    import subprocess

    import watchfiles

    import msgtrace.core

    argv = [sys.executable, "-m", "msgtrace", *[a for a in sys.argv[1:] if a != "--reload"]]
    # msgtrace.core, not msgtrace: msgtrace/__init__.py may be msgtrace-sdk's (see _msgflux_coexist)
    package_dir = Path(msgtrace.core.__file__).parent.parent
    typer.echo(f"msgtrace: reloading on changes under {package_dir}", err=True)
    watchfiles.run_process(
        package_dir,
        target=subprocess.list2cmdline(argv),
        target_type="command",
        watch_filter=watchfiles.PythonFilter(),
    )
