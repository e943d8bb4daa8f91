import { describe, expect, it } from "vitest";
import { buildSpanTree, visibleRows } from "@/TracePage/TraceTimelineViewer/rowModel";
import { nextMatch, traceKeyAction } from "./keyboard";

const span = (span_id: string, parent: string | null, start: number) => ({ span_id, parent_span_id: parent, start_time: start, end_time: start + 10 });
// r ─ a ─ a1
//   └ b
const tree = buildSpanTree([span("r", null, 0), span("a", "r", 1), span("a1", "a", 2), span("b", "r", 3)]);
const open = visibleRows(tree, new Set());
const act = (key: string, cursor: string | null, rows = open) => traceKeyAction({ key }, tree, rows, cursor);

describe("traceKeyAction", () => {
  it("moves down and up through visible rows, clamped at the ends", () => {
    expect(act("j", null)).toEqual({ type: "cursor", spanId: "r" });
    expect(act("j", "a")).toEqual({ type: "cursor", spanId: "a1" });
    expect(act("ArrowDown", "b")).toEqual({ type: "cursor", spanId: "b" });
    expect(act("k", "a1")).toEqual({ type: "cursor", spanId: "a" });
    expect(act("ArrowUp", "r")).toEqual({ type: "cursor", spanId: "r" });
  });
  it("skips collapsed subtrees", () => {
    const rows = visibleRows(tree, new Set(["a"]));
    expect(act("j", "a", rows)).toEqual({ type: "cursor", spanId: "b" });
  });
  it("h collapses an open span, else goes to the parent", () => {
    expect(act("h", "a")).toEqual({ type: "collapse", spanId: "a" });
    expect(act("ArrowLeft", "a1")).toEqual({ type: "cursor", spanId: "a" });
    expect(act("h", "a", visibleRows(tree, new Set(["a"])))).toEqual({ type: "cursor", spanId: "r" });
    expect(act("h", "b")).toEqual({ type: "cursor", spanId: "r" });
  });
  it("l expands a collapsed span, else goes to the first child", () => {
    expect(act("l", "a", visibleRows(tree, new Set(["a"])))).toEqual({ type: "expand", spanId: "a" });
    expect(act("ArrowRight", "r")).toEqual({ type: "cursor", spanId: "a" });
    expect(act("l", "b")).toBeNull();
  });
  it("commands and modifiers", () => {
    expect(act("/", null)).toEqual({ type: "search" });
    expect(act("?", null)).toEqual({ type: "help" });
    expect(act("Enter", null)).toBeNull();
    expect(act("Enter", "a")).toEqual({ type: "open" });
    expect(act("Escape", "a")).toEqual({ type: "close" });
    expect(traceKeyAction({ key: "j", ctrlKey: true }, tree, open, "r")).toBeNull();
    expect(act("x", "r")).toBeNull();
  });
});

describe("nextMatch", () => {
  const matches = new Set(["a1", "b"]);
  it("finds the next match in pre-order, wrapping", () => {
    expect(nextMatch(tree, matches, null, false)).toBe("a1");
    expect(nextMatch(tree, matches, "a1", false)).toBe("b");
    expect(nextMatch(tree, matches, "b", false)).toBe("a1");
    expect(nextMatch(tree, matches, "b", true)).toBe("a1");
    expect(nextMatch(tree, matches, "a1", true)).toBe("b");
    expect(nextMatch(tree, new Set(), "r", false)).toBeNull();
  });
});
