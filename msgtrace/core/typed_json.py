"""msgtrace's typed-JSON encoding of OTLP AnyValues (see docs/otlp.md#typed-json).

JSON cannot tell an int from a double, has no bytes and no NaN, so the encoding is:

    string, bool, int          -> the JSON value
    double                     -> a JSON number that always has a fraction or exponent (1.0, 1e+300)
    non-finite double          -> {"$double": "NaN" | "Infinity" | "-Infinity"}
    bytes                      -> {"$bytes": "<standard base64>"}
    array                      -> JSON array
    kvlist                     -> JSON object; a key starting with "$" gets one more "$"
    empty AnyValue             -> null

An attribute map is encoded like a kvlist. Decoding is exact: `loads(dumps(x)) == x` for every
Python value built from str, bool, int (64-bit), float, bytes, None, list and dict with str keys.
This module works on plain Python values; the codecs turn protobuf/OTLP-JSON AnyValues into them.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import orjson

BYTES_KEY = "$bytes"
DOUBLE_KEY = "$double"
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def escape_key(key: str) -> str:
    """The object key written for map key `key` ("$x" -> "$$x")."""
    return "$" + key if key[:1] == "$" else key


def encode_double(value: float) -> Any:
    """A double as typed JSON: the float itself when finite, else a `$double` object."""
    if value - value == 0.0:
        return value
    return {DOUBLE_KEY: "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")}


def encode_bytes(value: bytes) -> dict[str, str]:
    return {BYTES_KEY: base64.b64encode(value).decode("ascii")}


def to_typed(value: Any) -> Any:
    """A plain Python value (bytes, float, nested lists/dicts) in its typed-JSON object form."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return encode_double(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return encode_bytes(bytes(value))
    if isinstance(value, (list, tuple)):
        return [to_typed(v) for v in value]
    if isinstance(value, dict):
        return {escape_key(k): to_typed(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__} as typed JSON")


def dumps(value: Any) -> str:
    """Typed-JSON text of a plain Python value (see `to_typed`)."""
    return orjson.dumps(to_typed(value)).decode()


def from_typed(obj: Any) -> Any:
    """Inverse of `to_typed`: a parsed typed-JSON value back to plain Python values."""
    if isinstance(obj, dict):
        if len(obj) == 1:
            if BYTES_KEY in obj:
                return base64.b64decode(obj[BYTES_KEY])
            if DOUBLE_KEY in obj:
                return _NON_FINITE[obj[DOUBLE_KEY]]
        return {(k[1:] if k[:1] == "$" else k): from_typed(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_typed(v) for v in obj]
    return obj


def loads(text: str | bytes) -> Any:
    """Plain Python value of typed-JSON text: bytes as bytes, NaN/inf as floats."""
    return from_typed(orjson.loads(text))


def attributes_from_json(text: str | bytes) -> dict[str, Any]:
    """An attribute map column (typed-JSON object text) as a dict of plain Python values."""
    value = loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"typed-JSON attributes must be an object, got {type(value).__name__}")
    return value
