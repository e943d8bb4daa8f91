"""One owner per data dir: an exclusive `flock` on `<data-dir>/LOCK`, naming its holder.

The lock is held for the owner's lifetime; worker processes inherit the descriptor, so the lock
is released only when the owner and all its workers are gone. Read-only commands never take it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from msgtrace.core.errors import DataDirLocked
from msgtrace.segments.naming import LOCK_FILE


class DataDirLock:
    """An exclusive, non-blocking lock on a data dir. `fd` stays open while held."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self.fd = fd

    @classmethod
    def acquire(cls, data_dir: Path, *, purpose: str, wait_s: float = 0.0) -> DataDirLock:
        """Take the lock or raise DataDirLocked naming the holder (pid, host, command, since)."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = describe_holder(data_dir)
                    os.close(fd)
                    raise DataDirLocked(
                        f"data dir {data_dir} is in use by {holder}",
                        hint="stop that process first, or use another --data-dir; "
                        "read-only commands (stats, list, show) work meanwhile",
                    ) from None
                time.sleep(0.05)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "purpose": purpose,
            "command": " ".join(sys.argv),
            "since": time.time(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        return cls(data_dir, fd)

    def release(self) -> None:
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


@contextmanager
def held(data_dir: Path, *, purpose: str) -> Iterator[DataDirLock]:
    """The data dir's lock for the duration of a `with` block (writing CLI commands)."""
    lock = DataDirLock.acquire(data_dir, purpose=purpose)
    try:
        yield lock
    finally:
        lock.release()


def is_locked(data_dir: Path) -> bool:
    """Whether some process holds the data dir's lock right now."""
    path = data_dir / LOCK_FILE
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def describe_holder(data_dir: Path) -> str:
    """A human description of the lock holder, from the LOCK file's contents."""
    try:
        info = json.loads((data_dir / LOCK_FILE).read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    if not info:
        return "another process"
    return f"{info.get('purpose', 'msgtrace')} (pid {info.get('pid')} on {info.get('host')}: {info.get('command')})"
