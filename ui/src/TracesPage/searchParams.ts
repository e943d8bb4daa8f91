/**
 * The trace search lives in the URL, so a search is a shareable link. Pure conversions between
 * URLSearchParams, the form state and the API's query parameters (docs/api.md, GET /api/v1/traces).
 */
import type { QueryValue } from "@/api/client";
import { msToNsString } from "@/lib/format";

export const RANGES = { "15m": 15 * 60_000, "1h": 3_600_000, "6h": 6 * 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 } as const;
export type RangeKey = keyof typeof RANGES | "all";
export const SORTS = ["start_time", "duration", "span_count", "tokens", "cost"] as const;
export type SortKey = (typeof SORTS)[number];

export interface TraceSearch {
  q: string;
  range: RangeKey;
  minMs: string;
  maxMs: string;
  status: "" | "error" | "ok";
  workflow: string;
  service: string;
  model: string;
  minCost: string;
  sort: SortKey;
  order: "asc" | "desc";
}

export const DEFAULT_SEARCH: TraceSearch = {
  q: "",
  range: "all",
  minMs: "",
  maxMs: "",
  status: "",
  workflow: "",
  service: "",
  model: "",
  minCost: "",
  sort: "start_time",
  order: "desc",
};

const URL_KEYS: Record<keyof TraceSearch, string> = {
  q: "q",
  range: "range",
  minMs: "min_ms",
  maxMs: "max_ms",
  status: "status",
  workflow: "workflow",
  service: "service",
  model: "model",
  minCost: "min_cost",
  sort: "sort",
  order: "order",
};

function isRange(v: string): v is RangeKey {
  return v === "all" || v in RANGES;
}

/** Reads the search from the URL; unknown or malformed values fall back to the defaults. */
export function parseSearch(params: URLSearchParams): TraceSearch {
  const get = (k: keyof TraceSearch) => params.get(URL_KEYS[k]) ?? "";
  const range = get("range");
  const status = get("status");
  const sort = get("sort");
  const num = (v: string) => (v !== "" && Number.isFinite(Number(v)) && Number(v) >= 0 ? v : "");
  return {
    q: get("q"),
    range: isRange(range) ? range : DEFAULT_SEARCH.range,
    minMs: num(get("minMs")),
    maxMs: num(get("maxMs")),
    status: status === "error" || status === "ok" ? status : "",
    workflow: get("workflow"),
    service: get("service"),
    model: get("model"),
    minCost: num(get("minCost")),
    sort: (SORTS as readonly string[]).includes(sort) ? (sort as SortKey) : DEFAULT_SEARCH.sort,
    order: get("order") === "asc" ? "asc" : "desc",
  };
}

/** Writes only the fields that differ from the defaults, in a fixed order (stable links). */
export function serializeSearch(search: TraceSearch): URLSearchParams {
  const out = new URLSearchParams();
  for (const key of Object.keys(URL_KEYS) as (keyof TraceSearch)[]) {
    if (search[key] !== DEFAULT_SEARCH[key] && search[key] !== "") out.set(URL_KEYS[key], search[key]);
  }
  return out;
}

/** API query parameters; relative ranges resolve against `nowMs` (pass the fetch time). */
export function toApiParams(search: TraceSearch, limit: number, nowMs: number = Date.now()): Record<string, QueryValue> {
  const params: Record<string, QueryValue> = {
    q: search.q.trim() || undefined,
    min_duration_ms: search.minMs || undefined,
    max_duration_ms: search.maxMs || undefined,
    has_errors: search.status === "error" ? true : search.status === "ok" ? false : undefined,
    workflow_name: search.workflow || undefined,
    service: search.service || undefined,
    model: search.model || undefined,
    min_cost: search.minCost || undefined,
    sort: search.sort,
    order: search.order,
    limit,
  };
  if (search.range !== "all") params.start_time = msToNsString(nowMs - RANGES[search.range]);
  return params;
}

/** Clicking a column: a new column sorts descending; the same column flips the order. */
export function nextSort(search: TraceSearch, column: SortKey): TraceSearch {
  if (search.sort === column) return { ...search, order: search.order === "desc" ? "asc" : "desc" };
  return { ...search, sort: column, order: "desc" };
}
