/**
 * Overview of the whole trace (every span, one thin line each) with the visible window outlined.
 * Drag across it to zoom to a range; click to centre the current window there.
 */
import { useEffect, useRef, useState } from "react";
import type { TimelineSpan } from "@/api/timeline";
import type { SpanTree } from "./rowModel";
import type { ViewWindow } from "./TraceTimelineViewer";

const HEIGHT = 44;

export function Minimap({ tree, view, onChange }: { tree: SpanTree<TimelineSpan>; view: ViewWindow; onChange: (v: ViewWindow) => void }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [drag, setDrag] = useState<{ from: number; to: number } | null>(null);
  const [width, setWidth] = useState(0);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.floor(entry!.contentRect.width)));
    observer.observe(canvas);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || width === 0) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = width * dpr;
    canvas.height = HEIGHT * dpr;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.scale(dpr, dpr);
    ctx.clearRect(0, 0, width, HEIGHT);
    const style = getComputedStyle(canvas);
    const total = tree.endNs - tree.startNs || 1;
    const n = tree.nodes.length || 1;
    const rowH = Math.max(HEIGHT / n, 0.5);
    const colors = { default: style.getPropertyValue("--bar"), error: style.getPropertyValue("--error"), llm: style.getPropertyValue("--bar-llm") };
    tree.nodes.forEach((node, i) => {
      const s = node.span;
      ctx.fillStyle = s.status_code === 2 ? colors.error : s.model || s.span_type === "llm" ? colors.llm : colors.default;
      const x = ((s.start_time - tree.startNs) / total) * width;
      const w = Math.max(1, ((s.end_time - s.start_time) / total) * width);
      ctx.fillRect(x, (i / n) * HEIGHT, w, Math.max(rowH, 1));
    });
  }, [tree, width]);

  const fraction = (e: React.PointerEvent) => {
    const rect = e.currentTarget.getBoundingClientRect();
    return Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
  };
  const shown = drag ? { start: Math.min(drag.from, drag.to), end: Math.max(drag.from, drag.to) } : view;

  return (
    <div
      className="minimap"
      data-testid="minimap"
      onPointerDown={(e) => {
        e.currentTarget.setPointerCapture(e.pointerId);
        const f = fraction(e);
        setDrag({ from: f, to: f });
      }}
      onPointerMove={(e) => drag && setDrag({ ...drag, to: fraction(e) })}
      onPointerUp={() => {
        if (!drag) return;
        const start = Math.min(drag.from, drag.to);
        const end = Math.max(drag.from, drag.to);
        if (end - start > 0.005) onChange({ start, end });
        else {
          const half = (view.end - view.start) / 2;
          const s = Math.max(0, Math.min(1 - 2 * half, drag.from - half));
          onChange({ start: s, end: s + 2 * half });
        }
        setDrag(null);
      }}
    >
      <canvas ref={canvasRef} style={{ width: "100%", height: HEIGHT }} />
      <div className="minimap-shade" style={{ left: 0, width: `${shown.start * 100}%` }} />
      <div className="minimap-window" style={{ left: `${shown.start * 100}%`, width: `${(shown.end - shown.start) * 100}%` }} />
      <div className="minimap-shade" style={{ left: `${shown.end * 100}%`, right: 0 }} />
    </div>
  );
}
