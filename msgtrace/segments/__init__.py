"""msgtrace.segments: the append-only log (journal, sealer, compactor, segment reader).

Importing this package is cheap: pyarrow and polars load only when a reader is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from msgtrace.segments.journal import Journal, JournalStats, RecordKind
    from msgtrace.segments.segment_reader import read_segment, scan_spans

__all__ = ["Journal", "JournalStats", "RecordKind", "read_segment", "scan_spans"]

_WHERE = {
    "Journal": "msgtrace.segments.journal",
    "JournalStats": "msgtrace.segments.journal",
    "RecordKind": "msgtrace.segments.journal",
    "read_segment": "msgtrace.segments.segment_reader",
    "scan_spans": "msgtrace.segments.segment_reader",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'msgtrace.segments' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
