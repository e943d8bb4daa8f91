/** Failed spans of the trace with their status message; each entry selects its span. */
import { useState } from "react";
import type { TimelineSpan } from "@/api/timeline";

export function ErrorsSection({ spans, onSelect }: { spans: readonly TimelineSpan[]; onSelect: (spanId: string) => void }) {
  const [open, setOpen] = useState(true);
  const failed = spans.filter((s) => s.status_code === 2);
  if (failed.length === 0) return null;
  return (
    <section className="errors-section panel" data-testid="errors-section">
      <button type="button" className="btn-icon errors-toggle" onClick={() => setOpen(!open)} aria-expanded={open}>
        {open ? "▾" : "▸"} <strong className="error-text">{failed.length} failed span{failed.length === 1 ? "" : "s"}</strong>
      </button>
      {open && (
        <ul>
          {failed.slice(0, 50).map((s) => (
            <li key={s.span_id}>
              <button type="button" className="link-btn" onClick={() => onSelect(s.span_id)}>
                {s.name}
              </button>
              {s.status_message && <span className="muted"> — {s.status_message.slice(0, 200)}</span>}
            </li>
          ))}
          {failed.length > 50 && <li className="muted">…and {failed.length - 50} more</li>}
        </ul>
      )}
    </section>
  );
}
