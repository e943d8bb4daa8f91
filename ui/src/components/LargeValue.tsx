/**
 * Shows a possibly huge text value without freezing the page: long text is cut to `limit`
 * characters with an expand control; base64 images (data URIs, `$bytes`) are summarised and can
 * be previewed on demand. Expanded text renders in a scroll box of bounded height.
 */
import { useState } from "react";
import { asText } from "@/TracePage/SpanDetail/messages";

const IMAGE_DATA_URI = /^data:image\/[a-z0-9.+-]+;base64,/i;

export function LargeValue({ value, limit = 600, pre = false }: { value: unknown; limit?: number; pre?: boolean }) {
  const [expanded, setExpanded] = useState(false);
  const text = asText(value);
  if (IMAGE_DATA_URI.test(text)) {
    return (
      <span className="large-value">
        <span className="badge">image · {Math.round((text.length * 0.75) / 1024)} KB base64</span>{" "}
        <button type="button" className="btn btn-small" onClick={() => setExpanded(!expanded)}>
          {expanded ? "Hide" : "Preview"}
        </button>
        {expanded && <img className="inline-image" src={text} alt="attribute content" />}
      </span>
    );
  }
  const long = text.length > limit;
  const shown = long && !expanded ? `${text.slice(0, limit)}…` : text;
  const Tag = pre || text.includes("\n") ? "pre" : "span";
  return (
    <span className="large-value">
      <Tag className={Tag === "pre" ? "value-pre" : "value-inline"}>{shown}</Tag>
      {long && (
        <button type="button" className="btn btn-small expand-btn" onClick={() => setExpanded(!expanded)}>
          {expanded ? "Show less" : `Show all (${text.length.toLocaleString("en-US")} chars)`}
        </button>
      )}
    </span>
  );
}
