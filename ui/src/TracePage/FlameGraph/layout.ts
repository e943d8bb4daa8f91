/**
 * Flame graph (icicle) layout as pure functions, tested without a browser.
 *
 * Depth grows downwards; a span's width is proportional to its duration. Children are packed
 * left to right from their parent's left edge in start order, so parallel children never overlap;
 * when children together last longer than their parent (they ran in parallel), they are scaled
 * down together to fit inside it. Roots are packed the same way across the full width. Positions
 * are fractions of the full width (0..1). Assumes `tree.nodes` is in pre-order (rowModel).
 */
import type { SpanLike, SpanTree } from "@/TracePage/TraceTimelineViewer/rowModel";

export interface FlameRect {
  /** Index into `tree.nodes`. */
  node: number;
  depth: number;
  x0: number;
  x1: number;
}

export interface FlameLayout {
  rects: FlameRect[];
  /** Rects of each depth, ordered by x0 (for hit testing). */
  byDepth: FlameRect[][];
  maxDepth: number;
}

/** The horizontal window shown: [x0, x1] of the full width. */
export interface FlameView {
  x0: number;
  x1: number;
}

const dur = (s: SpanLike) => Math.max(0, s.end_time - s.start_time);

export function flameLayout<S extends SpanLike>(tree: SpanTree<S>): FlameLayout {
  const nodes = tree.nodes;
  const n = nodes.length;
  const rects: FlameRect[] = new Array(n);
  // Per node: the scale (width per ns) its children use, and the next free x for a child.
  const childScale = new Float64Array(n);
  const cursor = new Float64Array(n);
  const childSum = new Float64Array(n);
  let rootSum = 0;
  for (let i = 0; i < n; i++) {
    const p = nodes[i]!.parent;
    if (p >= 0) childSum[p]! += dur(nodes[i]!.span);
    else rootSum += dur(nodes[i]!.span);
  }
  const rootScale = rootSum > 0 ? 1 / rootSum : 0;
  let rootCursor = 0;
  let maxDepth = 0;
  for (let i = 0; i < n; i++) {
    const node = nodes[i]!;
    const p = node.parent;
    const d = dur(node.span);
    let x0: number;
    let scale: number;
    if (p < 0) {
      scale = rootScale;
      x0 = rootCursor;
      rootCursor += d * scale;
    } else {
      scale = childScale[p]!;
      x0 = cursor[p]!;
      cursor[p] = x0 + d * scale;
    }
    const x1 = x0 + d * scale;
    rects[i] = { node: i, depth: node.depth, x0, x1 };
    cursor[i] = x0;
    const sum = childSum[i]!;
    childScale[i] = sum > d && sum > 0 ? (scale * d) / sum : scale;
    if (node.depth > maxDepth) maxDepth = node.depth;
  }
  const byDepth: FlameRect[][] = Array.from({ length: n ? maxDepth + 1 : 0 }, () => []);
  for (const r of rects) byDepth[r.depth]!.push(r);
  for (const list of byDepth) list.sort((a, b) => a.x0 - b.x0 || a.node - b.node);
  return { rects, byDepth, maxDepth };
}

/** The view that fills the width with `rect` (zoom on click); a zero-width rect keeps a sliver. */
export function zoomTo(rect: FlameRect): FlameView {
  const w = rect.x1 - rect.x0;
  if (w > 0) return { x0: rect.x0, x1: rect.x1 };
  return { x0: Math.max(0, rect.x0 - 1e-6), x1: Math.min(1, rect.x0 + 1e-6) };
}

/** The rect under fraction `x` (of the full width) at `depth`, or null. Binary search. */
export function hitTest(layout: FlameLayout, x: number, depth: number): FlameRect | null {
  const list = layout.byDepth[depth];
  if (!list || list.length === 0) return null;
  let lo = 0;
  let hi = list.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.x0 <= x) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Zero-width rects share an x0 with their neighbour: scan back to one that contains x.
  for (let k = found; k >= 0 && k > found - 8; k--) {
    const r = list[k]!;
    if (r.x0 <= x && x <= r.x1) return r;
  }
  return null;
}

export type FlameColorBy = "duration" | "self" | "tokens" | "cost";

/** 0..1 → a colour from cool (low) to hot (high); `t` outside 0..1 is clamped. */
export function heatColor(t: number): string {
  const v = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  const hue = 210 - 200 * v; // blue → orange-red
  const light = 62 - 12 * v;
  return `hsl(${hue.toFixed(0)} 75% ${light.toFixed(0)}%)`;
}

/** Each value divided by the largest (all zeros when the largest is not positive). */
export function normalise(values: ArrayLike<number>): Float64Array {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! > max) max = values[i]!;
  const out = new Float64Array(values.length);
  if (max > 0) for (let i = 0; i < values.length; i++) out[i] = Math.max(0, values[i]!) / max;
  return out;
}
