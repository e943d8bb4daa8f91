/**
 * Where the span detail panel gets a full span (attributes, events, prompts): from the server
 * (GET /traces/{id}/spans/{span_id}, fetched only for the selected span) or, for an imported
 * file viewed offline, from the spans parsed in the browser.
 */
import type { Span } from "@/api/types";

export type SpanSource = { kind: "server"; traceId: string } | { kind: "local"; spans: ReadonlyMap<string, Span> };
