"""The journal's on-disk frame format and the small file-system helpers the log shares.

A journal file is a sequence of frames, nothing else (no file header):

    offset  size  field
    0       4     payload length, u32 little-endian
    4       4     crc32 (zlib) over bytes 8.. of the header followed by the payload
    8       8     record offset, u64
    16      8     receive time, ns since the Unix epoch, u64
    24      1     record kind (RecordKind: 1 spans, 2 tombstone)
    25      1     content type of the payload (ContentType: 1 protobuf, 2 JSON)
    26      n     payload

Offsets inside one file are contiguous and start at the first offset in the file's name. The
first frame that is short, fails its CRC or breaks that sequence ends the valid prefix: after a
crash that is the torn tail, and recovery truncates the file there.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

HEADER = struct.Struct("<IIQQBB")
HEADER_SIZE = HEADER.size  # 26
_TAIL = struct.Struct("<QQBB")  # the CRC-covered part of the header
MAX_PAYLOAD = 2**32 - 1

# Persisted high-water mark: the highest offset ever assigned, so offsets never go back even when
# retention deleted every segment. Lives in journal/ and is replaced atomically at each rotation.
HIGH_WATER_FILE = ".high-water"


class RecordKind(IntEnum):
    """What a journal record holds."""

    SPANS = 1  # one OTLP ExportTraceServiceRequest body
    TOMBSTONE = 2  # JSON {"trace_id": "<32 hex>" | null} or {"trace_ids": ["<32 hex>", ...]}


@dataclass(frozen=True, slots=True)
class Frame:
    offset: int
    received_time_unix_nano: int
    kind: int
    content_type: int
    payload: bytes


def encode_frame(
    offset: int, received_time_unix_nano: int, kind: int, content_type: int, payload: bytes
) -> bytes:
    """One frame as bytes; `payload` must be shorter than 4 GiB."""
    return frame_header(offset, received_time_unix_nano, kind, content_type, payload) + payload


def frame_header(
    offset: int, received_time_unix_nano: int, kind: int, content_type: int, payload: bytes
) -> bytes:
    """The 26 header bytes of `payload`'s frame (the frame is header + payload), so a writer can
    hand both to os.writev without copying the payload; `payload` must be shorter than 4 GiB."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"journal payload of {len(payload)} bytes exceeds 4 GiB")
    tail = _TAIL.pack(offset, received_time_unix_nano, kind, content_type)
    crc = zlib.crc32(payload, zlib.crc32(tail))
    return struct.pack("<II", len(payload), crc) + tail


@dataclass(frozen=True)
class ScanResult:
    """The valid prefix of a journal file."""

    frames: list[Frame]
    valid_bytes: int
    total_bytes: int

    @property
    def torn(self) -> bool:
        return self.valid_bytes < self.total_bytes

    @property
    def last_offset(self) -> int | None:
        return self.frames[-1].offset if self.frames else None


def iter_frames(data: bytes | memoryview, first_offset: int | None = None) -> Iterator[tuple[Frame, int]]:
    """Yield (frame, end position) for every frame of the valid prefix of `data`.

    Stops silently at the first short, corrupt or out-of-sequence frame; the caller compares the
    last end position with len(data) to learn whether a tail was dropped.
    """
    view = memoryview(data)
    pos = 0
    expected = first_offset
    size = len(view)
    while pos + HEADER_SIZE <= size:
        length, crc, offset, received, kind, content_type = HEADER.unpack_from(view, pos)
        end = pos + HEADER_SIZE + length
        if end > size:
            return
        payload = view[pos + HEADER_SIZE : end]
        if zlib.crc32(payload, zlib.crc32(view[pos + 8 : pos + HEADER_SIZE])) != crc:
            return
        if expected is not None and offset != expected:
            return
        expected = offset + 1
        yield Frame(offset, received, kind, content_type, bytes(payload)), end
        pos = end


def scan_file(path: Path, first_offset: int | None = None) -> ScanResult:
    """Read `path` and return its valid frames (see `iter_frames`)."""
    data = path.read_bytes()
    frames: list[Frame] = []
    valid = 0
    for frame, end in iter_frames(data, first_offset):
        frames.append(frame)
        valid = end
    return ScanResult(frames, valid, len(data))


def fsync_dir(directory: Path) -> None:
    """Make renames, creations and deletions inside `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_high_water(journal_dir: Path) -> int:
    """The persisted high-water mark, 0 when none was written yet (or it is unreadable)."""
    try:
        return int((journal_dir / HIGH_WATER_FILE).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def write_high_water(journal_dir: Path, offset: int) -> None:
    """Atomically replace the high-water mark (tmp, fsync, rename); the caller fsyncs the dir."""
    tmp = journal_dir / f".{HIGH_WATER_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, f"{offset}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, journal_dir / HIGH_WATER_FILE)
