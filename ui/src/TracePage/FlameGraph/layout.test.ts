import { describe, expect, it } from "vitest";
import { buildSpanTree } from "@/TracePage/TraceTimelineViewer/rowModel";
import { flameLayout, heatColor, hitTest, normalise, zoomTo } from "./layout";

const span = (span_id: string, parent: string | null, start: number, end: number) => ({ span_id, parent_span_id: parent, start_time: start, end_time: end });

function rectsOf(spans: ReturnType<typeof span>[]) {
  const tree = buildSpanTree(spans);
  const layout = flameLayout(tree);
  const byId = new Map(layout.rects.map((r) => [tree.nodes[r.node]!.span.span_id, r]));
  return { tree, layout, byId };
}

describe("flameLayout", () => {
  it("sizes children by duration, packed from the parent's left edge", () => {
    const { byId, layout } = rectsOf([span("r", null, 0, 100), span("a", "r", 50, 75), span("b", "r", 10, 20)]);
    expect(byId.get("r")).toMatchObject({ depth: 0, x0: 0, x1: 1 });
    // b starts first, so it is packed first
    expect(byId.get("b")).toMatchObject({ depth: 1, x0: 0, x1: 0.1 });
    expect(byId.get("a")!.x0).toBeCloseTo(0.1);
    expect(byId.get("a")!.x1).toBeCloseTo(0.35);
    expect(layout.maxDepth).toBe(1);
  });

  it("scales parallel children that outlast their parent to fit inside it", () => {
    const { byId } = rectsOf([span("r", null, 0, 100), span("a", "r", 0, 100), span("b", "r", 0, 100)]);
    expect(byId.get("a")).toMatchObject({ x0: 0, x1: 0.5 });
    expect(byId.get("b")).toMatchObject({ x0: 0.5, x1: 1 });
  });

  it("keeps grandchildren inside their scaled parent", () => {
    const { byId } = rectsOf([span("r", null, 0, 100), span("a", "r", 0, 100), span("b", "r", 0, 100), span("c", "b", 0, 50)]);
    expect(byId.get("c")!.x0).toBeCloseTo(0.5);
    expect(byId.get("c")!.x1).toBeCloseTo(0.75);
  });

  it("packs several roots across the full width by duration", () => {
    const { byId } = rectsOf([span("r1", null, 0, 30), span("r2", null, 100, 190)]);
    expect(byId.get("r1")).toMatchObject({ x0: 0, x1: 0.25 });
    expect(byId.get("r2")).toMatchObject({ x0: 0.25, x1: 1 });
  });

  it("handles an empty trace and zero-length spans", () => {
    expect(flameLayout(buildSpanTree([])).rects).toEqual([]);
    const { byId } = rectsOf([span("r", null, 5, 5)]);
    expect(byId.get("r")).toMatchObject({ x0: 0, x1: 0 });
  });
});

describe("hitTest and zoom", () => {
  it("finds the rect under a point at a depth", () => {
    const { layout, tree } = rectsOf([span("r", null, 0, 100), span("a", "r", 0, 40), span("b", "r", 40, 100)]);
    const id = (x: number, d: number) => {
      const r = hitTest(layout, x, d);
      return r ? tree.nodes[r.node]!.span.span_id : null;
    };
    expect(id(0.5, 0)).toBe("r");
    expect(id(0.2, 1)).toBe("a");
    expect(id(0.7, 1)).toBe("b");
    expect(id(0.7, 2)).toBeNull();
  });

  it("zooms to a rect's extent", () => {
    expect(zoomTo({ node: 0, depth: 1, x0: 0.2, x1: 0.4 })).toEqual({ x0: 0.2, x1: 0.4 });
    const sliver = zoomTo({ node: 0, depth: 1, x0: 0.3, x1: 0.3 });
    expect(sliver.x1).toBeGreaterThan(sliver.x0);
  });
});

describe("colours", () => {
  it("normalises by the largest value", () => {
    expect(Array.from(normalise([0, 5, 10]))).toEqual([0, 0.5, 1]);
    expect(Array.from(normalise([0, 0]))).toEqual([0, 0]);
  });
  it("maps low to blue and high to red-orange", () => {
    expect(heatColor(0)).toBe("hsl(210 75% 62%)");
    expect(heatColor(1)).toBe("hsl(10 75% 50%)");
    expect(heatColor(5)).toBe(heatColor(1));
  });
});
