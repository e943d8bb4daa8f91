"""Memory settings of the worker processes (log worker, projector): call `configure` first thing
in the process, `release` after each unit of work.

Measured on a 100,000-span realistic burst, most of the workers' resident memory was not data but
memory the allocators kept after a batch was freed: pyarrow's mimalloc pool (about 85 MB in the
projector after a catch-up, per thread of Arrow's pool), glibc's per-thread arenas, and the
jemalloc inside Polars. `configure` therefore (an operator's own
environment setting always wins; all are read when the library loads):

- with `arrow_purge` (the log worker: sealing and compaction allocate and free whole journals
  and row groups through pyarrow), asks pyarrow's mimalloc to return freed pages at once
  (`MIMALLOC_PURGE_DELAY=0`): the compactor's peak 240 -> 185 MB at no measurable CPU cost. The
  projector does without: there it cost a quarter more CPU for about 15 MB;
- asks Polars' jemalloc to return freed pages after `JEMALLOC_CONF`'s short delay (Polars puts
  its own defaults, 500/1000 ms, in front of the variable when it loads; the last setting wins);
- limits glibc to `MALLOC_ARENAS` arenas, so `release` can hand pages back with `malloc_trim`;
- keeps pandas out of the process: pyarrow imports it on the first table it builds (about 37 MB
  resident) although the workers never convert to or from pandas.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.abc
import importlib.machinery
import logging
import os
import sys
from types import ModuleType

log = logging.getLogger(__name__)

MALLOC_ARENAS = 2  # glibc arenas: the workers run two or three busy threads at most
_M_ARENA_MAX = -8  # mallopt parameter number (glibc malloc.h)
JEMALLOC_CONF = "dirty_decay_ms:200,muzzy_decay_ms:0"
MIMALLOC_PURGE_ENV = {"MIMALLOC_PURGE_DELAY": "0"}

_libc: ctypes.CDLL | None = None


class _PandasBlocked(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds pandas (so a lazy `find_spec` check succeeds) but fails to import it: pyarrow then
    treats pandas as absent, and nothing else in a worker imports it."""

    @classmethod
    def find_spec(
        cls, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            return importlib.machinery.ModuleSpec(fullname, cls())
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        raise ImportError("pandas is not loaded in msgtrace's worker processes")


def configure(*, arrow_purge: bool = False) -> None:
    """Set the allocator knobs above; call before importing pyarrow or Polars. Idempotent."""
    global _libc
    os.environ.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_CONF)
    if arrow_purge:
        for name, value in MIMALLOC_PURGE_ENV.items():
            os.environ.setdefault(name, value)
    if "pandas" not in sys.modules and _PandasBlocked not in sys.meta_path:
        sys.meta_path.insert(0, _PandasBlocked)
    if _libc is None and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
            libc.malloc_trim  # noqa: B018  (glibc only: musl has no malloc_trim)
            _libc = libc
        except (OSError, AttributeError):
            log.debug("not glibc: malloc_trim is unavailable")


def release() -> None:
    """Hand memory freed since the last call back to the system (a few ms: call it per journal
    or compaction run, not per small batch)."""
    if "pyarrow" in sys.modules:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    if _libc is not None:
        _libc.malloc_trim(0)
