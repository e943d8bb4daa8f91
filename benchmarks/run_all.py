"""Run every ``benchmarks/bench_*.py`` and rewrite ``benchmarks/RESULTS.md``.

``python -m benchmarks.run_all [--quick] [--only NAME ...]`` (``make bench``). Benchmarks run one
at a time, each in its own process, following the protocol in ``benchmarks/common.py``. A
benchmark that fails or times out is reported with the tail of its stderr and the run carries on.
The whole run is budgeted to finish within 30 minutes: each benchmark gets at most its own timeout
and at most what is left of the budget. The raw results also go to ``benchmarks/.work/results.json``.

With ``--only``, sections of benchmarks not run this time are kept from the previous RESULTS.md
(via the raw results file), so partial runs do not erase other figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_DIR, TABLE_HEAD, WORK_DIR, figure_row, markdown, parse_output

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_JSON = WORK_DIR / "results.json"
ANALYSIS_MD = BENCH_DIR / "ANALYSIS.md"
SOAK_MD = BENCH_DIR / "SOAK.md"  # `python -m benchmarks.soak` output: half an hour, so not run here
BUDGET_S = 29 * 60
# Run order: cheap ceilings first, then components, then the end-to-end comparisons.
ORDER = ("limits", "codec", "log", "projection", "ingest", "read", "phoenix", "ui")
# Per-benchmark timeouts (seconds) for full runs; --quick uses half of these (min 150 s).
TIMEOUTS = {"limits": 180, "ingest": 600, "phoenix": 720, "read": 900, "ui": 300}
DEFAULT_TIMEOUT = 300
PACKAGES = ("msgtrace", "protobuf", "opentelemetry-proto", "pyarrow", "polars", "fastapi",
            "uvicorn", "orjson", "httpx", "uvloop", "httptools")


def discover() -> list[str]:
    names = [p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, OS, Python and package versions, load average."""
    info: dict[str, Any] = {"cores": os.cpu_count(), "python": platform.python_version(),
                            "os": f"{platform.system()} {platform.release()}",
                            "machine": platform.machine()}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["loadavg"] = list(os.getloadavg())
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    try:
        from google.protobuf.internal import api_implementation

        versions["protobuf backend"] = api_implementation.Type()
    except ImportError:
        pass
    info["packages"] = versions
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR,
                                        capture_output=True, text=True, timeout=10).stdout.strip()
    return info


def run_one(name: str, quick: bool, timeout: float) -> dict[str, Any]:
    """Run one benchmark; returns its result object, or one with ``error`` set."""
    cmd = [sys.executable, "-m", f"benchmarks.bench_{name}"] + (["--quick"] if quick else [])
    t0 = time.monotonic()
    print(f"== bench_{name} (timeout {timeout:.0f} s)", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return {"bench": name, "error": f"timed out after {timeout:.0f} s", "stderr": err[-1500:],
                "seconds": time.monotonic() - t0}
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        return {"bench": name, "error": f"exit status {proc.returncode}",
                "stderr": proc.stderr[-1500:], "seconds": seconds}
    try:
        _, data = parse_output(proc.stdout)
    except ValueError as exc:
        return {"bench": name, "error": str(exc), "stderr": proc.stderr[-1500:], "seconds": seconds}
    data["seconds"] = seconds
    return data


def _median(results: dict[str, dict[str, Any]], bench: str, prefix: str) -> float | None:
    for f in results.get(bench, {}).get("figures", []):
        if f["name"].startswith(prefix) and f.get("median") is not None:
            return float(f["median"])
    return None


def limits_context(results: dict[str, dict[str, Any]]) -> list[str]:
    """Server figures as fractions of what the parser, the client and the disk allow."""
    acked = _median(results, "ingest", "acknowledged")
    e2e = _median(results, "ingest", "end-to-end")
    parse = _median(results, "limits", "protobuf ParseFromString ceiling (realistic")
    client = _median(results, "limits", "load generator ceiling vs trivial server (realistic")
    fsync = _median(results, "limits", "fdatasync")
    if acked is None or parse is None:
        return []
    lines = ["## msgtrace against the machine's limits", ""]
    lines.append(f"- Acknowledged rate {acked:,.0f} spans/s = {acked / parse:.1%} of the protobuf "
                 f"parse ceiling ({parse:,.0f} spans/s, realistic corpus)"
                 + (f" and {acked / client:.1%} of the load generator's ceiling "
                    f"({client:,.0f} spans/s)" if client else "") + ".")
    if e2e is not None:
        lines.append(f"- End-to-end rate {e2e:,.0f} spans/s = {e2e / parse:.1%} of the parse ceiling.")
    if fsync:
        req = acked / 512
        lines.append(f"- {req:,.0f} acknowledged requests/s against {fsync:,.0f} fdatasync/s on the "
                     f"data disk: one fsync per request would allow at most {fsync * 512:,.0f} "
                     "spans/s with 512-span requests; group commit lifts that bound.")
    return [*lines, ""]


def render(results: dict[str, dict[str, Any]], info: dict[str, Any], quick: bool) -> str:
    """RESULTS.md text."""
    pk = ", ".join(f"{k} {v}" for k, v in info.get("packages", {}).items())
    lines = [
        "# Benchmark results",
        "",
        "Generated by `.venv/bin/python -m benchmarks.run_all"
        + (" --quick" if quick else "") + "` (`make bench`); do not edit by hand. "
        "How each figure is measured: benchmarks/README.md and each script's docstring.",
        "",
        "## Machine",
        "",
        f"- {info.get('cores')} cores ({info.get('cpu', 'unknown CPU')}), "
        f"{info.get('memory_gib', '?')} GiB memory, {info.get('os')} {info.get('machine')}",
        f"- Python {info.get('python')}; {pk}",
        f"- Commit {info.get('commit', '?')}, run {info.get('date', '?')}, "
        f"load average at start {', '.join(f'{x:.2f}' for x in info.get('loadavg', []))} "
        "(a section run separately says so under its table)",
        "",
        "**Noise.** These figures come from a small shared machine: other work was running at the "
        "same time, so spreads are wide and medians are conservative. Compare figures from the same "
        "run; rerun `make bench` on an idle machine for publishable numbers.",
        "",
        "## Targets",
        "",
        TABLE_HEAD,
    ]
    targeted = [f for r in results.values() for f in r.get("figures", []) if f.get("target") is not None]
    lines += [figure_row(f) for f in targeted] or ["| (no targeted figure ran) | | | | | |"]
    lines.append("")
    lines += limits_context(results)
    for name, r in results.items():
        if "error" in r:
            lines += [f"## bench_{name}: did not finish", "", f"{r['error']}.", "", "```",
                      r.get("stderr", "").strip()[-1200:], "```", ""]
            continue
        lines.append(markdown(r).rstrip())
        mode = "quick" if r.get("quick", quick) else "full"
        lines.append(f"\n_{r.get('seconds', 0):.0f} s, {mode} mode, run {r.get('run_at', '?')} "
                     f"at commit {r.get('commit', '?')}._\n")
    if ANALYSIS_MD.exists():  # the hand-written reading of these numbers: profiles, next steps
        lines += ["", ANALYSIS_MD.read_text().strip()]
    if SOAK_MD.exists():
        lines += ["", SOAK_MD.read_text().strip()]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's --quick mode")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="e.g. --only limits ingest")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--render", action="store_true",
                        help="only rewrite RESULTS.md from the last run's raw results")
    args = parser.parse_args(argv)
    if args.render:
        raw = json.loads(RESULTS_JSON.read_text())
        quick = any(r.get("quick") for r in raw["results"].values())
        args.out.write_text(render(raw["results"], raw["machine"], quick))
        return 0
    names = discover()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"no benchmark named {unknown}; available: {names}")
        names = [n for n in names if n in args.only]
    info = machine()
    info["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    previous: dict[str, dict[str, Any]] = {}
    if args.only and RESULTS_JSON.exists():
        try:
            previous = json.loads(RESULTS_JSON.read_text()).get("results", {})
        except ValueError:
            previous = {}
    started = time.monotonic()
    fresh: dict[str, dict[str, Any]] = {}
    for name in names:
        left = BUDGET_S - (time.monotonic() - started)
        if left < 30:
            fresh[name] = {"bench": name, "error": "skipped: the 30-minute budget was used up"}
            continue
        timeout = float(TIMEOUTS.get(name, DEFAULT_TIMEOUT))
        if args.quick:
            timeout = max(150.0, timeout / 2)
        fresh[name] = run_one(name, args.quick, min(timeout, left))
        fresh[name].update(quick=args.quick, run_at=info["date"], commit=info.get("commit", "?"))
        status = fresh[name].get("error", "ok")
        print(f"   bench_{name}: {status} ({fresh[name].get('seconds', 0):.0f} s)", file=sys.stderr)
    merged = {n: fresh.get(n) or previous[n] for n in discover() if n in fresh or n in previous}
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps({"machine": info, "results": merged}, indent=1))
    args.out.write_text(render(merged, info, args.quick))
    print(f"wrote {args.out.name} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0 if all("error" not in r for r in fresh.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
