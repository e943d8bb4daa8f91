/**
 * Trace comparison as pure functions (tested without a browser).
 *
 * Spans of two traces are matched by their path of names from the root, with a sibling index for
 * repeats: the second `llm.call` under `agent/step` is `agent#0/step#0/llm.call#1` in both traces.
 * The merged result is one pre-order list: A's order first, B-only spans placed after the A
 * children of the same parent. Each row is `same`, `changed` (duration moved by more than the
 * threshold, or tokens, cost, model or status differ), `added` (only in B) or `removed` (only in A).
 */
import { spanTokens, type TimelineSpan } from "@/api/timeline";
import { buildSpanTree, type SpanTree } from "@/TracePage/TraceTimelineViewer/rowModel";

export type MatchStatus = "same" | "changed" | "added" | "removed";

export interface MatchRow {
  key: string;
  name: string;
  depth: number;
  a: TimelineSpan | null;
  b: TimelineSpan | null;
  status: MatchStatus;
  /** b − a; null when one side is missing. */
  durationDeltaMs: number | null;
  tokensDelta: number | null;
  costDelta: number | null;
}

export interface Totals {
  durationMs: number;
  tokens: number;
  cost: number;
  spans: number;
}

export interface Comparison {
  rows: MatchRow[];
  a: Totals;
  b: Totals;
  counts: Record<MatchStatus, number>;
}

export interface CompareOptions {
  /** A duration change counts when |Δ| exceeds both this fraction of A's duration and `minDeltaMs`. */
  relativeThreshold: number;
  minDeltaMs: number;
}

const DEFAULTS: CompareOptions = { relativeThreshold: 0.2, minDeltaMs: 1 };

/** Path keys of every node of a tree, index-aligned with `tree.nodes` (pre-order). */
export function pathKeys(tree: SpanTree<TimelineSpan>): string[] {
  const keys: string[] = new Array(tree.nodes.length);
  // per parent node (-1: the roots), how many children of each name were seen so far
  const seen = new Map<number, Map<string, number>>();
  tree.nodes.forEach((node, i) => {
    let names = seen.get(node.parent);
    if (!names) seen.set(node.parent, (names = new Map()));
    const k = names.get(node.span.name) ?? 0;
    names.set(node.span.name, k + 1);
    const own = `${node.span.name}#${k}`;
    keys[i] = node.parent < 0 ? own : `${keys[node.parent]}\u0000${own}`;
  });
  return keys;
}

function totals(spans: readonly TimelineSpan[]): Totals {
  let start = Infinity;
  let end = -Infinity;
  let tokens = 0;
  let cost = 0;
  for (const s of spans) {
    start = Math.min(start, s.start_time);
    end = Math.max(end, s.end_time);
    tokens += spanTokens(s);
    cost += s.cost ?? 0;
  }
  return { durationMs: spans.length ? (end - start) / 1e6 : 0, tokens, cost, spans: spans.length };
}

function rowStatus(a: TimelineSpan, b: TimelineSpan, opt: CompareOptions): MatchStatus {
  const d = Math.abs(b.duration_ms - a.duration_ms);
  if (d > opt.minDeltaMs && d > opt.relativeThreshold * a.duration_ms) return "changed";
  if (spanTokens(a) !== spanTokens(b)) return "changed";
  if (Math.abs((a.cost ?? 0) - (b.cost ?? 0)) > 1e-12) return "changed";
  if ((a.model ?? null) !== (b.model ?? null) || a.status_code !== b.status_code) return "changed";
  return "same";
}

export function compareTraces(a: readonly TimelineSpan[], b: readonly TimelineSpan[], options: Partial<CompareOptions> = {}): Comparison {
  const opt = { ...DEFAULTS, ...options };
  const ta = buildSpanTree(a);
  const tb = buildSpanTree(b);
  const ka = pathKeys(ta);
  const kb = pathKeys(tb);
  const bIndex = new Map<string, number>();
  kb.forEach((k, i) => {
    if (!bIndex.has(k)) bIndex.set(k, i);
  });
  const aKeys = new Set(ka);

  // B-only nodes, grouped under the key of their nearest parent (or "" for roots).
  const bOnlyUnder = new Map<string, number[]>();
  tb.nodes.forEach((node, i) => {
    if (aKeys.has(kb[i]!)) return;
    if (node.parent >= 0 && !aKeys.has(kb[node.parent]!)) return; // emitted with its B-only parent
    const parentKey = node.parent >= 0 ? kb[node.parent]! : "";
    let list = bOnlyUnder.get(parentKey);
    if (!list) bOnlyUnder.set(parentKey, (list = []));
    list.push(i);
  });

  const rows: MatchRow[] = [];
  const counts: Record<MatchStatus, number> = { same: 0, changed: 0, added: 0, removed: 0 };
  const emit = (row: MatchRow) => {
    rows.push(row);
    counts[row.status]++;
  };
  const emitBSubtree = (root: number) => {
    const end = root + tb.nodes[root]!.descendantCount;
    for (let i = root; i <= end; i++) {
      const n = tb.nodes[i]!;
      emit({ key: kb[i]!, name: n.span.name, depth: n.depth, a: null, b: n.span, status: "added", durationDeltaMs: null, tokensDelta: null, costDelta: null });
    }
  };
  const flushAdded = (parentKey: string) => {
    for (const i of bOnlyUnder.get(parentKey) ?? []) emitBSubtree(i);
  };

  // Walk A in pre-order; after the last descendant of a node, emit B-only children of that node.
  const closing: number[] = []; // stack of A node indices whose subtree is still open
  const closeUntil = (depth: number) => {
    while (closing.length && ta.nodes[closing[closing.length - 1]!]!.depth >= depth) flushAdded(ka[closing.pop()!]!);
  };
  ta.nodes.forEach((node, i) => {
    closeUntil(node.depth);
    const key = ka[i]!;
    const j = bIndex.get(key);
    const sa = node.span;
    if (j === undefined) {
      emit({ key, name: sa.name, depth: node.depth, a: sa, b: null, status: "removed", durationDeltaMs: null, tokensDelta: null, costDelta: null });
    } else {
      const sb = tb.nodes[j]!.span;
      emit({
        key,
        name: sa.name,
        depth: node.depth,
        a: sa,
        b: sb,
        status: rowStatus(sa, sb, opt),
        durationDeltaMs: sb.duration_ms - sa.duration_ms,
        tokensDelta: spanTokens(sb) - spanTokens(sa),
        costDelta: (sb.cost ?? 0) - (sa.cost ?? 0),
      });
    }
    closing.push(i);
  });
  closeUntil(0);
  flushAdded("");
  return { rows, a: totals(a), b: totals(b), counts };
}
