/** Filter controls; every change rewrites the URL search (see searchParams.ts). */
import { type FacetKind, useFacet } from "@/api/queries";
import { RANGES, type RangeKey, type TraceSearch } from "./searchParams";

interface Props {
  search: TraceSearch;
  onChange: (next: TraceSearch) => void;
}

function FacetSelect({ kind, label, value, onChange }: { kind: FacetKind; label: string; value: string; onChange: (v: string) => void }) {
  const facet = useFacet(kind);
  const items = facet.data?.items ?? [];
  return (
    <label className="filter">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label={label}>
        <option value="">{facet.isPending ? "Loading…" : "Any"}</option>
        {value && !items.some((i) => i.name === value) && <option value={value}>{value}</option>}
        {items.map((i) => (
          <option key={i.name} value={i.name}>
            {i.name} ({i.count})
          </option>
        ))}
      </select>
    </label>
  );
}

export function Filters({ search, onChange }: Props) {
  const set = <K extends keyof TraceSearch>(key: K, value: TraceSearch[K]) => onChange({ ...search, [key]: value });
  return (
    <div className="filters">
      <label className="filter">
        <span>Time</span>
        <select value={search.range} onChange={(e) => set("range", e.target.value as RangeKey)} aria-label="Time range">
          {Object.keys(RANGES).map((r) => (
            <option key={r} value={r}>
              Last {r}
            </option>
          ))}
          <option value="all">All time</option>
        </select>
      </label>
      <label className="filter">
        <span>Status</span>
        <select value={search.status} onChange={(e) => set("status", e.target.value as TraceSearch["status"])} aria-label="Status">
          <option value="">Any</option>
          <option value="error">Errors</option>
          <option value="ok">No errors</option>
        </select>
      </label>
      <label className="filter filter-num">
        <span>Duration (ms)</span>
        <span className="filter-pair">
          <input type="number" min={0} placeholder="min" value={search.minMs} onChange={(e) => set("minMs", e.target.value)} aria-label="Minimum duration (ms)" />
          <input type="number" min={0} placeholder="max" value={search.maxMs} onChange={(e) => set("maxMs", e.target.value)} aria-label="Maximum duration (ms)" />
        </span>
      </label>
      <FacetSelect kind="workflows" label="Workflow" value={search.workflow} onChange={(v) => set("workflow", v)} />
      <FacetSelect kind="services" label="Service" value={search.service} onChange={(v) => set("service", v)} />
      <FacetSelect kind="models" label="Model" value={search.model} onChange={(v) => set("model", v)} />
      <label className="filter filter-num">
        <span>Min cost ($)</span>
        <input type="number" min={0} step="0.001" placeholder="0" value={search.minCost} onChange={(e) => set("minCost", e.target.value)} aria-label="Minimum cost" />
      </label>
    </div>
  );
}
