/** Display formatting shared by every view. Pure functions; null/undefined render as "–". */

const DASH = "–";

/** 0.42 → "420µs", 12.3 → "12.3ms", 1234 → "1.23s", 125000 → "2m 5s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return "0ms";
  if (ms < 1) return `${trim(ms * 1000, ms * 1000 < 10 ? 2 : ms * 1000 < 100 ? 1 : 0)}µs`;
  if (ms < 1000) return `${trim(ms, ms < 10 ? 2 : ms < 100 ? 1 : 0)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${trim(s, s < 10 ? 2 : 1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s - m * 60)}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m - h * 60}m`;
}

function trim(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/** 950 → "950", 12345 → "12.3k", 2500000 → "2.5M". */
export function formatCompact(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  const abs = Math.abs(n);
  if (abs < 1000) return trim(n, Number.isInteger(n) ? 0 : 2);
  if (abs < 1e6) return `${trim(n / 1e3, abs < 1e4 ? 2 : 1)}k`;
  if (abs < 1e9) return `${trim(n / 1e6, abs < 1e7 ? 2 : 1)}M`;
  return `${trim(n / 1e9, 2)}B`;
}

/** Thousands separators: 1234567 → "1,234,567". */
export function formatInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  return Math.round(n).toLocaleString("en-US");
}

/** US dollars with enough digits for sub-cent LLM costs: 0.000123 → "$0.000123", 1.5 → "$1.50". */
export function formatCost(cost: number | null | undefined): string {
  if (cost === null || cost === undefined || !Number.isFinite(cost)) return DASH;
  if (cost === 0) return "$0";
  const abs = Math.abs(cost);
  if (abs >= 1) return `$${cost.toFixed(2)}`;
  if (abs >= 0.01) return `$${cost.toFixed(4).replace(/0+$/, "").replace(/\.$/, "")}`;
  return `$${Number(cost.toPrecision(3)).toFixed(Math.min(10, 2 - Math.floor(Math.log10(abs))))}`;
}

/** 0.0512 → "5.1%". */
export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return DASH;
  const pct = ratio * 100;
  return `${trim(pct, pct < 10 ? 1 : 0)}%`;
}

/** ns since the epoch → Date (ms precision is all a display needs). */
export function nsToDate(ns: number): Date {
  return new Date(Math.floor(Number(ns) / 1e6));
}

/** ns since the epoch → "2024-05-01 13:04:05.123" in local time. */
export function formatTimestamp(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(Number(ns))) return DASH;
  const d = nsToDate(ns);
  const pad = (v: number, w = 2) => String(v).padStart(w, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** How long ago, relative to `nowMs`: "5s ago", "3m ago", "2h ago", "4d ago". */
export function formatRelative(ns: number | null | undefined, nowMs: number = Date.now()): string {
  if (ns === null || ns === undefined || !Number.isFinite(Number(ns))) return DASH;
  const diff = Math.max(0, nowMs - Number(ns) / 1e6) / 1000;
  if (diff < 1) return "just now";
  if (diff < 60) return `${Math.floor(diff)}s ago`;
  if (diff < 3600) return `${Math.floor(diff / 60)}m ago`;
  if (diff < 86400) return `${Math.floor(diff / 3600)}h ago`;
  return `${Math.floor(diff / 86400)}d ago`;
}

/** First 8 characters of an id, for compact display. */
export function shortId(id: string | null | undefined): string {
  return id ? id.slice(0, 8) : DASH;
}

/** ms since the epoch → ns as an exact decimal string (no float rounding past 2^53). */
export function msToNsString(ms: number): string {
  return (BigInt(Math.floor(ms)) * 1000000n).toString();
}

/** Current time in ns since the epoch as an exact decimal string. */
export function nowNsString(): string {
  return msToNsString(Date.now());
}
