"""OTLP/HTTP load generator: N keep-alive connections posting pre-serialized requests.

Runs in its own process (``python -m benchmarks.loadgen ...`` or ``run_load(...)``, which spawns
that process and returns its JSON summary), so the client never competes with the measured server
inside one interpreter. The client is raw asyncio streams speaking HTTP/1.1: each request's header
block is built once, bodies are read from a corpus file (optionally gzip'd once up front), so the
per-request client cost is a couple of socket writes and one response parse.

Modes:
- default: every corpus request is sent exactly once, shared across the connections as a work
  queue (so each span is sent once and a store's span count can be checked against it);
- ``rate``: open loop at a target spans/s; request i is due at ``t0 + spans_before_i / rate``;
- ``duration`` with ``loop``: cycle the corpus until the duration is over.

429/503 answers are honoured: the connection sleeps ``Retry-After`` seconds (1 s if absent,
capped at 5) and resends the same request; only a 2xx counts as acknowledged. The summary is one
JSON object (see ``summarize``); ``first_send_unix``/``last_ack_unix`` are wall-clock times so the
caller can relate them to its own polling.

``serve_trivial`` is a minimal HTTP server that reads each body and answers 200 with an empty
ExportTraceServiceResponse: the client's ceiling is measured against it (bench_limits).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.common import die_with_parent, percentile
from benchmarks.corpus import read_corpus

RETRY_STATUSES = (429, 503)
MAX_RETRY_AFTER_S = 5.0
MAX_RETRIES = 50


@dataclass(slots=True)
class _State:
    bodies: list[bytes]
    headers: list[bytes]
    counts: list[int]
    due: list[float] | None
    loop: bool
    deadline: float | None
    next_index: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    spans_acked: int = 0
    spans_rejected: int = 0
    requests_acked: int = 0
    retries: int = 0
    connection_errors: int = 0
    behind_max_s: float = 0.0
    first_send: float | None = None
    last_ack: float | None = None
    bytes_sent: int = 0

    def take(self) -> int | None:
        i = self.next_index
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            return None
        if i >= len(self.bodies):
            if not self.loop:
                return None
            i = i % len(self.bodies)
        self.next_index += 1
        return i


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
    if b"content-length" in headers:
        n = int(headers[b"content-length"])
        if n:
            await reader.readexactly(n)
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers


async def _worker(state: _State, host: str, port: int, rel_t0: list[float]) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while True:
        i = state.take()
        if i is None:
            break
        if state.due is not None:
            # Rate mode: request i's due time (loop mode repeats the schedule per pass).
            pass_no = (state.next_index - 1) // len(state.bodies)
            due = rel_t0[0] + state.due[i] + pass_no * state.due[-1]
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                state.behind_max_s = max(state.behind_max_s, -delay)
        attempts = 0
        while True:
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(host, port)
                except OSError:
                    state.connection_errors += 1
                    await asyncio.sleep(0.2)
                    attempts += 1
                    if attempts > MAX_RETRIES:
                        return
                    continue
            assert reader is not None
            t = time.perf_counter()
            if state.first_send is None:
                state.first_send = time.time()
            try:
                writer.write(state.headers[i])
                writer.write(state.bodies[i])
                await writer.drain()
                status, headers = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                state.connection_errors += 1
                writer.close()
                reader = writer = None
                attempts += 1
                if attempts > MAX_RETRIES:
                    return
                continue
            elapsed = time.perf_counter() - t
            state.bytes_sent += len(state.bodies[i])
            state.statuses[status] += 1
            if headers.get(b"connection", b"").lower() == b"close":
                writer.close()
                reader = writer = None
            if 200 <= status < 300:
                state.latencies.append(elapsed)
                state.spans_acked += state.counts[i]
                state.requests_acked += 1
                state.last_ack = time.time()
                break
            if status in RETRY_STATUSES and attempts < MAX_RETRIES:
                state.retries += 1
                attempts += 1
                try:
                    wait = float(headers.get(b"retry-after", b"1"))
                except ValueError:
                    wait = 1.0
                await asyncio.sleep(min(max(wait, 0.0), MAX_RETRY_AFTER_S))
                continue
            state.spans_rejected += state.counts[i]
            break
    if writer is not None:
        writer.close()


def _build_state(corpus_file: Path, path: str, host: str, port: int, *, use_gzip: bool,
                 rate: float | None, loop: bool, duration: float | None,
                 limit: int | None) -> _State:
    corpus = read_corpus(corpus_file)
    bodies, counts = corpus.requests, corpus.span_counts
    if limit is not None:
        bodies, counts = bodies[:limit], counts[:limit]
    if use_gzip:
        bodies = [gzip.compress(b, compresslevel=6) for b in bodies]
    headers = []
    for body in bodies:
        h = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
             f"Content-Type: application/x-protobuf\r\nContent-Length: {len(body)}\r\n")
        if use_gzip:
            h += "Content-Encoding: gzip\r\n"
        headers.append((h + "\r\n").encode())
    due: list[float] | None = None
    if rate:
        due, acc = [], 0
        for c in counts:
            due.append(acc / rate)
            acc += c
        due.append(acc / rate)  # one full pass, used when looping
    return _State(bodies, headers, counts, due, loop, None if duration is None else duration)


async def _run(state: _State, host: str, port: int, connections: int) -> float:
    rel_t0 = [time.perf_counter()]
    if state.deadline is not None:
        state.deadline = rel_t0[0] + state.deadline
    await asyncio.gather(*(_worker(state, host, port, rel_t0) for _ in range(connections)))
    return time.perf_counter() - rel_t0[0]


def summarize(state: _State, elapsed: float, connections: int) -> dict[str, Any]:
    """The JSON summary: acked spans and rate, statuses, latency percentiles in ms."""
    lat = [x * 1000 for x in state.latencies]
    return {
        "connections": connections,
        "elapsed_s": elapsed,
        "spans_acked": state.spans_acked,
        "spans_rejected": state.spans_rejected,
        "requests_acked": state.requests_acked,
        "requests_by_status": {str(k): v for k, v in sorted(state.statuses.items())},
        "retries": state.retries,
        "connection_errors": state.connection_errors,
        "acked_spans_per_s": state.spans_acked / elapsed if elapsed > 0 else 0.0,
        "bytes_sent": state.bytes_sent,
        "mb_per_s": state.bytes_sent / elapsed / 1e6 if elapsed > 0 else 0.0,
        "latency_ms": {
            "p50": percentile(lat, 50), "p95": percentile(lat, 95),
            "p99": percentile(lat, 99), "max": max(lat) if lat else float("nan"),
        },
        "behind_schedule_max_ms": state.behind_max_s * 1000,
        "first_send_unix": state.first_send,
        "last_ack_unix": state.last_ack,
    }


def run_here(url: str, corpus_file: Path, *, connections: int = 8, rate: float | None = None,
             duration: float | None = None, loop: bool = False, use_gzip: bool = False,
             limit: int | None = None) -> dict[str, Any]:
    """Run the load in this process (the CLI entry; benchmarks call ``run_load`` instead)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/v1/traces"
    state = _build_state(corpus_file, path, host, port, use_gzip=use_gzip, rate=rate,
                         loop=loop or duration is not None, duration=duration, limit=limit)
    elapsed = asyncio.run(_run(state, host, port, connections))
    return summarize(state, elapsed, connections)


def loadgen_command(url: str, corpus_file: Path, *, connections: int = 8,
                    rate: float | None = None, duration: float | None = None,
                    use_gzip: bool = False, limit: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "benchmarks.loadgen", "--url", url, "--corpus",
           str(corpus_file), "--connections", str(connections)]
    if rate:
        cmd += ["--rate", str(rate)]
    if duration:
        cmd += ["--duration", str(duration)]
    if use_gzip:
        cmd.append("--gzip")
    if limit is not None:
        cmd += ["--limit", str(limit)]
    return cmd


def run_load(url: str, corpus_file: Path, *, connections: int = 8, rate: float | None = None,
             duration: float | None = None, use_gzip: bool = False,
             limit: int | None = None, timeout: float = 900.0) -> dict[str, Any]:
    """Run the load generator in a child process and return its JSON summary.

    Adds ``exited_unix``: when the parent saw the child exit (the load is over by then).
    """
    cmd = loadgen_command(url, corpus_file, connections=connections, rate=rate,
                          duration=duration, use_gzip=use_gzip, limit=limit)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    summary["exited_unix"] = time.time()
    return summary


# ---------------------------------------------------------------- trivial server (client ceiling)

_EMPTY_OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
             b"Content-Length: 0\r\n\r\n")


async def _trivial_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    n = int(line[15:])
            if n:
                await reader.readexactly(n)
            writer.write(_EMPTY_OK)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve_trivial() -> None:
    """Listen on 127.0.0.1 port 0, print the port on stdout, answer every POST with 200."""
    server = await asyncio.start_server(_trivial_conn, "127.0.0.1", 0, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


def start_trivial_server() -> tuple[subprocess.Popen[str], str]:
    """Start ``serve_trivial`` in a child process; returns (process, OTLP URL)."""
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.loadgen", "--serve-trivial"],
                            stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent,
                            cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1/traces"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces")
    parser.add_argument("--corpus", type=Path, help="corpus file (python -m benchmarks.corpus)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rate", type=float, help="target spans/s (default: full speed)")
    parser.add_argument("--duration", type=float, help="seconds; loops the corpus")
    parser.add_argument("--gzip", action="store_true", help="send gzip'd bodies (compressed once)")
    parser.add_argument("--limit", type=int, help="use only the first N requests of the corpus")
    parser.add_argument("--serve-trivial", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_trivial:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_trivial())
        return 0
    if not args.url or not args.corpus:
        parser.error("--url and --corpus are required")
    summary = run_here(args.url, args.corpus, connections=args.connections, rate=args.rate,
                       duration=args.duration, use_gzip=args.gzip, limit=args.limit)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
