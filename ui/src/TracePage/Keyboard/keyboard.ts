/**
 * Keyboard navigation of a trace as a pure function (tested without a browser).
 *
 * `traceKeyAction` maps a key to what it does: moves of the cursor through the visible rows
 * (j/k, arrows), collapse/expand (h/l, arrows: collapse an open span, else go to its parent;
 * expand a closed span, else go to its first child), and commands the view carries out (search,
 * open, close, help, next match). Keys with modifiers are never taken (browser shortcuts win).
 */
import type { Row, SpanLike, SpanTree } from "@/TracePage/TraceTimelineViewer/rowModel";

export type KeyAction =
  | { type: "cursor"; spanId: string }
  | { type: "collapse"; spanId: string }
  | { type: "expand"; spanId: string }
  | { type: "search" }
  | { type: "open" }
  | { type: "close" }
  | { type: "help" }
  | { type: "nextMatch"; backwards: boolean }
  | null;

export interface KeyInput {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
}

export const SHORTCUTS: [string, string][] = [
  ["j / ↓", "Next span"],
  ["k / ↑", "Previous span"],
  ["h / ←", "Collapse, or go to the parent"],
  ["l / →", "Expand, or go to the first child"],
  ["/", "Search in this trace"],
  ["n / N", "Next / previous match"],
  ["Enter", "Open the span's detail"],
  ["Esc", "Close the detail, the search or this sheet"],
  ["?", "Show this sheet"],
];

export function traceKeyAction<S extends SpanLike>(
  ev: KeyInput,
  tree: SpanTree<S>,
  rows: readonly Row[],
  cursor: string | null,
): KeyAction {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return null;
  switch (ev.key) {
    case "/":
      return { type: "search" };
    case "?":
      return { type: "help" };
    case "Enter":
      return cursor ? { type: "open" } : null;
    case "Escape":
      return { type: "close" };
    case "n":
      return { type: "nextMatch", backwards: false };
    case "N":
      return { type: "nextMatch", backwards: true };
  }
  if (rows.length === 0) return null;
  const node = cursor !== null ? tree.index.get(cursor) : undefined;
  const rowAt = node === undefined ? -1 : rows.findIndex((r) => r.node === node);
  const idAt = (row: number) => tree.nodes[rows[row]!.node]!.span.span_id;
  switch (ev.key) {
    case "j":
    case "ArrowDown":
      return { type: "cursor", spanId: idAt(rowAt < 0 ? 0 : Math.min(rows.length - 1, rowAt + 1)) };
    case "k":
    case "ArrowUp":
      return { type: "cursor", spanId: idAt(rowAt < 0 ? 0 : Math.max(0, rowAt - 1)) };
    case "h":
    case "ArrowLeft": {
      if (rowAt < 0) return { type: "cursor", spanId: idAt(0) };
      const row = rows[rowAt]!;
      if (row.hasChildren && !row.collapsed) return { type: "collapse", spanId: idAt(rowAt) };
      const parent = tree.nodes[row.node]!.parent;
      return parent >= 0 ? { type: "cursor", spanId: tree.nodes[parent]!.span.span_id } : null;
    }
    case "l":
    case "ArrowRight": {
      if (rowAt < 0) return { type: "cursor", spanId: idAt(0) };
      const row = rows[rowAt]!;
      if (row.collapsed) return { type: "expand", spanId: idAt(rowAt) };
      if (row.hasChildren) return { type: "cursor", spanId: tree.nodes[row.node + 1]!.span.span_id };
      return null;
    }
  }
  return null;
}

/** The next (or previous) matching span after `cursor` in pre-order, wrapping around. */
export function nextMatch<S extends SpanLike>(tree: SpanTree<S>, matches: ReadonlySet<string>, cursor: string | null, backwards: boolean): string | null {
  const n = tree.nodes.length;
  if (n === 0 || matches.size === 0) return null;
  const at = cursor !== null ? (tree.index.get(cursor) ?? -1) : -1;
  for (let step = 1; step <= n; step++) {
    const i = backwards ? (((at < 0 ? 0 : at) - step) % n + n) % n : (at + step) % n;
    const id = tree.nodes[i]!.span.span_id;
    if (matches.has(id)) return id;
  }
  return null;
}
