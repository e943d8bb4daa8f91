/**
 * Prompt and completion messages from a span's attributes, in one chat shape whatever convention
 * the instrumentation used. Pure: no React, tested without a browser.
 *
 * Sources, first match wins, separately for input and output:
 * 1. OpenTelemetry GenAI: `gen_ai.input.messages` / `gen_ai.output.messages` (JSON, `parts`),
 *    plus `gen_ai.system_instructions`.
 * 2. OpenInference flattened keys: `llm.input_messages.N.message.role|content|contents.K…|tool_calls.M…`.
 * 3. Indexed keys: `gen_ai.prompt.N.role|content|tool_calls.M.name…`, `gen_ai.completion.N.…`.
 * 4. `gen_ai.prompt` / `gen_ai.completion` as JSON messages or plain text.
 * 5. Generic inputs/outputs (msgflux `inputs`/`outputs`, `input.value`/`output.value`,
 *    `traceloop.entity.input|output`, tool `gen_ai.tool.call.arguments|result`).
 * 6. Span events `gen_ai.{system,user,assistant,tool}.message` and `gen_ai.choice`.
 * Message content may be a string, OpenAI content parts, Anthropic blocks or GenAI `parts`.
 */

export type Part =
  | { type: "text"; text: string }
  | { type: "tool_call"; id?: string; name: string; arguments: string }
  | { type: "tool_result"; id?: string; content: string }
  | { type: "data"; label: string; value: string };

export interface ChatMessage {
  role: string;
  name?: string;
  parts: Part[];
}

export interface Conversation {
  input: ChatMessage[];
  output: ChatMessage[];
  /** Which convention each side came from, e.g. "gen_ai.input.messages". */
  inputSource: string | null;
  outputSource: string | null;
}

export interface EventLike {
  name: string;
  attributes?: Record<string, unknown> | null;
}

type Attrs = Record<string, unknown>;

/** Parses strings that look like JSON objects/arrays; returns other values unchanged. */
export function maybeJson(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const t = value.trim();
  if (!(t.startsWith("{") || t.startsWith("["))) return value;
  try {
    return JSON.parse(t);
  } catch {
    return value;
  }
}

/** Any value as display text: strings as they are, the rest as indented JSON. */
export function asText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && "$bytes" in value) {
    return `<${String((value as { $bytes: string }).$bytes).length * 0.75} bytes>`;
  }
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
}

function argsText(v: unknown): string {
  const parsed = maybeJson(v);
  return typeof parsed === "string" ? parsed : asText(parsed);
}

/** One content item (GenAI part, OpenAI content part, Anthropic block, or plain value) → Part. */
function toPart(item: unknown): Part | null {
  if (item === null || item === undefined) return null;
  if (typeof item === "string") return { type: "text", text: item };
  if (!isObj(item)) return { type: "text", text: asText(item) };
  const type = str(item.type) ?? "";
  switch (type) {
    case "text":
    case "input_text":
    case "output_text":
      return { type: "text", text: str(item.content) ?? str(item.text) ?? asText(item.content ?? item.text) };
    case "reasoning":
    case "thinking":
      return { type: "data", label: "reasoning", value: str(item.content) ?? str(item.thinking) ?? asText(item) };
    case "tool_call":
    case "function_call":
      return {
        type: "tool_call",
        id: str(item.id) ?? str(item.call_id),
        name: str(item.name) ?? "tool",
        arguments: argsText(item.arguments),
      };
    case "tool_use":
      return { type: "tool_call", id: str(item.id), name: str(item.name) ?? "tool", arguments: argsText(item.input) };
    case "tool_call_response":
    case "function_call_output":
      return { type: "tool_result", id: str(item.id) ?? str(item.call_id), content: asText(maybeJson(item.response ?? item.output)) };
    case "tool_result":
      return { type: "tool_result", id: str(item.tool_use_id) ?? str(item.id), content: contentText(item.content) };
    case "image_url": {
      const url = isObj(item.image_url) ? str(item.image_url.url) : str(item.image_url);
      return { type: "data", label: "image", value: url ?? "" };
    }
    default:
      if (typeof item.text === "string" && !type) return { type: "text", text: item.text };
      return { type: "data", label: type || "data", value: asText(item) };
  }
}

function contentText(content: unknown): string {
  return contentParts(content)
    .map((p) => (p.type === "text" ? p.text : p.type === "tool_result" ? p.content : p.type === "data" ? p.value : p.arguments))
    .join("\n");
}

function contentParts(content: unknown): Part[] {
  const c = maybeJson(content);
  if (c === null || c === undefined || c === "") return [];
  if (Array.isArray(c)) return c.map(toPart).filter((p): p is Part => p !== null);
  if (typeof c === "string") return [{ type: "text", text: c }];
  const part = toPart(c);
  return part ? [part] : [];
}

/** One message-ish value → ChatMessage. */
export function toMessage(raw: unknown, defaultRole: string): ChatMessage {
  const value = maybeJson(raw);
  if (!isObj(value)) return { role: defaultRole, parts: contentParts(value) };
  // OpenAI choice: {message: {...}} ; OpenInference nested {message: {...}}
  if (isObj(value.message) && value.role === undefined) return toMessage(value.message, defaultRole);
  const role = str(value.role) ?? defaultRole;
  const parts: Part[] = [];
  if (Array.isArray(value.parts)) parts.push(...contentParts(value.parts));
  const toolCallId = str(value.tool_call_id);
  if (value.content !== undefined && value.content !== null) {
    if (role === "tool" || toolCallId) parts.push({ type: "tool_result", id: toolCallId, content: contentText(value.content) });
    else parts.push(...contentParts(value.content));
  }
  const calls = maybeJson(value.tool_calls);
  if (Array.isArray(calls)) {
    for (const call of calls) {
      if (!isObj(call)) continue;
      const fn = isObj(call.function) ? call.function : call;
      parts.push({ type: "tool_call", id: str(call.id), name: str(fn.name) ?? "tool", arguments: argsText(fn.arguments) });
    }
  }
  if (isObj(value.function_call)) {
    parts.push({ type: "tool_call", name: str(value.function_call.name) ?? "tool", arguments: argsText(value.function_call.arguments) });
  }
  if (parts.length === 0 && value.parts === undefined && value.content === undefined && value.tool_calls === undefined) {
    parts.push({ type: "text", text: asText(value) });
  }
  const msg: ChatMessage = { role, parts };
  const name = str(value.name);
  if (name) msg.name = name;
  return msg;
}

/** A value holding zero or more messages (array, one message, or plain text) → ChatMessage[]. */
export function toMessages(raw: unknown, defaultRole: string): ChatMessage[] {
  const value = maybeJson(raw);
  if (value === null || value === undefined || value === "") return [];
  if (Array.isArray(value)) return value.map((m) => toMessage(m, defaultRole));
  if (isObj(value) && Array.isArray(value.messages)) return toMessages(value.messages, defaultRole);
  if (isObj(value) && Array.isArray(value.choices)) return toMessages(value.choices, defaultRole);
  return [toMessage(value, defaultRole)];
}

/** Collects `prefix.N.<rest>` keys into per-index maps of rest → value, ordered by N. */
function indexedGroups(attrs: Attrs, prefix: string): Map<string, unknown>[] {
  const groups = new Map<number, Map<string, unknown>>();
  const head = `${prefix}.`;
  for (const [key, value] of Object.entries(attrs)) {
    if (!key.startsWith(head)) continue;
    const rest = key.slice(head.length);
    const dot = rest.indexOf(".");
    if (dot <= 0) continue;
    const n = Number(rest.slice(0, dot));
    if (!Number.isInteger(n)) continue;
    let g = groups.get(n);
    if (!g) groups.set(n, (g = new Map()));
    g.set(rest.slice(dot + 1), value);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g);
}

/** Sub-groups `sub.M.<field>` inside one group, ordered by M. */
function subGroups(group: Map<string, unknown>, sub: string): Map<string, unknown>[] {
  const obj: Attrs = {};
  for (const [k, v] of group) obj[k] = v;
  return indexedGroups(obj, sub);
}

/** OpenInference `llm.input_messages.N.message.*`. */
function fromOpenInference(attrs: Attrs, prefix: string, defaultRole: string): ChatMessage[] {
  return indexedGroups(attrs, prefix).map((g) => {
    const m = new Map<string, unknown>();
    for (const [k, v] of g) m.set(k.startsWith("message.") ? k.slice("message.".length) : k, v);
    const role = str(m.get("role")) ?? defaultRole;
    const parts: Part[] = [];
    const toolCallId = str(m.get("tool_call_id"));
    const content = m.get("content");
    if (content !== undefined) {
      if (role === "tool" || toolCallId) parts.push({ type: "tool_result", id: toolCallId, content: contentText(content) });
      else parts.push(...contentParts(content));
    }
    for (const c of subGroups(m, "contents")) {
      const text = c.get("message_content.text");
      const img = c.get("message_content.image.image.url");
      if (text !== undefined) parts.push({ type: "text", text: asText(text) });
      else if (img !== undefined) parts.push({ type: "data", label: "image", value: asText(img) });
    }
    for (const t of subGroups(m, "tool_calls")) {
      parts.push({
        type: "tool_call",
        id: str(t.get("tool_call.id")),
        name: str(t.get("tool_call.function.name")) ?? "tool",
        arguments: argsText(t.get("tool_call.function.arguments")),
      });
    }
    const msg: ChatMessage = { role, parts };
    const name = str(m.get("name"));
    if (name) msg.name = name;
    return msg;
  });
}

/** Indexed `gen_ai.prompt.N.role|content|tool_calls.M.*` (OpenLLMetry style). */
function fromIndexed(attrs: Attrs, prefix: string, defaultRole: string): ChatMessage[] {
  return indexedGroups(attrs, prefix).map((g) => {
    const role = str(g.get("role")) ?? defaultRole;
    const parts: Part[] = [];
    const toolCallId = str(g.get("tool_call_id"));
    const content = g.get("content");
    if (content !== undefined) {
      if (role === "tool" || toolCallId) parts.push({ type: "tool_result", id: toolCallId, content: contentText(content) });
      else parts.push(...contentParts(content));
    }
    for (const t of subGroups(g, "tool_calls")) {
      parts.push({ type: "tool_call", id: str(t.get("id")), name: str(t.get("name")) ?? "tool", arguments: argsText(t.get("arguments")) });
    }
    return { role, parts };
  });
}

const EVENT_ROLES: Record<string, string> = {
  "gen_ai.system.message": "system",
  "gen_ai.user.message": "user",
  "gen_ai.assistant.message": "assistant",
  "gen_ai.tool.message": "tool",
};

function fromEvents(events: readonly EventLike[]): { input: ChatMessage[]; output: ChatMessage[] } {
  const input: ChatMessage[] = [];
  const output: ChatMessage[] = [];
  for (const e of events) {
    const a = e.attributes ?? {};
    const role = EVENT_ROLES[e.name];
    if (role) {
      const body = a.content ?? a["gen_ai.event.content"] ?? a.message ?? a.body;
      input.push(toMessage(isObj(maybeJson(body)) ? body : { role, content: body, tool_calls: a.tool_calls, tool_call_id: a.id }, role));
    } else if (e.name === "gen_ai.choice") {
      const body = a.message ?? a.content ?? a["gen_ai.event.content"];
      output.push(toMessage(body, "assistant"));
    }
  }
  return { input, output };
}

const GENERIC_INPUTS = ["inputs", "msgflux.inputs", "module.inputs", "input.value", "traceloop.entity.input", "gen_ai.tool.call.arguments"];
const GENERIC_OUTPUTS = ["outputs", "msgflux.outputs", "module.outputs", "output.value", "traceloop.entity.output", "gen_ai.tool.call.result"];

/** Extracts the conversation; null when the span carries no recognisable messages. */
export function extractConversation(attrs: Attrs, events: readonly EventLike[] = []): Conversation | null {
  let input: ChatMessage[] = [];
  let output: ChatMessage[] = [];
  let inputSource: string | null = null;
  let outputSource: string | null = null;

  const takeInput = (messages: ChatMessage[], source: string) => {
    if (inputSource === null && messages.length) {
      input = messages;
      inputSource = source;
    }
  };
  const takeOutput = (messages: ChatMessage[], source: string) => {
    if (outputSource === null && messages.length) {
      output = messages;
      outputSource = source;
    }
  };

  if (attrs["gen_ai.input.messages"] !== undefined) {
    const system = attrs["gen_ai.system_instructions"];
    const sys = system !== undefined ? [{ role: "system", parts: contentParts(system) }] : [];
    takeInput([...sys, ...toMessages(attrs["gen_ai.input.messages"], "user")], "gen_ai.input.messages");
  }
  if (attrs["gen_ai.output.messages"] !== undefined) takeOutput(toMessages(attrs["gen_ai.output.messages"], "assistant"), "gen_ai.output.messages");

  takeInput(fromOpenInference(attrs, "llm.input_messages", "user"), "llm.input_messages");
  takeOutput(fromOpenInference(attrs, "llm.output_messages", "assistant"), "llm.output_messages");
  takeInput(fromIndexed(attrs, "gen_ai.prompt", "user"), "gen_ai.prompt.N");
  takeOutput(fromIndexed(attrs, "gen_ai.completion", "assistant"), "gen_ai.completion.N");
  if (attrs["gen_ai.prompt"] !== undefined) takeInput(toMessages(attrs["gen_ai.prompt"], "user"), "gen_ai.prompt");
  if (attrs["gen_ai.completion"] !== undefined) takeOutput(toMessages(attrs["gen_ai.completion"], "assistant"), "gen_ai.completion");
  for (const key of GENERIC_INPUTS) {
    if (attrs[key] !== undefined) takeInput(toMessages(attrs[key], key.startsWith("gen_ai.tool") ? "tool call" : "input"), key);
  }
  for (const key of GENERIC_OUTPUTS) {
    if (attrs[key] !== undefined) takeOutput(toMessages(attrs[key], key.startsWith("gen_ai.tool") ? "tool result" : "output"), key);
  }
  if (events.length && (inputSource === null || outputSource === null)) {
    const fromEv = fromEvents(events);
    takeInput(fromEv.input, "events");
    takeOutput(fromEv.output, "events");
  }
  if (inputSource === null && outputSource === null) return null;
  return { input, output, inputSource, outputSource };
}
