/** /traces — query, filters, sortable virtualised list; the URL holds the whole search. */
import { useCallback, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
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
