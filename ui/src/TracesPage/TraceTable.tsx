/**
 * The trace list: sortable column headers, virtualised rows, and the next cursor page fetched
 * when the user scrolls near the end (keyset pagination, so pages never overlap or skip).
 */
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef } from "react";
import { Link } from "react-router";
import type { TraceSummary } from "@/api/types";
import { formatCompact, formatCost, formatDuration, formatRelative, formatTimestamp, shortId } from "@/lib/format";
import type { SortKey, TraceSearch } from "./searchParams";

const ROW_HEIGHT = 44;

interface Props {
  traces: TraceSummary[];
  search: TraceSearch;
  onSort: (column: SortKey) => void;
  hasMore: boolean;
  loadingMore: boolean;
  onLoadMore: () => void;
  onDelete: (trace: TraceSummary) => void;
  /** Trace ids ticked for comparison. */
  picked: ReadonlySet<string>;
  onPick: (traceId: string) => void;
}

const COLUMNS: { label: string; sort?: SortKey; className?: string }[] = [
  { label: "" },
  { label: "Started", sort: "start_time" },
  { label: "Trace" },
  { label: "Duration", sort: "duration", className: "num" },
  { label: "Spans", sort: "span_count", className: "num" },
  { label: "Tokens", sort: "tokens", className: "num" },
  { label: "Cost", sort: "cost", className: "num" },
  { label: "Status" },
  { label: "" },
];

export function TraceTable({ traces, search, onSort, hasMore, loadingMore, onLoadMore, onDelete, picked, onPick }: Props) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: traces.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
  });
  const items = virtualizer.getVirtualItems();
  const last = items[items.length - 1];
  useEffect(() => {
    if (last && last.index >= traces.length - 10 && hasMore && !loadingMore) onLoadMore();
  }, [last, traces.length, hasMore, loadingMore, onLoadMore]);
  const now = Date.now();

  return (
    <div className="trace-table panel" role="table" aria-label="Traces" data-testid="trace-table">
      <div className="tt-row tt-head" role="row">
        {COLUMNS.map((c, i) => (
          <div key={i} role="columnheader" className={c.className} aria-sort={c.sort && search.sort === c.sort ? (search.order === "asc" ? "ascending" : "descending") : undefined}>
            {c.sort ? (
              <button type="button" className={`sort-btn${search.sort === c.sort ? " active" : ""}`} onClick={() => onSort(c.sort!)}>
                {c.label}
                {search.sort === c.sort ? (search.order === "asc" ? " ↑" : " ↓") : ""}
              </button>
            ) : (
              c.label
            )}
          </div>
        ))}
      </div>
      <div className="tt-body" ref={scrollRef}>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {items.map((item) => {
            const t = traces[item.index]!;
            return (
              <div key={t.trace_id} className="tt-row" role="row" data-testid="trace-row" data-trace-id={t.trace_id} style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}>
                <div>
                  <input type="checkbox" checked={picked.has(t.trace_id)} onChange={() => onPick(t.trace_id)} aria-label={`Pick trace ${t.trace_id} to compare`} data-testid="pick-row" />
                </div>
                <div title={formatTimestamp(t.start_time)}>{formatRelative(t.start_time, now)}</div>
                <div className="tt-name">
                  <Link to={`/traces/${t.trace_id}`}>{t.root_span_name ?? (t.in_progress ? "(root span pending)" : shortId(t.trace_id))}</Link>
                  <span className="muted tt-sub">
                    {[t.workflow_name, t.service_name, (t.models ?? []).join(", ")].filter(Boolean).join(" · ") || shortId(t.trace_id)}
                  </span>
                </div>
                <div className="num">{formatDuration(t.duration_ms)}</div>
                <div className="num">{t.span_count}</div>
                <div className="num">{t.total_tokens ? formatCompact(t.total_tokens) : "–"}</div>
                <div className="num">{formatCost(t.cost)}</div>
                <div>
                  {t.in_progress ? (
                    <span className="badge badge-live">in progress</span>
                  ) : t.status === "error" ? (
                    <span className="badge badge-error">{t.error_count} error{t.error_count === 1 ? "" : "s"}</span>
                  ) : (
                    <span className="badge badge-ok">{t.status}</span>
                  )}
                </div>
                <div>
                  <button type="button" className="btn-icon" aria-label={`Delete trace ${t.trace_id}`} title="Delete" data-testid="delete-row" onClick={() => onDelete(t)}>
                    Delete
                  </button>
                </div>
              </div>
            );
          })}
        </div>
        {loadingMore && <div className="muted tt-more">Loading more…</div>}
      </div>
    </div>
  );
}
