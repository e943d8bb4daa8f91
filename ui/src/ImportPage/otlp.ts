/**
 * OTLP/JSON (an ExportTraceServiceRequest, as GET /traces/{id}/export?format=otlp writes it) parsed
 * in the browser, so a downloaded trace is viewed offline without sending it anywhere. Pure.
 *
 * Accepts hex or base64 ids, int64 times as strings or numbers, enum kinds/status codes as
 * numbers or names, and every AnyValue shape. Times relative to the trace's first span are
 * computed with BigInt, so they stay exact. LLM fields (model, tokens, cost) are read from the
 * common conventions (gen_ai.*, llm.*); cost is only what the span carries (no price table here).
 * Throws `ImportError` with a readable message on anything that is not OTLP/JSON traces.
 */
import type { TimelineData, TimelineSpan } from "@/api/timeline";
import type { Span, TraceSummary } from "@/api/types";

export class ImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImportError";
  }
}

export interface ImportedTrace {
  data: TimelineData;
  spans: Map<string, Span>;
}

type Json = Record<string, unknown>;
const KINDS = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"] as const;
const STATUS = ["UNSET", "OK", "ERROR"] as const;

const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Hex id (lowercase); base64 ids (what protobuf's JSON mapping writes) are converted. */
export function normaliseId(raw: unknown, bytes: number): string | null {
  if (typeof raw !== "string" || raw === "") return null;
  if (raw.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(raw)) return raw.toLowerCase();
  try {
    const bin = atob(raw);
    if (bin.length !== bytes) return null;
    return Array.from(bin, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
  } catch {
    return null;
  }
}

export function anyValue(v: unknown): unknown {
  if (!isObj(v)) return null;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : String(v.intValue);
  }
  if ("doubleValue" in v) return Number(v.doubleValue);
  if ("bytesValue" in v) return v.bytesValue;
  if ("arrayValue" in v) return arr((v.arrayValue as Json | undefined)?.values).map(anyValue);
  if ("kvlistValue" in v) return attributes((v.kvlistValue as Json | undefined)?.values);
  return null;
}

export function attributes(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of arr(list)) if (isObj(kv) && typeof kv.key === "string") out[kv.key] = anyValue(kv.value);
  return out;
}

function nanos(v: unknown): bigint {
  try {
    return typeof v === "string" || typeof v === "number" ? BigInt(typeof v === "number" ? Math.trunc(v) : v) : 0n;
  } catch {
    return 0n;
  }
}

function enumIndex<T extends readonly string[]>(v: unknown, names: T, prefix: string): number {
  if (typeof v === "number") return v >= 0 && v < names.length ? v : 0;
  if (typeof v === "string") {
    const i = names.indexOf(v.replace(prefix, "") as T[number]);
    return i < 0 ? 0 : i;
  }
  return 0;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : null);
const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
function first(a: Record<string, unknown>, keys: string[], conv: (v: unknown) => number | null): number | null;
function first(a: Record<string, unknown>, keys: string[], conv: (v: unknown) => string | null): string | null;
function first(a: Record<string, unknown>, keys: string[], conv: (v: unknown) => unknown): unknown {
  for (const k of keys) {
    const v = conv(a[k]);
    if (v !== null) return v;
  }
  return null;
}

interface Raw {
  traceId: string;
  span: Span;
  start: bigint;
  end: bigint;
}

export function parseOtlpJson(text: string): ImportedTrace[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ImportError(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObj(doc) || !Array.isArray(doc.resourceSpans)) throw new ImportError("not OTLP/JSON traces: the file has no resourceSpans array");
  const raws: Raw[] = [];
  for (const rs of doc.resourceSpans) {
    if (!isObj(rs)) continue;
    const resource = attributes((rs.resource as Json | undefined)?.attributes);
    const service = str(resource["service.name"]);
    for (const ss of arr(rs.scopeSpans ?? rs.instrumentationLibrarySpans)) {
      if (!isObj(ss)) continue;
      const scope = isObj(ss.scope) ? ss.scope : isObj(ss.instrumentationLibrary) ? ss.instrumentationLibrary : {};
      for (const s of arr(ss.spans)) {
        if (!isObj(s)) continue;
        const traceId = normaliseId(s.traceId, 16);
        const spanId = normaliseId(s.spanId, 8);
        if (!traceId || !spanId) continue;
        const a = attributes(s.attributes);
        const start = nanos(s.startTimeUnixNano);
        const end = nanos(s.endTimeUnixNano) < start ? start : nanos(s.endTimeUnixNano);
        const status = isObj(s.status) ? s.status : {};
        const model = first(a, ["gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "llm.model"], str);
        const input = first(a, ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt", "llm.usage.prompt_tokens"], num);
        const output = first(a, ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion", "llm.usage.completion_tokens"], num);
        const total = first(a, ["gen_ai.usage.total_tokens", "llm.token_count.total", "llm.usage.total_tokens"], num);
        const costIn = num(a["gen_ai.usage.cost.input_tokens"]);
        const costOut = num(a["gen_ai.usage.cost.output_tokens"]);
        const cost = first(a, ["gen_ai.usage.cost", "llm.cost.total", "llm.usage.cost"], num) ?? (costIn !== null || costOut !== null ? (costIn ?? 0) + (costOut ?? 0) : null);
        const isLlm = model !== null || input !== null || output !== null;
        const spanType = first(a, ["span.type", "openinference.span.kind"], str)?.toLowerCase() ?? (isLlm ? "llm" : null);
        const span: Span = {
          trace_id: traceId,
          span_id: spanId,
          parent_span_id: normaliseId(s.parentSpanId, 8),
          name: typeof s.name === "string" ? s.name : "",
          kind: KINDS[enumIndex(s.kind, KINDS, "SPAN_KIND_")]!,
          start_time: Number(start),
          end_time: Number(end),
          duration_ms: Number(end - start) / 1e6,
          status: { code: STATUS[enumIndex(status.code, STATUS, "STATUS_CODE_")]!, message: str(status.message) },
          service_name: service,
          span_type: spanType,
          attributes: a,
          resource_attributes: resource,
          scope: { name: str(scope.name), version: str(scope.version) },
          events: arr(s.events)
            .filter(isObj)
            .map((e) => ({ name: typeof e.name === "string" ? e.name : "", timestamp: Number(nanos(e.timeUnixNano)), attributes: attributes(e.attributes) })),
          links: arr(s.links)
            .filter(isObj)
            .flatMap((l) => {
              const t = normaliseId(l.traceId, 16);
              const sp = normaliseId(l.spanId, 8);
              return t && sp ? [{ trace_id: t, span_id: sp, attributes: attributes(l.attributes) }] : [];
            }),
          llm: isLlm
            ? { model, provider: str(a["gen_ai.system"] ?? a["gen_ai.provider.name"]), input_tokens: input, output_tokens: output, total_tokens: total ?? (input ?? 0) + (output ?? 0), cost, cost_source: cost !== null ? "span" : null, counts_usage: true }
            : null,
        };
        raws.push({ traceId, span, start, end });
      }
    }
  }
  if (raws.length === 0) throw new ImportError("the file holds no spans with valid trace and span ids");
  const byTrace = new Map<string, Raw[]>();
  for (const r of raws) {
    const list = byTrace.get(r.traceId);
    if (list) list.push(r);
    else byTrace.set(r.traceId, [r]);
  }
  return [...byTrace.entries()].map(([traceId, list]) => buildTrace(traceId, list));
}

function buildTrace(traceId: string, list: Raw[]): ImportedTrace {
  list.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : x.span.span_id.localeCompare(y.span.span_id)));
  const base = list[0]!.start;
  let end = base;
  const spans = new Map<string, Span>();
  const timeline: TimelineSpan[] = [];
  for (const r of list) {
    if (spans.has(r.span.span_id)) continue;
    spans.set(r.span.span_id, r.span);
    if (r.end > end) end = r.end;
    const s = r.span;
    timeline.push({
      span_id: s.span_id,
      parent_span_id: s.parent_span_id ?? null,
      name: s.name,
      start_time: Number(r.start - base),
      end_time: Number(r.end - base),
      duration_ms: s.duration_ms,
      status_code: s.status?.code === "ERROR" ? 2 : s.status?.code === "OK" ? 1 : 0,
      status_message: s.status?.message ?? null,
      service_name: s.service_name ?? null,
      span_type: s.span_type ?? null,
      model: s.llm?.model ?? null,
      input_tokens: s.llm?.input_tokens ?? null,
      output_tokens: s.llm?.output_tokens ?? null,
      total_tokens: s.llm?.total_tokens ?? null,
      cost: s.llm?.cost ?? null,
    });
  }
  const ids = new Set(spans.keys());
  const root = timeline.find((s) => !s.parent_span_id) ?? timeline.find((s) => !ids.has(s.parent_span_id ?? "")) ?? timeline[0]!;
  const rootSpan = spans.get(root.span_id)!;
  const errors = timeline.filter((s) => s.status_code === 2).length;
  const costs = timeline.map((s) => s.cost).filter((c): c is number => c !== null);
  const sum = (f: (s: TimelineSpan) => number | null) => timeline.reduce((acc, s) => acc + (f(s) ?? 0), 0);
  const input = sum((s) => s.input_tokens);
  const output = sum((s) => s.output_tokens);
  const workflow = str(rootSpan.attributes?.["workflow.name"]);
  const trace: TraceSummary = {
    trace_id: traceId,
    start_time: Number(base),
    end_time: Number(end),
    duration_ms: Number(end - base) / 1e6,
    root_span_name: root.name,
    workflow_name: workflow,
    service_name: root.service_name,
    status: errors ? "error" : timeline.some((s) => s.status_code === 1) ? "ok" : "unset",
    span_count: timeline.length,
    error_count: errors,
    input_tokens: input,
    output_tokens: output,
    cached_tokens: 0,
    reasoning_tokens: 0,
    total_tokens: sum((s) => s.total_tokens ?? (s.input_tokens ?? 0) + (s.output_tokens ?? 0)),
    cost: costs.length ? costs.reduce((x, y) => x + y, 0) : null,
    models: [...new Set(timeline.map((s) => s.model).filter((m): m is string => m !== null))].sort(),
    session_id: null,
    user_id: null,
    in_progress: !timeline.some((s) => !s.parent_span_id),
    updated_at: 0,
  };
  return { data: { trace, baseNs: Number(base), spans: timeline }, spans };
}
