"""The journal: where an accepted request becomes durable before it is acknowledged.

One writer thread owns the open journal file. Callers `submit` records; the thread takes every
record waiting at that moment (a group), assigns consecutive offsets, writes their frames with one
write and makes them durable with one `fdatasync`, then resolves each caller's future with its
offset. Concurrency therefore raises throughput instead of the number of syncs. Callers on an
event loop (`append_async`) are woken with one `call_soon_threadsafe` per loop and group, so the
writer hands the GIL over a few times per group rather than once per record.

Invariants:
- an offset is handed out only after its frame is on disk; offsets are unique, contiguous within
  a process lifetime and strictly increasing across restarts (`recovery.high_water`);
- a failed write or sync (ENOSPC, EIO, EFBIG: every OSError alike) truncates the file back to its last durable length,
  so nothing half-written stays, and fails the group with `Backpressure(503)`;
- the open file `<first>.open` is rotated to `<first>-<last>.wal` when its first record is
  `seal_age_s` old, its last record is `seal_idle_s` old (nothing arrived since), or it holds
  `seal_bytes`; the high-water mark is persisted before the rename.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from msgtrace.core.errors import Backpressure, DataDirLocked
from msgtrace.segments.journal_format import (
    RecordKind,
    frame_header,
    fsync_dir,
    write_high_water,
)
from msgtrace.segments.naming import (
    CLOSED_SUFFIX,
    JOURNAL_DIR,
    list_ranges,
    open_journal_name,
    range_name,
)
from msgtrace.segments.recovery import RecoveryReport, lock_dir, recover, unlock_dir

__all__ = ["Journal", "JournalStats", "RecordKind"]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
GiB = 1024 * MiB
JSON_CONTENT_TYPE = 2  # msgtrace.core.otlp.ContentType.JSON
_GROUP_MAX_RECORDS = 4096
# Request bodies waiting for their sync, in bytes: past it ingest answers 429 with Retry-After, as
# past `queue_size` requests (a count alone lets a thousand large bodies pile up in memory). One
# request is always admitted when nothing waits, whatever its size (up to max_request_bytes).
DEFAULT_QUEUE_BYTES = 64 * MiB
_GROUP_MAX_BYTES = 32 * MiB
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 16
_BACKLOG_REFRESH_S = 0.2
_IDLE_WAKE_S = 1.0
_ACK_HISTORY = 65536  # (last offset, wall time) of recent commit groups, for `acked_at`
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class JournalStats:
    pending_requests: int  # submitted, not yet durable
    open_bytes: int  # durable bytes in the open journal file
    backlog_bytes: int  # closed journal bytes not yet sealed
    last_offset: int  # highest offset assigned (0 when none ever was)
    appends: int  # records made durable by this Journal
    fsyncs: int  # group syncs done by this Journal
    rotations: int


@dataclass(slots=True)
class _Request:
    kind: int
    content_type: int
    payload: bytes
    received_ns: int
    future: concurrent.futures.Future[int]
    # append_async's awaiting future and its loop: set from `future` on that loop (see _wake)
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[int]] | None = None


@dataclass(slots=True)
class _Rotate:
    future: concurrent.futures.Future[int]


class Journal:
    """Group-committed, framed, fsync'd journal under <data_dir>/journal. One writer thread."""

    def __init__(
        self,
        data_dir: Path,
        *,
        last_offset: int,
        seal_age_s: float,
        seal_bytes: int,
        queue_size: int,
        seal_idle_s: float | None = None,
        max_backlog_bytes: int,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        lock_fd: int,
        recovery: RecoveryReport,
    ) -> None:
        """Use `Journal.open`, which runs recovery and computes `last_offset`."""
        self.data_dir = data_dir
        self.journal_dir = data_dir / JOURNAL_DIR
        self.recovery = recovery
        self._seal_age_s = seal_age_s
        self._seal_idle_s = seal_age_s if seal_idle_s is None else min(seal_idle_s, seal_age_s)
        self._seal_bytes = seal_bytes
        self._queue_size = queue_size
        self._queue_bytes = queue_bytes
        self._max_backlog = max_backlog_bytes
        self._lock_fd: int | None = lock_fd

        self._cond = threading.Condition()
        self._queue: deque[_Request | _Rotate] = deque()
        self._pending = 0
        self._pending_bytes = 0  # payload bytes of the `_pending` requests
        self._closing = False
        self._closed = False
        self._broken: str | None = None

        # Owned by the writer thread (read under the lock for stats).
        self._last_offset = last_offset
        self._fd: int | None = None
        self._open_path: Path | None = None
        self._open_first = 0
        self._open_since = 0.0  # monotonic time of the open file's first record
        self._last_append = 0.0  # monotonic time of the open file's latest durable record
        self._durable_len = 0
        self._appends = 0
        self._fsyncs = 0
        self._rotations = 0
        self._acks: deque[tuple[int, float]] = deque(maxlen=_ACK_HISTORY)
        self._backlog = 0
        self._backlog_at = 0.0
        self._refresh_backlog()

        self._thread = threading.Thread(target=self._run, name="msgtrace-journal", daemon=True)
        self._thread.start()

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        seal_age_s: float = 1.0,
        seal_bytes: int = 64 * MiB,
        queue_size: int = 1000,
        max_backlog_bytes: int = 1 * GiB,
        seal_idle_s: float | None = None,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
    ) -> Journal:
        """Recover the data dir, then start appending after the highest offset known anywhere.

        Raises DataDirLocked when another Journal (in any process) has this data dir open.
        """
        data_dir = Path(data_dir)
        (data_dir / JOURNAL_DIR).mkdir(parents=True, exist_ok=True)
        lock_fd = lock_dir(data_dir / JOURNAL_DIR)
        if lock_fd is None:
            raise DataDirLocked(f"another process is writing the journal in {data_dir}")
        try:
            report = recover(data_dir)
        except BaseException:
            unlock_dir(lock_fd)
            raise
        return cls(
            data_dir,
            last_offset=report.high_water,
            seal_age_s=seal_age_s,
            seal_idle_s=seal_idle_s,
            seal_bytes=seal_bytes,
            queue_size=queue_size,
            max_backlog_bytes=max_backlog_bytes,
            queue_bytes=queue_bytes,
            lock_fd=lock_fd,
            recovery=report,
        )

    # -- public API ------------------------------------------------------------------------

    def submit(self, kind: RecordKind, content_type: int, payload: bytes) -> concurrent.futures.Future[int]:
        """Queue one record; the future resolves to its offset once it is durable.

        Raises Backpressure(429) when `queue_size` requests, or `queue_bytes` of payload (counting
        this one; a lone request is always admitted), already wait for their sync, and
        Backpressure(503) when the unsealed backlog is full or the journal is closed or broken.
        """
        return self._submit(kind, content_type, payload, None)

    def _submit(
        self,
        kind: RecordKind,
        content_type: int,
        payload: bytes,
        waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[int]] | None,
    ) -> concurrent.futures.Future[int]:
        received = time.time_ns()
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        with self._cond:
            if self._closing or self._closed:
                raise Backpressure("the journal is closed", status=503, retry_after=5.0)
            if self._broken is not None:
                raise Backpressure(f"the journal cannot write: {self._broken}", status=503, retry_after=10.0)
            if self._pending >= self._queue_size:
                raise Backpressure(
                    f"{self._pending} requests already wait for the journal", status=429, retry_after=1.0
                )
            if self._pending and self._pending_bytes + len(payload) > self._queue_bytes:
                raise Backpressure(
                    f"{self._pending_bytes} bytes of requests already wait for the journal",
                    status=429,
                    retry_after=1.0,
                )
            if self._backlog >= self._max_backlog:
                now = time.monotonic()
                if now - self._backlog_at >= _BACKLOG_REFRESH_S:
                    self._refresh_backlog(now)
                if self._backlog >= self._max_backlog:
                    raise Backpressure(
                        f"{self._backlog} unsealed journal bytes reached the limit of {self._max_backlog}",
                        status=503,
                        retry_after=5.0,
                    )
            self._pending += 1
            self._pending_bytes += len(payload)
            self._queue.append(_Request(int(kind), content_type, payload, received, future, waiter))
            self._cond.notify()
        return future

    def append(self, kind: RecordKind, content_type: int, payload: bytes) -> int:
        """Submit and wait until the record is durable; returns its offset."""
        return self.submit(kind, content_type, payload).result()

    async def append_async(self, kind: RecordKind, content_type: int, payload: bytes) -> int:
        """`append` for a coroutine: same result and errors, without blocking the loop."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[int] = loop.create_future()
        self._submit(kind, content_type, payload, (loop, waiter))
        return await waiter

    def append_tombstone(self, trace_id: str | None) -> int:
        """Append a delete of one trace (32 hex chars) or, with None, of every trace so far."""
        return self.append(RecordKind.TOMBSTONE, JSON_CONTENT_TYPE, _tombstone_payload(trace_id))

    async def append_tombstone_async(self, trace_id: str | None) -> int:
        return await self.append_async(RecordKind.TOMBSTONE, JSON_CONTENT_TYPE, _tombstone_payload(trace_id))

    def append_tombstones(self, trace_ids: Sequence[str]) -> int:
        """Append ONE delete record for many traces (`{"trace_ids": [...]}`); returns its offset.

        Retention uses it: one durable record hides every listed trace below its offset, so the
        segment files holding them can be deleted afterwards.
        """
        return self.append(RecordKind.TOMBSTONE, JSON_CONTENT_TYPE, _tombstones_payload(trace_ids))

    def rotate(self) -> None:
        """Close the open journal file (it becomes `<first>-<last>.wal`) if it has records."""
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        with self._cond:
            if self._closing or self._closed:
                return  # close() rotates on its way out
            self._queue.append(_Rotate(future))
            self._cond.notify()
        future.result()

    def close(self) -> None:
        """Make every pending record durable, rotate, stop the writer thread. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._cond.notify()
        self._thread.join()
        with self._cond:
            self._closed = True
        if self._lock_fd is not None:
            unlock_dir(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def acked_at(self, offset: int) -> float | None:
        """Wall time at which the record at `offset` was made durable (acknowledged), or None
        when it is not durable yet or was made durable before this process started. Older than the
        recent history: the oldest time known (a lower bound on the record's age)."""
        with self._cond:
            found: float | None = None
            for last, at in reversed(self._acks):
                if last < offset:
                    break
                found = at
            return found

    @property
    def stats(self) -> JournalStats:
        with self._cond:
            return JournalStats(
                pending_requests=self._pending,
                open_bytes=self._durable_len if self._fd is not None else 0,
                backlog_bytes=self._backlog,
                last_offset=self._last_offset,
                appends=self._appends,
                fsyncs=self._fsyncs,
                rotations=self._rotations,
            )

    # -- writer thread ---------------------------------------------------------------------

    def _refresh_backlog(self, now: float | None = None) -> None:
        total = 0
        for f in list_ranges(self.journal_dir, CLOSED_SUFFIX):
            with contextlib.suppress(FileNotFoundError):  # sealed meanwhile
                total += f.path.stat().st_size
        self._backlog = total
        self._backlog_at = time.monotonic() if now is None else now

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    if not self._queue and not self._closing:
                        timeout = _IDLE_WAKE_S
                        if self._fd is not None and self._durable_len:
                            timeout = min(timeout, self._rotate_due() - time.monotonic())
                        if timeout > 0:
                            self._cond.wait(timeout)
                    batch = self._take_batch()
                    closing = self._closing and not self._queue
                self._process(batch)
                self._maybe_rotate()
                if time.monotonic() - self._backlog_at >= _BACKLOG_REFRESH_S:
                    with self._cond:
                        self._refresh_backlog()
                if closing:
                    self._rotate_now()
                    return
        except BaseException as exc:  # never leave callers waiting on a dead thread
            log.exception("journal writer thread failed")
            with self._cond:
                self._broken = f"writer thread failed: {exc!r}"
                waiting = list(self._queue)
                self._queue.clear()
                self._pending = 0
                self._pending_bytes = 0
            for item in waiting:
                item.future.set_exception(Backpressure(self._broken, status=503, retry_after=10.0))
            _wake([item for item in waiting if isinstance(item, _Request)])
            raise

    def _take_batch(self) -> list[_Request | _Rotate]:
        batch: list[_Request | _Rotate] = []
        size = 0
        while self._queue and len(batch) < _GROUP_MAX_RECORDS and size < _GROUP_MAX_BYTES:
            item = self._queue.popleft()
            batch.append(item)
            if isinstance(item, _Request):
                size += len(item.payload)
        return batch

    def _process(self, batch: list[_Request | _Rotate]) -> None:
        group: list[_Request] = []
        for item in batch:
            if isinstance(item, _Request):
                group.append(item)
                continue
            self._commit(group)
            group = []
            try:
                self._rotate_now()
                item.future.set_result(self._last_offset)
            except OSError as exc:
                item.future.set_exception(exc)
        self._commit(group)

    def _commit(self, group: list[_Request]) -> None:
        """Write and sync `group` as one unit; resolve or fail every future in it."""
        if not group:
            return
        try:
            if self._fd is None:
                self._create_open_file(self._last_offset + 1)
        except OSError as exc:
            self._fail(group, exc)
            return
        assert self._fd is not None
        first = self._last_offset + 1
        parts: list[bytes | memoryview] = []
        for i, r in enumerate(group):
            parts.append(frame_header(first + i, r.received_ns, r.kind, r.content_type, r.payload))
            parts.append(r.payload)
        try:
            written = _write_all(self._fd, parts)
            os.fdatasync(self._fd)
        except OSError as exc:
            self._undo_partial_write(exc)
            self._fail(group, exc)
            return
        was_empty = self._durable_len == 0
        with self._cond:
            self._durable_len += written
            self._last_offset = first + len(group) - 1
            self._acks.append((self._last_offset, time.time()))
            self._appends += len(group)
            self._fsyncs += 1
            self._pending -= len(group)
            self._pending_bytes -= sum(len(r.payload) for r in group)
        self._last_append = time.monotonic()
        if was_empty:
            self._open_since = self._last_append
        for i, r in enumerate(group):
            with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled by its caller
                r.future.set_result(first + i)
        _wake(group)

    def _fail(self, group: list[_Request], exc: OSError) -> None:
        log.error("journal write failed (%s); %d requests rejected", exc, len(group))
        with self._cond:
            self._pending -= len(group)
            self._pending_bytes -= sum(len(r.payload) for r in group)
        for r in group:
            with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled by its caller
                r.future.set_exception(
                    Backpressure(f"the journal could not write to disk: {exc.strerror or exc}", status=503, retry_after=10.0)
                )
        _wake(group)

    def _undo_partial_write(self, exc: OSError) -> None:
        """Cut the open file back to its last durable length; if even that fails, stop writing."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._durable_len)
            os.lseek(self._fd, self._durable_len, os.SEEK_SET)
            os.fsync(self._fd)
        except OSError as again:
            log.critical("cannot truncate the journal after %s: %s", exc, again)
            with self._cond:
                self._broken = f"cannot truncate after a failed write: {again}"

    def _create_open_file(self, first: int) -> None:
        path = self.journal_dir / open_journal_name(first)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fsync_dir(self.journal_dir)  # the file's name must survive a crash like its bytes do
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._fd, self._open_path, self._open_first = fd, path, first
        self._durable_len = 0
        self._open_since = time.monotonic()

    def _rotate_due(self) -> float:
        """Monotonic time at which the open file is rotated if nothing else arrives."""
        return min(self._open_since + self._seal_age_s, self._last_append + self._seal_idle_s)

    def _maybe_rotate(self) -> None:
        if self._fd is None or self._durable_len == 0:
            return
        if time.monotonic() >= self._rotate_due() or self._durable_len >= self._seal_bytes:
            try:
                self._rotate_now()
            except OSError as exc:
                log.error("journal rotation failed: %s", exc)

    def _rotate_now(self) -> None:
        """Close the open file: persist the high-water mark, rename to .wal, sync the dir."""
        if self._fd is None or self._open_path is None:
            return
        fd, path = self._fd, self._open_path
        if self._durable_len == 0:
            os.close(fd)
            path.unlink(missing_ok=True)
            fsync_dir(self.journal_dir)
        else:
            write_high_water(self.journal_dir, self._last_offset)
            os.close(fd)
            target = self.journal_dir / range_name(self._open_first, self._last_offset, CLOSED_SUFFIX)
            os.rename(path, target)
            fsync_dir(self.journal_dir)
        with self._cond:
            if self._durable_len:
                self._rotations += 1
                self._backlog += self._durable_len
            self._fd, self._open_path = None, None
            self._durable_len = 0


def _wake(requests: Sequence[_Request]) -> None:
    """Pass the (already resolved) futures of `requests` to their `append_async` waiters: one
    call_soon_threadsafe per event loop. A closed loop has nobody left to wake."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], concurrent.futures.Future[int]]]] = {}
    for r in requests:
        if r.waiter is not None:
            loop, waiter = r.waiter
            by_loop.setdefault(loop, []).append((waiter, r.future))
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, pairs)


def _settle(pairs: list[tuple[asyncio.Future[int], concurrent.futures.Future[int]]]) -> None:
    """On the waiters' loop: copy each finished future's outcome (a cancelled waiter is skipped)."""
    for waiter, future in pairs:
        if waiter.done():
            continue
        if future.cancelled():
            waiter.cancel()
            continue
        exc = future.exception()
        if exc is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(future.result())


def _write_all(fd: int, parts: list[bytes | memoryview]) -> int:
    """Write `parts` in order with os.writev (no joined copy of the payloads); returns the bytes
    written. A short write resumes where it stopped; an OSError leaves a partial write behind."""
    total = i = 0
    while i < len(parts):
        written = os.writev(fd, parts[i : i + _IOV_MAX])
        if written == 0 and any(len(p) for p in parts[i : i + _IOV_MAX]):
            raise OSError(f"journal write made no progress on fd {fd}")
        total += written
        while i < len(parts) and written >= len(parts[i]):
            written -= len(parts[i])
            i += 1
        if written:
            parts[i] = memoryview(parts[i])[written:]
    return total


def _checked_trace_id(trace_id: str) -> str:
    trace_id = trace_id.lower()
    if not _TRACE_ID.match(trace_id):
        raise ValueError(f"trace id {trace_id!r} is not 32 hexadecimal characters")
    return trace_id


def _tombstone_payload(trace_id: str | None) -> bytes:
    return orjson.dumps({"trace_id": None if trace_id is None else _checked_trace_id(trace_id)})


def _tombstones_payload(trace_ids: Sequence[str]) -> bytes:
    if not trace_ids:
        raise ValueError("a tombstone needs at least one trace id")
    return orjson.dumps({"trace_ids": [_checked_trace_id(t) for t in trace_ids]})
