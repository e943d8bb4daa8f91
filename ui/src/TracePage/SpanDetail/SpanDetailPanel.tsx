/** Loads the selected span's full record (server or imported file) and shows SpanDetail. */
import { useSpan } from "@/api/queries";
import { CopyButton } from "@/components/CopyButton";
import { EmptyState, ErrorState, Skeleton } from "@/components/States";
import type { SpanSource } from "@/TracePage/SpanSource";
import { SpanDetail } from "./SpanDetail";

interface Props {
  source: SpanSource;
  spanId: string;
  traceStartNs: number;
  onClose: () => void;
}

export function SpanDetailPanel({ source, spanId, traceStartNs, onClose }: Props) {
  const remote = useSpan(source.kind === "server" ? source.traceId : "", source.kind === "server" ? spanId : null);
  const span = source.kind === "local" ? source.spans.get(spanId) : remote.data;
  const link = source.kind === "server" ? `${window.location.origin}/traces/${source.traceId}?span=${spanId}` : null;
  if (span) {
    return <SpanDetail key={span.span_id} span={span} traceStartNs={traceStartNs} onClose={onClose} extra={link && <CopyButton text={link} label="Copy link to this span" display="copy link" />} />;
  }
  return (
    <aside className="span-detail panel" data-testid="span-detail-loading">
      {source.kind === "server" && remote.isPending ? (
        <Skeleton rows={8} />
      ) : source.kind === "server" && remote.isError ? (
        <ErrorState error={remote.error} onRetry={() => void remote.refetch()} />
      ) : (
        <EmptyState title="Span not found" hint={`No span ${spanId} in this trace.`} />
      )}
    </aside>
  );
}
