/**
 * Critical path and self time over a span tree (pure; tested without a browser).
 *
 * The critical path is the chain of work that determines the trace's end-to-end latency, found
 * the way Jaeger does: start at the root's end, step into the child that finished last, and when a
 * span has no (earlier-finishing) child left, its own time up to the returning point is critical
 * and the walk resumes in its parent just before the span started. Children are first clipped to
 * their parent's interval (a child running past its parent only counts inside it; one wholly
 * outside is ignored). With several roots, the root that ends last is walked.
 *
 * Self time is a span's duration minus the union of its (clipped) children's intervals.
 */
import type { SpanLike, SpanTree } from "@/TracePage/TraceTimelineViewer/rowModel";

export interface CriticalSection {
  /** Index into `tree.nodes`. */
  node: number;
  /** ns, in the spans' time base; start <= end. */
  start: number;
  end: number;
}

export interface CriticalPath {
  /** Latest section first (the walk's order). */
  sections: CriticalSection[];
  /** span_id → critical ns inside that span. */
  byId: Map<string, number>;
}

/** Per node: [start, end] clipped to its parent's clipped interval; null when wholly outside. */
function clippedIntervals<S extends SpanLike>(tree: SpanTree<S>): ([number, number] | null)[] {
  const out: ([number, number] | null)[] = new Array(tree.nodes.length);
  tree.nodes.forEach((n, i) => {
    const s = n.span.start_time;
    const e = Math.max(s, n.span.end_time);
    if (n.parent < 0) {
      out[i] = [s, e];
      return;
    }
    const p = out[n.parent];
    if (!p || s > p[1] || e < p[0]) {
      out[i] = null;
      return;
    }
    out[i] = [Math.max(s, p[0]), Math.min(e, p[1])];
  });
  return out;
}

function childIndices<S extends SpanLike>(tree: SpanTree<S>): number[][] {
  const kids: number[][] = tree.nodes.map(() => []);
  tree.nodes.forEach((n, i) => {
    if (n.parent >= 0) kids[n.parent]!.push(i);
  });
  return kids;
}

export function criticalPath<S extends SpanLike>(tree: SpanTree<S>): CriticalPath {
  const sections: CriticalSection[] = [];
  const byId = new Map<string, number>();
  if (tree.nodes.length === 0) return { sections, byId };
  const iv = clippedIntervals(tree);
  const kids = childIndices(tree);
  // Children by end time, latest first (ties: the later start first, then pre-order).
  const sorted = kids.map((list) =>
    list.filter((k) => iv[k] !== null).sort((a, b) => iv[b]![1] - iv[a]![1] || iv[b]![0] - iv[a]![0] || a - b),
  );
  let root = -1;
  tree.nodes.forEach((n, i) => {
    if (n.parent < 0 && (root < 0 || iv[i]![1] > iv[root]![1])) root = i;
  });

  const push = (node: number, start: number, end: number) => {
    if (end <= start) return;
    sections.push({ node, start, end });
    const id = tree.nodes[node]!.span.span_id;
    byId.set(id, (byId.get(id) ?? 0) + (end - start));
  };
  let cur = root;
  let ret: number | undefined; // start of the child the walk returned from
  for (;;) {
    const [cs, ce] = iv[cur]!;
    const limit = ret ?? ce;
    const child = sorted[cur]!.find((k) => (ret === undefined ? true : iv[k]![1] < ret));
    if (child !== undefined) {
      const childEnd = iv[child]![1];
      if (childEnd < limit) push(cur, childEnd, limit);
      cur = child;
      ret = undefined;
      continue;
    }
    push(cur, cs, limit);
    if (cur === root) break;
    ret = cs;
    cur = tree.nodes[cur]!.parent;
  }
  return { sections, byId };
}

/** Self time (ns) of every node: its clipped duration minus the union of its children's. */
export function selfTimes<S extends SpanLike>(tree: SpanTree<S>): Float64Array {
  const iv = clippedIntervals(tree);
  const kids = childIndices(tree);
  const out = new Float64Array(tree.nodes.length);
  tree.nodes.forEach((_, i) => {
    const own = iv[i];
    if (!own) return;
    const list = kids[i]!.map((k) => iv[k]).filter((x): x is [number, number] => x !== null);
    list.sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let runStart = -Infinity;
    let runEnd = -Infinity;
    for (const [s, e] of list) {
      if (s > runEnd) {
        if (runEnd > runStart) covered += runEnd - runStart;
        runStart = s;
        runEnd = e;
      } else if (e > runEnd) runEnd = e;
    }
    if (runEnd > runStart) covered += runEnd - runStart;
    out[i] = own[1] - own[0] - covered;
  });
  return out;
}
