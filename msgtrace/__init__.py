"""msgtrace: a self-hosted trace viewer for msgflux and OpenTelemetry AI applications.

Importing `msgtrace` is cheap: the integration helpers below load on first use, and nothing
here imports FastAPI, Polars or pyarrow.

The name `msgtrace` is shared with msgflux's SDK (`msgtrace.sdk`, from `msgtrace-sdk`); see
`msgtrace._msgflux_coexist` for how both packages import in any install order.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from msgtrace import _msgflux_coexist
from msgtrace.core.version import VERSION as __version__

__msgtrace_server__ = True

__all__ = [
    "Observer",
    "__version__",
    "configure_msgflux_telemetry",
    "quick_start",
    "start_observer",
]

# Find `msgtrace/sdk` (and any other part of the package) in other sys.path locations.
_msgflux_coexist.extend_package_path(sys.modules[__name__])

if TYPE_CHECKING:
    from msgtrace.integration import (
        Observer,
        configure_msgflux_telemetry,
        quick_start,
        start_observer,
    )


def __getattr__(name: str) -> Any:
    return _msgflux_coexist.lazy_getattr(name)
