/**
 * Dashboard: totals from /stats, charts from /stats/timeseries and /usage?group_by=model, and
 * the most recent traces. Live events invalidate these queries (api/live.ts), so it updates itself.
 */
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { type RangeParams, useRecentTraces, useStats, useTimeseries, useUsage } from "@/api/queries";
import type { Timeseries, Usage } from "@/api/types";
import { EmptyState, ErrorState, Skeleton } from "@/components/States";
import { formatCompact, formatCost, formatDuration, formatInt, formatPercent, formatRelative } from "@/lib/format";
import { msToNsString } from "@/lib/format";
import { type ChartSeries, TimeChart } from "./TimeChart";
import "./DashboardPage.css";

const RANGES = { "1h": [3_600_000, 60], "6h": [6 * 3_600_000, 300], "24h": [86_400_000, 1800], "7d": [7 * 86_400_000, 3 * 3600], "30d": [30 * 86_400_000, 86_400] } as const;
type Range = keyof typeof RANGES;

function rangeParams(range: Range): RangeParams {
  return { start_time: msToNsString(Date.now() - RANGES[range][0]) };
}

export function DashboardPage() {
  const [range, setRange] = useState<Range>("24h");
  const bucket = RANGES[range][1];
  const stats = useStats(range, () => rangeParams(range));
  const series = useTimeseries(range, () => ({ ...rangeParams(range), bucket }));
  const usage = useUsage(range, () => ({ ...rangeParams(range), group_by: "model", bucket }));
  const recent = useRecentTraces(8);
  const s = stats.data;
  // The charts show the whole selected window; recomputed when fresh data arrives.
  const xRange = useMemo<[number, number]>(() => {
    const now = Math.ceil(Date.now() / 1000);
    return [now - RANGES[range][0] / 1000, now];
  }, [range, series.dataUpdatedAt]); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <div className="dashboard" data-testid="dashboard">
      <div className="dash-head">
        <h1>Overview</h1>
        <div className="seg" role="group" aria-label="Time range">
          {(Object.keys(RANGES) as Range[]).map((r) => (
            <button key={r} type="button" className={`seg-btn${r === range ? " active" : ""}`} aria-pressed={r === range} onClick={() => setRange(r)}>
              {r}
            </button>
          ))}
        </div>
      </div>

      {stats.isError ? (
        <ErrorState error={stats.error} onRetry={() => void stats.refetch()} />
      ) : (
        <div className="stat-cards" data-testid="stat-cards">
          <Card label="Traces" value={s && formatInt(s.total_traces)} />
          <Card label="Spans" value={s && formatInt(s.total_spans)} />
          <Card label="Errors" value={s && formatInt(s.error_traces)} sub={s && `${formatPercent(s.error_rate)} of traces`} error={!!s && s.error_traces > 0} />
          <Card label="p50 duration" value={s && formatDuration(s.duration_ms.p50)} sub={s && `avg ${formatDuration(s.duration_ms.avg)}`} />
          <Card label="p95 duration" value={s && formatDuration(s.duration_ms.p95)} sub={s && `p99 ${formatDuration(s.duration_ms.p99)}`} />
          <Card label="Tokens" value={s && formatCompact(s.tokens.total)} sub={s && `${formatCompact(s.tokens.input)} in · ${formatCompact(s.tokens.output)} out`} />
          <Card label="Cost" value={s && formatCost(s.cost)} />
        </div>
      )}

      <div className="dash-grid">
        <Panel title="Traces and errors">
          <SeriesChart q={series} pick={(d) => [
            { label: "traces", color: "--bar", values: d.points.map((p) => p.traces) },
            { label: "errors", color: "--error", values: d.points.map((p) => p.error_traces) },
          ]} format={formatCompact} bars xRange={xRange} />
        </Panel>
        <Panel title="Latency">
          <SeriesChart q={series} pick={(d) => [
            { label: "avg", color: "--bar", values: d.points.map((p) => p.avg_duration_ms) },
            { label: "max", color: "--warn", values: d.points.map((p) => p.max_duration_ms) },
          ]} format={formatDuration} xRange={xRange} />
        </Panel>
        <Panel title="Tokens by model">
          <UsageChart q={usage} field="total_tokens" format={formatCompact} xRange={xRange} />
        </Panel>
        <Panel title="Cost by model">
          <UsageChart q={usage} field="cost" format={formatCost} xRange={xRange} />
        </Panel>
        <Panel title="Models" wide>
          <UsageTable q={usage} />
        </Panel>
        <Panel title="Recent traces" wide>
          {recent.isPending ? (
            <Skeleton rows={5} />
          ) : recent.isError ? (
            <ErrorState error={recent.error} />
          ) : recent.data.traces.length === 0 ? (
            <EmptyState title="No traces yet" hint="Send OTLP traces to /v1/traces or run `msgtrace demo`." />
          ) : (
            <ul className="recent" data-testid="recent-traces">
              {recent.data.traces.map((t) => (
                <li key={t.trace_id}>
                  <Link to={`/traces/${t.trace_id}`}>{t.root_span_name ?? t.trace_id.slice(0, 8)}</Link>
                  <span className="muted">{t.workflow_name ?? t.service_name ?? ""}</span>
                  <span className="num">{formatDuration(t.duration_ms)}</span>
                  <span className="num">{t.span_count} spans</span>
                  {t.status === "error" ? <span className="badge badge-error">error</span> : t.in_progress ? <span className="badge badge-live">in progress</span> : <span className="badge badge-ok">{t.status}</span>}
                  <span className="muted num">{formatRelative(t.start_time)}</span>
                </li>
              ))}
            </ul>
          )}
        </Panel>
      </div>
    </div>
  );
}

function Card({ label, value, sub, error }: { label: string; value: string | undefined; sub?: string | undefined; error?: boolean }) {
  return (
    <div className="stat-card panel">
      <div className="muted stat-label">{label}</div>
      {value === undefined ? <Skeleton rows={1} height={24} /> : <div className={`stat-value${error ? " error-text" : ""}`}>{value}</div>}
      {sub && <div className="muted stat-sub">{sub}</div>}
    </div>
  );
}

function Panel({ title, children, wide }: { title: string; children: React.ReactNode; wide?: boolean }) {
  return (
    <section className={`panel dash-panel${wide ? " wide" : ""}`}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

type QueryLike<T> = { isPending: boolean; isError: boolean; error: unknown; data: T | undefined };

function SeriesChart({ q, pick, format, bars, xRange }: { q: QueryLike<Timeseries>; pick: (d: Timeseries) => ChartSeries[]; format: (v: number) => string; bars?: boolean; xRange: [number, number] }) {
  const times = useMemo(() => q.data?.points.map((p) => p.t) ?? [], [q.data]);
  const series = useMemo(() => (q.data ? pick(q.data) : []), [q.data]); // eslint-disable-line react-hooks/exhaustive-deps
  if (q.isPending) return <Skeleton rows={4} height={30} />;
  if (q.isError) return <ErrorState error={q.error} />;
  if (times.length === 0) return <EmptyState title="No data in this range" />;
  return <TimeChart times={times} series={series} format={format} bars={bars} xRange={xRange} />;
}

const MODEL_COLORS = ["--bar", "--bar-llm", "--bar-tool", "--warn", "--ok", "--error"];

function UsageChart({ q, field, format, xRange }: { q: QueryLike<Usage>; field: "total_tokens" | "cost"; format: (v: number) => string; xRange: [number, number] }) {
  const { times, series } = useMemo(() => {
    const data = q.data;
    if (!data) return { times: [] as number[], series: [] as ChartSeries[] };
    const all = [...new Set(data.series.flatMap((s) => s.points.map((p) => p.t)))].sort((a, b) => a - b);
    const top = data.series.slice(0, MODEL_COLORS.length);
    return {
      times: all,
      series: top.map((s, i) => {
        const byT = new Map(s.points.map((p) => [p.t, p[field]]));
        return { label: s.key || "(unknown)", color: MODEL_COLORS[i]!, values: all.map((t) => byT.get(t) ?? null) };
      }),
    };
  }, [q.data, field]);
  if (q.isPending) return <Skeleton rows={4} height={30} />;
  if (q.isError) return <ErrorState error={q.error} />;
  if (times.length === 0) return <EmptyState title="No LLM usage in this range" />;
  return <TimeChart times={times} series={series} format={format} xRange={xRange} />;
}

function UsageTable({ q }: { q: QueryLike<Usage> }) {
  if (q.isPending) return <Skeleton rows={3} />;
  if (q.isError) return <ErrorState error={q.error} />;
  const rows = q.data?.totals ?? [];
  if (rows.length === 0) return <EmptyState title="No LLM calls in this range" />;
  const maxTokens = Math.max(1, ...rows.map((r) => r.total_tokens));
  return (
    <table className="usage-table" data-testid="usage-table">
      <thead>
        <tr>
          <th>Model</th>
          <th className="num">Calls</th>
          <th>Tokens</th>
          <th className="num">In / out</th>
          <th className="num">Cost</th>
          <th className="num">Avg latency</th>
          <th className="num">Errors</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key}>
            <td className="mono">{r.key || "(unknown)"}</td>
            <td className="num">{formatInt(r.calls)}</td>
            <td>
              <div className="usage-bar">
                <span style={{ width: `${(r.total_tokens / maxTokens) * 100}%` }} />
                <em>{formatCompact(r.total_tokens)}</em>
              </div>
            </td>
            <td className="num">
              {formatCompact(r.input_tokens)} / {formatCompact(r.output_tokens)}
            </td>
            <td className="num">
              {formatCost(r.cost)}
              {r.unpriced_calls > 0 && <span className="muted" title="calls without a known price"> +{r.unpriced_calls} unpriced</span>}
            </td>
            <td className="num">{formatDuration(r.avg_duration_ms)}</td>
            <td className={`num${r.errors ? " error-text" : ""}`}>{formatInt(r.errors)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
