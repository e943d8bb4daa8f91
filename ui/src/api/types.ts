/**
 * Names for the API's types. Every type here comes from the generated OpenAPI schema
 * (schema.d.ts, written by `npm run gen:api` from ui/openapi.json); nothing is hand-typed.
 */
import type { components } from "./schema";

type Schemas = components["schemas"];

export type TraceSummary = Schemas["TraceSummary"];
export type Trace = Schemas["Trace"];
export type Span = Schemas["Span"];
export type SpanEvent = Schemas["SpanEvent"];
export type LlmUsage = NonNullable<Span["llm"]>;
export type TraceList = Schemas["TraceList"];
export type Stats = Schemas["Stats"];
export type Timeseries = Schemas["Timeseries"];
export type Usage = Schemas["Usage"];
export type UsageRow = Schemas["UsageRow"];
export type Facets = Schemas["Facets"];
export type QueryValidation = Schemas["QueryValidation"];
export type DeleteResult = Schemas["DeleteResult"];
export type TraceTimeline = Schemas["TraceTimeline"];
export type WorkflowAggregates = Schemas["WorkflowAggregates"];
export type SpanNameStats = Schemas["SpanNameStats"];
