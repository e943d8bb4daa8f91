"""The benchmark output protocol, shared by every ``benchmarks/bench_*.py``.

A benchmark is a module run as ``python -m benchmarks.bench_<name> [--quick] [--repeats N]``. It
prints whatever progress it likes to **stderr**, and on **stdout** a markdown section followed by
exactly one JSON object on the **last stdout line**:

    {"protocol": 1, "bench": "<name>", "title": "...", "figures": [Figure...], "notes": [...],
     "extra": {...}, "markdown_extra": "optional markdown shown after the figure table"}

    Figure = {"name": str, "unit": str, "median": float, "min": float, "max": float,
              "runs": [float...], "command": str, "target": float|null, "op": ">="|"<="|null,
              "met": bool|null, "note": str}

``emit(result)`` prints both parts; ``parse_output(stdout)`` is how ``run_all`` reads them back.
Figures are medians over repeated runs (``runs`` holds every run); ``met`` is the median checked
against the target. Use ``bench_arguments`` for the common flags so ``--quick`` means the same
everywhere: ``--quick`` must keep a benchmark under about two minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

PROTOCOL_VERSION = 1
WORK_DIR = Path(__file__).resolve().parent / ".work"
REPO_DIR = Path(__file__).resolve().parent.parent

Op = Literal[">=", "<="]


@dataclass(slots=True)
class Figure:
    """One measured quantity: every run's value plus how to reproduce it."""

    name: str
    unit: str
    runs: list[float]
    command: str
    target: float | None = None
    op: Op | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    @property
    def met(self) -> bool | None:
        if self.target is None or self.op is None or not self.runs:
            return None
        return self.median >= self.target if self.op == ">=" else self.median <= self.target

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "unit": self.unit, "median": self.median,
            "min": min(self.runs) if self.runs else None,
            "max": max(self.runs) if self.runs else None,
            "runs": self.runs, "command": self.command, "target": self.target,
            "op": self.op, "met": self.met, "note": self.note,
        }


@dataclass(slots=True)
class Result:
    """What one benchmark module reports."""

    bench: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    markdown_extra: str = ""

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": PROTOCOL_VERSION, "bench": self.bench, "title": self.title,
            "figures": [f.to_json() for f in self.figures], "notes": self.notes,
            "extra": self.extra, "markdown_extra": self.markdown_extra,
        }


def fmt_value(value: float | None) -> str:
    """Human number: thousands separators for large values, 3 significant digits for small."""
    if value is None or value != value:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def figure_row(f: dict[str, Any]) -> str:
    """One markdown table row for a figure in its JSON form."""
    target = "" if f.get("target") is None else f"{f['op']} {fmt_value(f['target'])}"
    met = {True: "met", False: "**missed**", None: ""}[f.get("met")]
    runs = f.get("runs") or []
    spread = f"{fmt_value(f.get('min'))} - {fmt_value(f.get('max'))} (n={len(runs)})"
    note = f" {f['note']}" if f.get("note") else ""
    return (f"| {f['name']} | {fmt_value(f.get('median'))} {f['unit']} | {spread} | {target} | "
            f"{met} | `{f['command']}`{note} |")


TABLE_HEAD = ("| figure | median | spread (min - max) | target | | command |\n"
              "|---|---|---|---|---|---|")


def markdown(result: dict[str, Any]) -> str:
    """The markdown section for a result in its JSON form."""
    lines = [f"## {result['title']}", "", TABLE_HEAD]
    lines += [figure_row(f) for f in result["figures"]]
    if result.get("markdown_extra"):
        lines += ["", result["markdown_extra"].rstrip()]
    if result.get("notes"):
        lines.append("")
        lines += [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


def emit(result: Result) -> None:
    """Print the markdown section, then the JSON object as the last stdout line."""
    data = result.to_json()
    sys.stdout.write(markdown(data))
    sys.stdout.write("\n" + json.dumps(data, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def parse_output(stdout: str) -> tuple[str, dict[str, Any]]:
    """Split a benchmark's stdout into (markdown, result); ValueError if the last line is not JSON."""
    lines = stdout.rstrip("\n").split("\n")
    if not lines or not lines[-1].startswith("{"):
        raise ValueError("benchmark output does not end with a JSON result line")
    data = json.loads(lines[-1])
    if not isinstance(data, dict) or "figures" not in data:
        raise ValueError("benchmark result line has no 'figures'")
    return "\n".join(lines[:-1]).strip() + "\n", data


def bench_arguments(description: str) -> argparse.ArgumentParser:
    """Parser with the shared flags: --quick, --repeats N (default 5, 3 with --quick)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--repeats", type=int, default=None, help="repeated runs per figure")
    return parser


def repeats(args: argparse.Namespace, full: int = 5, quick: int = 3) -> int:
    return int(args.repeats) if args.repeats else (quick if args.quick else full)


def command_line(module: str, args: argparse.Namespace | None = None) -> str:
    """The command that reproduces a figure, as a user types it from the repository root."""
    cmd = f".venv/bin/python -m benchmarks.{module}"
    if args is not None and getattr(args, "quick", False):
        cmd += " --quick"
    return cmd


def timed_runs(fn: Callable[[], float], n: int) -> list[float]:
    """Call ``fn`` (which returns one measurement) ``n`` times, collecting each value."""
    return [fn() for _ in range(n)]


def log(*parts: object) -> None:
    """Progress to stderr (stdout is reserved for the protocol)."""
    print(*parts, file=sys.stderr, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank-interpolated percentile, ``p`` in [0, 100]; NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def now() -> float:
    return time.perf_counter()


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` plus all its descendants, from /proc (0 if it is gone)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ppid = int(fields[1])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = int(statm.split()[1]) * page
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def die_with_parent() -> None:
    """``preexec_fn`` for benchmark servers: SIGTERM the child when the benchmark process dies.

    Servers run in their own session (so a crash test can SIGKILL the group), which also means
    nothing else stops them if the benchmark is killed (e.g. by run_all's timeout); this does.
    """
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class RssSampler:
    """Samples ``tree_rss_bytes(pid)`` every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        import threading

        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.last = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> int:
        self.last = tree_rss_bytes(self.pid)
        self.peak = max(self.peak, self.last)
        return self.last

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def dir_bytes(path: Path) -> int:
    """Total size of the regular files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass
class MsgtraceServer:
    """A ``msgtrace start`` subprocess on a loopback port picked by the OS, with a fresh data dir.

    Only the main port listens (``--otlp-port 0 --grpc-port 0``); ``url`` serves the API and OTLP.
    Use as a context manager; ``stop`` sends SIGTERM and waits, killing after ``timeout``;
    ``crash`` SIGKILLs the process group; ``start`` again reopens the same data dir.
    """

    data_dir: Path
    args: Sequence[str] = ()
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    log_path: Path | None = None

    def start(self, timeout: float = 60.0) -> MsgtraceServer:
        import httpx

        self.data_dir.mkdir(parents=True, exist_ok=True)
        info_path = self.data_dir / "server.json"
        info_path.unlink(missing_ok=True)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MSGTRACE_", "OTEL_"))}
        cmd = [sys.executable, "-m", "msgtrace", "start", "--port", "0", "--otlp-port", "0",
               "--grpc-port", "0", "--data-dir", str(self.data_dir), "--log-level", "warning",
               *self.args]
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         cwd=REPO_DIR, start_new_session=True,
                                         preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"msgtrace start exited {self.proc.returncode}: {self.log_tail()}")
            try:
                info = json.loads(info_path.read_text())
            except (OSError, ValueError):
                info = {}
            if info.get("pid") == self.proc.pid:
                self.url = str(info["url"]).replace("localhost", "127.0.0.1")
                try:
                    if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"msgtrace start not healthy after {timeout}s: {self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def otlp_url(self) -> str:
        return f"{self.url}/v1/traces"

    def log_tail(self, n: int = 3000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-n:]

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def crash(self) -> None:
        """SIGKILL the server's whole process group (it was started in its own session)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def __enter__(self) -> MsgtraceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
