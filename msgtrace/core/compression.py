"""Request body decompression with a hard output limit.

Invariant: `decompress` never holds more than `limit + 1` decompressed bytes. It inflates in steps
bounded by `zlib.decompressobj().decompress(max_length=...)`, so a gzip bomb is refused after
producing at most `limit + 1` bytes, whatever its expansion ratio.
"""

from __future__ import annotations

import zlib

from msgtrace.core.errors import DecodeError, PayloadTooLarge, UnsupportedMediaType

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_WBITS = -zlib.MAX_WBITS
_GZIP_MAGIC = b"\x1f\x8b"

SUPPORTED_ENCODINGS = ("identity", "gzip", "x-gzip", "deflate")


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo `Content-Encoding` on `body`, refusing results longer than `limit` bytes.

    Encodings: None, "" or "identity" (body returned as is), "gzip"/"x-gzip" (concatenated members
    allowed), "deflate" (zlib-wrapped as RFC 9110 says, or raw deflate as some clients send).
    Raises PayloadTooLarge past `limit`, DecodeError for a corrupt or truncated stream and
    UnsupportedMediaType for any other encoding.
    """
    name = (encoding or "").strip().lower()
    if name in ("", "identity"):
        if len(body) > limit:
            raise _too_large(limit)
        return bytes(body)
    if name in ("gzip", "x-gzip"):
        if not body:
            return b""
        return _inflate(body, _GZIP_WBITS, limit, "gzip")
    if name == "deflate":
        if not body:
            return b""
        return _inflate(body, _ZLIB_WBITS if _looks_zlib(body) else _RAW_WBITS, limit, "deflate")
    raise UnsupportedMediaType(
        f"unsupported Content-Encoding {encoding!r}",
        hint="send the body uncompressed or with Content-Encoding gzip or deflate",
    )


def _looks_zlib(body: bytes) -> bool:
    """True when `body` starts with a valid zlib header (RFC 1950: CM=8, FCHECK)."""
    return len(body) >= 2 and body[0] & 0x0F == 8 and ((body[0] << 8) | body[1]) % 31 == 0


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {limit} bytes after decompression")


def _inflate(body: bytes, wbits: int, limit: int, label: str) -> bytes:
    chunks: list[bytes] = []
    produced = 0
    data = body
    while True:
        d = zlib.decompressobj(wbits)
        try:
            while not d.eof:
                # max_length >= 1 always: 0 would mean "unbounded".
                chunk = d.decompress(data, limit + 1 - produced)
                data = d.unconsumed_tail
                produced += len(chunk)
                if produced > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
                if not chunk and not data:
                    raise DecodeError(f"truncated {label} stream: it ends before its end marker")
        except zlib.error as exc:
            raise DecodeError(f"corrupt {label} stream: {exc}") from None
        rest = d.unused_data
        if wbits == _GZIP_WBITS and rest[:2] == _GZIP_MAGIC:
            data = rest  # another gzip member follows
            continue
        if rest.strip(b"\x00"):
            raise DecodeError(f"corrupt {label} stream: {len(rest)} bytes of trailing data")
        return b"".join(chunks)
