"""Server configuration: one `MsgTraceConfig`, filled from arguments, `MSGTRACE_*` env vars or defaults.

Precedence: explicit constructor/CLI values > environment (`MsgTraceConfig.from_env`) > defaults.
Paths are resolved lazily: `db_path` defaults to `<data_dir>/msgtrace.db`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

MiB = 1024 * 1024

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4321
DEFAULT_DATA_DIR = "./msgtrace-data"


@dataclass(frozen=True)
class MsgTraceConfig:
    """Everything `msgtrace start`, `start_observer` and the tests need to build a running system."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: str | Path = DEFAULT_DATA_DIR
    db_path: str | Path | None = None
    cors_origins: list[str] = field(default_factory=list)
    # Requests waiting for fsync at once; past it ingest answers 429 with Retry-After.
    queue_size: int = 1000
    # Largest request body accepted, checked after decompression (413 beyond).
    max_request_bytes: int = 64 * MiB
    # Closed-but-unsealed journal bytes; past it ingest answers 503 with Retry-After.
    max_backlog_bytes: int = 1024 * MiB
    # A journal file is sealed into a segment once it is this old or this large (the age bounds
    # how long a request waits before projection can start: about half of it on average).
    seal_age_s: float = 0.5
    # ... or once no request has arrived for this long (a burst becomes visible without waiting).
    seal_idle_s: float = 0.1
    seal_bytes: int = 16 * MiB  # bounds the log worker's memory: a journal is decoded whole
    # Segments smaller than this are merged by the compactor up to about this size.
    compact_target_bytes: int = 128 * MiB
    compact_min_segments: int = 8
    otlp_port: int = 4318
    grpc_port: int = 4317
    api_key: str | None = None
    retention_days: float | None = None
    max_disk_gb: float | None = None
    price_table: str | Path | None = None
    log_level: str = "info"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()

    @property
    def database_path(self) -> Path:
        if self.db_path is not None:
            return Path(self.db_path).expanduser()
        return self.data_path / "msgtrace.db"

    def with_(self, **changes: Any) -> MsgTraceConfig:
        """A copy with `changes` applied; `None` values are ignored so CLI defaults do not clobber."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> MsgTraceConfig:
        """Defaults, then `MSGTRACE_<FIELD>` variables, then non-None `overrides`."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"MSGTRACE_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse_env(f.name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse_env(name: str, raw: str, typ: Any) -> Any:
    text = str(typ)
    try:
        if name == "cors_origins":
            return [o.strip() for o in raw.split(",") if o.strip()]
        if text.startswith("int"):
            return int(raw)
        if text.startswith("float"):
            return float(raw)
    except ValueError as exc:
        raise ValueError(f"MSGTRACE_{name.upper()}={raw!r} is not a valid {text}") from exc
    return raw
