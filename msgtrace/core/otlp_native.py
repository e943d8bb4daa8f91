"""Native fast paths of the protobuf codec: ingest's `validate` verdict and the sealer's decode.

`validate_counts` gives exactly what `otlp.validate(payload, ContentType.PROTOBUF)` counts (accepted
spans, rejections and their messages) from one walk of the wire format that builds nothing, or
None when the caller must use the Python path (extension not built, malformed input, shapes the
walk does not model; see _otlp_native_validate.h). The walk runs without the GIL for bodies of
16 KiB or more, so a worker thread can validate while the event loop runs.

`decode_table` gives exactly what `otlp.decode_rows(payload, ContentType.PROTOBUF, ...)` gives
(same rows in the same order, same rejected count and error message), as a `pyarrow.Table` with
`schema.span_schema()`, or None when the caller must use `decode_rows` instead: the C extension
`msgtrace.core._otlp_native` is not built, or the request needs the Python path (invalid UTF-8,
which Python repairs; malformed wire data, which Python reports as DecodeError; shapes the C
decoder does not model, see the header of _otlp_native.c). None is always a safe answer.

The typed-JSON columns parse to the same values as the Python path's text (object keys in the
same order); the text itself may differ in number formatting.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa

from msgtrace.core.otlp_validate import INT64_MAX, INT64_MIN, Problems
from msgtrace.core.schema import span_schema

__all__ = ["AVAILABLE", "decode_table", "validate_counts"]

log = logging.getLogger(__name__)
SOURCE = Path(__file__).with_name("_otlp_native.c")


def source_digest(source: Path) -> str:
    """Digest of the C source and the `_otlp_native_*.h` headers beside it (as setup.py builds it)."""
    files = [source, *sorted(source.parent.glob("_otlp_native_*.h"), key=lambda p: p.name)]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]


def checked_build(module: ModuleType, source: Path) -> ModuleType | None:
    """`module` if it was built from `source` and its headers (or `source` is not shipped, as in a
    wheel), else None: a stale in-place build must not decode with old rules."""
    if not source.exists():
        return module
    if getattr(module, "SOURCE_DIGEST", None) == source_digest(source):
        return module
    log.warning(
        "%s was built from another version of %s; using the Python decoder until it is rebuilt "
        "(pip install -e .)", module.__file__, source.name,
    )
    return None


def _load() -> ModuleType | None:
    try:
        from msgtrace.core import _otlp_native  # type: ignore[attr-defined]
    except ImportError:  # built without a C compiler
        return None
    return checked_build(_otlp_native, SOURCE)


_native = _load()

AVAILABLE: bool = _native is not None
"""Whether the C extension is importable (otherwise `decode_table` and `validate_counts` always
return None)."""

_SCHEMA = span_schema()
_TYPES = [f.type for f in _SCHEMA]


def validate_counts(payload: bytes) -> tuple[int, Problems] | None:
    """(accepted spans, rejections) of a non-empty decompressed protobuf request, or None.

    Equal to `otlp_validate.validate_protobuf` for every request `otlp.validate` accepts without
    raising (after its full parse). None means "use the Python path", which then decides, raising
    DecodeError for malformed bodies: it is never an error by itself.
    """
    if _native is None:
        return None
    raw = _native.validate(payload if type(payload) is bytes else bytes(payload))
    if raw is None:
        return None
    accepted, rejected, named = raw
    problems = Problems()
    problems.count = rejected
    problems.named = named
    return accepted, problems


def decode_table(
    payload: bytes, *, offset: int, received_time_unix_nano: int
) -> tuple[pa.Table, int, str] | None:
    """(table, rejected_spans, error_message) of a decompressed protobuf request, or None.

    None means "use otlp.decode_rows": it is never an error by itself. Empty payloads give an
    empty table.
    """
    if _native is None:
        return None
    if not (INT64_MIN <= offset <= INT64_MAX and INT64_MIN <= received_time_unix_nano <= INT64_MAX):
        return None
    raw = _native.decode(bytes(payload), offset, received_time_unix_nano)
    if raw is None:
        return None
    rows, rejected, named, columns = raw
    arrays = [_array(t, rows, c) for t, c in zip(_TYPES, columns, strict=True)]
    table = pa.Table.from_arrays(arrays, schema=_SCHEMA)
    problems = Problems()
    problems.count = rejected
    problems.named = named
    return table, rejected, problems.message()


def _array(arrow_type: pa.DataType, rows: int, column: tuple[Any, ...]) -> pa.Array:
    if len(column) == 1:
        return pa.Array.from_buffers(arrow_type, rows, [None, pa.py_buffer(column[0])], null_count=0)
    validity, offsets, data, nulls = column
    buffers = [
        None if validity is None else pa.py_buffer(validity),
        pa.py_buffer(offsets),
        pa.py_buffer(data),
    ]
    return pa.Array.from_buffers(arrow_type, rows, buffers, null_count=nulls)
