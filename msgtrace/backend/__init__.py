"""Compatibility import path of the original msgtrace: `msgtrace.backend.storage.SQLiteTraceStorage`."""

from __future__ import annotations

__all__ = ["SQLiteTraceStorage"]

from msgtrace.backend.storage import SQLiteTraceStorage
