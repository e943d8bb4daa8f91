/**
 * Query-language input. Validates as you type (debounced) through /api/v1/query/validate and shows
 * the error under the input with a caret at the reported column; Enter applies the query.
 */
import { useEffect, useState } from "react";
import { useQueryValidation } from "@/api/queries";

const EXAMPLES: [string, string][] = [
  ["duration:>1s", "slower than one second (ns, us, ms, s, m, h)"],
  ["error:true", "traces with a failed span"],
  ["model:gpt-4*", "used a model; * and ? are wildcards"],
  ["name:retrieve", "has a span with this name"],
  ["workflow:rag cost:>0.01", "juxtaposition is AND"],
  ["(model:gpt-4o OR model:claude*) -service:test", "OR, parentheses, NOT / -"],
  ["tokens:>=1000 time:>-1h", "tokens, and time relative to now"],
];

export function SearchBar({ value, onSubmit }: { value: string; onSubmit: (q: string) => void }) {
  const [draft, setDraft] = useState(value);
  const [debounced, setDebounced] = useState(value);
  const [helpOpen, setHelpOpen] = useState(false);
  useEffect(() => setDraft(value), [value]);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(draft), 250);
    return () => clearTimeout(t);
  }, [draft]);
  const validation = useQueryValidation(debounced.trim());
  // Show a verdict only for what is in the box now, never a stale one while typing.
  const result = debounced.trim() && debounced === draft ? validation.data : undefined;
  const invalid = result && !result.ok;

  return (
    <div className="searchbar">
      <form
        className="searchbar-row"
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit(draft.trim());
        }}
      >
        <input
          type="search"
          className={`searchbar-input mono${invalid ? " invalid" : ""}`}
          placeholder="Search traces, e.g. duration:>1s model:gpt-4* -status:ok"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          aria-label="Trace query"
          aria-invalid={invalid || undefined}
          data-testid="query-input"
          spellCheck={false}
        />
        <button type="submit" className="btn btn-primary">
          Search
        </button>
        <div className="popover-anchor">
          <button type="button" className="btn" aria-expanded={helpOpen} onClick={() => setHelpOpen(!helpOpen)}>
            Syntax ?
          </button>
          {helpOpen && (
            <div className="popover panel" role="dialog" aria-label="Query syntax">
              <p>
                Terms are <code>field:value</code> or <code>field:&gt;value</code> (<code>&gt; &gt;= &lt; &lt;= = !=</code>); quote values with spaces. Combine with{" "}
                <code>AND</code> (or a space), <code>OR</code>, <code>NOT</code> / <code>-</code> and parentheses. Fields: duration, status, error, workflow, service,
                session, user, root, name, model, tokens, input_tokens, output_tokens, spans, cost, trace, time. A bare word searches names.
              </p>
              <ul>
                {EXAMPLES.map(([q, what]) => (
                  <li key={q}>
                    <button
                      type="button"
                      className="link-btn mono"
                      onClick={() => {
                        setDraft(q);
                        setHelpOpen(false);
                      }}
                    >
                      {q}
                    </button>{" "}
                    <span className="muted">{what}</span>
                  </li>
                ))}
              </ul>
            </div>
          )}
        </div>
      </form>
      {invalid && (
        <div className="query-error" role="alert" data-testid="query-error">
          {result.column !== null && result.column !== undefined && (
            <pre className="mono query-caret">
              {debounced.trim()}
              {"\n"}
              {" ".repeat(Math.max(0, result.column - 1))}^
            </pre>
          )}
          <span className="error-text">
            {result.error}
            {result.column !== null && result.column !== undefined ? ` (column ${result.column})` : ""}
          </span>
        </div>
      )}
    </div>
  );
}
