/** /traces/:traceId — a trace from the server: its timeline, export/share actions and delete. */
import { useState } from "react";
import { useNavigate, useParams } from "react-router";
import { apiUrl } from "@/api/client";
import { useDeleteTrace, useTimeline } from "@/api/queries";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { CopyButton } from "@/components/CopyButton";
import { ErrorState, Skeleton } from "@/components/States";
import { TraceView } from "./TraceView";
import "./TracePage.css";

export function TracePage() {
  const { traceId = "" } = useParams();
  const navigate = useNavigate();
  const timeline = useTimeline(traceId);
  const del = useDeleteTrace();
  const [confirming, setConfirming] = useState(false);

  if (timeline.isPending) {
    return (
      <div className="trace-page">
        <Skeleton rows={2} height={28} />
        <Skeleton rows={12} />
      </div>
    );
  }
  if (timeline.isError) return <ErrorState error={timeline.error} onRetry={() => void timeline.refetch()} />;
  const data = timeline.data;
  const id = data.trace.trace_id;

  const actions = (
    <>
      <span className="th-action">
        <CopyButton text={`${window.location.origin}/traces/${id}`} label="Copy link to this trace" display="copy link" />
      </span>
      <a className="btn btn-small" href={apiUrl(`/api/v1/traces/${id}/export`, { format: "otlp" })} download={`trace-${id}.json`} data-testid="export-otlp">
        Download OTLP/JSON
      </a>
      <button type="button" className="btn btn-danger" onClick={() => setConfirming(true)} data-testid="delete-trace">
        Delete
      </button>
    </>
  );

  return (
    <>
      <TraceView data={data} source={{ kind: "server", traceId: id }} actions={actions} />
      {confirming && (
        <ConfirmDialog
          title="Delete this trace?"
          body={
            <p>
              Trace <code>{id}</code> and its {data.trace.span_count} spans will be deleted. This cannot be undone.
            </p>
          }
          confirmLabel="Delete trace"
          busy={del.isPending}
          error={del.error ? del.error.message : null}
          onCancel={() => setConfirming(false)}
          onConfirm={() => del.mutate(id, { onSuccess: () => navigate("/traces", { replace: true }) })}
        />
      )}
    </>
  );
}
