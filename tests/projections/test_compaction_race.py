"""The projector reading while the real compactor merges and deletes segments (no grace period):
it re-plans around vanished files and ends with the views of a clean reindex."""

from __future__ import annotations

import threading
from pathlib import Path

from msgtrace.projections.projector import Projector
from msgtrace.segments.compaction import CompactionPolicy, collect_superseded, compact_once
from tests.projections.segment_files import span, write_segment, write_tombstones
from tests.projections.views import VIEWS, dump

T0 = 1_700_000_000_000_000_000


def test_apply_while_compacting_equals_reindex(tmp_path: Path) -> None:
    data, db = tmp_path / "data", tmp_path / "views.db"
    stop = threading.Event()
    errors: list[BaseException] = []

    def compactor() -> None:
        policy = CompactionPolicy(target_bytes=1 << 30, min_segments=2, grace_s=0.0)
        try:
            while not stop.is_set():
                compact_once(data, policy)
                collect_superseded(data, 0.0)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    (data / "segments").mkdir(parents=True)
    (data / "tombstones").mkdir(parents=True)
    thread = threading.Thread(target=compactor, daemon=True)
    thread.start()
    try:
        with Projector(data, db, batch_spans=50) as p:
            offset = 1
            for i in range(40):
                name = f"{i % 13:x}"
                spans = [
                    span(
                        name,
                        f"{i}a",
                        None if i < 13 else "0a",
                        start=T0 + i,
                        attrs={"gen_ai.usage.input_tokens": i, "gen_ai.request.model": "gpt-4o"},
                    ),
                    span(name, f"{i}b", f"{i}a", start=T0 + i + 1),
                ]
                last, _ = write_segment(data, [spans, spans[:1]], offset)
                offset = last + 1
                if i % 10 == 9:
                    write_tombstones(data, [(offset, f"{i % 13:x}")])
                    offset += 1
                p.apply_pending()
            stop.set()
            thread.join(30)
            p.apply_pending()
    finally:
        stop.set()
    assert not errors, errors
    with Projector(data, tmp_path / "clean.db") as clean:
        clean.reindex()
    tables = (*VIEWS, "spans")
    assert dump(db, tables) == dump(tmp_path / "clean.db", tables)
