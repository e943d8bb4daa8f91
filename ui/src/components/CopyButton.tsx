import { useState } from "react";

/** Copies `text` to the clipboard; falls back to a hidden textarea where the API is unavailable. */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

/** `display` is the visible text ("copy" unless given); `label` names it for screen readers. */
export function CopyButton({ text, label = "Copy", display = "copy" }: { text: string; label?: string; display?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="btn-icon copy-btn"
      title={label}
      aria-label={label}
      onClick={(e) => {
        e.stopPropagation();
        void copyText(text).then(() => {
          setDone(true);
          setTimeout(() => setDone(false), 1200);
        });
      }}
    >
      {done ? "copied" : display}
    </button>
  );
}
