/**
 * TanStack Query hooks for every endpoint the UI reads. Query keys start with the resource name
 * ("traces", "trace", "stats", …) so live updates (api/live.ts) can patch or invalidate by prefix.
 */
import { type InfiniteData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { apiDelete, apiGet, type QueryValue } from "@/api/client";
import type {
  DeleteResult,
  Facets,
  QueryValidation,
  Span,
  Stats,
  Timeseries,
  TraceList,
  TraceTimeline,
  Usage,
  WorkflowAggregates,
} from "@/api/types";
import { type TimelineData, timelineData } from "@/api/timeline";

export type RangeParams = { start_time?: string; end_time?: string; workflow_name?: string; service?: string };

export const keys = {
  trace: (id: string) => ["trace", id] as const,
  stats: (params: RangeParams) => ["stats", params] as const,
  timeseries: (params: RangeParams & { bucket: number }) => ["timeseries", params] as const,
  usage: (params: RangeParams & { group_by: string; bucket?: number }) => ["usage", params] as const,
  facet: (kind: FacetKind) => ["facet", kind] as const,
  validate: (q: string) => ["validate", q] as const,
};

export type FacetKind = "workflows" | "services" | "models";

/** Resolves relative ranges ("1h") at fetch time so a cached key stays stable. */
export type ParamsFn<P> = () => P;

export function useTraceList(key: unknown, params: ParamsFn<Record<string, QueryValue>>) {
  return useInfiniteQuery({
    queryKey: ["traces", key],
    queryFn: ({ pageParam, signal }) =>
      apiGet<TraceList>("/api/v1/traces", { ...params(), cursor: pageParam ?? undefined }, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: (prev) => prev,
  });
}

export function useRecentTraces(limit: number) {
  return useQuery({
    queryKey: ["traces", { recent: limit }],
    queryFn: ({ signal }) => apiGet<TraceList>("/api/v1/traces", { limit, sort: "start_time", order: "desc" }, signal),
  });
}

/** The compact timeline of a trace (GET /traces/{id}/timeline): what the waterfall draws. */
export function useTimeline(traceId: string) {
  return useQuery<TimelineData>({
    queryKey: keys.trace(traceId),
    queryFn: async ({ signal }) =>
      timelineData(await apiGet<TraceTimeline>(`/api/v1/traces/${encodeURIComponent(traceId)}/timeline`, undefined, signal)),
    // An in-progress trace keeps growing: poll as a fallback to the live stream.
    refetchInterval: (q) => (q.state.data?.trace.in_progress ? 3000 : false),
    enabled: traceId !== "",
  });
}

/** One span with every attribute and event (for the detail panel). */
export function useSpan(traceId: string, spanId: string | null) {
  return useQuery({
    queryKey: ["trace", traceId, "span", spanId],
    queryFn: ({ signal }) =>
      apiGet<Span>(`/api/v1/traces/${encodeURIComponent(traceId)}/spans/${encodeURIComponent(spanId ?? "")}`, undefined, signal),
    enabled: spanId !== null && traceId !== "",
    staleTime: 60_000,
  });
}

export function useWorkflowAggregates(name: string, params: { start_time?: number; limit_traces?: number }) {
  return useQuery({
    queryKey: ["usage", "workflow-aggregates", name, params],
    queryFn: ({ signal }) => apiGet<WorkflowAggregates>(`/api/v1/workflows/${encodeURIComponent(name)}/aggregates`, params, signal),
    placeholderData: (prev) => prev,
  });
}

export function useStats(key: unknown, params: ParamsFn<RangeParams>) {
  return useQuery({
    queryKey: ["stats", key],
    queryFn: ({ signal }) => apiGet<Stats>("/api/v1/stats", params(), signal),
    placeholderData: (prev) => prev,
  });
}

export function useTimeseries(key: unknown, params: ParamsFn<RangeParams & { bucket: number }>) {
  return useQuery({
    queryKey: ["timeseries", key],
    queryFn: ({ signal }) => apiGet<Timeseries>("/api/v1/stats/timeseries", params(), signal),
    placeholderData: (prev) => prev,
  });
}

export function useUsage(key: unknown, params: ParamsFn<RangeParams & { group_by: string; bucket?: number }>) {
  return useQuery({
    queryKey: ["usage", key],
    queryFn: ({ signal }) => apiGet<Usage>("/api/v1/usage", params(), signal),
    placeholderData: (prev) => prev,
  });
}

export function useFacet(kind: FacetKind) {
  return useQuery({
    queryKey: keys.facet(kind),
    queryFn: ({ signal }) => apiGet<Facets>(`/api/v1/${kind}`, undefined, signal),
    staleTime: 30_000,
  });
}

export function useQueryValidation(q: string) {
  return useQuery({
    queryKey: keys.validate(q),
    queryFn: ({ signal }) => apiGet<QueryValidation>("/api/v1/query/validate", { q }, signal),
    enabled: q.trim().length > 0,
    staleTime: Infinity,
  });
}

/** Removes a trace from every cached list (used by delete and by live `deleted` events). */
export function removeTraceFromCaches(client: ReturnType<typeof useQueryClient>, traceId: string | null) {
  client.setQueriesData<InfiniteData<TraceList> | TraceList>({ queryKey: ["traces"] }, (data) => {
    if (!data) return data;
    const drop = (list: TraceList): TraceList => {
      const traces = traceId === null ? [] : list.traces.filter((t) => t.trace_id !== traceId);
      return { ...list, traces, total: Math.max(0, list.total - (list.traces.length - traces.length)) };
    };
    return "pages" in data ? { ...data, pages: data.pages.map(drop) } : drop(data);
  });
  if (traceId === null) client.removeQueries({ queryKey: ["trace"] });
  else client.removeQueries({ queryKey: keys.trace(traceId) });
}

export function useDeleteTrace() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (traceId: string) => apiDelete<DeleteResult>(`/api/v1/traces/${encodeURIComponent(traceId)}`),
    onSuccess: (_res, traceId) => {
      removeTraceFromCaches(client, traceId);
      for (const k of ["stats", "timeseries", "usage", "facet"]) void client.invalidateQueries({ queryKey: [k] });
    },
  });
}
