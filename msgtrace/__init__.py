"""msgtrace: a self-hosted trace viewer for msgflux and OpenTelemetry AI applications.

Importing `msgtrace` is cheap: the integration helpers below load on first use, and nothing
here imports FastAPI, Polars or pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

__all__ = [
    "Observer",
    "__version__",
    "configure_msgflux_telemetry",
    "quick_start",
    "start_observer",
]

if TYPE_CHECKING:
    from msgtrace.integration import (
        Observer,
        configure_msgflux_telemetry,
        quick_start,
        start_observer,
    )


def __getattr__(name: str) -> Any:
    if name in {"Observer", "configure_msgflux_telemetry", "quick_start", "start_observer"}:
        from msgtrace import integration

        return getattr(integration, name)
    raise AttributeError(f"module 'msgtrace' has no attribute {name!r}")
