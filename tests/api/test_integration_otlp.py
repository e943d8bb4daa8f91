"""End to end: spans sent by the real OpenTelemetry SDK over OTLP to a real `msgtrace start`,
read back through the REST API, the Python API and the CLI."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from typing import Any

import httpx
import pytest
from opentelemetry.trace import Status, StatusCode

pytestmark = pytest.mark.slow


def _send_workflow(provider: Any, workflow: str) -> str:
    """A flow span with an LLM child (tokens, cost) and a failing tool child; returns the trace id."""
    tracer = provider.get_tracer("read-tests")
    with tracer.start_as_current_span(
        "flow", attributes={"workflow.name": workflow, "span.type": "flow", "user.id": "reader"}
    ) as root:
        with tracer.start_as_current_span(
            "llm.chat",
            attributes={
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30,
                "gen_ai.operation.name": "chat",
            },
        ):
            pass
        with tracer.start_as_current_span(
            "tool.search", attributes={"gen_ai.tool.name": "search"}
        ) as tool:
            tool.set_status(Status(StatusCode.ERROR, "tool failed"))
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.force_flush()
    return trace_id


@pytest.fixture(scope="module")
def sent(msgtrace_server: Any) -> dict[str, Any]:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    workflow = f"read-it-{secrets.token_hex(4)}"
    provider = TracerProvider(resource=Resource.create({"service.name": "read-it-service"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=msgtrace_server.otlp_endpoint), schedule_delay_millis=50
        )
    )
    try:
        ids = [_send_workflow(provider, workflow) for _ in range(3)]
    finally:
        provider.shutdown()
    for trace_id in ids:
        msgtrace_server.wait_for_spans(trace_id, 3, timeout=60)
    return {"workflow": workflow, "ids": ids}


def test_list_detail_tree_through_the_api(msgtrace_server: Any, sent: dict[str, Any]) -> None:
    url = msgtrace_server.url
    body = httpx.get(
        f"{url}/api/v1/traces", params={"workflow_name": sent["workflow"]}, timeout=30
    ).json()
    assert {t["trace_id"] for t in body["traces"]} == set(sent["ids"])
    assert body["total"] == 3
    summary = body["traces"][0]
    assert summary["span_count"] == 3 and summary["error_count"] == 1
    assert summary["service_name"] == "read-it-service"
    assert summary["input_tokens"] == 360 // 3 and summary["models"] == ["gpt-4o-mini"]
    trace_id = sent["ids"][0]
    detail = httpx.get(f"{url}/api/v1/traces/{trace_id}", timeout=30).json()
    names = [s["name"] for s in detail["spans"]]
    assert names[0] == "flow" and set(names) == {"flow", "llm.chat", "tool.search"}
    tool = next(s for s in detail["spans"] if s["name"] == "tool.search")
    assert tool["status"] == {"code": "ERROR", "message": "tool failed"}
    llm = next(s for s in detail["spans"] if s["name"] == "llm.chat")
    assert llm["llm"]["model"] == "gpt-4o-mini" and llm["llm"]["input_tokens"] == 120
    tree = httpx.get(f"{url}/api/v1/traces/{trace_id}/tree", timeout=30).json()
    [root] = tree["roots"]
    assert root["name"] == "flow" and {c["name"] for c in root["children"]} == {
        "llm.chat",
        "tool.search",
    }
    span = httpx.get(f"{url}/api/v1/traces/{trace_id}/spans/{llm['span_id']}", timeout=30).json()
    assert span["name"] == "llm.chat"


def test_query_language_and_aggregates(msgtrace_server: Any, sent: dict[str, Any]) -> None:
    url = msgtrace_server.url
    q = f'workflow:"{sent["workflow"]}" error:true model:gpt-4o* attr.gen_ai.tool.name:search'
    body = httpx.get(f"{url}/api/v1/traces", params={"q": q}, timeout=30).json()
    assert {t["trace_id"] for t in body["traces"]} == set(sent["ids"])
    stats = httpx.get(
        f"{url}/api/v1/stats", params={"workflow_name": sent["workflow"]}, timeout=30
    ).json()
    assert stats["total_traces"] == 3 and stats["total_spans"] == 9 and stats["error_traces"] == 3
    usage = httpx.get(f"{url}/api/v1/usage", timeout=30).json()
    assert "gpt-4o-mini" in {row["key"] for row in usage["totals"]}
    workflows = httpx.get(f"{url}/api/v1/workflows", timeout=30).json()["items"]
    assert {"name": sent["workflow"], "count": 3} in workflows


def test_otlp_export_round_trip(msgtrace_server: Any, sent: dict[str, Any]) -> None:
    from msgtrace.core.otlp import ContentType, decode_rows

    r = httpx.get(f"{msgtrace_server.url}/api/v1/traces/{sent['ids'][0]}/export", timeout=30)
    rows = decode_rows(r.content, ContentType.JSON, offset=1, received_time_unix_nano=0)
    assert len(rows) == 3 and set(rows.columns["trace_id"]) == {sent["ids"][0]}


def test_python_api_reads_the_servers_views(msgtrace_server: Any, sent: dict[str, Any]) -> None:
    from msgtrace.backend.storage import SQLiteTraceStorage
    from msgtrace.core.models import TraceQueryParams

    async def run() -> tuple[list[Any], Any]:
        storage = SQLiteTraceStorage(msgtrace_server.db_path)
        traces = await storage.list_traces(
            TraceQueryParams(workflow_name=sent["workflow"], has_errors=True)
        )
        trace = await storage.get_trace(sent["ids"][1])
        await storage.close()
        return traces, trace

    traces, trace = asyncio.run(run())
    assert len(traces) == 3
    assert [n.name for n in trace.build_span_tree()] == ["flow"]


def test_cli_reads_the_servers_views(msgtrace_server: Any, sent: dict[str, Any]) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "msgtrace",
            "list",
            "--json",
            "--workflow",
            sent["workflow"],
            "--data-dir",
            str(msgtrace_server.data_dir),
            "--db-path",
            str(msgtrace_server.db_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert {t["trace_id"] for t in json.loads(out.stdout)["traces"]} == set(sent["ids"])
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "msgtrace",
            "show",
            sent["ids"][2][:12],
            "--db-path",
            str(msgtrace_server.db_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0 and "tool.search" in shown.stdout and "tool failed" in shown.stdout
    cleared = subprocess.run(
        [
            sys.executable,
            "-m",
            "msgtrace",
            "clear",
            "--yes",
            "--data-dir",
            str(msgtrace_server.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cleared.returncode == 1 and "running msgtrace server" in cleared.stderr


def test_delete_reaches_the_views(server_factory: Any, tracer_provider_factory: Any) -> None:
    server = server_factory("--port", "0")
    provider = tracer_provider_factory(server.otlp_endpoint)
    trace_id = _send_workflow(provider, "to-delete")
    server.wait_for_spans(trace_id, 3, timeout=60)
    r = httpx.delete(f"{server.url}/api/v1/traces/{trace_id}", timeout=30)
    assert r.status_code == 200 and r.json()["trace_id"] == trace_id and r.json()["offset"] > 0

    def gone() -> bool:
        return httpx.get(f"{server.url}/api/v1/traces/{trace_id}", timeout=5).status_code == 404

    server.wait_for(gone, 60, f"trace {trace_id} deleted")
