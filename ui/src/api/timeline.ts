/**
 * The compact span form the waterfall, flame graph and comparison draw from. It comes from
 * GET /traces/{id}/timeline (columns, times relative to the trace's first span) or from an
 * imported OTLP/JSON file; `start_time`/`end_time` are ns after `baseNs`, so they stay exact in
 * JavaScript numbers (absolute ns since the epoch do not).
 */
import type { TraceSummary, TraceTimeline } from "./types";

export interface TimelineSpan {
  span_id: string;
  parent_span_id: string | null;
  name: string;
  /** ns after the trace's base time. */
  start_time: number;
  end_time: number;
  duration_ms: number;
  /** 0 unset, 1 ok, 2 error. */
  status_code: number;
  status_message: string | null;
  service_name: string | null;
  span_type: string | null;
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  total_tokens: number | null;
  cost: number | null;
}

export interface TimelineData {
  trace: TraceSummary;
  /** Absolute start of the earliest span, ns since the epoch (approximate as a JS number). */
  baseNs: number;
  spans: TimelineSpan[];
}

/** Columns → one object per span (index-aligned arrays; a short column reads as nulls). */
export function timelineSpans(t: TraceTimeline): TimelineSpan[] {
  const n = t.span_id.length;
  const out: TimelineSpan[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const start = t.start[i] ?? 0;
    const end = Math.max(start, t.end[i] ?? start);
    out[i] = {
      span_id: t.span_id[i]!,
      parent_span_id: t.parent_span_id[i] ?? null,
      name: t.name[i] ?? "",
      start_time: start,
      end_time: end,
      duration_ms: (end - start) / 1e6,
      status_code: t.status_code[i] ?? 0,
      status_message: t.status_message[i] ?? null,
      service_name: t.service_name[i] ?? null,
      span_type: t.span_type[i] ?? null,
      model: t.model[i] ?? null,
      input_tokens: t.input_tokens[i] ?? null,
      output_tokens: t.output_tokens[i] ?? null,
      total_tokens: t.total_tokens[i] ?? null,
      cost: t.cost[i] ?? null,
    };
  }
  return out;
}

export function timelineData(t: TraceTimeline): TimelineData {
  return { trace: t.trace, baseNs: t.base_time, spans: timelineSpans(t) };
}

/** Tokens of a span for colouring and totals: total, else input + output, else 0. */
export function spanTokens(s: TimelineSpan): number {
  return s.total_tokens ?? (s.input_tokens ?? 0) + (s.output_tokens ?? 0);
}
