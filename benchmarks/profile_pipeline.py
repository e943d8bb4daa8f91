"""Where the time goes: py-spy profiles of the server, the log worker and the projector under load.

Starts `msgtrace start` on a fresh data dir, sends the realistic corpus at full speed from the load
generator (a separate process), and samples each of the three processes with `py-spy record` for
the length of the load. Prints, per process, the functions with the most samples at the top of
the stack (self time) and the most inclusive samples among msgtrace's own functions.

    .venv/bin/python -m benchmarks.profile_pipeline [--spans 200000] [--seconds 20]

Not part of `make bench` (profiling slows the processes it samples); its output is what
benchmarks/ANALYSIS.md quotes.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from benchmarks.common import MsgtraceServer
from benchmarks.corpus import corpus_path, load_corpus
from benchmarks.loadgen import run_load


def _children(pid: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat[1]) != pid:
            continue
        if "msgtrace.segments.worker" in cmd:
            found["log worker"] = int(proc.name)
        elif "msgtrace.projections.worker" in cmd:
            found["projector"] = int(proc.name)
    return found


def _record(pid: int, seconds: int, out: Path) -> None:
    py_spy = shutil.which("py-spy") or str(Path(__file__).resolve().parents[1] / ".venv/bin/py-spy")
    subprocess.run(
        [py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
         "--format", "raw", "--output", str(out), "--nonblocking"],
        check=False, capture_output=True,
    )


def summarise(collapsed: Path, top: int = 12) -> str:
    """Self and inclusive sample shares from py-spy's collapsed ("raw") stacks."""
    self_samples: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    if not collapsed.exists():
        return "(no samples)"
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")"
                  if " (" in f else f for f in stack.split(";")]
        total += count
        self_samples[frames[-1]] += count
        for frame in set(frames):
            if "msgtrace" in frame or any(k in frame for k in ("projector", "journal", "sealer")):
                inclusive[frame] += count
    if not total:
        return "(no samples)"
    lines = [f"{total} samples", "", "| self | function |", "|---|---|"]
    lines += [f"| {n / total:.0%} | `{f}` |" for f, n in self_samples.most_common(top)]
    lines += ["", "| inclusive | msgtrace function |", "|---|---|"]
    lines += [f"| {n / total:.0%} | `{f}` |" for f, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    load_corpus(args.spans, variant="realistic", seed=0)
    corpus = corpus_path(args.spans, variant="realistic", seed=0)
    work = Path(tempfile.mkdtemp(prefix="msgtrace-profile-"))
    server = MsgtraceServer(work / "data", []).start()
    try:
        pids = {"server": server.pid, **_children(server.pid)}
        threads = [
            threading.Thread(target=_record, args=(pid, args.seconds, work / f"{name}.txt"))
            for name, pid in pids.items()
        ]
        for t in threads:
            t.start()
        result = run_load(server.otlp_url, corpus, connections=8)
        for t in threads:
            t.join()
        print(f"# Profiles under load ({args.spans:,} realistic spans, "
              f"{result.get('acked_spans_per_s', 0):,.0f} spans/s acknowledged)\n")
        for name in pids:
            print(f"## {name}\n\n{summarise(work / f'{name}.txt')}\n")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
