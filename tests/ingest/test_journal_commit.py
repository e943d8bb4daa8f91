"""The journal's commit path: a group of frames written with os.writev, never joined in memory.

Real journal files: what `Journal` acknowledges is read back frame for frame by `scan_file`,
including groups of more records than one writev call takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from pathlib import Path

from msgtrace.segments import journal as journal_module
from msgtrace.segments.journal import Journal, RecordKind
from msgtrace.segments.journal_format import HEADER_SIZE, encode_frame, frame_header, scan_file
from msgtrace.segments.naming import JOURNAL_DIR


def test_frame_header_is_the_start_of_the_encoded_frame() -> None:
    payload = b"\x0a\x03abc" * 100
    assert encode_frame(7, 9, 1, 2, payload) == frame_header(7, 9, 1, 2, payload) + payload
    assert len(frame_header(7, 9, 1, 2, b"")) == HEADER_SIZE


def test_write_all_writes_more_parts_than_one_writev_takes(tmp_path: Path) -> None:
    parts: list[bytes | memoryview] = [bytes([i % 251]) * (i % 7) for i in range(3 * 1024 + 5)]
    expected = b"".join(bytes(p) for p in parts)
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        assert journal_module._write_all(fd, list(parts)) == len(expected)
    finally:
        os.close(fd)
    assert (tmp_path / "out").read_bytes() == expected


def test_a_large_group_reads_back_in_order(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, seal_age_s=3600, queue_size=10_000)
    payloads = [f"record {i} ".encode() * (1 + i % 40) for i in range(2500)]
    try:
        futures = [journal.submit(RecordKind.SPANS, 1, p) for p in payloads]
        offsets = [f.result(timeout=60) for f in futures]
        assert offsets == list(range(offsets[0], offsets[0] + len(payloads)))
        stats = journal.stats
    finally:
        journal.close()
    assert stats.appends == len(payloads)
    assert stats.open_bytes == sum(HEADER_SIZE + len(p) for p in payloads)
    frames = [
        frame
        for path in sorted((tmp_path / JOURNAL_DIR).iterdir())
        if not path.name.startswith(".")
        for frame in scan_file(path).frames
    ]
    assert [f.payload for f in frames] == payloads
    assert [f.offset for f in frames] == offsets


def test_async_appends_from_two_loops_each_get_their_offsets(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, seal_age_s=3600, queue_size=10_000)
    results: dict[str, list[int]] = {}

    async def many(tag: str) -> None:
        payloads = [f"{tag} {i}".encode() for i in range(300)]
        results[tag] = list(
            await asyncio.gather(*(journal.append_async(RecordKind.SPANS, 1, p) for p in payloads))
        )

    try:
        threads = [threading.Thread(target=asyncio.run, args=(many(t),)) for t in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        journal.close()
    offsets = results["a"] + results["b"]
    assert sorted(offsets) == list(range(min(offsets), min(offsets) + 600))
    frames = {f.offset: f.payload for p in sorted((tmp_path / JOURNAL_DIR).iterdir())
              if not p.name.startswith(".") for f in scan_file(p).frames}
    assert [frames[o] for o in results["a"]] == [f"a {i}".encode() for i in range(300)]


def test_a_cancelled_async_append_leaves_the_writer_working(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, seal_age_s=3600)

    async def scenario() -> int:
        doomed = asyncio.ensure_future(journal.append_async(RecordKind.SPANS, 1, b"doomed"))
        await asyncio.sleep(0)
        doomed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await doomed
        return await journal.append_async(RecordKind.SPANS, 1, b"kept")

    try:
        kept = asyncio.run(scenario())
        assert journal.append(RecordKind.SPANS, 1, b"after") == kept + 1
    finally:
        journal.close()


def test_a_cancelled_submit_future_leaves_the_writer_working(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, seal_age_s=3600)
    try:
        futures = [journal.submit(RecordKind.SPANS, 1, b"x") for _ in range(50)]
        cancelled = [f for f in futures if f.cancel()]
        kept = [f.result(timeout=30) for f in futures if f not in cancelled]
        assert journal.append(RecordKind.SPANS, 1, b"after") > max(kept, default=0)
    finally:
        journal.close()
