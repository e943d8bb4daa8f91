"""Pointing msgflux's telemetry (msgtrace-sdk) at a msgtrace server, before or after import.

msgtrace-sdk 1.2.0 reads `MSGTRACE_*` once, when `msgtrace.sdk` is first imported, and keeps a
tracer in `msgtrace.sdk.tracer.tracer_manager`. msgflux 0.5.1 reads its capture flags once, when
`msgflux.envs` is imported, from variables named `msgflux_TELEMETRY_*` (its prefix is lower case,
the field upper case). So `configure_msgflux_telemetry`:

1. sets the `MSGTRACE_*` variables (for child processes and any later import),
2. sets msgflux's flags: through `msgflux.set_envs` with the names the original msgtrace README
   uses, under the names msgflux actually reads, and on the live `msgflux.envs.envs` object,
3. gives the SDK one TracerProvider of ours (OTLP/HTTP to the server, or console), installed
   as the global provider when none is set yet, and swaps the SDK's tracer for one from it;
   a later call replaces (and flushes) the provider of the earlier one,
4. applies the nested-span fix where the installed SDK needs it.

Invariant: after it returns, spans msgflux starts go to the given endpoint, whatever was imported
before; `flush_pending_spans()` exports everything started so far.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from msgtrace.integration import Observer

log = logging.getLogger("msgtrace.integration")

DEFAULT_SERVER = "http://127.0.0.1:4321"
EXPORT_PATH = "/api/v1/traces/export"
FLUSH_TIMEOUT_MS = 10_000
# How often our batch processor exports (the SDK's own default is 5 s: too slow for a live UI).
SCHEDULE_DELAY_MS = 500

_lock = threading.Lock()
_provider: Any = None


def resolve_endpoint(
    server: Observer | str | None = None, port: int | None = None, host: str | None = None
) -> str:
    """The OTLP/HTTP endpoint for `server` (an Observer, a base URL or a full endpoint URL),
    else for `host:port` (default 127.0.0.1:4321)."""
    if server is not None and not isinstance(server, str):
        return str(server.otlp_endpoint)
    if isinstance(server, str) and server:
        base = server.rstrip("/")
        if not base.startswith(("http://", "https://")):
            base = f"http://{base}"
        if base.endswith((EXPORT_PATH, "/v1/traces")):
            return base
        return f"{base}{EXPORT_PATH}"
    if port is None and host is None:
        return f"{DEFAULT_SERVER}{EXPORT_PATH}"
    return f"http://{host or '127.0.0.1'}:{port or 4321}{EXPORT_PATH}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _set_msgflux_settings(endpoint: str, flags: dict[str, bool]) -> None:
    readme_names: dict[str, Any] = {
        "telemetry_requires_trace": True,
        "telemetry_span_exporter_type": "otlp",
        "telemetry_otlp_endpoint": endpoint,
        **flags,
    }
    try:
        msgflux_envs = importlib.import_module("msgflux.envs")
    except ImportError:
        for name, value in readme_names.items():
            os.environ[name.upper()] = str(value)
        return
    msgflux_envs.set_envs(**readme_names)
    settings_cls = getattr(msgflux_envs, "EnvironmentVariables", None)
    live = getattr(msgflux_envs, "envs", None)
    for name, value in flags.items():
        if settings_cls is not None and hasattr(settings_cls, "_get_env_name"):
            os.environ[settings_cls._get_env_name(name)] = _flag(value)
        if live is not None and hasattr(live, name):
            setattr(live, name, value)
    msgtrace_config = sys.modules.get("msgflux.telemetry.config")
    settings = getattr(msgtrace_config, "msgtrace_settings", None)
    if settings is not None:
        settings.telemetry_enabled = True
        settings.exporter = os.environ["MSGTRACE_EXPORTER"]
        settings.otlp_endpoint = endpoint
        settings.service_name = os.environ["MSGTRACE_SERVICE_NAME"]
        settings.capture_platform = os.environ["MSGTRACE_CAPTURE_PLATFORM"] == "true"


def _build_provider(endpoint: str, exporter: str, service_name: str, platform_info: bool) -> Any:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    attrs: dict[str, str] = {SERVICE_NAME: service_name}
    if platform_info:
        attrs.update({
            "platform.system": platform.system(),
            "platform.release": platform.release(),
            "platform.machine": platform.machine(),
            "python.version": platform.python_version(),
        })
    provider = TracerProvider(resource=Resource.create(attrs))
    if exporter == "console":
        span_exporter: Any = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(endpoint=endpoint)
    provider.add_span_processor(
        BatchSpanProcessor(span_exporter, schedule_delay_millis=SCHEDULE_DELAY_MS)
    )
    return provider


def _install_sdk_tracer(provider: Any) -> bool:
    """Swap msgtrace-sdk's tracer for one from `provider`; False when the SDK is not installed."""
    from opentelemetry import trace

    try:
        tracer_module = importlib.import_module("msgtrace.sdk.tracer")
    except ImportError:
        tracer_module = None
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
    if tracer_module is None:
        return False
    manager = tracer_module.tracer_manager
    with manager._lock:
        manager._tracer = provider.get_tracer("msgtrace.sdk")
        manager._initialized = True
    return True


def configure_msgflux_telemetry(
    server: Observer | str | None = None,
    port: int | None = None,
    *,
    host: str | None = None,
    enable_state_dict: bool = False,
    enable_platform: bool = True,
    capture_tool_call_responses: bool = True,
    capture_agent_prepare_model_execution: bool = False,
    service_name: str = "msgflux",
    exporter: str = "otlp",
    fix_nesting: bool = True,
) -> str:
    """Send msgflux's traces to msgtrace at `server` (Observer or URL) or `host:port`.

    Works whether msgflux / msgtrace.sdk were imported before or not. Returns the OTLP endpoint.
    `fix_nesting=False` leaves the SDK's span helpers exactly as installed.
    """
    global _provider
    if exporter not in ("otlp", "console"):
        raise ValueError(f"exporter must be 'otlp' or 'console', not {exporter!r}")
    endpoint = resolve_endpoint(server, port, host)
    # Import the SDK (if present) before enabling it, so its own import-time setup never builds
    # a second provider: ours below is the one its tracer uses.
    try:
        importlib.import_module("msgtrace.sdk")
    except ImportError:
        log.debug("msgtrace-sdk is not installed; configuring OpenTelemetry only")
    os.environ.update({
        "MSGTRACE_TELEMETRY_ENABLED": "true",
        "MSGTRACE_EXPORTER": exporter,
        "MSGTRACE_OTLP_ENDPOINT": endpoint,
        "MSGTRACE_SERVICE_NAME": service_name,
        "MSGTRACE_CAPTURE_PLATFORM": _flag(enable_platform),
    })
    _set_msgflux_settings(endpoint, {
        "telemetry_capture_state_dict": enable_state_dict,
        "telemetry_capture_platform": enable_platform,
        "telemetry_capture_tool_call_responses": capture_tool_call_responses,
        "telemetry_capture_agent_prepare_model_execution": capture_agent_prepare_model_execution,
    })
    with _lock:
        provider = _build_provider(endpoint, exporter, service_name, enable_platform)
        has_sdk = _install_sdk_tracer(provider)
        previous, _provider = _provider, provider
    if previous is not None:
        previous.shutdown()
    if has_sdk and fix_nesting:
        from msgtrace._msgflux_spans import ensure_nested_spans

        ensure_nested_spans()
    return endpoint


def flush_pending_spans(timeout_millis: int = FLUSH_TIMEOUT_MS) -> None:
    """Export every finished span still queued: ours, the global provider's and the SDK's."""
    from opentelemetry import trace

    seen: set[int] = set()
    candidates: list[Any] = [_provider, trace.get_tracer_provider()]
    tracer_module = sys.modules.get("msgtrace.sdk.tracer")
    sdk_tracer = getattr(getattr(tracer_module, "tracer_manager", None), "_tracer", None)
    candidates.append(getattr(sdk_tracer, "_span_processor", None))
    for candidate in candidates:
        flush = getattr(candidate, "force_flush", None)
        if candidate is None or flush is None or id(candidate) in seen:
            continue
        seen.add(id(candidate))
        try:
            flush(timeout_millis)
        except Exception:  # a flush failure must not stop the shutdown
            log.warning("flushing spans failed", exc_info=True)
