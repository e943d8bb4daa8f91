/**
 * The waterfall: span tree on the left, Gantt bars on the right, a time axis and a minimap.
 * Only the rows in view are in the DOM (TanStack Virtual), and the row model is recomputed only
 * when the spans or the collapsed set change, so 10,000-span traces stay responsive.
 */
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Span } from "@/api/types";
import { formatDuration } from "@/lib/format";
import { Minimap } from "./Minimap";
import { type SpanTree, ancestorIds, barGeometry, buildSpanTree, collapseBelowDepth, toggleCollapsed, visibleRows } from "./rowModel";
import { timeTicks } from "./timeAxis";
import "./TraceTimelineViewer.css";

const ROW_HEIGHT = 26;

export interface ViewWindow {
  start: number;
  end: number;
}

interface Props {
  spans: readonly Span[];
  selectedSpanId: string | null;
  onSelect: (spanId: string) => void;
}

export function TraceTimelineViewer({ spans, selectedSpanId, onSelect }: Props) {
  const tree = useMemo(() => buildSpanTree(spans), [spans]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const [view, setView] = useState<ViewWindow>({ start: 0, end: 1 });
  const rows = useMemo(() => visibleRows(tree, collapsed), [tree, collapsed]);
  const scrollRef = useRef<HTMLDivElement>(null);

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });

  // Deep link or selection from elsewhere: reveal the span (expand its ancestors) and scroll to it.
  useEffect(() => {
    if (!selectedSpanId || !tree.index.has(selectedSpanId)) return;
    const hidden = ancestorIds(tree, selectedSpanId).filter((id) => collapsed.has(id));
    if (hidden.length) {
      setCollapsed((prev) => {
        const next = new Set(prev);
        for (const id of hidden) next.delete(id);
        return next;
      });
      return;
    }
    const rowIndex = rows.findIndex((r) => r.node === tree.index.get(selectedSpanId));
    if (rowIndex >= 0) virtualizer.scrollToIndex(rowIndex, { align: "auto" });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [selectedSpanId, tree, rows]);

  const onToggle = useCallback((spanId: string) => setCollapsed((prev) => toggleCollapsed(prev, spanId)), []);
  const totalMs = (tree.endNs - tree.startNs) / 1e6;
  const ticks = useMemo(() => timeTicks(view.start * totalMs, view.end * totalMs, 6), [view, totalMs]);
  const zoomed = view.start > 0 || view.end < 1;

  const zoomBy = (factor: number) =>
    setView((v) => {
      const mid = (v.start + v.end) / 2;
      const half = Math.min(0.5, Math.max(0.0005, ((v.end - v.start) * factor) / 2));
      const start = Math.max(0, Math.min(1 - 2 * half, mid - half));
      return { start, end: start + 2 * half };
    });

  return (
    <div className="waterfall" data-testid="waterfall" data-rows={rows.length}>
      <div className="waterfall-toolbar">
        <span className="muted">
          {rows.length.toLocaleString("en-US")} of {tree.nodes.length.toLocaleString("en-US")} spans shown
        </span>
        <button type="button" className="btn btn-small" onClick={() => setCollapsed(new Set())} data-testid="expand-all">
          Expand all
        </button>
        <button type="button" className="btn btn-small" onClick={() => setCollapsed(collapseBelowDepth(tree, 1))} data-testid="collapse-all">
          Collapse all
        </button>
        <span className="toolbar-spacer" />
        <button type="button" className="btn btn-small" onClick={() => zoomBy(0.5)} aria-label="Zoom in">
          Zoom in
        </button>
        <button type="button" className="btn btn-small" onClick={() => zoomBy(2)} aria-label="Zoom out" disabled={!zoomed}>
          Zoom out
        </button>
        <button type="button" className="btn btn-small" onClick={() => setView({ start: 0, end: 1 })} disabled={!zoomed}>
          Reset zoom
        </button>
      </div>
      <Minimap tree={tree} view={view} onChange={setView} />
      <div className="waterfall-header">
        <div className="wf-name-col">Span</div>
        <div className="wf-bar-col axis">
          {ticks.map((t) => (
            <span key={t.ms} className="axis-tick" style={{ left: `${t.position * 100}%` }}>
              {t.label}
            </span>
          ))}
        </div>
      </div>
      <div className="waterfall-body" ref={scrollRef} role="tree" aria-label="Span tree">
        <div className="wf-gridlines" aria-hidden="true">
          {ticks.map((t) => (
            <span key={t.ms} style={{ left: `${t.position * 100}%` }} />
          ))}
        </div>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((item) => {
            const row = rows[item.index]!;
            return (
              <TimelineRow
                key={item.key}
                tree={tree}
                node={row.node}
                hasChildren={row.hasChildren}
                collapsed={row.collapsed}
                top={item.start}
                view={view}
                selected={tree.nodes[row.node]!.span.span_id === selectedSpanId}
                onSelect={onSelect}
                onToggle={onToggle}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
}

interface RowProps {
  tree: SpanTree<Span>;
  node: number;
  hasChildren: boolean;
  collapsed: boolean;
  top: number;
  view: ViewWindow;
  selected: boolean;
  onSelect: (spanId: string) => void;
  onToggle: (spanId: string) => void;
}

const TimelineRow = memo(function TimelineRow({ tree, node, hasChildren, collapsed, top, view, selected, onSelect, onToggle }: RowProps) {
  const n = tree.nodes[node]!;
  const span = n.span;
  const isError = span.status?.code === "ERROR";
  const { left, width } = barGeometry(span, tree, view.start, view.end);
  const type = span.span_type ?? (span.llm ? "llm" : "");
  const labelRight = left + width < 0.8;
  return (
    <div
      className={`wf-row${selected ? " selected" : ""}${isError ? " is-error" : ""}`}
      style={{ transform: `translateY(${top}px)`, height: ROW_HEIGHT }}
      role="treeitem"
      aria-level={n.depth + 1}
      aria-expanded={hasChildren ? !collapsed : undefined}
      aria-selected={selected}
      data-span-id={span.span_id}
      onClick={() => onSelect(span.span_id)}
    >
      <div className="wf-name-col" style={{ paddingLeft: 6 + Math.min(n.depth, 40) * 14 }}>
        {hasChildren ? (
          <button
            type="button"
            className="wf-toggle"
            aria-label={collapsed ? "Expand" : "Collapse"}
            data-testid="toggle"
            onClick={(e) => {
              e.stopPropagation();
              onToggle(span.span_id);
            }}
          >
            {collapsed ? "▸" : "▾"}
          </button>
        ) : (
          <span className="wf-toggle-spacer" />
        )}
        {isError && <span className="wf-error-dot" title="Error" />}
        <span className="wf-name" title={span.name}>
          {span.name}
        </span>
        {collapsed && <span className="badge">+{n.descendantCount}</span>}
        {span.service_name && <span className="wf-service">{span.service_name}</span>}
      </div>
      <div className="wf-bar-col">
        <div
          className={`wf-bar wf-bar-${isError ? "error" : type || "default"}`}
          style={{ left: `${left * 100}%`, width: `${width * 100}%` }}
        />
        <span
          className="wf-bar-label"
          style={labelRight ? { left: `calc(${Math.max(0, left + width) * 100}% + 4px)` } : { right: `calc(${Math.max(0, 1 - left) * 100}% + 4px)` }}
        >
          {formatDuration(span.duration_ms)}
        </span>
      </div>
    </div>
  );
});
