/** Prompt and completion diff of one matched span (both full spans fetched on demand). */
import { useMemo, useState } from "react";
import { useSpan } from "@/api/queries";
import { Skeleton } from "@/components/States";
import { formatCost, formatDuration, formatInt } from "@/lib/format";
import { extractConversation } from "@/TracePage/SpanDetail/messages";
import type { MatchRow } from "./matching";
import { type DiffMode, type DiffPart, conversationText, diffText, isUnchanged } from "./textDiff";

interface Props {
  row: MatchRow;
  traceA: string;
  traceB: string;
  onClose: () => void;
}

export function LlmDiff({ row, traceA, traceB, onClose }: Props) {
  const sa = useSpan(traceA, row.a?.span_id ?? null);
  const sb = useSpan(traceB, row.b?.span_id ?? null);
  const [mode, setMode] = useState<DiffMode>("word");
  const loading = (row.a && sa.isPending) || (row.b && sb.isPending);
  const sides = useMemo(() => {
    const ca = sa.data ? extractConversation(sa.data.attributes ?? {}, sa.data.events ?? []) : null;
    const cb = sb.data ? extractConversation(sb.data.attributes ?? {}, sb.data.events ?? []) : null;
    if (!ca && !cb) return null;
    return {
      input: diffText(conversationText(ca, "input"), conversationText(cb, "input"), mode),
      output: diffText(conversationText(ca, "output"), conversationText(cb, "output"), mode),
    };
  }, [sa.data, sb.data, mode]);

  return (
    <aside className="panel compare-detail" data-testid="compare-detail">
      <div className="sd-head">
        <h2>{row.name}</h2>
        <button type="button" className="btn-icon" onClick={onClose} aria-label="Close">
          ✕
        </button>
      </div>
      <dl className="sd-grid">
        {[row.a, row.b].map((s, i) => (
          <div key={i} className="cmp-side">
            <dt>{i === 0 ? "A" : "B"}</dt>
            <dd>{s ? `${formatDuration(s.duration_ms)} · ${formatInt(s.total_tokens ?? (s.input_tokens ?? 0) + (s.output_tokens ?? 0))} tokens · ${formatCost(s.cost)}${s.model ? ` · ${s.model}` : ""}` : "not in this trace"}</dd>
          </div>
        ))}
      </dl>
      {loading ? (
        <Skeleton rows={6} />
      ) : sides ? (
        <>
          <div className="segmented" role="tablist" aria-label="Diff granularity">
            {(["word", "line"] as const).map((m) => (
              <button key={m} type="button" role="tab" aria-selected={mode === m} className={mode === m ? "active" : ""} onClick={() => setMode(m)}>
                {m === "word" ? "Words" : "Lines"}
              </button>
            ))}
          </div>
          <DiffBlock title="Prompt" parts={sides.input} testId="prompt-diff" />
          <DiffBlock title="Completion" parts={sides.output} testId="completion-diff" />
        </>
      ) : (
        <p className="muted">No prompt or completion recorded on this span.</p>
      )}
    </aside>
  );
}

function DiffBlock({ title, parts, testId }: { title: string; parts: DiffPart[]; testId: string }) {
  return (
    <section>
      <h3>
        {title} {isUnchanged(parts) && <span className="badge">unchanged</span>}
      </h3>
      <pre className="diff" data-testid={testId}>
        {parts.map((p, i) =>
          p.kind === "same" ? (
            <span key={i}>{p.value}</span>
          ) : p.kind === "added" ? (
            <ins key={i}>{p.value}</ins>
          ) : (
            <del key={i}>{p.value}</del>
          ),
        )}
      </pre>
    </section>
  );
}
