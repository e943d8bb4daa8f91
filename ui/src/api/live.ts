/**
 * Live updates: one EventSource on /api/v1/live for the whole app. Events patch the query cache
 * instead of reloading: a `trace` event replaces that trace's summary in cached lists at once and,
 * coalesced to at most once a second, marks lists, aggregates and the open trace stale so they
 * refetch; a `deleted` event drops the trace from every cache. EventSource reconnects by itself
 * and sends Last-Event-ID, so nothing is missed across a reconnect.
 */
import { type InfiniteData, type QueryClient, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { removeTraceFromCaches } from "@/api/queries";
import type { TraceList, TraceSummary } from "@/api/types";

export type LiveStatus = "connecting" | "open" | "closed";

const AGGREGATES = ["stats", "timeseries", "usage", "facet"] as const;

function patchSummary(client: QueryClient, summary: TraceSummary): boolean {
  let found = false;
  client.setQueriesData<InfiniteData<TraceList> | TraceList>({ queryKey: ["traces"] }, (data) => {
    if (!data) return data;
    const patch = (list: TraceList): TraceList => {
      const i = list.traces.findIndex((t) => t.trace_id === summary.trace_id);
      if (i < 0) return list;
      found = true;
      const traces = list.traces.slice();
      traces[i] = summary;
      return { ...list, traces };
    };
    return "pages" in data ? { ...data, pages: data.pages.map(patch) } : patch(data);
  });
  return found;
}

export function useLiveUpdates(): LiveStatus {
  const client = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>("connecting");

  useEffect(() => {
    if (typeof EventSource === "undefined") return;
    const source = new EventSource("/api/v1/live");
    const dirtyTraces = new Set<string>();
    let listsDirty = false;
    let timer: ReturnType<typeof setTimeout> | null = null;

    const flush = () => {
      timer = null;
      if (listsDirty) void client.invalidateQueries({ queryKey: ["traces"] });
      for (const k of AGGREGATES) void client.invalidateQueries({ queryKey: [k] });
      for (const id of dirtyTraces) void client.invalidateQueries({ queryKey: ["trace", id] });
      dirtyTraces.clear();
      listsDirty = false;
    };
    const schedule = () => {
      if (timer === null) timer = setTimeout(flush, 1000);
    };

    source.onopen = () => setStatus("open");
    source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
    source.addEventListener("trace", (ev) => {
      let summary: TraceSummary;
      try {
        summary = JSON.parse((ev as MessageEvent<string>).data) as TraceSummary;
      } catch {
        return;
      }
      patchSummary(client, summary);
      listsDirty = true; // a new or re-sorted trace can change any list's membership
      if (client.getQueryData(["trace", summary.trace_id]) !== undefined) dirtyTraces.add(summary.trace_id);
      schedule();
    });
    source.addEventListener("deleted", (ev) => {
      let traceId: string | null = null;
      try {
        traceId = (JSON.parse((ev as MessageEvent<string>).data) as { trace_id: string | null }).trace_id;
      } catch {
        return;
      }
      removeTraceFromCaches(client, traceId);
      schedule();
    });
    return () => {
      if (timer !== null) clearTimeout(timer);
      source.close();
    };
  }, [client]);

  return status;
}
