import { describe, expect, it } from "vitest";
import { ImportError, anyValue, normaliseId, parseOtlpJson } from "./otlp";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const doc = {
  resourceSpans: [
    {
      resource: { attributes: [{ key: "service.name", value: { stringValue: "demo" } }] },
      scopeSpans: [
        {
          scope: { name: "tests", version: "1" },
          spans: [
            {
              traceId: TRACE, spanId: "b7ad6b7169203331", name: "agent", kind: 1,
              startTimeUnixNano: "1700000000000000001", endTimeUnixNano: "1700000000500000001",
              attributes: [{ key: "workflow.name", value: { stringValue: "wf" } }], status: { code: 1 },
            },
            {
              traceId: TRACE, spanId: "00f067aa0ba902b7", parentSpanId: "b7ad6b7169203331", name: "llm", kind: "SPAN_KIND_CLIENT",
              startTimeUnixNano: "1700000000100000001", endTimeUnixNano: "1700000000300000001",
              attributes: [
                { key: "gen_ai.request.model", value: { stringValue: "gpt-4o" } },
                { key: "gen_ai.usage.input_tokens", value: { intValue: "12" } },
                { key: "gen_ai.usage.output_tokens", value: { intValue: 3 } },
                { key: "gen_ai.usage.cost.input_tokens", value: { doubleValue: 0.01 } },
                { key: "tags", value: { arrayValue: { values: [{ stringValue: "a" }, { boolValue: true }] } } },
              ],
              status: { code: "STATUS_CODE_ERROR", message: "boom" },
              events: [{ name: "exception", timeUnixNano: "1700000000200000001", attributes: [{ key: "exception.type", value: { stringValue: "ValueError" } }] }],
            },
          ],
        },
      ],
    },
  ],
};

describe("parseOtlpJson", () => {
  const [trace] = parseOtlpJson(JSON.stringify(doc));
  it("groups spans into traces with exact relative times", () => {
    expect(trace!.data.trace.trace_id).toBe(TRACE);
    expect(trace!.data.spans.map((s) => [s.name, s.start_time, s.end_time])).toEqual([
      ["agent", 0, 500_000_000],
      ["llm", 100_000_000, 300_000_000],
    ]);
    expect(trace!.data.trace).toMatchObject({ root_span_name: "agent", span_count: 2, error_count: 1, status: "error", workflow_name: "wf", service_name: "demo", models: ["gpt-4o"], input_tokens: 12, output_tokens: 3 });
    expect(trace!.data.trace.duration_ms).toBe(500);
  });
  it("keeps full spans for the detail panel, with LLM fields", () => {
    const llm = trace!.spans.get("00f067aa0ba902b7")!;
    expect(llm.kind).toBe("CLIENT");
    expect(llm.status).toEqual({ code: "ERROR", message: "boom" });
    expect(llm.llm).toMatchObject({ model: "gpt-4o", input_tokens: 12, output_tokens: 3, total_tokens: 15, cost: 0.01 });
    expect(llm.attributes?.tags).toEqual(["a", true]);
    expect(llm.events?.[0]?.attributes).toEqual({ "exception.type": "ValueError" });
    expect(llm.span_type).toBe("llm");
  });
  it("rejects what is not OTLP traces with a readable error", () => {
    expect(() => parseOtlpJson("{")).toThrow(ImportError);
    expect(() => parseOtlpJson("{}")).toThrow(/resourceSpans/);
    expect(() => parseOtlpJson(JSON.stringify({ resourceSpans: [] }))).toThrow(/no spans/);
  });
});

describe("ids and values", () => {
  it("accepts hex and base64 ids", () => {
    expect(normaliseId("B7AD6B7169203331", 8)).toBe("b7ad6b7169203331");
    expect(normaliseId(btoa(String.fromCharCode(0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31)), 8)).toBe("b7ad6b7169203331");
    expect(normaliseId("short", 8)).toBeNull();
    expect(normaliseId(undefined, 8)).toBeNull();
  });
  it("decodes AnyValue shapes", () => {
    expect(anyValue({ intValue: "9007199254740993" })).toBe("9007199254740993");
    expect(anyValue({ kvlistValue: { values: [{ key: "k", value: { doubleValue: 1.5 } }] } })).toEqual({ k: 1.5 });
    expect(anyValue(null)).toBeNull();
  });
});
