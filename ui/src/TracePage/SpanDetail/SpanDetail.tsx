/**
 * Side panel for one span: identity and timing, the LLM section (model, tokens, cost and its
 * source), the prompt/completion chat, exceptions with stack traces, events, attributes and resource.
 */
import { type ReactNode, useMemo } from "react";
import type { Span, SpanEvent } from "@/api/types";
import { CopyButton } from "@/components/CopyButton";
import { LargeValue } from "@/components/LargeValue";
import { formatCost, formatDuration, formatInt, formatTimestamp } from "@/lib/format";
import { AttributesTable } from "./AttributesTable";
import { ChatView } from "./ChatView";
import { asText, extractConversation } from "./messages";
import "./SpanDetail.css";

interface Props {
  span: Span;
  traceStartNs: number;
  onClose: () => void;
  /** Extra controls in the header (e.g. copy a link to the span). */
  extra?: ReactNode;
}

export function isException(e: SpanEvent): boolean {
  return e.name === "exception" || "exception.type" in (e.attributes ?? {}) || "exception.message" in (e.attributes ?? {});
}

export function SpanDetail({ span, traceStartNs, onClose, extra }: Props) {
  const conversation = useMemo(() => extractConversation(span.attributes ?? {}, span.events ?? []), [span]);
  const exceptions = (span.events ?? []).filter(isException);
  const events = (span.events ?? []).filter((e) => !isException(e));
  const llm = span.llm;
  return (
    <aside className="span-detail panel" data-testid="span-detail" aria-label="Span detail">
      <div className="sd-head">
        <div className="sd-title">
          <h2 title={span.name}>{span.name}</h2>
          <div className="sd-badges">
            <span className={`badge ${span.status?.code === "ERROR" ? "badge-error" : span.status?.code === "OK" ? "badge-ok" : ""}`}>{span.status?.code}</span>
            <span className="badge">{span.kind}</span>
            {span.span_type && <span className="badge">{span.span_type}</span>}
            {span.service_name && <span className="badge">{span.service_name}</span>}
          </div>
        </div>
        {extra}
        <button type="button" className="btn-icon sd-close" onClick={onClose} aria-label="Close span detail">
          ✕
        </button>
      </div>
      {span.status?.message && <p className="error-text sd-status-msg">{span.status.message}</p>}
      <dl className="sd-grid">
        <dt>Duration</dt>
        <dd>{formatDuration(span.duration_ms)}</dd>
        <dt>Starts at</dt>
        <dd>
          +{formatDuration((span.start_time - traceStartNs) / 1e6)} <span className="muted">({formatTimestamp(span.start_time)})</span>
        </dd>
        <dt>Span ID</dt>
        <dd className="mono">
          {span.span_id} <CopyButton text={span.span_id} label="Copy span id" />
        </dd>
        <dt>Parent</dt>
        <dd className="mono">{span.parent_span_id ?? <span className="muted">root</span>}</dd>
        {span.scope?.name && (
          <>
            <dt>Scope</dt>
            <dd className="mono">
              {span.scope.name} {span.scope.version}
            </dd>
          </>
        )}
      </dl>

      {llm && (
        <section className="sd-llm" data-testid="llm-section">
          <h3>LLM</h3>
          <dl className="sd-grid">
            <dt>Model</dt>
            <dd data-testid="llm-model">
              {llm.model ?? "–"}
              {llm.provider && <span className="muted"> · {llm.provider}</span>}
            </dd>
            <dt>Tokens</dt>
            <dd>
              <span data-testid="llm-input-tokens">{formatInt(llm.input_tokens)}</span> in · <span data-testid="llm-output-tokens">{formatInt(llm.output_tokens)}</span> out
              {llm.cached_tokens ? <> · {formatInt(llm.cached_tokens)} cached</> : null}
              {llm.reasoning_tokens ? <> · {formatInt(llm.reasoning_tokens)} reasoning</> : null}
              {llm.total_tokens !== null && <span className="muted"> (total {formatInt(llm.total_tokens)})</span>}
            </dd>
            <dt>Cost</dt>
            <dd data-testid="llm-cost">
              {formatCost(llm.cost)}{" "}
              <span className="muted">
                {llm.cost_source === "span" ? "sent by the application" : llm.cost_source === "computed" ? "computed from the price table" : "unknown price"}
              </span>
            </dd>
          </dl>
        </section>
      )}

      {conversation && <ChatView conversation={conversation} />}

      {exceptions.length > 0 && (
        <section data-testid="exceptions">
          <h3>Exceptions</h3>
          {exceptions.map((e, i) => (
            <ExceptionView key={i} event={e} />
          ))}
        </section>
      )}

      {events.length > 0 && (
        <section>
          <h3>Events ({events.length})</h3>
          <ul className="sd-events">
            {events.map((e, i) => (
              <li key={i}>
                <span className="mono muted">+{formatDuration((e.timestamp - span.start_time) / 1e6)}</span> <strong>{e.name}</strong>
                {e.attributes && Object.keys(e.attributes).length > 0 && (
                  <div className="sd-event-attrs">
                    {Object.entries(e.attributes).map(([k, v]) => (
                      <div key={k}>
                        <span className="mono muted">{k}</span>: <LargeValue value={v} limit={300} />
                      </div>
                    ))}
                  </div>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}

      <AttributesTable attributes={span.attributes ?? {}} title="Attributes" testId="attributes" />
      <AttributesTable attributes={span.resource_attributes ?? {}} title="Resource" />
      {(span.links ?? []).length > 0 && (
        <section>
          <h3>Links</h3>
          {(span.links ?? []).map((l, i) => (
            <div key={i} className="mono">
              <a href={`/traces/${l.trace_id}?span=${l.span_id}`}>{l.trace_id.slice(0, 16)}… / {l.span_id}</a>
            </div>
          ))}
        </section>
      )}
    </aside>
  );
}

function ExceptionView({ event }: { event: SpanEvent }) {
  const a = event.attributes ?? {};
  const stack = a["exception.stacktrace"];
  return (
    <div className="sd-exception">
      <div>
        <strong className="error-text">{asText(a["exception.type"] ?? "Exception")}</strong>
        {a["exception.message"] !== undefined && <span>: {asText(a["exception.message"])}</span>}
      </div>
      {stack !== undefined && <LargeValue value={stack} limit={2500} pre />}
    </div>
  );
}
