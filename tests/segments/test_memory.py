"""The worker processes' memory settings, checked in a fresh interpreter (they act at start-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from msgtrace.segments import memory

_PROBE = """
import json, os, sys
from msgtrace.segments import memory
memory.configure(arrow_purge=True)
memory.configure(arrow_purge=True)  # idempotent
import polars as pl
import pyarrow as pa
table = pa.table({"a": [1, 2, 3]})
frame = pl.from_arrow(table)
memory.release()
print(json.dumps({
    "pandas": "pandas" in sys.modules,
    "rows": frame.height,
    "jemalloc": os.environ.get("_RJEM_MALLOC_CONF"),
    "purge": os.environ.get("MIMALLOC_PURGE_DELAY"),
}))
"""


def _probe(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_configure_keeps_pandas_out_and_sets_the_allocators() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("_RJEM_MALLOC_CONF", "MIMALLOC_PURGE_DELAY")}
    result = _probe(env)
    assert result["pandas"] is False
    assert result["rows"] == 3
    assert result["purge"] == "0"
    # Polars puts its own defaults in front when it loads; jemalloc lets the last setting win
    assert str(result["jemalloc"]).endswith(memory.JEMALLOC_CONF)


def test_an_operators_allocator_setting_wins() -> None:
    env = {**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:5000", "MIMALLOC_PURGE_DELAY": "10"}
    result = _probe(env)
    assert str(result["jemalloc"]).endswith("dirty_decay_ms:5000")
    assert result["purge"] == "10"
