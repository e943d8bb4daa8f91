"""The `msgtrace` package surface: lazy public names, the SDK-coexistence shims and `adopt`."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

import msgtrace
from msgtrace import _msgflux_coexist, integration


def test_all_lists_every_public_name_and_each_resolves() -> None:
    public = {name for name in dir(integration) if name in _msgflux_coexist.LAZY_EXPORTS}
    assert public == set(_msgflux_coexist.LAZY_EXPORTS)
    assert set(msgtrace.__all__) == _msgflux_coexist.LAZY_EXPORTS | {"__version__"}
    for name in _msgflux_coexist.LAZY_EXPORTS:
        assert getattr(msgtrace, name) is getattr(integration, name)


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        msgtrace.nope  # noqa: B018


def test_adopt_grafts_our_names_onto_a_foreign_init_and_is_idempotent() -> None:
    foreign = types.ModuleType("msgtrace")
    foreign.__path__ = []
    foreign.__all__ = ["__version__"]  # type: ignore[attr-defined]
    _msgflux_coexist.adopt(foreign)
    _msgflux_coexist.adopt(foreign)
    assert foreign.__path__[0] == _msgflux_coexist.PACKAGE_DIR
    assert foreign.__path__.count(_msgflux_coexist.PACKAGE_DIR) == 1
    assert foreign.start_observer is integration.start_observer
    assert "quick_start" in foreign.__all__ and "__version__" in foreign.__all__
    with pytest.raises(AttributeError):
        foreign.nope  # noqa: B018


def test_shim_module_stands_in_for_the_function() -> None:
    sys.modules.pop("msgtrace.quick_start", None)
    shim = importlib.import_module("msgtrace.quick_start")
    assert shim is integration.quick_start


def test_importing_msgtrace_and_the_integration_stays_light() -> None:
    code = ("import sys; import msgtrace; from msgtrace import start_observer, "
            "configure_msgflux_telemetry; print(sorted(m for m in ('fastapi', 'polars', "
            "'pyarrow', 'httpx', 'uvicorn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
