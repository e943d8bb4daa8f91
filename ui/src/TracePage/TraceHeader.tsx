import type { ReactNode } from "react";
import { Link } from "react-router";
import type { TraceSummary } from "@/api/types";
import { CopyButton } from "@/components/CopyButton";
import { formatCost, formatDuration, formatInt, formatTimestamp } from "@/lib/format";

/** Title, status, id and totals of a trace; `actions` are the buttons on the right (export, delete). */
export function TraceHeader({ trace, actions, backLink = true }: { trace: TraceSummary; actions?: ReactNode; backLink?: boolean }) {
  return (
    <header className="trace-header panel" data-testid="trace-header">
      <div className="th-top">
        {backLink && (
          <Link to="/traces" className="muted">
            ← Traces
          </Link>
        )}
        <h1>{trace.root_span_name ?? "Trace"}</h1>
        {trace.in_progress && (
          <span className="badge badge-live" data-testid="in-progress">
            in progress
          </span>
        )}
        <span className={`badge ${trace.status === "error" ? "badge-error" : trace.status === "ok" ? "badge-ok" : ""}`}>{trace.status}</span>
        <span className="toolbar-spacer" />
        <span className="mono muted th-id">
          {trace.trace_id} <CopyButton text={trace.trace_id} label="Copy trace id" />
        </span>
        {actions}
      </div>
      <dl className="th-stats">
        <Stat label="Duration" value={formatDuration(trace.duration_ms)} />
        <Stat label="Spans" value={formatInt(trace.span_count)} />
        <Stat label="Errors" value={formatInt(trace.error_count)} error={trace.error_count > 0} />
        <Stat label="Tokens in / out" value={`${formatInt(trace.input_tokens)} / ${formatInt(trace.output_tokens)}`} />
        <Stat label="Cost" value={formatCost(trace.cost)} />
        <Stat label="Models" value={trace.models?.length ? trace.models.join(", ") : "–"} />
        <Stat label="Service" value={trace.service_name ?? "–"} />
        {trace.workflow_name && (
          <Stat
            label="Workflow"
            value={
              <Link to={`/workflows/${encodeURIComponent(trace.workflow_name)}`} data-testid="workflow-link" title="Latency and span statistics of this workflow">
                {trace.workflow_name}
              </Link>
            }
          />
        )}
        <Stat label="Started" value={formatTimestamp(trace.start_time)} />
      </dl>
    </header>
  );
}

function Stat({ label, value, error }: { label: string; value: ReactNode; error?: boolean }) {
  return (
    <div className="th-stat">
      <dt>{label}</dt>
      <dd className={error ? "error-text" : undefined}>{value}</dd>
    </div>
  );
}
