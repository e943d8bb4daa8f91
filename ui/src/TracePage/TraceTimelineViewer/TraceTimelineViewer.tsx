/**
 * The waterfall: span tree on the left, Gantt bars on the right, a time axis and a minimap.
 * Only the rows in view are in the DOM (TanStack Virtual). The tree, the collapsed set and the
 * cursor belong to the trace view (TraceView), which also drives the keyboard; this component
 * draws them, with search matches, the cursor and the critical path highlighted.
 */
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useEffect, useMemo, useRef, useState } from "react";
import type { TimelineSpan } from "@/api/timeline";
import { formatDuration } from "@/lib/format";
import { Minimap } from "./Minimap";
import { type Row, type SpanTree, barGeometry } from "./rowModel";
import { timeTicks } from "./timeAxis";
import "./TraceTimelineViewer.css";

const ROW_HEIGHT = 26;

export interface ViewWindow {
  start: number;
  end: number;
}

export interface Highlights {
  /** Span ids matching the in-trace search (empty: no search). */
  matches: ReadonlySet<string>;
  /** Critical sections per span id ([start, end] ns); null when the critical path is off. */
  critical: ReadonlyMap<string, [number, number][]> | null;
  /** Self time per node index (ns). */
  selfNs: Float64Array | null;
}

interface Props {
  tree: SpanTree<TimelineSpan>;
  rows: readonly Row[];
  selectedSpanId: string | null;
  cursorSpanId: string | null;
  highlights: Highlights;
  onSelect: (spanId: string) => void;
  onToggle: (spanId: string) => void;
  onExpandAll: () => void;
  onCollapseAll: () => void;
}

export function TraceTimelineViewer({ tree, rows, selectedSpanId, cursorSpanId, highlights, onSelect, onToggle, onExpandAll, onCollapseAll }: Props) {
  const [view, setView] = useState<ViewWindow>({ start: 0, end: 1 });
  const scrollRef = useRef<HTMLDivElement>(null);

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });

  // Keep the cursor (keyboard) or the selection (click, deep link) in view.
  const focusId = cursorSpanId ?? selectedSpanId;
  useEffect(() => {
    if (!focusId) return;
    const node = tree.index.get(focusId);
    const rowIndex = node === undefined ? -1 : rows.findIndex((r) => r.node === node);
    if (rowIndex >= 0) virtualizer.scrollToIndex(rowIndex, { align: "auto" });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [focusId, tree, rows]);

  const totalMs = (tree.endNs - tree.startNs) / 1e6;
  const ticks = useMemo(() => timeTicks(view.start * totalMs, view.end * totalMs, 6), [view, totalMs]);
  const zoomed = view.start > 0 || view.end < 1;
  const searching = highlights.matches.size > 0;

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
        <button type="button" className="btn btn-small" onClick={onExpandAll} data-testid="expand-all">
          Expand all
        </button>
        <button type="button" className="btn btn-small" onClick={onCollapseAll} data-testid="collapse-all">
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
      <div className="waterfall-body" ref={scrollRef} role="tree" aria-label="Span tree" aria-activedescendant={cursorSpanId ? `wf-${cursorSpanId}` : undefined}>
        <div className="wf-gridlines" aria-hidden="true">
          {ticks.map((t) => (
            <span key={t.ms} style={{ left: `${t.position * 100}%` }} />
          ))}
        </div>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((item) => {
            const row = rows[item.index]!;
            const id = tree.nodes[row.node]!.span.span_id;
            return (
              <TimelineRow
                key={item.key}
                tree={tree}
                node={row.node}
                hasChildren={row.hasChildren}
                collapsed={row.collapsed}
                top={item.start}
                view={view}
                selected={id === selectedSpanId}
                cursor={id === cursorSpanId}
                match={searching ? highlights.matches.has(id) : null}
                critical={highlights.critical?.get(id) ?? null}
                selfNs={highlights.selfNs ? highlights.selfNs[row.node]! : null}
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
  tree: SpanTree<TimelineSpan>;
  node: number;
  hasChildren: boolean;
  collapsed: boolean;
  top: number;
  view: ViewWindow;
  selected: boolean;
  cursor: boolean;
  /** null: no search running. */
  match: boolean | null;
  critical: [number, number][] | null;
  selfNs: number | null;
  onSelect: (spanId: string) => void;
  onToggle: (spanId: string) => void;
}

const TimelineRow = memo(function TimelineRow({ tree, node, hasChildren, collapsed, top, view, selected, cursor, match, critical, selfNs, onSelect, onToggle }: RowProps) {
  const n = tree.nodes[node]!;
  const span = n.span;
  const isError = span.status_code === 2;
  const { left, width } = barGeometry(span, tree, view.start, view.end);
  const type = span.span_type ?? (span.model ? "llm" : "");
  const labelRight = left + width < 0.8;
  const showSelf = selfNs !== null && hasChildren;
  const cls = `wf-row${selected ? " selected" : ""}${cursor ? " cursor" : ""}${isError ? " is-error" : ""}${match === true ? " match" : match === false ? " dim" : ""}${critical?.length ? " on-critical" : ""}`;
  return (
    <div
      id={`wf-${span.span_id}`}
      className={cls}
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
            tabIndex={-1}
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
        <div className={`wf-bar wf-bar-${isError ? "error" : type || "default"}`} style={{ left: `${left * 100}%`, width: `${width * 100}%` }} />
        {critical?.map(([s, e], i) => {
          const g = barGeometry({ span_id: "", start_time: s, end_time: e }, tree, view.start, view.end, 0.001);
          return <div key={i} className="wf-critical" data-testid="critical-section" style={{ left: `${g.left * 100}%`, width: `${g.width * 100}%` }} />;
        })}
        <span
          className="wf-bar-label"
          style={labelRight ? { left: `calc(${Math.max(0, left + width) * 100}% + 4px)` } : { right: `calc(${Math.max(0, 1 - left) * 100}% + 4px)` }}
        >
          {formatDuration(span.duration_ms)}
          {showSelf && <span className="wf-self"> · self {formatDuration(selfNs / 1e6)}</span>}
        </span>
      </div>
    </div>
  );
});
