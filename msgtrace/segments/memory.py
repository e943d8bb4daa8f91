"""Memory settings of the worker processes (log worker, projector): call `configure` first thing
in the process, `release` after each unit of work.

Measured on a 100,000-span realistic burst, most of the workers' resident memory was not data but
memory the allocators kept after a batch was freed: pyarrow's mimalloc pool (about 85 MB in the
projector), glibc's per-thread arenas, and the jemalloc inside Polars (dirty pages kept for 10 s).
`configure` therefore:

- routes pyarrow through the system allocator, limited to `MALLOC_ARENAS` arenas, so that
  `release` can hand freed pages back with `malloc_trim`;
- asks Polars' jemalloc to return freed pages at once (`_RJEM_MALLOC_CONF`, read when Polars
  loads; an operator's own setting wins);
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
JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"

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


def configure() -> None:
    """Set the allocator knobs above; call before importing pyarrow or Polars. Idempotent."""
    global _libc
    os.environ.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_CONF)
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
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def release() -> None:
    """Hand memory freed since the last call back to the system (a few ms)."""
    if "pyarrow" in sys.modules:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    if _libc is not None:
        _libc.malloc_trim(0)
