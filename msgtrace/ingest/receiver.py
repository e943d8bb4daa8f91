"""The OTLP receiver, independent of transport: limits, validation, durable append, responses.

Contract of `OtlpReceiver.export`: it returns an `ExportOutcome` only after the request's bytes are
durable in the journal (or after deciding not to keep any of them), and never raises for bad input:
every failure becomes the status the OTLP specification prescribes (400 bad data, 413 too large,
415 unknown content type, 429/503 with Retry-After under backpressure). The good spans of a request
that also holds invalid ones are kept and reported through `partial_success`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from msgtrace.core import otlp
from msgtrace.core.errors import (
    Backpressure,
    DecodeError,
    MsgTraceError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from msgtrace.ingest.metrics import IngestMetrics

if TYPE_CHECKING:
    from msgtrace.segments.journal import Journal

log = logging.getLogger("msgtrace.ingest")

# gRPC status codes used in google.rpc.Status bodies (and by the gRPC transport).
GRPC_INVALID_ARGUMENT = 3
GRPC_RESOURCE_EXHAUSTED = 8
GRPC_UNAVAILABLE = 14
GRPC_UNIMPLEMENTED = 12

# An ExportTraceServiceResponse without partial_success (empty in proto3, built once).
_FULL_SUCCESS = ExportTraceServiceResponse().SerializeToString()

# Validating a large body takes long enough to stall the event loop; past this, use a thread.
_THREAD_THRESHOLD = 256 * 1024


@dataclass(frozen=True)
class ExportOutcome:
    """What to answer: an HTTP status, a body in the request's encoding, extra headers."""

    status: int
    body: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)
    accepted_spans: int = 0
    rejected_spans: int = 0
    message: str = ""
    grpc_code: int = 0


class _InflightBudget:
    """Bounds the request bytes ingest holds in memory at once (reading, validating, appending)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> bool:
        if self.used + n > self.limit and self.used > 0:
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used -= n


class OtlpReceiver:
    """Turns OTLP export requests into durable journal records."""

    def __init__(
        self,
        journal: Journal,
        metrics: IngestMetrics,
        *,
        max_request_bytes: int,
        max_inflight_bytes: int | None = None,
    ) -> None:
        self.journal = journal
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes
        self._budget = _InflightBudget(max_inflight_bytes or max(4 * max_request_bytes, 256 << 20))

    async def export(
        self,
        body: bytes | AsyncIterable[bytes],
        content_type: str | None,
        content_encoding: str | None,
        *,
        transport: str = "http",
    ) -> ExportOutcome:
        """Validate, append durably, and say what to answer. Never raises for bad input."""
        kind = "json" if content_type and "json" in content_type.lower() else "protobuf"
        held = 0
        try:
            ctype = otlp.parse_content_type(content_type)
            raw, held = await self._read(body)
            payload = otlp.decompress(raw, content_encoding, self.max_request_bytes)
            if len(payload) > held:
                extra = len(payload) - held
                if not self._budget.take(extra):
                    raise Backpressure("ingest memory budget is full", status=429, retry_after=1)
                held += extra
            outcome = await self._accept(ctype, payload)
        except MsgTraceError as exc:
            outcome = _error_outcome(exc, kind)
        finally:
            if held:
                self._budget.give(held)
            self.metrics.inflight_bytes.set(self._budget.used)
        self.metrics.requests.labels(transport, kind, str(outcome.status)).inc()
        return outcome

    async def _read(self, body: bytes | AsyncIterable[bytes]) -> tuple[bytes, int]:
        """The whole body, refusing it once it passes the size limit or the memory budget."""
        if isinstance(body, bytes):
            if len(body) > self.max_request_bytes:
                raise PayloadTooLarge(_too_large(len(body), self.max_request_bytes))
            if not self._budget.take(len(body)):
                raise Backpressure("ingest memory budget is full", status=429, retry_after=1)
            return body, len(body)
        chunks: list[bytes] = []
        taken = 0
        try:
            async for chunk in body:
                if taken + len(chunk) > self.max_request_bytes:
                    raise PayloadTooLarge(_too_large(taken + len(chunk), self.max_request_bytes))
                if not self._budget.take(len(chunk)):
                    raise Backpressure("ingest memory budget is full", status=429, retry_after=1)
                taken += len(chunk)
                chunks.append(chunk)
        except BaseException:
            self._budget.give(taken)
            raise
        return b"".join(chunks), taken

    async def _accept(self, ctype: otlp.ContentType, payload: bytes) -> ExportOutcome:
        if len(payload) > _THREAD_THRESHOLD:
            verdict = await asyncio.to_thread(otlp.validate, payload, ctype)
        else:
            verdict = otlp.validate(payload, ctype)
        if verdict.rejected_spans:
            self.metrics.spans_rejected.labels("invalid").inc(verdict.rejected_spans)
        if verdict.accepted_spans:
            from msgtrace.segments.journal import RecordKind

            t0 = time.perf_counter()
            await self.journal.append_async(RecordKind.SPANS, int(ctype), payload)
            self.metrics.ack_latency.observe(time.perf_counter() - t0)
            self.metrics.spans_received.inc(verdict.accepted_spans)
            self.metrics.request_bytes.inc(len(payload))
        return _success_outcome(ctype, verdict)


def _too_large(size: int, limit: int) -> str:
    return f"request body is larger than the limit of {limit} bytes (read {size} bytes so far)"


def _success_outcome(ctype: otlp.ContentType, verdict: otlp.Validation) -> ExportOutcome:
    if ctype is otlp.ContentType.JSON:
        doc: dict[str, object] = {}
        if verdict.rejected_spans:
            doc["partialSuccess"] = {
                "rejectedSpans": str(verdict.rejected_spans),
                "errorMessage": verdict.error_message,
            }
        body, media = orjson.dumps(doc), "application/json"
    elif verdict.rejected_spans:
        resp = ExportTraceServiceResponse()
        resp.partial_success.rejected_spans = verdict.rejected_spans
        resp.partial_success.error_message = verdict.error_message
        body, media = resp.SerializeToString(), "application/x-protobuf"
    else:
        body, media = _FULL_SUCCESS, "application/x-protobuf"
    return ExportOutcome(
        200,
        body,
        media,
        accepted_spans=verdict.accepted_spans,
        rejected_spans=verdict.rejected_spans,
        message=verdict.error_message,
    )


def _error_outcome(exc: MsgTraceError, kind: str) -> ExportOutcome:
    headers: dict[str, str] = {}
    if isinstance(exc, Backpressure):
        status, code = exc.status, (GRPC_RESOURCE_EXHAUSTED if exc.status == 429 else GRPC_UNAVAILABLE)
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    elif isinstance(exc, PayloadTooLarge):
        status, code = 413, GRPC_RESOURCE_EXHAUSTED
    elif isinstance(exc, UnsupportedMediaType):
        status, code = 415, GRPC_UNIMPLEMENTED
    elif isinstance(exc, DecodeError):
        status, code = 400, GRPC_INVALID_ARGUMENT
    else:
        log.exception("unexpected ingest failure", exc_info=exc)
        status, code = 503, GRPC_UNAVAILABLE
        headers["Retry-After"] = "1"
    message = str(exc)
    if kind == "json" or status == 415:
        body, media = orjson.dumps({"code": code, "message": message}), "application/json"
    else:
        body = status_pb2.Status(code=code, message=message).SerializeToString()
        media = "application/x-protobuf"
    return ExportOutcome(status, body, media, headers, message=message, grpc_code=code)
