/** Line and word diffs of prompt/completion text (jsdiff), and a conversation as plain text. */
import { diffLines, diffWords } from "diff";
import type { Conversation } from "@/TracePage/SpanDetail/messages";

export interface DiffPart {
  value: string;
  kind: "same" | "added" | "removed";
}

export type DiffMode = "line" | "word";

export function diffText(a: string, b: string, mode: DiffMode = "line"): DiffPart[] {
  const parts = mode === "line" ? diffLines(a, b) : diffWords(a, b);
  return parts.map((p) => ({ value: p.value, kind: p.added ? "added" : p.removed ? "removed" : "same" }));
}

/** True when the two texts are identical (a diff of one `same` part or none). */
export function isUnchanged(parts: readonly DiffPart[]): boolean {
  return parts.every((p) => p.kind === "same");
}

/** One side of a conversation as text: a `role:` line, then each part's text. */
export function conversationText(conversation: Conversation | null, side: "input" | "output"): string {
  if (!conversation) return "";
  const lines: string[] = [];
  for (const m of conversation[side]) {
    lines.push(`${m.role}${m.name ? ` (${m.name})` : ""}:`);
    for (const p of m.parts) {
      if (p.type === "text") lines.push(p.text);
      else if (p.type === "tool_call") lines.push(`[tool call] ${p.name}(${p.arguments})`);
      else if (p.type === "tool_result") lines.push(`[tool result] ${p.content}`);
      else lines.push(`[${p.label}] ${p.value}`);
    }
  }
  return lines.join("\n") + (lines.length ? "\n" : "");
}
