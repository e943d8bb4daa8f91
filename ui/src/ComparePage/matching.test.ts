import { describe, expect, it } from "vitest";
import type { TimelineSpan } from "@/api/timeline";
import { buildSpanTree } from "@/TracePage/TraceTimelineViewer/rowModel";
import { compareTraces, pathKeys } from "./matching";
import { conversationText, diffText, isUnchanged } from "./textDiff";

const MS = 1e6;
function s(span_id: string, parent: string | null, name: string, startMs: number, endMs: number, extra: Partial<TimelineSpan> = {}): TimelineSpan {
  return {
    span_id, parent_span_id: parent, name, start_time: startMs * MS, end_time: endMs * MS, duration_ms: endMs - startMs,
    status_code: 0, status_message: null, service_name: null, span_type: null, model: null,
    input_tokens: null, output_tokens: null, total_tokens: null, cost: null, ...extra,
  };
}

describe("pathKeys", () => {
  it("keys by the path of names with a sibling index for repeats", () => {
    const tree = buildSpanTree([s("r", null, "agent", 0, 10), s("a", "r", "llm", 1, 2), s("b", "r", "tool", 2, 3), s("c", "r", "llm", 3, 4)]);
    expect(pathKeys(tree).map((k) => k.replaceAll("\u0000", "/"))).toEqual(["agent#0", "agent#0/llm#0", "agent#0/tool#0", "agent#0/llm#1"]);
  });
});

describe("compareTraces", () => {
  const A = [s("r", null, "agent", 0, 100), s("a1", "r", "llm", 0, 40, { total_tokens: 100, cost: 0.01 }), s("a2", "r", "tool", 40, 50), s("a3", "r", "llm", 50, 90, { total_tokens: 50 })];
  // B: first llm slower with more tokens, the tool call is gone, a new retriever, same second llm
  const B = [s("R", null, "agent", 0, 150), s("b1", "R", "llm", 0, 80, { total_tokens: 150, cost: 0.02 }), s("b3", "R", "llm", 80, 120, { total_tokens: 50 }), s("b4", "R", "retriever", 120, 140)];

  it("matches by path, marks added/removed/changed and keeps A's order", () => {
    const c = compareTraces(A, B);
    expect(c.rows.map((r) => [r.name, r.status, r.a?.span_id ?? null, r.b?.span_id ?? null])).toEqual([
      ["agent", "changed", "r", "R"],
      ["llm", "changed", "a1", "b1"],
      ["tool", "removed", "a2", null],
      ["llm", "same", "a3", "b3"],
      ["retriever", "added", null, "b4"],
    ]);
    expect(c.counts).toEqual({ same: 1, changed: 2, added: 1, removed: 1 });
  });

  it("computes per-span and total deltas", () => {
    const c = compareTraces(A, B);
    const llm = c.rows[1]!;
    expect(llm.durationDeltaMs).toBe(40);
    expect(llm.tokensDelta).toBe(50);
    expect(llm.costDelta).toBeCloseTo(0.01);
    expect(c.a).toMatchObject({ durationMs: 100, tokens: 150, spans: 4 });
    expect(c.b).toMatchObject({ durationMs: 150, tokens: 200, spans: 4 });
    expect(c.b.cost - c.a.cost).toBeCloseTo(0.01);
  });

  it("treats small duration moves as unchanged", () => {
    const c = compareTraces([s("r", null, "x", 0, 100)], [s("r", null, "x", 0, 110)]);
    expect(c.rows[0]!.status).toBe("same");
    expect(compareTraces([s("r", null, "x", 0, 100)], [s("r", null, "x", 0, 130)]).rows[0]!.status).toBe("changed");
  });

  it("puts a B-only subtree with its children, and handles empty traces", () => {
    const c = compareTraces([s("r", null, "x", 0, 10)], [s("r", null, "x", 0, 10), s("n", "r", "new", 1, 2), s("m", "n", "leaf", 1, 2)]);
    expect(c.rows.map((r) => [r.name, r.status, r.depth])).toEqual([["x", "same", 0], ["new", "added", 1], ["leaf", "added", 2]]);
    expect(compareTraces([], []).rows).toEqual([]);
    expect(compareTraces([], [s("r", null, "x", 0, 1)]).rows[0]!.status).toBe("added");
  });

  it("differing roots are one removed and one added", () => {
    const c = compareTraces([s("r", null, "a", 0, 1)], [s("r", null, "b", 0, 1)]);
    expect(c.rows.map((r) => r.status)).toEqual(["removed", "added"]);
  });
});

describe("diffText", () => {
  it("diffs lines", () => {
    const parts = diffText("one\ntwo\nthree\n", "one\n2\nthree\n");
    expect(parts).toEqual([
      { value: "one\n", kind: "same" },
      { value: "two\n", kind: "removed" },
      { value: "2\n", kind: "added" },
      { value: "three\n", kind: "same" },
    ]);
    expect(isUnchanged(diffText("a\n", "a\n"))).toBe(true);
  });
  it("diffs words", () => {
    const parts = diffText("the capital is Paris", "the capital is Lyon", "word");
    expect(parts.filter((p) => p.kind !== "same").map((p) => [p.kind, p.value])).toEqual([["removed", "Paris"], ["added", "Lyon"]]);
  });
  it("renders a conversation side as text", () => {
    const conv = { input: [{ role: "user", parts: [{ type: "text" as const, text: "hi" }] }], output: [], inputSource: null, outputSource: null };
    expect(conversationText(conv, "input")).toBe("user:\nhi\n");
    expect(conversationText(conv, "output")).toBe("");
    expect(conversationText(null, "input")).toBe("");
  });
});
