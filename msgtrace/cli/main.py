"""The `msgtrace` command. Each subject registers its commands from its own module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="msgtrace",
    help="Self-hosted trace viewer for msgflux and OpenTelemetry AI applications.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from msgtrace.cli import demo, log, read, segments, server

    for module in (server, read, log, segments, demo):
        module.register(app)


_register()

if __name__ == "__main__":
    app()
