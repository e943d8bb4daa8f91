"""Sharing the top-level name `msgtrace` with msgflux's SDK (the `msgtrace-sdk` distribution).

Both distributions ship a regular package `msgtrace/` with an `__init__.py`: this project's
server and the SDK's `msgtrace.sdk` (and `msgtrace/version.py`). What pip does with the overlap:

- Both installed normally into one site-packages: they share one directory. The distribution
  installed last wins `msgtrace/__init__.py` (and `version.py`); every other file of both survives.
  Uninstalling either removes the shared `__init__.py`, which leaves a namespace package that
  still imports both.
- This project installed editable, the SDK normally: setuptools' editable finder sits after the
  regular path finder, so `import msgtrace` loads the SDK's `__init__.py` from site-packages, and
  our submodules are still found (the finder resolves `msgtrace.<child>` in the source tree).
- This project's `__init__` loaded first (a checkout on `sys.path`, e.g. the working directory):
  `msgtrace.sdk` lives in another directory and is found only because our `__init__` extends
  `__path__` over every `msgtrace/` directory on `sys.path` (pkgutil style).

So whichever `__init__.py` runs, every submodule of both imports. The only thing the SDK's
`__init__` lacks is our lazy top-level names (`from msgtrace import start_observer`). Those are
covered by one-line shim modules of the same names (`msgtrace/start_observer.py`, ...): when the
package attribute is missing, `from msgtrace import name` imports the submodule `msgtrace.name`,
whose shim grafts this package onto the loaded `msgtrace` module (`adopt`) and replaces itself in
`sys.modules` with the public object. When our `__init__` is the one loaded, its `__getattr__`
answers first and the shims are never imported.

Invariant: nothing here imports anything heavier than the standard library.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, MutableSequence
from types import ModuleType
from typing import Any

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# Public names resolved lazily from `msgtrace.integration`.
LAZY_EXPORTS: frozenset[str] = frozenset(
    {"Observer", "configure_msgflux_telemetry", "quick_start", "start_observer"}
)


def package_dirs(own_dir: str, current: list[str] | None = None) -> list[str]:
    """Every directory that holds a part of the `msgtrace` package, `own_dir` first.

    Order: the entries already in `current`, then `own_dir`, then each `msgtrace/` directory
    found on `sys.path` (where the SDK's `sdk/` subpackage may live). No duplicates.
    """
    seen: list[str] = []

    def add(path: str) -> None:
        real = os.path.realpath(path)
        if all(os.path.realpath(p) != real for p in seen):
            seen.append(path)

    for entry in current or []:
        add(entry)
    add(own_dir)
    for entry in sys.path:
        if not isinstance(entry, str):
            continue
        candidate = os.path.join(entry or os.getcwd(), "msgtrace")
        if os.path.isdir(candidate):
            add(candidate)
    return seen


def extend_package_path(package: ModuleType) -> None:
    """Make `package.__path__` cover our directory and every sibling `msgtrace/` on `sys.path`.

    The existing list object is mutated in place (the import system may hold a reference).
    """
    path = getattr(package, "__path__", None)
    if path is None:
        return
    merged = package_dirs(PACKAGE_DIR, list(path))
    if isinstance(path, MutableSequence):
        path[:] = merged
    else:  # a namespace package's _NamespacePath: rebind
        package.__path__ = merged


def lazy_getattr(
    name: str, fallback: Callable[[str], Any] | None = None, module_name: str = "msgtrace"
) -> Any:
    """The module-level `__getattr__` body shared by our `__init__` and `adopt`."""
    if name in LAZY_EXPORTS:
        integration = importlib.import_module("msgtrace.integration")
        return getattr(integration, name)
    if fallback is not None:
        return fallback(name)
    raise AttributeError(f"module {module_name!r} has no attribute {name!r}")


def adopt(package: ModuleType | None = None) -> ModuleType:
    """Graft this project's package onto a `msgtrace` module loaded from the SDK's `__init__`.

    Idempotent. Extends `__path__`, installs the lazy `__getattr__` for our public names (chaining
    to any `__getattr__` the loaded `__init__` had) and merges `__all__`.
    """
    module = package if package is not None else sys.modules["msgtrace"]
    extend_package_path(module)
    if getattr(module, "__msgtrace_server__", False):
        return module
    previous = module.__dict__.get("__getattr__")

    def __getattr__(name: str) -> Any:
        return lazy_getattr(name, previous)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    exported = list(getattr(module, "__all__", []))
    module.__all__ = sorted(set(exported) | LAZY_EXPORTS)  # type: ignore[attr-defined]
    module.__msgtrace_server__ = True  # type: ignore[attr-defined]
    return module


def resolve_shim(shim_name: str) -> None:
    """Body of a top-level shim module `msgtrace.<name>`: adopt, then become the public object."""
    name = shim_name.rpartition(".")[2]
    package = adopt()
    value = lazy_getattr(name)
    sys.modules[shim_name] = value
    setattr(package, name, value)
