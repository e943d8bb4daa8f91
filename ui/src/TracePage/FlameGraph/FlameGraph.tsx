/**
 * The flame graph (icicle) of a trace, drawn on a canvas so 10,000 spans stay interactive: only
 * rects in the visible depth rows and x window are drawn, sub-pixel rects share one pixel column,
 * and text is drawn only where it fits. Click zooms to a span (animated over a few frames) and
 * selects it; the search dims non-matching spans; colour by duration, self time, tokens or cost.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { spanTokens, type TimelineSpan } from "@/api/timeline";
import { formatCost, formatDuration, formatInt } from "@/lib/format";
import type { SpanTree } from "@/TracePage/TraceTimelineViewer/rowModel";
import { type FlameColorBy, type FlameView, flameLayout, heatColor, hitTest, normalise, zoomTo } from "./layout";
import "./FlameGraph.css";

const ROW = 20;
const ZOOM_FRAMES = 10;

interface Props {
  tree: SpanTree<TimelineSpan>;
  selfNs: Float64Array;
  matches: ReadonlySet<string>;
  cursorSpanId: string | null;
  onSelect: (spanId: string) => void;
}

function colourValues(tree: SpanTree<TimelineSpan>, selfNs: Float64Array, by: FlameColorBy): Float64Array {
  const n = tree.nodes.length;
  const raw = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = tree.nodes[i]!.span;
    raw[i] = by === "duration" ? s.end_time - s.start_time : by === "self" ? selfNs[i]! : by === "tokens" ? spanTokens(s) : (s.cost ?? 0);
  }
  // Square root keeps small values distinguishable when one span dominates.
  return normalise(raw.map(Math.sqrt));
}

export function FlameGraph({ tree, selfNs, matches, cursorSpanId, onSelect }: Props) {
  const layout = useMemo(() => flameLayout(tree), [tree]);
  const [colorBy, setColorBy] = useState<FlameColorBy>("duration");
  const colours = useMemo(() => {
    const values = colourValues(tree, selfNs, colorBy);
    return Array.from(values, (v) => heatColor(v));
  }, [tree, selfNs, colorBy]);
  const [view, setView] = useState<FlameView>({ x0: 0, x1: 1 });
  const target = useRef<FlameView>(view);
  const scrollRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [size, setSize] = useState({ width: 0, height: 0 });
  const [scrollTop, setScrollTop] = useState(0);
  const [hover, setHover] = useState<{ node: number; x: number; y: number } | null>(null);
  const drawn = useRef(0);

  useEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) => setSize({ width: Math.floor(entry!.contentRect.width), height: Math.floor(entry!.contentRect.height) }));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // Animate the view towards the target over a few frames (a newer target cancels the old one).
  const viewRef = useRef(view);
  viewRef.current = view;
  const animate = useCallback((to: FlameView) => {
    target.current = to;
    const start = viewRef.current;
    let frame = 0;
    const step = () => {
      if (target.current !== to) return;
      frame++;
      const t = Math.min(1, frame / ZOOM_FRAMES);
      const e = 1 - (1 - t) * (1 - t);
      setView({ x0: start.x0 + (to.x0 - start.x0) * e, x1: start.x1 + (to.x1 - start.x1) * e });
      if (t < 1) requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  }, []);

  // Draw.
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || size.width === 0) return;
    const dpr = window.devicePixelRatio || 1;
    const { width, height } = size;
    if (canvas.width !== width * dpr || canvas.height !== height * dpr) {
      canvas.width = width * dpr;
      canvas.height = height * dpr;
    }
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const css = getComputedStyle(canvas);
    const text = css.getPropertyValue("--text").trim() || "#000";
    const accent = css.getPropertyValue("--accent").trim() || "#36f";
    const errorColour = css.getPropertyValue("--error").trim() || "#d33";
    ctx.font = "11.5px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const scale = width / (view.x1 - view.x0 || 1);
    const firstDepth = Math.floor(scrollTop / ROW);
    const lastDepth = Math.min(layout.maxDepth, Math.ceil((scrollTop + height) / ROW));
    const searching = matches.size > 0;
    let count = 0;
    let cursorBox: [number, number, number, number] | null = null;
    for (let d = firstDepth; d <= lastDepth; d++) {
      const list = layout.byDepth[d] ?? [];
      const y = d * ROW - scrollTop;
      let lastPx = -1;
      for (const r of list) {
        if (r.x1 < view.x0) continue;
        if (r.x0 > view.x1) break;
        const px0 = (r.x0 - view.x0) * scale;
        const w = (r.x1 - r.x0) * scale;
        if (w < 1 && Math.floor(px0) <= lastPx) continue; // this pixel column is already painted
        const span = tree.nodes[r.node]!.span;
        const isMatch = searching && matches.has(span.span_id);
        ctx.globalAlpha = searching && !isMatch ? 0.25 : 1;
        ctx.fillStyle = colours[r.node]!;
        const x = Math.max(px0, -1);
        const wClip = Math.min(px0 + Math.max(w, 1), width + 1) - x;
        ctx.fillRect(x, y + 1, Math.max(1, wClip - 1), ROW - 2);
        lastPx = Math.floor(px0 + Math.max(w, 1));
        if (span.status_code === 2) {
          ctx.fillStyle = errorColour;
          ctx.fillRect(x, y + ROW - 4, Math.max(1, wClip - 1), 3);
        }
        if (isMatch) {
          ctx.strokeStyle = text;
          ctx.lineWidth = 1.5;
          ctx.strokeRect(x + 0.75, y + 1.75, Math.max(1, wClip - 2.5), ROW - 3.5);
        }
        if (wClip > 36) {
          const chars = Math.floor((wClip - 8) / 6.3);
          const label = span.name.length > chars ? span.name.slice(0, Math.max(1, chars - 1)) + "…" : span.name;
          ctx.fillStyle = "#10131a";
          ctx.fillText(label, x + 4, y + ROW / 2);
        }
        if (span.span_id === cursorSpanId) cursorBox = [x, y, wClip, ROW];
        count++;
      }
    }
    ctx.globalAlpha = 1;
    if (cursorBox) {
      ctx.strokeStyle = accent;
      ctx.lineWidth = 2;
      ctx.strokeRect(cursorBox[0] + 1, cursorBox[1] + 1, Math.max(2, cursorBox[2] - 2), cursorBox[3] - 2);
    }
    drawn.current = count;
    canvas.dataset.drawn = String(count);
  }, [layout, colours, view, size, scrollTop, matches, cursorSpanId, tree]);

  // Keyboard cursor: bring it into view (zoom out if it is outside the window, scroll to its row).
  useEffect(() => {
    if (!cursorSpanId) return;
    const node = tree.index.get(cursorSpanId);
    if (node === undefined) return;
    const r = layout.rects[node]!;
    const v = target.current;
    if (r.x1 < v.x0 || r.x0 > v.x1) animate({ x0: 0, x1: 1 });
    const el = scrollRef.current;
    if (el) {
      const y = r.depth * ROW;
      if (y < el.scrollTop || y + ROW > el.scrollTop + el.clientHeight) el.scrollTop = Math.max(0, y - el.clientHeight / 2);
    }
  }, [cursorSpanId, tree, layout, animate]);

  const at = (e: React.MouseEvent) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const px = e.clientX - rect.left;
    const py = e.clientY - rect.top;
    const x = view.x0 + (px / (size.width || 1)) * (view.x1 - view.x0);
    const hit = hitTest(layout, x, Math.floor((py + scrollTop) / ROW));
    return { hit, px, py };
  };

  const hovered = hover ? tree.nodes[hover.node]!.span : null;
  const zoomed = view.x0 > 0 || view.x1 < 1;
  return (
    <div className="flame" data-testid="flame-graph" data-zoom={`${view.x0.toFixed(4)},${view.x1.toFixed(4)}`} data-color-by={colorBy}>
      <div className="waterfall-toolbar">
        <span className="muted">{tree.nodes.length.toLocaleString("en-US")} spans · width is duration; children packed under their parent</span>
        <span className="toolbar-spacer" />
        <label className="flame-colour">
          Colour by{" "}
          <select value={colorBy} onChange={(e) => setColorBy(e.target.value as FlameColorBy)} aria-label="Colour by" data-testid="flame-color-by">
            <option value="duration">duration</option>
            <option value="self">self time</option>
            <option value="tokens">tokens</option>
            <option value="cost">cost</option>
          </select>
        </label>
        <button type="button" className="btn btn-small" disabled={!zoomed} onClick={() => animate({ x0: 0, x1: 1 })} data-testid="flame-reset">
          Reset zoom
        </button>
      </div>
      <div className="flame-body" ref={scrollRef} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
        <div style={{ height: (layout.maxDepth + 1) * ROW + 4 }} />
        <canvas
          ref={canvasRef}
          className="flame-canvas"
          style={{ width: size.width, height: size.height, top: scrollTop }}
          onMouseMove={(e) => {
            const { hit, px, py } = at(e);
            setHover(hit ? { node: hit.node, x: px, y: py } : null);
          }}
          onMouseLeave={() => setHover(null)}
          onClick={(e) => {
            const { hit } = at(e);
            if (!hit) return;
            animate(zoomTo(hit));
            onSelect(tree.nodes[hit.node]!.span.span_id);
          }}
        />
        {hover && hovered && (
          <div className="flame-tip" style={{ left: Math.min(hover.x + 12, size.width - 260), top: hover.y + scrollTop + 14 }} role="tooltip">
            <strong>{hovered.name}</strong>
            <div>
              {formatDuration(hovered.duration_ms)} · self {formatDuration(selfNs[hover.node]! / 1e6)}
            </div>
            {(spanTokens(hovered) > 0 || hovered.cost !== null) && (
              <div>
                {formatInt(spanTokens(hovered))} tokens · {formatCost(hovered.cost)}
              </div>
            )}
            {hovered.model && <div className="muted">{hovered.model}</div>}
          </div>
        )}
      </div>
    </div>
  );
}
