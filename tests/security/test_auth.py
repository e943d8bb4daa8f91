"""API key: every protected route refuses without the key and accepts with it, HTTP and gRPC."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from msgtrace.api.server import _banner
from msgtrace.core.config import MsgTraceConfig
from tests.ingest.ports import free_port

KEY = "s3cret-key"
PB = {"content-type": "application/x-protobuf"}


def _body() -> tuple[bytes, str]:
    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = uuid.uuid4().bytes, b"\x07" * 8, "authed"
    span.start_time_unix_nano, span.end_time_unix_nano = 1, 2
    return req.SerializeToString(), span.trace_id.hex()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import ServerHandle, _server_env

    base = tmp_path_factory.mktemp("auth")
    grpc_port = free_port()
    handle = ServerHandle(base / "data", ["--api-key", KEY, "--grpc-port", str(grpc_port)],
                          base / "server.log", _server_env())
    handle.start()
    yield handle
    handle.stop()


PROTECTED = [
    ("POST", "/v1/traces"), ("POST", "/api/v1/traces/export"), ("GET", "/api/v1/traces"),
    ("GET", "/api/v1/stats"), ("GET", "/api/v1/usage"), ("GET", "/api/v1/workflows"),
    ("GET", f"/api/v1/traces/{'ab' * 16}"), ("DELETE", f"/api/v1/traces/{'ab' * 16}"),
    ("GET", "/metrics"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_protected_routes_refuse_without_key(secured: Any, method: str, path: str) -> None:
    for headers in ({}, {"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}):
        r = httpx.request(method, f"{secured.url}{path}", headers={**PB, **headers}, content=b"")
        assert r.status_code == 401, (path, headers)
        assert "API key" in r.json()["detail"]


def test_health_and_ui_stay_open(secured: Any) -> None:
    assert httpx.get(f"{secured.url}/health").status_code == 200
    assert httpx.get(f"{secured.url}/").status_code == 200


def test_each_accepted_credential_form(secured: Any) -> None:
    for headers in ({"authorization": f"Bearer {KEY}"}, {"x-api-key": KEY}):
        body, _trace_id = _body()
        r = httpx.post(f"{secured.url}/v1/traces", content=body, headers={**PB, **headers})
        assert r.status_code == 200
        r = httpx.get(f"{secured.url}/api/v1/traces", headers=headers)
        assert r.status_code == 200
    r = httpx.get(f"{secured.url}/api/v1/stats", cookies={"msgtrace_key": KEY})
    assert r.status_code == 200


def test_sdk_exporter_headers_setting_works_unchanged(secured: Any, tracer_provider_factory: Any) -> None:
    provider = tracer_provider_factory(secured.otlp_endpoint, headers={"x-api-key": KEY})
    with provider.get_tracer("auth").start_as_current_span("sdk-authed") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.force_flush()

    def visible() -> bool:
        r = httpx.get(f"{secured.url}/api/v1/traces/{trace_id}", headers={"x-api-key": KEY})
        return r.status_code == 200

    secured.wait_for(visible, 20, "the SDK's spans")


def test_grpc_requires_key(secured: Any) -> None:
    grpc = pytest.importorskip("grpc")
    port = secured.info["otlp_grpc_port"]
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    export = channel.unary_unary(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        request_serializer=None, response_deserializer=None,
    )
    body, _ = _body()
    with pytest.raises(grpc.RpcError) as info:
        export(body, timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert export(body, metadata=(("x-api-key", KEY),), timeout=10) == b""
    assert export(body, metadata=(("authorization", f"Bearer {KEY}"),), timeout=10) == b""
    channel.close()


def test_non_loopback_without_key_warns(capsys: pytest.CaptureFixture[str]) -> None:
    _banner(MsgTraceConfig(host="0.0.0.0"), 4321, None, None)
    assert "WARNING" in capsys.readouterr().err
    _banner(MsgTraceConfig(host="0.0.0.0", api_key="k"), 4321, None, None)
    assert "WARNING" not in capsys.readouterr().err
    _banner(MsgTraceConfig(host="127.0.0.1"), 4321, None, None)
    assert "WARNING" not in capsys.readouterr().err
