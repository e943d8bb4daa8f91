import { describe, expect, it } from "vitest";
import { spanTokens, timelineSpans } from "./timeline";
import type { TraceTimeline } from "./types";

const columns = {
  trace: {} as TraceTimeline["trace"],
  base_time: 1_700_000_000_000_000_000,
  span_id: ["a", "b"],
  parent_span_id: [null, "a"],
  name: ["root", "llm"],
  start: [0, 1_000_000],
  end: [5_000_000, 500_000],
  status_code: [0, 2],
  status_message: [null, "boom"],
  service_name: ["svc", "svc"],
  span_type: [null, "llm"],
  model: [null, "gpt-4o"],
  input_tokens: [null, 10],
  output_tokens: [null, 5],
  total_tokens: [null, null],
  cost: [null, 0.01],
} satisfies TraceTimeline;

describe("timelineSpans", () => {
  it("turns columns into span objects with relative times", () => {
    const spans = timelineSpans(columns);
    expect(spans).toHaveLength(2);
    expect(spans[0]).toMatchObject({ span_id: "a", parent_span_id: null, start_time: 0, end_time: 5_000_000, duration_ms: 5 });
    expect(spans[1]).toMatchObject({ span_id: "b", parent_span_id: "a", status_code: 2, status_message: "boom", model: "gpt-4o" });
  });
  it("never lets a span end before it starts", () => {
    expect(timelineSpans(columns)[1]!.end_time).toBe(1_000_000);
    expect(timelineSpans(columns)[1]!.duration_ms).toBe(0);
  });
  it("counts tokens as total, else input + output", () => {
    const [root, llm] = timelineSpans(columns);
    expect(spanTokens(root!)).toBe(0);
    expect(spanTokens(llm!)).toBe(15);
  });
});
