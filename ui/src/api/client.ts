/**
 * Thin fetch wrapper for the REST API (docs/api.md). Every non-2xx answer becomes an ApiError
 * carrying the server's `detail`, `hint` and (for query errors) `column`.
 */

import { notifyUnauthorized, storedApiKey } from "./auth";

export class ApiError extends Error {
  readonly status: number;
  readonly hint: string | null;
  readonly column: number | null;

  constructor(status: number, detail: string, hint: string | null = null, column: number | null = null) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.hint = hint;
    this.column = column;
  }
}

export type QueryValue = string | number | boolean | null | undefined;

/** Builds `path?query`, dropping empty values; keys keep their insertion order. */
export function apiUrl(path: string, params?: Record<string, QueryValue>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, String(value));
  }
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Request headers: JSON, plus the stored API key (the cookie carries it too). */
function headers(): Record<string, string> {
  const key = storedApiKey();
  return key ? { Accept: "application/json", "x-api-key": key } : { Accept: "application/json" };
}

async function parseError(res: Response): Promise<ApiError> {
  if (res.status === 401) notifyUnauthorized();
  let detail = `${res.status} ${res.statusText}`.trim();
  let hint: string | null = null;
  let column: number | null = null;
  try {
    const body: unknown = await res.json();
    if (body && typeof body === "object") {
      const b = body as Record<string, unknown>;
      if (typeof b.detail === "string") detail = b.detail;
      else if (Array.isArray(b.detail)) detail = b.detail.map((d) => (d as { msg?: string }).msg ?? String(d)).join("; ");
      if (typeof b.hint === "string") hint = b.hint;
      if (typeof b.column === "number") column = b.column;
    }
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(res.status, detail, hint, column);
}

export async function apiGet<T>(path: string, params?: Record<string, QueryValue>, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path, params), { headers: headers(), signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, "Cannot reach the msgtrace server.", "Check that `msgtrace start` is running.");
  }
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as T;
}

export async function apiDelete<T>(path: string): Promise<T> {
  const res = await fetch(path, { method: "DELETE", headers: headers() });
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as T;
}
