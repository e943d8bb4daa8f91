"""msgtrace's error hierarchy. Every error carries a `hint`: what the user can do about it.

    MsgTraceError
    ├── DecodeError                 an OTLP request could not be decoded (HTTP 400)
    ├── PayloadTooLarge             a body over the size limit after decompression (HTTP 413)
    ├── UnsupportedMediaType        a content type or encoding we do not speak (HTTP 415)
    ├── Backpressure                the journal cannot take more right now (HTTP 429/503)
    ├── LogError                    the append-only log
    │   ├── JournalCorrupted        a frame failed its checksum outside the torn tail
    │   └── SegmentCorrupted        a segment file is unreadable or has the wrong schema
    │       └── SegmentTooNew       written by a newer msgtrace (not corrupt: never quarantined)
    ├── DataDirLocked               another process owns the data dir
    └── QueryError                  a filter or query-language expression is invalid (HTTP 400)
"""

from __future__ import annotations


class MsgTraceError(Exception):
    """Base of all msgtrace errors; `hint` says what to do next."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        base = self.message
        return f"{base} (hint: {self.hint})" if self.hint else base


class DecodeError(MsgTraceError):
    hint = "send a valid OTLP ExportTraceServiceRequest (protobuf or OTLP/JSON)"


class PayloadTooLarge(MsgTraceError):
    hint = "send smaller batches or raise max_request_bytes"


class UnsupportedMediaType(MsgTraceError):
    hint = "use Content-Type application/x-protobuf or application/json"


class Backpressure(MsgTraceError):
    hint = "retry after the Retry-After delay"

    def __init__(self, message: str, *, status: int = 503, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class LogError(MsgTraceError):
    pass


class JournalCorrupted(LogError):
    hint = "restart msgtrace: recovery truncates the journal at the first bad frame"


class SegmentCorrupted(LogError):
    hint = "run `msgtrace segments verify --quarantine` to move bad files aside, then `msgtrace reindex`"

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class SegmentTooNew(SegmentCorrupted):
    """A segment with a schema version this msgtrace cannot read: upgrade, do not quarantine."""

    hint = "upgrade msgtrace to read segments written by a newer version"


class DataDirLocked(MsgTraceError):
    hint = "stop the other msgtrace process or use another --data-dir"


class QueryError(MsgTraceError):
    hint = "see docs/query-language.md for the syntax"

    def __init__(self, message: str, *, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column
