import { describe, expect, it } from "vitest";
import { ancestorIds, barGeometry, buildSpanTree, collapseBelowDepth, toggleCollapsed, visibleRows } from "./rowModel";

const span = (span_id: string, parent: string | null, start: number, end = start + 10) => ({
  span_id,
  parent_span_id: parent,
  start_time: start,
  end_time: end,
});

// root ─┬─ a ── a1
//       └─ b      (b starts before a, so it comes first)
const spans = [span("a1", "a", 30), span("a", "root", 20, 60), span("root", null, 0, 100), span("b", "root", 10)];

describe("buildSpanTree", () => {
  it("orders pre-order by start time with depths and subtree sizes", () => {
    const tree = buildSpanTree(spans);
    expect(tree.nodes.map((n) => n.span.span_id)).toEqual(["root", "b", "a", "a1"]);
    expect(tree.nodes.map((n) => n.depth)).toEqual([0, 1, 1, 2]);
    expect(tree.nodes.map((n) => n.descendantCount)).toEqual([3, 0, 1, 0]);
    expect(tree.nodes.map((n) => n.childCount)).toEqual([2, 0, 1, 0]);
    expect(tree.nodes[3]!.parent).toBe(2);
    expect(tree.startNs).toBe(0);
    expect(tree.endNs).toBe(100);
    expect(tree.maxDepth).toBe(2);
  });

  it("makes spans with a missing parent orphan roots", () => {
    const tree = buildSpanTree([span("x", "missing", 5), span("root", null, 0)]);
    expect(tree.nodes.map((n) => [n.span.span_id, n.depth, n.orphan])).toEqual([
      ["root", 0, false],
      ["x", 0, true],
    ]);
  });

  it("keeps every span once when parents form a cycle or ids repeat", () => {
    const tree = buildSpanTree([span("p", "q", 0), span("q", "p", 1), span("q", null, 2), span("self", "self", 3)]);
    expect(tree.nodes.map((n) => n.span.span_id).sort()).toEqual(["p", "q", "self"]);
  });

  it("handles an empty trace", () => {
    const tree = buildSpanTree([]);
    expect(tree.nodes).toEqual([]);
    expect([tree.startNs, tree.endNs]).toEqual([0, 0]);
  });

  it("builds a 10,000-deep chain without recursion", () => {
    const chain = Array.from({ length: 10_000 }, (_, i) => span(`s${i}`, i ? `s${i - 1}` : null, i));
    const tree = buildSpanTree(chain);
    expect(tree.nodes[0]!.descendantCount).toBe(9_999);
    expect(tree.maxDepth).toBe(9_999);
  });
});

describe("visibleRows", () => {
  const tree = buildSpanTree(spans);
  const ids = (collapsed: Set<string>) => visibleRows(tree, collapsed).map((r) => tree.nodes[r.node]!.span.span_id);

  it("shows everything when nothing is collapsed", () => {
    expect(ids(new Set())).toEqual(["root", "b", "a", "a1"]);
  });

  it("hides a collapsed subtree but keeps its root, marked collapsed", () => {
    const rows = visibleRows(tree, new Set(["a"]));
    expect(rows.map((r) => tree.nodes[r.node]!.span.span_id)).toEqual(["root", "b", "a"]);
    expect(rows[2]).toMatchObject({ hasChildren: true, collapsed: true });
    expect(ids(new Set(["root"]))).toEqual(["root"]);
  });

  it("ignores collapsed leaves and toggles back", () => {
    expect(ids(new Set(["b"]))).toEqual(["root", "b", "a", "a1"]);
    const once = toggleCollapsed(new Set(), "a");
    expect(ids(once)).toEqual(["root", "b", "a"]);
    expect(ids(toggleCollapsed(once, "a"))).toEqual(["root", "b", "a", "a1"]);
  });

  it("collapses below a depth and lists ancestors", () => {
    expect(ids(collapseBelowDepth(tree, 2))).toEqual(["root", "b", "a"]);
    expect(ancestorIds(tree, "a1")).toEqual(["a", "root"]);
    expect(ancestorIds(tree, "nope")).toEqual([]);
  });
});

describe("barGeometry", () => {
  const tree = buildSpanTree(spans);
  it("places bars as fractions of the visible window", () => {
    const full = barGeometry(span("a", null, 20, 60), tree, 0, 1);
    expect(full.left).toBeCloseTo(0.2);
    expect(full.width).toBeCloseTo(0.4);
    const zoomed = barGeometry(span("a", null, 20, 60), tree, 0.2, 0.4);
    expect(zoomed.left).toBeCloseTo(0);
    expect(zoomed.width).toBeCloseTo(2);
    expect(barGeometry(span("z", null, 50, 50), tree, 0, 1).width).toBe(0.002);
  });
});
