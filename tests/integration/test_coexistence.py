"""This project and msgflux's SDK (`msgtrace-sdk`, import package `msgtrace.sdk`) in one environment.

Each case builds a fresh virtual environment and installs both distributions with pip, in a given
order: ours then the SDK (the SDK's `msgtrace/__init__.py` overwrites ours), the SDK then ours,
and ours editable plus the SDK (the SDK's `__init__` is the one `import msgtrace` finds). Then,
from a neutral working directory, a user's imports and the console script must all work.

Third-party dependencies are not reinstalled per case: the new environment sees this test run's
site-packages through a `.pth` line to a directory of links that leaves out every `msgtrace*`
distribution. Our wheel is built once per session; the SDK wheel is cached across sessions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SDK_REQUIREMENT = "msgtrace-sdk==1.2.0"
PIP_TIMEOUT_S = 300

pytestmark = pytest.mark.slow

CHECKS = r'''
import json, subprocess, sys
results = {}

def check(name, fn):
    try:
        value = fn()
        results[name] = "ok" if value is None else value
    except Exception as exc:
        results[name] = f"FAILED: {type(exc).__name__}: {exc}"

def imports_sdk():
    import msgtrace.sdk
    from msgtrace.sdk import Spans, MsgTraceAttributes  # noqa: F401

def top_level_names():
    from msgtrace import start_observer, configure_msgflux_telemetry, quick_start, Observer
    assert callable(start_observer) and callable(configure_msgflux_telemetry)
    assert callable(quick_start) and isinstance(Observer, type)

def integration():
    from msgtrace.integration import quick_start
    assert callable(quick_start)

def storage():
    from msgtrace.backend.storage import SQLiteTraceStorage  # noqa: F401

def config():
    from msgtrace.core.config import MsgTraceConfig
    assert MsgTraceConfig(port=1).port == 1

def cheap_import():
    import msgtrace, msgtrace.sdk  # noqa: F401
    heavy = sorted(m for m in ("fastapi", "polars", "pyarrow") if m in sys.modules)
    assert not heavy, f"importing msgtrace loaded {heavy}"

check("cheap_import", cheap_import)
check("import msgtrace.sdk", imports_sdk)
check("from msgtrace import ...", top_level_names)
check("msgtrace.integration", integration)
check("msgtrace.backend.storage", storage)
check("msgtrace.core.config", config)
print(json.dumps(results))
'''


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def _pip(*args: str, python: Path | None = None) -> subprocess.CompletedProcess[str]:
    target = ["--python", str(python)] if python is not None else []
    return _run([sys.executable, "-m", "pip", *target, *args, "--disable-pip-version-check"])


def _source_copy(dest: Path) -> Path:
    """The working tree's pyproject, README and package (tracked and new files), copied to `dest`."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", "pyproject.toml", "README.md",
         "msgtrace"], cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()
    for rel in listed:
        src = REPO / rel
        if src.is_file() and "__pycache__" not in rel:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the working tree")
    base = tmp_path_factory.mktemp("wheelhouse")
    ours_dir = base / "ours"
    src = _source_copy(base / "src")
    _pip("wheel", "--no-deps", "-w", str(ours_dir), str(src))
    cache = Path(tempfile.gettempdir()) / "msgtrace-test-wheelhouse"
    cache.mkdir(exist_ok=True)
    if not list(cache.glob("msgtrace_sdk-1.2.0-*.whl")):
        _pip("download", "--no-deps", "-d", str(cache), SDK_REQUIREMENT)
    return {
        "ours": next(ours_dir.glob("msgtrace-*.whl")),
        "sdk": next(cache.glob("msgtrace_sdk-1.2.0-*.whl")),
        "src": src,
    }


@pytest.fixture(scope="session")
def deps_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Links to this environment's site-packages entries, minus every msgtrace distribution."""
    farm = tmp_path_factory.mktemp("deps")
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(("msgtrace", "__editable__", "_virtualenv")) or name.endswith(".pth"):
            continue
        (farm / entry.name).symlink_to(entry)
    return farm


def _new_env(root: Path, deps: Path) -> Path:
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    Path(purelib, "zz_test_deps.pth").write_text(f"{deps}\n")
    return python


def _checks(python: Path, cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MSGTRACE_", "PYTHONPATH", "VIRTUAL_ENV"))}
    proc = subprocess.run([str(python), "-c", CHECKS], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    cli = subprocess.run([str(python.parent / "msgtrace"), "--help"], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=120)
    ok = cli.returncode == 0 and "start" in cli.stdout and "demo" in cli.stdout
    results["msgtrace --help"] = "ok" if ok else f"FAILED: {cli.returncode} {cli.stdout}{cli.stderr}"
    return results


@pytest.mark.parametrize("order", ["ours-then-sdk", "sdk-then-ours", "ours-editable-then-sdk"])
def test_both_packages_import_in_any_install_order(
    order: str, wheelhouse: dict[str, Path], deps_dir: Path, tmp_path: Path
) -> None:
    python = _new_env(tmp_path / "env", deps_dir)
    install = ["install", "--no-deps", "--no-index", "--no-build-isolation"]
    if order == "ours-then-sdk":
        _pip(*install, str(wheelhouse["ours"]), python=python)
        _pip(*install, str(wheelhouse["sdk"]), python=python)
    elif order == "sdk-then-ours":
        _pip(*install, str(wheelhouse["sdk"]), python=python)
        _pip(*install, str(wheelhouse["ours"]), python=python)
    else:
        editable = shutil.copytree(wheelhouse["src"], tmp_path / "checkout")
        # Built with isolation: the build backend comes from the package index (cached by pip).
        _pip("install", "--no-deps", "-e", str(editable), python=python)
        _pip(*install, str(wheelhouse["sdk"]), python=python)
    neutral = tmp_path / "elsewhere"
    neutral.mkdir()
    results = _checks(python, neutral)
    failed = {name: outcome for name, outcome in results.items() if outcome != "ok"}
    assert not failed, f"{order}: {json.dumps(failed, indent=2)}"


def test_uninstalling_the_sdk_leaves_this_project_importable(
    wheelhouse: dict[str, Path], deps_dir: Path, tmp_path: Path
) -> None:
    """pip removes the shared `msgtrace/__init__.py` with the SDK; ours still imports."""
    python = _new_env(tmp_path / "env", deps_dir)
    install = ["install", "--no-deps", "--no-index"]
    _pip(*install, str(wheelhouse["sdk"]), python=python)
    _pip(*install, str(wheelhouse["ours"]), python=python)
    _pip("uninstall", "-y", "msgtrace-sdk", python=python)
    proc = subprocess.run(
        [str(python), "-c", "from msgtrace import start_observer; from msgtrace.core.config "
         "import MsgTraceConfig; print('ok')"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.stdout.strip() == "ok", proc.stderr
