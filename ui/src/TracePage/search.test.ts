import { describe, expect, it } from "vitest";
import type { TimelineSpan } from "@/api/timeline";
import { matchSpans } from "./search";

const s = (span_id: string, name: string, model: string | null = null): TimelineSpan => ({
  span_id, parent_span_id: null, name, start_time: 0, end_time: 1, duration_ms: 0, status_code: 0, status_message: null,
  service_name: "svc", span_type: null, model, input_tokens: null, output_tokens: null, total_tokens: null, cost: null,
});

describe("matchSpans", () => {
  const spans = [s("a1", "llm.call", "gpt-4o"), s("b2", "tool.search"), s("c3", "LLM retry", "claude")];
  it("matches names, models and ids, case-insensitively, every term", () => {
    expect([...matchSpans(spans, "llm")]).toEqual(["a1", "c3"]);
    expect([...matchSpans(spans, "LLM gpt")]).toEqual(["a1"]);
    expect([...matchSpans(spans, "b2")]).toEqual(["b2"]);
  });
  it("matches nothing for an empty query", () => {
    expect(matchSpans(spans, "  ").size).toBe(0);
  });
});
