/** Key/value table with a filter box and a copy button per value; values use LargeValue. */
import { useMemo, useState } from "react";
import { CopyButton } from "@/components/CopyButton";
import { LargeValue } from "@/components/LargeValue";
import { asText } from "./messages";

export function AttributesTable({ attributes, title, testId }: { attributes: Record<string, unknown>; title: string; testId?: string }) {
  const [filter, setFilter] = useState("");
  const entries = useMemo(() => Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b)), [attributes]);
  const needle = filter.trim().toLowerCase();
  const shown = needle
    ? entries.filter(([k, v]) => k.toLowerCase().includes(needle) || asText(v).slice(0, 10_000).toLowerCase().includes(needle))
    : entries;
  return (
    <section className="attr-section" data-testid={testId}>
      <div className="attr-head">
        <h3>
          {title} <span className="muted">({entries.length})</span>
        </h3>
        {entries.length > 6 && (
          <input type="search" placeholder="Filter keys and values" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label={`Filter ${title}`} />
        )}
      </div>
      {entries.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <table className="attr-table">
          <tbody>
            {shown.map(([key, value]) => (
              <tr key={key}>
                <th className="mono" title={key}>
                  {key}
                </th>
                <td>
                  <LargeValue value={value} limit={400} />
                </td>
                <td className="attr-copy">
                  <CopyButton text={asText(value)} label={`Copy ${key}`} />
                </td>
              </tr>
            ))}
            {shown.length === 0 && (
              <tr>
                <td colSpan={3} className="muted">
                  No attribute matches “{filter}”.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
