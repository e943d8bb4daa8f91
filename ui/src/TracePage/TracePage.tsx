/** /traces/:traceId — header, errors, waterfall and (with ?span=<id>) the span detail panel. */
import { useCallback, useMemo, useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { useDeleteTrace, useTrace } from "@/api/queries";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { EmptyState, ErrorState, Skeleton } from "@/components/States";
import { ErrorsSection } from "./ErrorsSection";
import { SpanDetail } from "./SpanDetail/SpanDetail";
import { TraceHeader } from "./TraceHeader";
import { TraceTimelineViewer } from "./TraceTimelineViewer/TraceTimelineViewer";
import "./TracePage.css";

export function TracePage() {
  const { traceId = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const navigate = useNavigate();
  const trace = useTrace(traceId);
  const del = useDeleteTrace();
  const [confirming, setConfirming] = useState(false);
  const selectedSpanId = search.get("span");

  const spanById = useMemo(() => new Map((trace.data?.spans ?? []).map((s) => [s.span_id, s])), [trace.data]);
  const selected = selectedSpanId ? spanById.get(selectedSpanId) : undefined;
  const onSelect = useCallback(
    (spanId: string) =>
      setSearch(
        (prev) => {
          const next = new URLSearchParams(prev);
          if (next.get("span") === spanId) next.delete("span");
          else next.set("span", spanId);
          return next;
        },
        { replace: true },
      ),
    [setSearch],
  );
  const closeDetail = useCallback(() => setSearch({}, { replace: true }), [setSearch]);

  if (trace.isPending) {
    return (
      <div className="trace-page">
        <Skeleton rows={2} height={28} />
        <Skeleton rows={12} />
      </div>
    );
  }
  if (trace.isError) return <ErrorState error={trace.error} onRetry={() => void trace.refetch()} />;
  const data = trace.data;
  const spans = data.spans ?? [];

  return (
    <div className={`trace-page${selected ? " with-detail" : ""}`}>
      <TraceHeader trace={data} onDelete={() => setConfirming(true)} />
      <ErrorsSection spans={spans} onSelect={onSelect} />
      <div className="trace-main">
        <div className="trace-timeline">
          {spans.length === 0 ? (
            <EmptyState title="No spans yet" hint="This trace has no spans; it may still be arriving." />
          ) : (
            <TraceTimelineViewer spans={spans} selectedSpanId={selectedSpanId} onSelect={onSelect} />
          )}
        </div>
        {selected && <SpanDetail key={selected.span_id} span={selected} traceStartNs={data.start_time} onClose={closeDetail} />}
        {selectedSpanId && !selected && (
          <aside className="span-detail panel">
            <EmptyState title="Span not found" hint={`No span ${selectedSpanId} in this trace.`} />
          </aside>
        )}
      </div>
      {confirming && (
        <ConfirmDialog
          title="Delete this trace?"
          body={
            <p>
              Trace <code>{data.trace_id}</code> and its {data.span_count} spans will be deleted. This cannot be undone.
            </p>
          }
          confirmLabel="Delete trace"
          busy={del.isPending}
          error={del.error ? del.error.message : null}
          onCancel={() => setConfirming(false)}
          onConfirm={() => del.mutate(data.trace_id, { onSuccess: () => navigate("/traces", { replace: true }) })}
        />
      )}
    </div>
  );
}
