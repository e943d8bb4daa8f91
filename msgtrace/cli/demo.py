"""`msgtrace demo`: fill a running msgtrace (or start one) with realistic AI-application traffic."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command(help="Send realistic msgflux-style demo traces to msgtrace (starts one if needed).")(
        demo
    )


def demo(
    url: Annotated[
        str | None, typer.Option(help="Base URL of a running msgtrace, e.g. http://127.0.0.1:4321")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port of a local msgtrace; started here if none answers")
    ] = None,
    traces: Annotated[int, typer.Option(min=1, help="How many traces to send")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic)")] = 7,
    large: Annotated[
        int | None, typer.Option(min=0, help="How many very large traces (thousands of spans)")
    ] = None,
    serve: Annotated[
        bool, typer.Option(help="Keep a server started here running until Ctrl-C")
    ] = True,
) -> None:
    from msgtrace.demo_traffic import run_demo

    try:
        summary = run_demo(
            url=url, port=port, traces=traces, seed=seed, large=large, serve=serve
        )
    except Exception as exc:
        typer.secho(f"msgtrace demo: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    if not (summary.started_server and serve):
        typer.echo(summary.describe())
