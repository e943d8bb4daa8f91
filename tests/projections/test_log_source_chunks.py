"""The projector's read side is bounded by bytes: chunks hold at most about `chunk_bytes` of span
rows in memory, a row group larger than that is split by rows, and the views do not depend on
where the chunks are cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

from msgtrace.projections import log_source
from msgtrace.projections.projector import Projector
from msgtrace.segments import naming
from tests.projections.segment_files import span, write_segment, write_tombstones
from tests.projections.views import VIEWS, dump

T0 = 1_700_000_000_000_000_000


def _requests(traces: int, spans_per_trace: int, text: int = 400) -> list[list[dict[str, Any]]]:
    """One request per trace; each span carries `text` bytes of prompt-like attribute text."""
    return [
        [
            span(
                f"{t + 1:x}",
                f"{s + 1:x}",
                None if s == 0 else "1",
                start=T0 + t * 1000 + s,
                attrs={
                    "gen_ai.prompt": "p" * text,
                    "gen_ai.usage.input_tokens": s,
                    "gen_ai.response.model": "gpt-4o",
                },
            )
            for s in range(spans_per_trace)
        ]
        for t in range(traces)
    ]


def _log(tmp_path: Path) -> Path:
    """Two segments: one big row group of 120 spans, then 4 row groups of 20 spans."""
    data = tmp_path / "data"
    last, _ = write_segment(data, _requests(12, 10), 1)
    write_segment(data, _requests(20, 4)[8:], last + 1, row_group_size=20)
    return data


def test_chunks_are_bounded_by_bytes_and_keep_every_row_in_order(tmp_path: Path) -> None:
    data = _log(tmp_path)
    files = naming.live_segments(data)
    whole = log_source.read_spans(files, 0)
    chunk_bytes = int(whole.estimated_size()) // 10
    chunks = list(log_source.read_chunks(files, 0, chunk_bytes=chunk_bytes))
    assert 10 <= len(chunks) <= 12
    row_bytes = int(whole.estimated_size()) // whole.height
    for chunk in chunks:
        assert chunk.estimated_size() <= chunk_bytes + 2 * row_bytes
    for chunk in chunks[:-1]:  # filled up: no more chunks than the bytes need
        assert chunk.estimated_size() >= chunk_bytes - 2 * row_bytes
    assert_frame_equal(pl.concat(chunks), whole)


def test_offset_filter_applies_to_split_row_groups(tmp_path: Path) -> None:
    data = _log(tmp_path)
    files = naming.live_segments(data)
    rows = pl.concat(list(log_source.read_chunks(files, 5, 14, chunk_bytes=2048)))
    assert rows.height > 0
    assert rows.get_column("offset").min() == 6 and rows.get_column("offset").max() == 14
    assert_frame_equal(rows, log_source.read_spans(files, 5, 14))


def test_a_filter_that_keeps_nothing_still_gives_one_chunk_with_the_columns(
    tmp_path: Path,
) -> None:
    data = _log(tmp_path)
    chunks = list(log_source.read_chunks(naming.live_segments(data), 10_000, chunk_bytes=1024))
    assert [c.height for c in chunks] == [0]
    assert chunks[0].columns == list(log_source.SPAN_READ_COLUMNS)


def test_views_do_not_depend_on_the_chunk_size(tmp_path: Path) -> None:
    """Same views whether a batch is applied whole or in chunks of a few spans (each chunk its own
    `_apply` in one transaction), with a tombstone inside the batch."""
    views = []
    for i, chunk_bytes in enumerate((1 << 40, 4096, 1)):
        data = _log(tmp_path / str(i))
        write_tombstones(data, [(9, "3".rjust(32, "0"))])
        db = tmp_path / str(i) / "views.db"
        with Projector(data, db, chunk_bytes=chunk_bytes) as p:
            assert p.apply_pending() == 120 + 48
        views.append(dump(db, ("spans", *VIEWS)))
    assert views[0]["spans"] and views[0]["traces"]
    assert views[1] == views[0]
    assert views[2] == views[0]
