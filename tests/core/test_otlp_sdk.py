"""Requests made by the real OpenTelemetry SDK exporter, captured over a real HTTP round trip."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from msgtrace.core.otlp import (
    ContentType,
    attributes_from_json,
    decode_rows,
    decompress,
    parse_content_type,
    validate,
)


@dataclass
class Capture:
    """Bodies and headers of every POST received."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def capture() -> Iterator[Capture]:
    cap = Capture()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            cap.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cap.url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    yield cap
    server.shutdown()
    server.server_close()


def _emit(provider: Any) -> tuple[str, dict[str, str]]:
    """Nested spans with attributes, events, links and status; returns (trace id, name -> span id)."""
    tracer = provider.get_tracer("tests.codec", "1.2.3")
    ids: dict[str, str] = {}
    with tracer.start_as_current_span("workflow", kind=SpanKind.SERVER) as root:
        root.set_attribute("workflow.name", "research")
        ctx = root.get_span_context()
        with tracer.start_as_current_span(
            "llm.chat",
            kind=SpanKind.CLIENT,
            links=[Link(ctx, {"link.reason": "caused-by"})],
        ) as chat:
            chat.set_attribute("gen_ai.request.model", "gpt-4o")
            chat.set_attribute("gen_ai.usage.input_tokens", 120)
            chat.set_attribute("gen_ai.usage.cost.input_tokens", 0.0012)
            chat.set_attribute("gen_ai.request.stream", True)
            chat.set_attribute("tags", ["a", "b"])
            chat.add_event("token", {"index": 3})
            chat.set_status(Status(StatusCode.ERROR, "rate limited"))
            ids["llm.chat"] = format(chat.get_span_context().span_id, "016x")
        ids["workflow"] = format(ctx.span_id, "016x")
        trace_id = format(ctx.trace_id, "032x")
    provider.force_flush()
    return trace_id, ids


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_sdk_export_decodes(
    gzip: bool, capture: Capture, tracer_provider_factory: Callable[..., Any]
) -> None:
    provider = tracer_provider_factory(capture.url, gzip=gzip, service="codec-sdk")
    trace_id, ids = _emit(provider)
    assert capture.requests, "the exporter sent nothing"
    rows: list[dict[str, Any]] = []
    for headers, body in capture.requests:
        assert headers.get("content-encoding") == ("gzip" if gzip else None)
        ct = parse_content_type(headers["content-type"])
        assert ct is ContentType.PROTOBUF
        payload = decompress(body, headers.get("content-encoding"), 1 << 20)
        v = validate(payload, ct)
        decoded = decode_rows(payload, ct, offset=1, received_time_unix_nano=2)
        assert (v.accepted_spans, v.rejected_spans) == (len(decoded), 0)
        rows += decoded.to_pylist()

    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"workflow", "llm.chat"}
    root, chat = by_name["workflow"], by_name["llm.chat"]
    for row in (root, chat):
        assert row["trace_id"] == trace_id
        assert row["service_name"] == "codec-sdk"
        assert row["scope_name"] == "tests.codec" and row["scope_version"] == "1.2.3"
        assert (
            attributes_from_json(row["resource_attributes"])["telemetry.sdk.language"] == "python"
        )
        assert row["flags"] == 0x100  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE, parent not remote
        assert row["end_time_unix_nano"] >= row["start_time_unix_nano"] > 0
    assert root["span_id"] == ids["workflow"] and root["parent_span_id"] is None
    assert chat["span_id"] == ids["llm.chat"] and chat["parent_span_id"] == ids["workflow"]
    assert root["kind"] == 2 and chat["kind"] == 3
    assert attributes_from_json(root["attributes"]) == {"workflow.name": "research"}
    assert attributes_from_json(chat["attributes"]) == {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.cost.input_tokens": 0.0012,
        "gen_ai.request.stream": True,
        "tags": ["a", "b"],
    }
    assert chat["status_code"] == 2 and chat["status_message"] == "rate limited"
    assert root["status_code"] == 0 and root["status_message"] is None
    (event,) = orjson.loads(chat["events"])
    assert event["name"] == "token" and event["attributes"] == {"index": 3}
    assert event["time_unix_nano"] >= chat["start_time_unix_nano"]
    (link,) = orjson.loads(chat["links"])
    assert (link["trace_id"], link["span_id"]) == (trace_id, ids["workflow"])
    assert link["attributes"] == {"link.reason": "caused-by"}
