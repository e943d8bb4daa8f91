"""OTLP/gRPC (`opentelemetry.proto.collector.trace.v1.TraceService/Export`), with the `grpc` extra.

Same durability and error semantics as OTLP/HTTP: the reply is sent only once the request is
durable; bad data is INVALID_ARGUMENT, backpressure RESOURCE_EXHAUSTED/UNAVAILABLE with a
retry delay in the trailing metadata (`grpc-retry-pushback-ms`).
"""

from __future__ import annotations

import logging
from typing import Any

from msgtrace.ingest.receiver import OtlpReceiver

log = logging.getLogger("msgtrace.ingest")

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


def grpc_available() -> bool:
    try:
        import grpc  # noqa: F401
    except ImportError:
        return False
    return True


async def start_grpc_server(
    receiver: OtlpReceiver,
    host: str,
    port: int,
    api_key: str | None = None,
) -> tuple[Any, int]:
    """Start a grpc.aio server on (host, port); returns (server, bound port). Port 0 picks one."""
    import grpc

    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if api_key is not None and not _authorized(context, api_key):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong API key")
        outcome = await receiver.export(
            request, "application/x-protobuf", None, transport="grpc"
        )
        if outcome.status == 200:
            return outcome.body
        code = grpc.StatusCode.INVALID_ARGUMENT
        for c in grpc.StatusCode:
            if c.value[0] == outcome.grpc_code:
                code = c
        if "Retry-After" in outcome.headers:
            ms = int(outcome.headers["Retry-After"]) * 1000
            context.set_trailing_metadata((("grpc-retry-pushback-ms", str(ms)),))
        await context.abort(code, outcome.message)
        raise AssertionError("unreachable")

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Export": grpc.unary_unary_rpc_method_handler(
                export, request_deserializer=None, response_serializer=None
            )
        },
    )
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", receiver.max_request_bytes),
            ("grpc.so_reuseport", 0),
        ]
    )
    server.add_generic_rpc_handlers((handler,))
    bound = server.add_insecure_port(f"{_bracket(host)}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind OTLP/gRPC to {host}:{port}")
    await server.start()
    return server, bound


def _authorized(context: Any, api_key: str) -> bool:
    for key, value in context.invocation_metadata() or ():
        if key == "x-api-key" and value == api_key:
            return True
        if key == "authorization" and value == f"Bearer {api_key}":
            return True
    return False


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
