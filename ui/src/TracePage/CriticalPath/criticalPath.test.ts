import { describe, expect, it } from "vitest";
import { buildSpanTree } from "@/TracePage/TraceTimelineViewer/rowModel";
import { criticalPath, selfTimes } from "./criticalPath";

const span = (span_id: string, parent: string | null, start: number, end: number) => ({ span_id, parent_span_id: parent, start_time: start, end_time: end });

function path(spans: ReturnType<typeof span>[]) {
  const tree = buildSpanTree(spans);
  const cp = criticalPath(tree);
  return { tree, cp, sections: cp.sections.map((s) => [tree.nodes[s.node]!.span.span_id, s.start, s.end]) };
}

describe("criticalPath", () => {
  it("a lone span is entirely critical", () => {
    expect(path([span("r", null, 0, 10)]).sections).toEqual([["r", 0, 10]]);
  });

  it("sequential children: each child and the gaps in the parent", () => {
    // r 0..100; a 10..40; b 50..90
    const { sections, cp } = path([span("r", null, 0, 100), span("a", "r", 10, 40), span("b", "r", 50, 90)]);
    expect(sections).toEqual([
      ["r", 90, 100],
      ["b", 50, 90],
      ["r", 40, 50],
      ["a", 10, 40],
      ["r", 0, 10],
    ]);
    expect(cp.byId.get("r")).toBe(30);
  });

  it("parallel children: only the last-finishing one, then what ends before it starts", () => {
    // a 0..80 and b 10..60 overlap; a finishes last; b ends after a starts, so it is not critical
    const { sections } = path([span("r", null, 0, 100), span("a", "r", 0, 80), span("b", "r", 10, 60)]);
    expect(sections).toEqual([
      ["r", 80, 100],
      ["a", 0, 80],
    ]);
  });

  it("descends through nested last-finishing children", () => {
    const { sections } = path([span("r", null, 0, 100), span("a", "r", 0, 100), span("x", "a", 20, 70), span("y", "a", 0, 10)]);
    expect(sections).toEqual([
      ["a", 70, 100],
      ["x", 20, 70],
      ["a", 10, 20],
      ["y", 0, 10],
    ]);
  });

  it("clips a child that runs past its parent", () => {
    const { sections } = path([span("r", null, 0, 50), span("a", "r", 10, 80)]);
    expect(sections).toEqual([
      ["a", 10, 50],
      ["r", 0, 10],
    ]);
  });

  it("ignores a child wholly outside its parent", () => {
    const { sections } = path([span("r", null, 0, 50), span("late", "r", 60, 70)]);
    expect(sections).toEqual([["r", 0, 50]]);
  });

  it("is empty for an empty trace and handles 10,000-deep chains", () => {
    expect(criticalPath(buildSpanTree([])).sections).toEqual([]);
    const chain = Array.from({ length: 10_000 }, (_, i) => span(`s${i}`, i ? `s${i - 1}` : null, i, 20_000 - i));
    const { cp } = path(chain);
    expect(cp.byId.size).toBe(10_000);
  });
});

describe("selfTimes", () => {
  it("subtracts the union of children, not their sum", () => {
    const tree = buildSpanTree([span("r", null, 0, 100), span("a", "r", 10, 50), span("b", "r", 30, 60), span("c", "r", 80, 120)]);
    const self = selfTimes(tree);
    const at = (id: string) => self[tree.index.get(id)!];
    expect(at("r")).toBe(100 - 50 - 20); // union 10..60 and 80..100 (c clipped)
    expect(at("a")).toBe(40);
    expect(at("c")).toBe(20);
  });
});
