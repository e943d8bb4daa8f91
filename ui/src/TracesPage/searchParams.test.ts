import { describe, expect, it } from "vitest";
import { DEFAULT_SEARCH, nextSort, parseSearch, serializeSearch, toApiParams } from "./searchParams";

describe("trace search in the URL", () => {
  it("round-trips every field and omits defaults", () => {
    const search = { ...DEFAULT_SEARCH, q: 'name = "chat" and duration > 100', range: "1h" as const, status: "error" as const, model: "gpt-4o", sort: "cost" as const, order: "asc" as const };
    const params = serializeSearch(search);
    expect(params.toString()).toBe("q=name+%3D+%22chat%22+and+duration+%3E+100&range=1h&status=error&model=gpt-4o&sort=cost&order=asc");
    expect(parseSearch(params)).toEqual(search);
    expect(serializeSearch(DEFAULT_SEARCH).toString()).toBe("");
  });

  it("drops malformed values", () => {
    const parsed = parseSearch(new URLSearchParams("range=2y&sort=bogus&min_ms=-3&max_ms=abc&status=maybe&order=up"));
    expect(parsed).toEqual(DEFAULT_SEARCH);
  });

  it("maps to API parameters with an exact ns start for relative ranges", () => {
    const nowMs = 1_700_000_000_000;
    const params = toApiParams({ ...DEFAULT_SEARCH, range: "15m", minMs: "250", status: "ok", service: "api" }, 50, nowMs);
    expect(params).toMatchObject({ min_duration_ms: "250", has_errors: false, service: "api", sort: "start_time", order: "desc", limit: 50 });
    expect(params.start_time).toBe("1699999100000000000");
    expect(toApiParams(DEFAULT_SEARCH, 10).start_time).toBeUndefined();
  });

  it("sorts by a new column descending, then flips", () => {
    const bySpans = nextSort(DEFAULT_SEARCH, "span_count");
    expect([bySpans.sort, bySpans.order]).toEqual(["span_count", "desc"]);
    expect(nextSort(bySpans, "span_count").order).toBe("asc");
  });
});
