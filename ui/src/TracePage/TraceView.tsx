/**
 * One trace on screen: header, errors, the waterfall or the flame graph, in-trace search, the
 * critical path, keyboard navigation and the span detail panel. Used for a trace from the server
 * (TracePage) and for an imported OTLP/JSON file viewed offline (ImportPage); `source` says where
 * the detail panel gets the selected span's attributes.
 *
 * State: the URL holds the selected span (`?span=`) and the view (`?view=flame`); the collapsed
 * set, the keyboard cursor and the search live here.
 */
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useSearchParams } from "react-router";
import type { TimelineData } from "@/api/timeline";
import { EmptyState } from "@/components/States";
import { criticalPath, selfTimes } from "./CriticalPath/criticalPath";
import { ErrorsSection } from "./ErrorsSection";
import { FlameGraph } from "./FlameGraph/FlameGraph";
import { nextMatch, SHORTCUTS, traceKeyAction } from "./Keyboard/keyboard";
import { matchSpans } from "./search";
import { SpanDetailPanel } from "./SpanDetail/SpanDetailPanel";
import type { SpanSource } from "./SpanSource";
import { TraceHeader } from "./TraceHeader";
import { TraceTimelineViewer } from "./TraceTimelineViewer/TraceTimelineViewer";
import { ancestorIds, buildSpanTree, collapseBelowDepth, toggleCollapsed, visibleRows } from "./TraceTimelineViewer/rowModel";
import "./TracePage.css";

interface Props {
  data: TimelineData;
  source: SpanSource;
  /** Buttons for the header (export, delete…). */
  actions?: ReactNode;
  backLink?: boolean;
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

export function TraceView({ data, source, actions, backLink }: Props) {
  const [search, setSearch] = useSearchParams();
  const selectedSpanId = search.get("span");
  const mode = search.get("view") === "flame" ? "flame" : "waterfall";
  const spans = data.spans;
  const tree = useMemo(() => buildSpanTree(spans), [spans]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const rows = useMemo(() => visibleRows(tree, collapsed), [tree, collapsed]);
  const [cursor, setCursor] = useState<string | null>(selectedSpanId);
  const [query, setQuery] = useState("");
  const matches = useMemo(() => matchSpans(spans, query), [spans, query]);
  const [showCritical, setShowCritical] = useState(true);
  const [help, setHelp] = useState(false);
  const searchRef = useRef<HTMLInputElement>(null);

  const selfNs = useMemo(() => selfTimes(tree), [tree]);
  const critical = useMemo(() => {
    if (!showCritical) return null;
    const byId = new Map<string, [number, number][]>();
    for (const s of criticalPath(tree).sections) {
      const id = tree.nodes[s.node]!.span.span_id;
      const list = byId.get(id);
      if (list) list.push([s.start, s.end]);
      else byId.set(id, [[s.start, s.end]]);
    }
    return byId;
  }, [tree, showCritical]);
  const highlights = useMemo(() => ({ matches, critical, selfNs }), [matches, critical, selfNs]);

  const setParam = useCallback(
    (name: string, value: string | null) =>
      setSearch(
        (prev) => {
          const next = new URLSearchParams(prev);
          if (value === null) next.delete(name);
          else next.set(name, value);
          return next;
        },
        { replace: true },
      ),
    [setSearch],
  );
  const onSelect = useCallback(
    (spanId: string) => {
      setCursor(spanId);
      setParam("span", spanId);
    },
    [setParam],
  );
  const closeDetail = useCallback(() => setParam("span", null), [setParam]);
  const onToggle = useCallback((spanId: string) => setCollapsed((prev) => toggleCollapsed(prev, spanId)), []);

  // Reveal the selected or cursor span: expand its collapsed ancestors.
  const reveal = cursor ?? selectedSpanId;
  useEffect(() => {
    if (!reveal || !tree.index.has(reveal)) return;
    const hidden = ancestorIds(tree, reveal).filter((id) => collapsed.has(id));
    if (hidden.length)
      setCollapsed((prev) => {
        const next = new Set(prev);
        for (const id of hidden) next.delete(id);
        return next;
      });
  }, [reveal, tree, collapsed]);

  useEffect(() => {
    const onKey = (ev: KeyboardEvent) => {
      if (isTyping(ev.target)) return;
      const action = traceKeyAction(ev, tree, rows, cursor);
      if (!action) return;
      ev.preventDefault();
      switch (action.type) {
        case "cursor":
          setCursor(action.spanId);
          break;
        case "collapse":
          setCollapsed((prev) => new Set(prev).add(action.spanId));
          break;
        case "expand":
          setCollapsed((prev) => toggleCollapsed(prev, action.spanId));
          break;
        case "search":
          searchRef.current?.focus();
          searchRef.current?.select();
          break;
        case "open":
          if (cursor) setParam("span", cursor);
          break;
        case "close":
          if (help) setHelp(false);
          else if (selectedSpanId) closeDetail();
          else if (query) setQuery("");
          break;
        case "help":
          setHelp((h) => !h);
          break;
        case "nextMatch": {
          const id = nextMatch(tree, matches, cursor, action.backwards);
          if (id) setCursor(id);
          break;
        }
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [tree, rows, cursor, help, selectedSpanId, query, matches, setParam, closeDetail]);

  const selectedExists = selectedSpanId !== null && tree.index.has(selectedSpanId);
  return (
    <div className={`trace-page${selectedSpanId ? " with-detail" : ""}`} data-testid="trace-view">
      <TraceHeader trace={data.trace} actions={actions} backLink={backLink} />
      <ErrorsSection spans={spans} onSelect={onSelect} />
      <div className="trace-tools">
        <div className="segmented" role="tablist" aria-label="Trace view">
          <button type="button" role="tab" aria-selected={mode === "waterfall"} className={mode === "waterfall" ? "active" : ""} onClick={() => setParam("view", null)} data-testid="view-waterfall">
            Waterfall
          </button>
          <button type="button" role="tab" aria-selected={mode === "flame"} className={mode === "flame" ? "active" : ""} onClick={() => setParam("view", "flame")} data-testid="view-flame">
            Flame graph
          </button>
        </div>
        <input
          ref={searchRef}
          type="search"
          className="trace-search"
          placeholder="Search spans  ( / )"
          value={query}
          aria-label="Search spans in this trace"
          data-testid="trace-search"
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              const id = nextMatch(tree, matches, cursor, e.shiftKey);
              if (id) setCursor(id);
              e.currentTarget.blur();
            } else if (e.key === "Escape") {
              setQuery("");
              e.currentTarget.blur();
            }
          }}
        />
        {query && (
          <span className="muted" data-testid="match-count">
            {matches.size.toLocaleString("en-US")} match{matches.size === 1 ? "" : "es"}
          </span>
        )}
        <label className="trace-toggle">
          <input type="checkbox" checked={showCritical} onChange={(e) => setShowCritical(e.target.checked)} data-testid="critical-toggle" /> Critical path
        </label>
        <span className="toolbar-spacer" />
        <button type="button" className="btn btn-small" onClick={() => setHelp(true)} aria-label="Keyboard shortcuts" data-testid="shortcuts-button">
          ? Shortcuts
        </button>
      </div>
      <div className="trace-main">
        <div className="trace-timeline">
          {spans.length === 0 ? (
            <EmptyState title="No spans yet" hint="This trace has no spans; it may still be arriving." />
          ) : mode === "flame" ? (
            <FlameGraph tree={tree} selfNs={selfNs} matches={matches} cursorSpanId={cursor} onSelect={onSelect} />
          ) : (
            <TraceTimelineViewer
              tree={tree}
              rows={rows}
              selectedSpanId={selectedSpanId}
              cursorSpanId={cursor}
              highlights={highlights}
              onSelect={onSelect}
              onToggle={onToggle}
              onExpandAll={() => setCollapsed(new Set())}
              onCollapseAll={() => setCollapsed(collapseBelowDepth(tree, 1))}
            />
          )}
        </div>
        {selectedSpanId && selectedExists && <SpanDetailPanel source={source} spanId={selectedSpanId} traceStartNs={data.baseNs} onClose={closeDetail} />}
        {selectedSpanId && !selectedExists && (
          <aside className="span-detail panel">
            <EmptyState title="Span not found" hint={`No span ${selectedSpanId} in this trace.`} />
          </aside>
        )}
      </div>
      {help && (
        <div className="modal-backdrop" onClick={() => setHelp(false)}>
          <div className="modal panel" role="dialog" aria-label="Keyboard shortcuts" data-testid="shortcut-sheet" onClick={(e) => e.stopPropagation()}>
            <h2>Keyboard shortcuts</h2>
            <table className="shortcuts">
              <tbody>
                {SHORTCUTS.map(([k, what]) => (
                  <tr key={k}>
                    <td>
                      <kbd>{k}</kbd>
                    </td>
                    <td>{what}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="modal-actions">
              <button type="button" className="btn" onClick={() => setHelp(false)}>
                Close
              </button>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
