/** /traces — query, filters, sortable virtualised list; the URL holds the whole search. */
import { useCallback, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { apiUrl } from "@/api/client";
import { useDeleteTrace, useTraceList } from "@/api/queries";
import type { TraceSummary } from "@/api/types";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { EmptyState, ErrorState, Skeleton } from "@/components/States";
import { formatInt } from "@/lib/format";
import { Filters } from "./Filters";
import { SearchBar } from "./SearchBar";
import { type SortKey, type TraceSearch, DEFAULT_SEARCH, nextSort, parseSearch, serializeSearch, toApiParams } from "./searchParams";
import { TraceTable } from "./TraceTable";
import "./TracesPage.css";

const PAGE = 100;

export function TracesPage() {
  const [params, setParams] = useSearchParams();
  const search = useMemo(() => parseSearch(params), [params]);
  const setSearch = useCallback((next: TraceSearch) => setParams(serializeSearch(next), { replace: true }), [setParams]);
  const key = serializeSearch(search).toString();
  const list = useTraceList(key, () => toApiParams(search, PAGE));
  const traces = useMemo(() => list.data?.pages.flatMap((p) => p.traces) ?? [], [list.data]);
  const total = list.data?.pages[0]?.total;
  const del = useDeleteTrace();
  const [toDelete, setToDelete] = useState<TraceSummary | null>(null);
  // Up to two traces ticked for comparison (a third tick drops the oldest).
  const [picked, setPicked] = useState<string[]>([]);
  const pickedSet = useMemo(() => new Set(picked), [picked]);
  const onPick = useCallback((id: string) => setPicked((prev) => (prev.includes(id) ? prev.filter((p) => p !== id) : [...prev, id].slice(-2))), []);
  const csvUrl = () => apiUrl("/api/v1/export/traces", { ...toApiParams(search, PAGE), limit: undefined, format: "csv" });
  const filtered = key !== "" && key !== serializeSearch({ ...DEFAULT_SEARCH, sort: search.sort, order: search.order }).toString();

  return (
    <div className="traces-page">
      <SearchBar value={search.q} onSubmit={(q) => setSearch({ ...search, q })} />
      <Filters search={search} onChange={setSearch} />
      <div className="traces-summary muted" data-testid="traces-total">
        {total !== undefined && `${formatInt(total)} trace${total === 1 ? "" : "s"}`}
        {filtered && (
          <button type="button" className="link-btn" onClick={() => setSearch(DEFAULT_SEARCH)}>
            Clear search
          </button>
        )}
        {list.isFetching && !list.isPending && <span className="fetching">updating…</span>}
        <span className="traces-actions">
          {search.workflow && (
            <Link to={`/workflows/${encodeURIComponent(search.workflow)}`} data-testid="workflow-aggregates-link">
              {search.workflow}: latency and span statistics
            </Link>
          )}
          {picked.length === 2 ? (
            <Link className="btn btn-small btn-primary" to={`/compare?a=${picked[0]}&b=${picked[1]}`} data-testid="compare-button">
              Compare 2 traces
            </Link>
          ) : (
            <span className="muted">{picked.length === 1 ? "Tick one more trace to compare" : "Tick two traces to compare"}</span>
          )}
          <a className="btn btn-small" href={csvUrl()} download="traces.csv" data-testid="export-csv" onClick={(e) => (e.currentTarget.href = csvUrl())}>
            Export CSV
          </a>
        </span>
      </div>
      {list.isPending ? (
        <div className="panel">
          <Skeleton rows={10} height={22} />
        </div>
      ) : list.isError && traces.length === 0 ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : traces.length === 0 ? (
        <EmptyState
          title={filtered ? "No traces match this search" : "No traces yet"}
          hint={filtered ? "Widen the time range or clear filters." : "Send OTLP traces to /v1/traces (or run `msgtrace demo`); they appear here live."}
        />
      ) : (
        <TraceTable
          traces={traces}
          search={search}
          onSort={(c: SortKey) => setSearch(nextSort(search, c))}
          hasMore={list.hasNextPage}
          loadingMore={list.isFetchingNextPage}
          onLoadMore={() => void list.fetchNextPage()}
          onDelete={setToDelete}
          picked={pickedSet}
          onPick={onPick}
        />
      )}
      {list.isError && traces.length > 0 && <ErrorState error={list.error} />}
      {toDelete && (
        <ConfirmDialog
          title="Delete this trace?"
          body={
            <p>
              <strong>{toDelete.root_span_name ?? toDelete.trace_id}</strong> ({toDelete.span_count} spans) will be deleted. This cannot be undone.
            </p>
          }
          confirmLabel="Delete trace"
          busy={del.isPending}
          error={del.error ? del.error.message : null}
          onCancel={() => setToDelete(null)}
          onConfirm={() => del.mutate(toDelete.trace_id, { onSuccess: () => setToDelete(null) })}
        />
      )}
    </div>
  );
}
