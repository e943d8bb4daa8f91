/** In-trace search: which spans match a query (pure). */
import type { TimelineSpan } from "@/api/timeline";

/**
 * Span ids whose name, service, model, type or span id contain every whitespace-separated term
 * of `query` (case-insensitive). An empty query matches nothing (no highlighting).
 */
export function matchSpans(spans: readonly TimelineSpan[], query: string): Set<string> {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  const out = new Set<string>();
  if (terms.length === 0) return out;
  for (const s of spans) {
    const hay = `${s.name}\u0000${s.service_name ?? ""}\u0000${s.model ?? ""}\u0000${s.span_type ?? ""}\u0000${s.span_id}`.toLowerCase();
    if (terms.every((t) => hay.includes(t))) out.add(s.span_id);
  }
  return out;
}
