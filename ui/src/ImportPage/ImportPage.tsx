/**
 * /import — open an OTLP/JSON file (e.g. a trace downloaded with "Download OTLP/JSON") and view it
 * offline: the file is parsed in the browser and never sent to the server.
 */
import { useState } from "react";
import { EmptyState } from "@/components/States";
import { TraceView } from "@/TracePage/TraceView";
import { type ImportedTrace, ImportError, parseOtlpJson } from "./otlp";

export function ImportPage() {
  const [traces, setTraces] = useState<ImportedTrace[]>([]);
  const [current, setCurrent] = useState(0);
  const [fileName, setFileName] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = async (file: File) => {
    setError(null);
    try {
      const parsed = parseOtlpJson(await file.text());
      setTraces(parsed);
      setCurrent(0);
      setFileName(file.name);
    } catch (err) {
      setTraces([]);
      setError(err instanceof ImportError ? err.message : `could not read the file: ${String(err)}`);
    }
  };
  const trace = traces[current];

  return (
    <div className="import-page" data-testid="import-page" style={{ display: "flex", flexDirection: "column", gap: 10, height: "100%" }}>
      <div
        className="panel import-bar"
        style={{ display: "flex", gap: 12, alignItems: "center", flexWrap: "wrap", flex: "none" }}
        onDragOver={(e) => e.preventDefault()}
        onDrop={(e) => {
          e.preventDefault();
          const file = e.dataTransfer.files[0];
          if (file) void load(file);
        }}
      >
        <strong>Open an OTLP/JSON file</strong>
        <input type="file" accept=".json,application/json" aria-label="OTLP/JSON file" data-testid="import-file" onChange={(e) => e.target.files?.[0] && void load(e.target.files[0])} />
        <span className="muted">Viewed offline in this browser; nothing is uploaded.</span>
        {traces.length > 1 && (
          <select value={current} onChange={(e) => setCurrent(Number(e.target.value))} aria-label="Trace in the file">
            {traces.map((t, i) => (
              <option key={t.data.trace.trace_id} value={i}>
                {t.data.trace.root_span_name} ({t.data.trace.span_count} spans)
              </option>
            ))}
          </select>
        )}
        {fileName && <span className="badge" data-testid="import-name">{fileName}</span>}
      </div>
      {error && (
        <div className="state state-error" role="alert" data-testid="import-error">
          <strong>Not an OTLP/JSON trace file</strong>
          <p>{error}</p>
        </div>
      )}
      {trace ? (
        <TraceView key={trace.data.trace.trace_id} data={trace.data} source={{ kind: "local", spans: trace.spans }} backLink={false} actions={<span className="badge badge-live">imported · offline</span>} />
      ) : (
        !error && <EmptyState title="No file opened" hint="Choose or drop a file written by “Download OTLP/JSON” or any OTLP/JSON exporter." />
      )}
    </div>
  );
}
