/**
 * /compare?a=<trace id>&b=<trace id> — two traces side by side, spans matched by their path of
 * names (matching.ts). Rows are coloured by status (changed, added, removed) with per-span deltas
 * and totals; selecting a matched LLM span diffs its prompts and completions (LlmDiff).
 */
import { useVirtualizer } from "@tanstack/react-virtual";
import { useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useTimeline } from "@/api/queries";
import { ErrorState, EmptyState, Skeleton } from "@/components/States";
import { formatCost, formatDuration, formatInt } from "@/lib/format";
import { LlmDiff } from "./LlmDiff";
import { type MatchRow, type MatchStatus, compareTraces } from "./matching";
import "./ComparePage.css";

const ROW_HEIGHT = 28;

function signed(v: number | null, format: (x: number) => string): string {
  if (v === null) return "";
  if (v === 0) return "±0";
  return `${v > 0 ? "+" : "−"}${format(Math.abs(v))}`;
}

const STATUS_LABEL: Record<MatchStatus, string> = { same: "same", changed: "changed", added: "only in B", removed: "only in A" };

export function ComparePage() {
  const [params, setParams] = useSearchParams();
  const a = params.get("a") ?? "";
  const b = params.get("b") ?? "";
  const ta = useTimeline(a);
  const tb = useTimeline(b);
  const [onlyDiffs, setOnlyDiffs] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const comparison = useMemo(() => (ta.data && tb.data ? compareTraces(ta.data.spans, tb.data.spans) : null), [ta.data, tb.data]);
  const rows = useMemo(() => (comparison ? (onlyDiffs ? comparison.rows.filter((r) => r.status !== "same") : comparison.rows) : []), [comparison, onlyDiffs]);
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({ count: rows.length, getScrollElement: () => scrollRef.current, estimateSize: () => ROW_HEIGHT, overscan: 12 });

  if (!a || !b) {
    return <EmptyState title="Pick two traces to compare" hint="Tick two traces in the trace list and press Compare, or open /compare?a=<trace id>&b=<trace id>." />;
  }
  if (ta.isError) return <ErrorState error={ta.error} />;
  if (tb.isError) return <ErrorState error={tb.error} />;
  if (!ta.data || !tb.data || !comparison) return <Skeleton rows={12} />;
  const selectedRow = rows.find((r) => r.key === selected) ?? null;
  const totals = [
    ["Duration", formatDuration(comparison.a.durationMs), formatDuration(comparison.b.durationMs), signed(comparison.b.durationMs - comparison.a.durationMs, formatDuration)],
    ["Spans", formatInt(comparison.a.spans), formatInt(comparison.b.spans), signed(comparison.b.spans - comparison.a.spans, formatInt)],
    ["Tokens", formatInt(comparison.a.tokens), formatInt(comparison.b.tokens), signed(comparison.b.tokens - comparison.a.tokens, formatInt)],
    ["Cost", formatCost(comparison.a.cost), formatCost(comparison.b.cost), signed(comparison.b.cost - comparison.a.cost, formatCost)],
  ];

  return (
    <div className="compare-page" data-testid="compare-page">
      <header className="panel compare-head">
        <div className="compare-titles">
          <div>
            <span className="badge">A</span> <Link to={`/traces/${a}`}>{ta.data.trace.root_span_name ?? a}</Link> <span className="mono muted">{a.slice(0, 12)}</span>
          </div>
          <div>
            <span className="badge">B</span> <Link to={`/traces/${b}`}>{tb.data.trace.root_span_name ?? b}</Link> <span className="mono muted">{b.slice(0, 12)}</span>
          </div>
          <button type="button" className="btn btn-small" onClick={() => setParams({ a: b, b: a }, { replace: true })}>
            Swap A and B
          </button>
        </div>
        <table className="compare-totals" data-testid="compare-totals">
          <thead>
            <tr>
              <th />
              <th>A</th>
              <th>B</th>
              <th>Δ (B − A)</th>
            </tr>
          </thead>
          <tbody>
            {totals.map(([label, va, vb, d]) => (
              <tr key={label}>
                <th>{label}</th>
                <td>{va}</td>
                <td>{vb}</td>
                <td className="delta">{d}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="compare-counts" data-testid="compare-counts">
          <span className="cmp-chip cmp-changed">{comparison.counts.changed} changed</span>
          <span className="cmp-chip cmp-added">{comparison.counts.added} only in B</span>
          <span className="cmp-chip cmp-removed">{comparison.counts.removed} only in A</span>
          <span className="cmp-chip">{comparison.counts.same} same</span>
          <label className="trace-toggle">
            <input type="checkbox" checked={onlyDiffs} onChange={(e) => setOnlyDiffs(e.target.checked)} /> Only differences
          </label>
        </div>
      </header>
      <div className={`compare-main${selectedRow ? " with-detail" : ""}`}>
        <div className="panel compare-table" role="table" aria-label="Matched spans">
          <div className="cmp-row cmp-head" role="row">
            <div>Span</div>
            <div className="num">A</div>
            <div className="num">B</div>
            <div className="num">Δ duration</div>
            <div className="num">Δ tokens</div>
            <div className="num">Δ cost</div>
            <div>Status</div>
          </div>
          <div className="cmp-body" ref={scrollRef}>
            <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
              {virtualizer.getVirtualItems().map((item) => {
                const r = rows[item.index]!;
                return <CompareRow key={r.key} row={r} top={item.start} selected={r.key === selected} onSelect={() => setSelected(r.key === selected ? null : r.key)} />;
              })}
            </div>
          </div>
        </div>
        {selectedRow && <LlmDiff row={selectedRow} traceA={a} traceB={b} onClose={() => setSelected(null)} />}
      </div>
    </div>
  );
}

function CompareRow({ row, top, selected, onSelect }: { row: MatchRow; top: number; selected: boolean; onSelect: () => void }) {
  return (
    <div
      className={`cmp-row cmp-${row.status}${selected ? " selected" : ""}`}
      role="row"
      style={{ transform: `translateY(${top}px)`, height: ROW_HEIGHT }}
      data-testid="compare-row"
      data-status={row.status}
      data-name={row.name}
      onClick={onSelect}
    >
      <div className="cmp-name" style={{ paddingLeft: 4 + Math.min(row.depth, 30) * 14 }} title={row.name}>
        {row.name}
        {(row.a?.model ?? row.b?.model) && <span className="muted"> · {row.a?.model ?? row.b?.model}</span>}
      </div>
      <div className="num">{row.a ? formatDuration(row.a.duration_ms) : "–"}</div>
      <div className="num">{row.b ? formatDuration(row.b.duration_ms) : "–"}</div>
      <div className={`num delta ${(row.durationDeltaMs ?? 0) > 0 ? "worse" : (row.durationDeltaMs ?? 0) < 0 ? "better" : ""}`}>{signed(row.durationDeltaMs, formatDuration)}</div>
      <div className="num delta">{row.tokensDelta ? signed(row.tokensDelta, formatInt) : ""}</div>
      <div className="num delta">{row.costDelta ? signed(row.costDelta, formatCost) : ""}</div>
      <div>
        <span className={`cmp-chip cmp-${row.status}`}>{STATUS_LABEL[row.status]}</span>
      </div>
    </div>
  );
}
