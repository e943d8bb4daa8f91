"""Crash recovery of the log, run by `Journal.open` before the first append.

After any crash the data dir is brought back to a consistent set of files:

1. an `.open` journal is truncated at its first bad frame (the torn tail: short header, short
   payload, CRC mismatch, offset out of sequence), then renamed to `<first>-<last>.wal`, or
   deleted when no frame survived;
2. leftover `.*.tmp` files in segments/ and tombstones/ are removed (skipped while a log worker
   holds the sealer lock: those files are then still being written);
3. a closed journal already covered by a segment is deleted (the sealer crashed between renaming
   the segment and deleting the journal). The sealer writes the segment last, after any tombstone
   file, so a covering segment proves the journal was sealed completely;
4. the highest offset known anywhere (journals, segments, tombstones, the persisted high-water
   mark) is returned, so offsets continue after it and never go back.
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from msgtrace.segments.journal_format import fsync_dir, read_high_water, scan_file
from msgtrace.segments.naming import (
    CLOSED_SUFFIX,
    JOURNAL_DIR,
    SEGMENT_SUFFIX,
    SEGMENTS_DIR,
    TMP_SUFFIX,
    TOMBSTONES_DIR,
    list_ranges,
    parse_open_journal,
    range_name,
)

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    high_water: int = 0
    truncated_bytes: int = 0
    closed_open_journals: list[str] = field(default_factory=list)
    removed_tmp: list[str] = field(default_factory=list)
    removed_covered: list[str] = field(default_factory=list)


def ensure_dirs(data_dir: Path) -> None:
    for name in (JOURNAL_DIR, SEGMENTS_DIR, TOMBSTONES_DIR):
        (data_dir / name).mkdir(parents=True, exist_ok=True)


def lock_dir(directory: Path, *, blocking: bool = False) -> int | None:
    """Take an exclusive flock on `directory`; returns the fd to keep, None if someone holds it."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def unlock_dir(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def close_open_journals(journal_dir: Path, report: RecoveryReport) -> None:
    """Step 1: truncate torn tails and turn every `.open` file into a `.wal` (or delete it)."""
    for path in sorted(journal_dir.iterdir()):
        first = parse_open_journal(path)
        if first is None:
            continue
        scan = scan_file(path, first)
        if scan.torn:
            log.warning(
                "journal %s: truncating torn tail of %d bytes at byte %d",
                path.name, scan.total_bytes - scan.valid_bytes, scan.valid_bytes,
            )
            with path.open("r+b") as fh:
                fh.truncate(scan.valid_bytes)
                fh.flush()
                os.fsync(fh.fileno())
            report.truncated_bytes += scan.total_bytes - scan.valid_bytes
        last = scan.last_offset
        if last is None:
            path.unlink()
        else:
            target = journal_dir / range_name(first, last, CLOSED_SUFFIX)
            os.replace(path, target)
            report.closed_open_journals.append(target.name)
        fsync_dir(journal_dir)


def remove_tmp_files(data_dir: Path, report: RecoveryReport) -> None:
    """Step 2: delete half-written segment/tombstone files, unless a worker is writing them now."""
    seg_dir = data_dir / SEGMENTS_DIR
    fd = lock_dir(seg_dir)
    if fd is None:
        log.info("a log worker holds %s; leaving its temporary files alone", seg_dir)
        return
    try:
        remove_tmp_files_unlocked(data_dir, report)
    finally:
        unlock_dir(fd)


def remove_tmp_files_unlocked(data_dir: Path, report: RecoveryReport) -> None:
    """Delete every `.*.tmp` in segments/ and tombstones/; the caller holds the segments/ lock."""
    for directory in (data_dir / SEGMENTS_DIR, data_dir / TOMBSTONES_DIR):
        removed = False
        for path in directory.iterdir():
            if path.name.startswith(".") and path.name.endswith(TMP_SUFFIX):
                path.unlink(missing_ok=True)
                report.removed_tmp.append(path.name)
                removed = True
        if removed:
            fsync_dir(directory)


def remove_covered_journals(data_dir: Path, report: RecoveryReport) -> None:
    """Step 3: delete closed journals whose whole range already lives in a segment file."""
    segments = list_ranges(data_dir / SEGMENTS_DIR, SEGMENT_SUFFIX)
    journal_dir = data_dir / JOURNAL_DIR
    removed = False
    for wal in list_ranges(journal_dir, CLOSED_SUFFIX):
        if any(s.first <= wal.first and wal.last <= s.last for s in segments):
            wal.path.unlink(missing_ok=True)
            report.removed_covered.append(wal.path.name)
            removed = True
    if removed:
        fsync_dir(journal_dir)


def high_water(data_dir: Path) -> int:
    """The highest offset known anywhere in the data dir (0 for a new one)."""
    best = read_high_water(data_dir / JOURNAL_DIR)
    for directory, suffix in (
        (JOURNAL_DIR, CLOSED_SUFFIX),
        (SEGMENTS_DIR, SEGMENT_SUFFIX),
        (TOMBSTONES_DIR, SEGMENT_SUFFIX),
    ):
        files = list_ranges(data_dir / directory, suffix)
        if files:
            best = max(best, max(f.last for f in files))
    return best


def recover(data_dir: Path) -> RecoveryReport:
    """Run every recovery step; idempotent, and safe to run on a fresh or clean data dir."""
    ensure_dirs(data_dir)
    report = RecoveryReport()
    close_open_journals(data_dir / JOURNAL_DIR, report)
    remove_tmp_files(data_dir, report)
    remove_covered_journals(data_dir, report)
    report.high_water = high_water(data_dir)
    if report.truncated_bytes or report.removed_tmp or report.removed_covered:
        log.info("log recovery: %s", report)
    return report
