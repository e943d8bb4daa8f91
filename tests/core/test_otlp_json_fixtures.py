"""OTLP/JSON fixtures exercising every field of the spec, decoded and checked field by field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest

from msgtrace.core.otlp import (
    ContentType,
    attributes_from_json,
    decode_rows,
    request_to_json,
    rows_to_request,
    validate,
)
from msgtrace.core.schema import SPAN_COLUMN_NAMES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "otlp"


def _rows(name: str) -> list[dict[str, Any]]:
    rows = decode_rows(
        (FIXTURES / name).read_bytes(), ContentType.JSON, offset=42, received_time_unix_nano=7
    )
    assert rows.rejected_spans == 0 and rows.error_message == ""
    assert tuple(rows.columns) == SPAN_COLUMN_NAMES
    return rows.to_pylist()


def test_full_spec_span_fields() -> None:
    chat, _ = _rows("full_spec.json")
    assert chat["offset"] == 42 and chat["received_time_unix_nano"] == 7
    assert chat["trace_id"] == "5b8efff798038103d269b633813fc60c"  # lowercased
    assert chat["span_id"] == "eee19b7ec3c1b174"
    assert chat["parent_span_id"] == "eee19b7ec3c1b173"
    assert chat["trace_state"] == "vendor=abc,other=1"
    assert chat["flags"] == 257
    assert chat["name"] == "llm.chat"
    assert chat["kind"] == 3
    assert chat["start_time_unix_nano"] == 1544712660000000000  # from a string
    assert chat["end_time_unix_nano"] == 1544712661000000000  # from a number
    assert chat["status_code"] == 2
    assert chat["status_message"] == "upstream failed"
    assert chat["dropped_attributes_count"] == 3
    assert chat["dropped_events_count"] == 5
    assert chat["dropped_links_count"] == 7


def test_full_spec_resource_and_scope() -> None:
    chat, root = _rows("full_spec.json")
    for row in (chat, root):
        assert row["service_name"] == "checkout"
        assert attributes_from_json(row["resource_attributes"]) == {
            "service.name": "checkout",
            "host.cpu.count": 8,
        }
        assert row["resource_dropped_attributes_count"] == 2
        assert row["resource_schema_url"] == "https://opentelemetry.io/schemas/1.21.0"
        assert row["scope_name"] == "msgflux.agent"
        assert row["scope_version"] == "0.5.1"
        assert attributes_from_json(row["scope_attributes"]) == {"scope.attr": True}
        assert row["scope_dropped_attributes_count"] == 1
        assert row["scope_schema_url"] == "https://opentelemetry.io/schemas/1.24.0"


def test_full_spec_every_any_value_type() -> None:
    chat, _ = _rows("full_spec.json")
    text = chat["attributes"]
    raw = orjson.loads(text)
    # The stored typed JSON, exactly.
    assert raw["double"] == 1.0 and '"double":1.0' in text  # a double keeps its fraction
    assert raw["nan"] == {"$double": "NaN"}
    assert raw["inf"] == {"$double": "Infinity"}
    assert raw["ninf"] == {"$double": "-Infinity"}
    assert raw["bytes"] == {"$bytes": "AAEC/w=="}
    assert raw["array"] == ["a", 1, None, []]
    assert raw["kvlist"] == {"inner": 3.0, "$$bytes": "not bytes", "nested": {}}
    assert raw["empty"] is None
    assert raw["$$dollar"] == "escaped key"
    # And decoded back to Python values.
    attrs = attributes_from_json(text)
    assert attrs["str"] == "héllo"
    assert attrs["bool"] is False
    assert attrs["int"] == -(2**63) and attrs["int.number"] == 42
    assert attrs["double"] == 1.0 and isinstance(attrs["double"], float)
    assert attrs["double.string"] == 2.5
    assert math.isnan(attrs["nan"]) and attrs["inf"] == math.inf and attrs["ninf"] == -math.inf
    assert attrs["bytes"] == b"\x00\x01\x02\xff"
    assert attrs["array"] == ["a", 1, None, []]
    assert attrs["kvlist"] == {"inner": 3.0, "$bytes": "not bytes", "nested": {}}
    assert isinstance(attrs["kvlist"]["inner"], float)
    assert attrs["empty"] is None
    assert attrs["$dollar"] == "escaped key"
    assert list(attrs) == [
        "str", "bool", "int", "int.number", "double", "double.string", "nan", "inf", "ninf",
        "bytes", "array", "kvlist", "empty", "$dollar",
    ]  # fmt: skip


def test_full_spec_events_and_links() -> None:
    chat, root = _rows("full_spec.json")
    assert orjson.loads(chat["events"]) == [
        {
            "time_unix_nano": 1544712660500000000,
            "name": "exception",
            "attributes": {"exception.type": "ValueError"},
            "dropped_attributes_count": 4,
        }
    ]
    assert orjson.loads(chat["links"]) == [
        {
            "trace_id": "5b8efff798038103d269b633813fc60d",
            "span_id": "eee19b7ec3c1b175",
            "trace_state": "k=v",
            "attributes": {"link.kind": "follows"},
            "dropped_attributes_count": 6,
            "flags": 1,
        }
    ]
    assert root["events"] == "[]" and root["links"] == "[]" and root["attributes"] == "{}"


def test_empty_values_are_null() -> None:
    _, root = _rows("full_spec.json")
    assert root["parent_span_id"] is None
    assert root["trace_state"] is None
    assert root["status_message"] is None
    assert root["status_code"] == 0
    assert root["flags"] == 0


def test_snake_case_and_enum_names_decode_like_camel_case() -> None:
    (snake,) = _rows("snake_case.json")
    camel, _ = _rows("full_spec.json")
    same = set(SPAN_COLUMN_NAMES) - {"attributes", "events"}
    assert {k: snake[k] for k in same} == {k: camel[k] for k in same} | {"links": snake["links"]}
    assert orjson.loads(snake["links"])[0]["attributes"] == {}
    assert attributes_from_json(snake["attributes"]) == {
        "double": 1.5,
        "bytes": b"\x00\x01\x02\xff",  # URL-safe base64 without padding accepted
        "array": ["a"],
        "kvlist": {"inner": 7},
    }
    assert snake["kind"] == 3 and snake["status_code"] == 2


@pytest.mark.parametrize("name", ["full_spec.json", "snake_case.json"])
def test_validate_agrees_with_decode(name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    rows = decode_rows(body, ContentType.JSON, offset=0, received_time_unix_nano=0)
    v = validate(body, ContentType.JSON)
    assert (v.accepted_spans, v.rejected_spans) == (len(rows), 0)


def test_export_json_reloads_to_the_same_rows() -> None:
    rows = _rows("full_spec.json")
    exported = request_to_json(rows_to_request(rows))
    assert exported["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] == (
        "1544712660000000000"
    )
    attrs = exported["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
    assert {"key": "int", "value": {"intValue": "-9223372036854775808"}} in attrs
    assert {"key": "nan", "value": {"doubleValue": "NaN"}} in attrs
    again = decode_rows(
        orjson.dumps(exported), ContentType.JSON, offset=42, received_time_unix_nano=7
    ).to_pylist()
    assert again == rows
