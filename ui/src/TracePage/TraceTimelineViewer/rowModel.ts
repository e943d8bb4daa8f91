/**
 * The waterfall's row model, as pure functions (no React, no DOM) so it is tested without a browser.
 *
 * `buildSpanTree` turns a trace's spans (any order) into one pre-order (DFS) array: every node is
 * followed by its whole subtree, so a subtree is the contiguous slice
 * `[i + 1, i + 1 + descendantCount)`. Children are ordered by start time (ties keep input order).
 * Spans whose parent is missing (not arrived yet, or dropped) become roots marked `orphan`; a
 * malformed parent cycle is broken by promoting one member to a root, so every span appears
 * exactly once. Duplicate span ids keep the first occurrence. Building is O(n log n) and iterative
 * (no recursion), so a 10,000-deep chain works.
 *
 * `visibleRows` walks that array once and jumps over collapsed subtrees, so it costs
 * O(visible rows + collapsed nodes), not O(spans).
 */

export interface SpanLike {
  span_id: string;
  parent_span_id?: string | null;
  start_time: number;
  end_time: number;
}

export interface TreeNode<S extends SpanLike> {
  span: S;
  depth: number;
  /** Index of the parent node in `nodes`, -1 for a root. */
  parent: number;
  childCount: number;
  descendantCount: number;
  /** The span names a parent that is not in the trace. */
  orphan: boolean;
}

export interface SpanTree<S extends SpanLike> {
  /** Pre-order: each node precedes its subtree. */
  nodes: TreeNode<S>[];
  /** span_id → index in `nodes`. */
  index: Map<string, number>;
  /** Earliest start and latest end over all spans (ns); 0/0 for an empty trace. */
  startNs: number;
  endNs: number;
  maxDepth: number;
}

export interface Row {
  /** Index into `SpanTree.nodes`. */
  node: number;
  depth: number;
  hasChildren: boolean;
  collapsed: boolean;
}

export function buildSpanTree<S extends SpanLike>(spans: readonly S[]): SpanTree<S> {
  const byId = new Map<string, number>();
  const unique: S[] = [];
  for (const span of spans) {
    if (byId.has(span.span_id)) continue;
    byId.set(span.span_id, unique.length);
    unique.push(span);
  }
  const n = unique.length;
  const children: number[][] = Array.from({ length: n }, () => []);
  const roots: number[] = [];
  const orphan = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const parentId = unique[i]!.parent_span_id;
    const p = parentId ? byId.get(parentId) : undefined;
    if (p === undefined || p === i) {
      roots.push(i);
      if (parentId && p === undefined) orphan[i] = 1;
    } else {
      children[p]!.push(i);
    }
  }
  const byStart = (a: number, b: number) => unique[a]!.start_time - unique[b]!.start_time || a - b;
  roots.sort(byStart);
  for (const list of children) if (list.length > 1) list.sort(byStart);

  const nodes: TreeNode<S>[] = [];
  const index = new Map<string, number>();
  const visited = new Uint8Array(n);
  let maxDepth = 0;

  const walk = (root: number) => {
    // Iterative pre-order DFS; `stack` holds [input index, depth, parent node index].
    const stack: [number, number, number][] = [[root, 0, -1]];
    while (stack.length) {
      const [i, depth, parent] = stack.pop()!;
      if (visited[i]) continue;
      visited[i] = 1;
      const at = nodes.length;
      const kids = children[i]!;
      nodes.push({ span: unique[i]!, depth, parent, childCount: 0, descendantCount: 0, orphan: orphan[i] === 1 });
      index.set(unique[i]!.span_id, at);
      if (parent >= 0) nodes[parent]!.childCount++;
      if (depth > maxDepth) maxDepth = depth;
      for (let k = kids.length - 1; k >= 0; k--) stack.push([kids[k]!, depth + 1, at]);
    }
  };
  for (const r of roots) walk(r);
  // Spans only reachable through a parent cycle: promote the earliest unvisited one and repeat.
  for (const i of Array.from({ length: n }, (_, k) => k).sort(byStart)) {
    if (!visited[i]) walk(i);
  }

  // Pre-order: every node comes after its parent, so one reverse pass sums subtree sizes.
  for (let k = nodes.length - 1; k > 0; k--) {
    const node = nodes[k]!;
    if (node.parent >= 0) nodes[node.parent]!.descendantCount += node.descendantCount + 1;
  }

  let startNs = Infinity;
  let endNs = -Infinity;
  for (const s of unique) {
    if (s.start_time < startNs) startNs = s.start_time;
    if (s.end_time > endNs) endNs = s.end_time;
  }
  if (n === 0) startNs = endNs = 0;
  return { nodes, index, startNs, endNs: Math.max(endNs, startNs), maxDepth };
}

/**
 * The rows to draw: the pre-order nodes minus the subtrees of collapsed spans. A collapsed span
 * itself stays visible (with `collapsed: true`); ids in `collapsed` without children are ignored.
 */
export function visibleRows<S extends SpanLike>(tree: SpanTree<S>, collapsed: ReadonlySet<string>): Row[] {
  const rows: Row[] = [];
  const nodes = tree.nodes;
  let i = 0;
  while (i < nodes.length) {
    const node = nodes[i]!;
    const hasChildren = node.childCount > 0;
    const isCollapsed = hasChildren && collapsed.has(node.span.span_id);
    rows.push({ node: i, depth: node.depth, hasChildren, collapsed: isCollapsed });
    i += isCollapsed ? node.descendantCount + 1 : 1;
  }
  return rows;
}

/** Span ids of a node's ancestors, nearest first (to expand the path to a selected span). */
export function ancestorIds<S extends SpanLike>(tree: SpanTree<S>, spanId: string): string[] {
  const out: string[] = [];
  let i = tree.index.get(spanId);
  if (i === undefined) return out;
  let p = tree.nodes[i]!.parent;
  while (p >= 0) {
    out.push(tree.nodes[p]!.span.span_id);
    p = tree.nodes[p]!.parent;
  }
  return out;
}

/** The collapsed set that shows only the first `depth` levels (depth 1: roots only). */
export function collapseBelowDepth<S extends SpanLike>(tree: SpanTree<S>, depth: number): Set<string> {
  const out = new Set<string>();
  for (const node of tree.nodes) {
    if (node.depth >= depth - 1 && node.childCount > 0) out.add(node.span.span_id);
  }
  return out;
}

/** Returns a new set with `spanId` toggled. */
export function toggleCollapsed(collapsed: ReadonlySet<string>, spanId: string): Set<string> {
  const next = new Set(collapsed);
  if (next.has(spanId)) next.delete(spanId);
  else next.add(spanId);
  return next;
}

/**
 * A span's bar as fractions of the visible window [viewStart, viewEnd] (both 0..1 of the trace).
 * `left`/`width` may fall outside 0..1 when the bar is partly off screen; `width` is at least
 * `minWidth` so zero-length spans stay visible.
 */
export function barGeometry(
  span: SpanLike,
  tree: Pick<SpanTree<SpanLike>, "startNs" | "endNs">,
  viewStart: number,
  viewEnd: number,
  minWidth = 0.002,
): { left: number; width: number } {
  const total = tree.endNs - tree.startNs || 1;
  const viewSpan = viewEnd - viewStart || 1;
  const s = (span.start_time - tree.startNs) / total;
  const e = (span.end_time - tree.startNs) / total;
  return { left: (s - viewStart) / viewSpan, width: Math.max(minWidth, (e - s) / viewSpan) };
}
