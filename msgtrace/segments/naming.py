"""Names on disk: every piece of log state is readable from a file name.

Layout under the data dir:

    journal/<first>.open              the active journal file, appended to and fsync'd
    journal/<first>-<last>.wal        a closed journal file, waiting for the sealer
    segments/<first>-<last>.parquet   span rows of records first..last (sealed or compacted)
    tombstones/<first>-<last>.parquet delete records among first..last
    segments/.<name>.tmp              being written; removed by recovery if left behind
    quarantine/<name>                 a segment that failed verification, moved aside
    LOCK                              held (flock) by the process that owns the data dir

Offsets are 20-digit zero-padded decimals, so lexical order is offset order. Offsets start at 1.

Transitions of a record's bytes:

    open journal --rotate--> closed journal --seal--> segment (L0) --compact--> larger segment
                                                                 \\--retention/quarantine--> deleted

A segment whose offset range lies inside another segment's range is superseded (a compaction
output landed before its inputs were deleted); readers use `live_segments`, which drops those,
so a reader never sees a span twice or misses one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

JOURNAL_DIR = "journal"
SEGMENTS_DIR = "segments"
TOMBSTONES_DIR = "tombstones"
QUARANTINE_DIR = "quarantine"
LOCK_FILE = "LOCK"

OPEN_SUFFIX = ".open"
CLOSED_SUFFIX = ".wal"
SEGMENT_SUFFIX = ".parquet"
TMP_SUFFIX = ".tmp"

_RANGE = re.compile(r"^(\d{20})-(\d{20})$")
_OPEN = re.compile(r"^(\d{20})$")


def fmt_offset(offset: int) -> str:
    return f"{offset:020d}"


def range_name(first: int, last: int, suffix: str) -> str:
    return f"{fmt_offset(first)}-{fmt_offset(last)}{suffix}"


def open_journal_name(first: int) -> str:
    return fmt_offset(first) + OPEN_SUFFIX


def tmp_name(final_name: str) -> str:
    """Hidden name for a file being written: ignored by globs and by pyarrow datasets."""
    return f".{final_name}{TMP_SUFFIX}"


@dataclass(frozen=True, order=True)
class RangeFile:
    """A file covering log offsets `first..last` inclusive."""

    first: int
    last: int
    path: Path

    def covers(self, other: RangeFile) -> bool:
        return self.first <= other.first and other.last <= self.last and self != other


def parse_range(path: Path, suffix: str) -> RangeFile | None:
    name = path.name
    if not name.endswith(suffix) or name.startswith("."):
        return None
    m = _RANGE.match(name[: -len(suffix)])
    if m is None:
        return None
    return RangeFile(int(m.group(1)), int(m.group(2)), path)


def parse_open_journal(path: Path) -> int | None:
    name = path.name
    if not name.endswith(OPEN_SUFFIX):
        return None
    m = _OPEN.match(name[: -len(OPEN_SUFFIX)])
    return int(m.group(1)) if m else None


def list_ranges(directory: Path, suffix: str) -> list[RangeFile]:
    """Every range file in `directory`, sorted by (first, last)."""
    if not directory.is_dir():
        return []
    found = [parse_range(p, suffix) for p in directory.iterdir()]
    return sorted(f for f in found if f is not None)


def drop_superseded(files: list[RangeFile]) -> list[RangeFile]:
    """Keep only files not covered by a wider file; input and output sorted by offset."""
    ordered = sorted(files, key=lambda f: (f.first, -f.last))
    live: list[RangeFile] = []
    for f in ordered:
        if live and live[-1].first <= f.first and f.last <= live[-1].last:
            continue
        live.append(f)
    return live


def live_segments(data_dir: Path) -> list[RangeFile]:
    """The segment files a reader should scan, in offset order, without superseded ones."""
    return drop_superseded(list_ranges(data_dir / SEGMENTS_DIR, SEGMENT_SUFFIX))


def live_tombstones(data_dir: Path) -> list[RangeFile]:
    return drop_superseded(list_ranges(data_dir / TOMBSTONES_DIR, SEGMENT_SUFFIX))


def closed_journals(data_dir: Path) -> list[RangeFile]:
    return list_ranges(data_dir / JOURNAL_DIR, CLOSED_SUFFIX)
