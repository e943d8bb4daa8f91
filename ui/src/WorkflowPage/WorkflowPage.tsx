/**
 * /workflows/:name — a workflow's latency histogram and per-span-name statistics over its latest
 * traces (GET /workflows/{name}/aggregates; the server bounds the sample, default 2,000 traces).
 */
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { useWorkflowAggregates } from "@/api/queries";
import type { WorkflowAggregates } from "@/api/types";
import { ErrorState, EmptyState, Skeleton } from "@/components/States";
import { formatCost, formatDuration, formatInt } from "@/lib/format";
import "./WorkflowPage.css";

const RANGES: Record<string, number | null> = { "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000, all: null };

export function WorkflowPage() {
  const { name = "" } = useParams();
  const [range, setRange] = useState("all");
  const [limit, setLimit] = useState(2000);
  // Resolve the relative range once per choice, so the query key (and cache) stays stable.
  const startTime = useMemo(() => {
    const ms = RANGES[range];
    return ms ? (Date.now() - ms) * 1e6 : undefined;
  }, [range]);
  const agg = useWorkflowAggregates(name, { start_time: startTime, limit_traces: limit });

  return (
    <div className="workflow-page" data-testid="workflow-page">
      <header className="panel wf-head">
        <Link to={`/traces?workflow=${encodeURIComponent(name)}`} className="muted">
          ← Traces of this workflow
        </Link>
        <h1>Workflow {name}</h1>
        <span className="toolbar-spacer" />
        <label className="filter">
          <span>Time</span>
          <select value={range} onChange={(e) => setRange(e.target.value)} aria-label="Time range">
            {Object.keys(RANGES).map((r) => (
              <option key={r} value={r}>
                {r === "all" ? "All time" : `Last ${r}`}
              </option>
            ))}
          </select>
        </label>
        <label className="filter">
          <span>Sample</span>
          <select value={limit} onChange={(e) => setLimit(Number(e.target.value))} aria-label="Traces sampled">
            {[200, 2000, 10000].map((n) => (
              <option key={n} value={n}>
                latest {formatInt(n)} traces
              </option>
            ))}
          </select>
        </label>
      </header>
      {agg.isPending ? (
        <Skeleton rows={10} />
      ) : agg.isError ? (
        <ErrorState error={agg.error} onRetry={() => void agg.refetch()} />
      ) : agg.data.trace_count === 0 ? (
        <EmptyState title="No traces of this workflow" hint="Widen the time range, or check the workflow name." />
      ) : (
        <Aggregates data={agg.data} />
      )}
    </div>
  );
}

function Aggregates({ data }: { data: WorkflowAggregates }) {
  return (
    <>
      <section className="panel">
        <dl className="th-stats" data-testid="workflow-stats">
          <Stat label="Traces" value={`${formatInt(data.trace_count)}${data.trace_count >= data.limit_traces ? " (latest)" : ""}`} />
          <Stat label="Errors" value={formatInt(data.error_traces)} />
          <Stat label="p50" value={formatDuration(data.p50_ms)} />
          <Stat label="p95" value={formatDuration(data.p95_ms)} />
          <Stat label="p99" value={formatDuration(data.p99_ms)} />
          <Stat label="Max" value={formatDuration(data.max_ms)} />
          <Stat label="Tokens" value={formatInt(data.total_tokens)} />
          <Stat label="Cost" value={formatCost(data.cost)} />
        </dl>
        <h3>Latency histogram</h3>
        <Histogram data={data} />
      </section>
      <section className="panel wf-spans">
        <h3>
          Spans by name {data.spans_truncated && <span className="badge">sampled: span cap reached</span>}
        </h3>
        <table className="wf-table" data-testid="span-stats">
          <thead>
            <tr>
              <th>Span name</th>
              <th className="num">Count</th>
              <th className="num">In traces</th>
              <th className="num">Errors</th>
              <th className="num">p50</th>
              <th className="num">p95</th>
              <th className="num">Total time</th>
              <th className="num">Tokens</th>
              <th className="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {data.spans.map((s) => (
              <tr key={s.name} data-name={s.name}>
                <td className="wf-span-name" title={s.name}>
                  {s.name}
                </td>
                <td className="num">{formatInt(s.count)}</td>
                <td className="num">{formatInt(s.traces)}</td>
                <td className={`num${s.error_count ? " error-text" : ""}`}>{formatInt(s.error_count)}</td>
                <td className="num">{formatDuration(s.p50_ms)}</td>
                <td className="num">{formatDuration(s.p95_ms)}</td>
                <td className="num">{formatDuration(s.total_ms)}</td>
                <td className="num">{s.total_tokens ? formatInt(s.total_tokens) : "–"}</td>
                <td className="num">{formatCost(s.cost)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}

function Histogram({ data }: { data: WorkflowAggregates }) {
  const bins = data.histogram;
  const max = Math.max(1, ...bins.map((b) => b.count));
  const W = 720;
  const H = 140;
  const bw = W / Math.max(1, bins.length);
  return (
    <div className="wf-hist">
      <svg viewBox={`0 0 ${W} ${H + 22}`} role="img" aria-label="Trace latency histogram" data-testid="latency-histogram">
        {bins.map((b, i) => {
          const h = (b.count / max) * H;
          return (
            <g key={i}>
              <rect x={i * bw + 1} y={H - h} width={Math.max(1, bw - 2)} height={h} className="wf-hist-bar">
                <title>
                  {formatDuration(b.lo_ms)} – {formatDuration(b.hi_ms)}: {b.count} trace{b.count === 1 ? "" : "s"}
                </title>
              </rect>
            </g>
          );
        })}
        {bins.length > 0 && (
          <>
            <text x={0} y={H + 16} className="wf-hist-label">
              {formatDuration(bins[0]!.lo_ms)}
            </text>
            <text x={W} y={H + 16} textAnchor="end" className="wf-hist-label">
              {formatDuration(bins[bins.length - 1]!.hi_ms)}
            </text>
          </>
        )}
      </svg>
    </div>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div className="th-stat">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}
