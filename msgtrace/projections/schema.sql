-- msgtrace projections: every table here is derived from the segment log and can be rebuilt
-- with `msgtrace reindex`. The projector process is the only writer; readers use WAL mode.
-- Times are ns since the Unix epoch unless a column says otherwise.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);  -- 'schema_version', 'checkpoint' (last applied log offset), 'unpriced_models' (JSON),
    -- 'segments_checkpoint' / 'tombstones_checkpoint' (last applied offset of each kind)

CREATE TABLE IF NOT EXISTS spans (
    trace_id         TEXT    NOT NULL,
    span_id          TEXT    NOT NULL,
    parent_span_id   TEXT,
    name             TEXT    NOT NULL,
    kind             INTEGER NOT NULL,           -- OTLP SpanKind number
    start_time       INTEGER NOT NULL,
    end_time         INTEGER NOT NULL,
    duration_ms      REAL    NOT NULL,
    status_code      INTEGER NOT NULL,           -- 0 unset, 1 ok, 2 error
    status_message   TEXT,
    service_name     TEXT,
    trace_state      TEXT,
    flags            INTEGER NOT NULL DEFAULT 0,
    attributes       TEXT    NOT NULL,           -- typed JSON (docs/segments.md)
    events           TEXT    NOT NULL,
    links            TEXT    NOT NULL,
    resource_attributes TEXT NOT NULL,
    scope_name       TEXT,
    scope_version    TEXT,
    -- LLM conventions, normalised (docs/llm-conventions.md)
    span_type        TEXT,                       -- 'llm' | 'tool' | 'agent' | 'flow' | 'module' | ...
    model            TEXT,
    provider         TEXT,
    input_tokens     INTEGER,
    output_tokens    INTEGER,
    cached_tokens    INTEGER,
    reasoning_tokens INTEGER,
    total_tokens     INTEGER,
    cost             REAL,
    cost_source      TEXT,                       -- 'span' | 'computed' | NULL (unknown)
    counts_usage     INTEGER NOT NULL DEFAULT 0, -- 1 when this span's usage counts toward its trace
    log_offset       INTEGER NOT NULL,           -- offset of the first copy applied
    operation        TEXT,                       -- gen_ai.operation.name
    workflow_name    TEXT,                       -- workflow.name, or module.name of a msgflux flow span
    session_id       TEXT,                       -- session.id / gen_ai.conversation.id
    user_id          TEXT,                       -- user.id
    PRIMARY KEY (trace_id, span_id)
);  -- a rowid table: span rows carry kilobytes of prompt text, which WITHOUT ROWID b-trees
    -- handle poorly (about 1.5x slower inserts measured)
-- parent links for span trees, and the span names of a trace for `name:` probes (queries write
-- `+s.name` so SQLite probes this index, not spans_name_time). Led by trace_id, so the projector's
-- inserts, made in (trace_id, span_id) order, stay local: a (name, trace_id) index took about
-- two thirds of the insert time on a 10M-span store.
CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id, parent_span_id, name);
-- the traces with a span of a name, newest first: sparse name queries (store_window.py), and the
-- distinct span names of free text (names within one name are appended in time order)
CREATE INDEX IF NOT EXISTS spans_name_time ON spans (name, start_time, trace_id);
-- schema 5 databases: replaced by the two above
DROP INDEX IF EXISTS spans_name;
DROP INDEX IF EXISTS spans_parent;
-- covers the usage_rollup maximum recomputation without reading span rows
CREATE INDEX IF NOT EXISTS spans_usage ON spans (start_time, model, service_name, trace_id, end_time)
    WHERE counts_usage = 1;

CREATE TABLE IF NOT EXISTS traces (
    trace_id         TEXT    PRIMARY KEY,
    start_time       INTEGER NOT NULL,
    end_time         INTEGER NOT NULL,
    duration_ms      REAL    NOT NULL,
    root_span_id     TEXT,
    root_span_name   TEXT,
    workflow_name    TEXT,
    service_name     TEXT,
    status           TEXT    NOT NULL,           -- 'ok' | 'error' | 'unset'
    span_count       INTEGER NOT NULL,
    error_count      INTEGER NOT NULL,
    input_tokens     INTEGER NOT NULL DEFAULT 0,
    output_tokens    INTEGER NOT NULL DEFAULT 0,
    cached_tokens    INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens     INTEGER NOT NULL DEFAULT 0,
    cost             REAL,                       -- NULL when no span had a known cost
    models           TEXT    NOT NULL DEFAULT '[]', -- JSON array, sorted
    session_id       TEXT,
    user_id          TEXT,
    has_root         INTEGER NOT NULL,           -- 0 while the root span has not arrived
    first_offset     INTEGER NOT NULL,
    last_offset      INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL            -- bookkeeping: wall clock of the last change
);
CREATE INDEX IF NOT EXISTS traces_start ON traces (start_time, trace_id);
CREATE INDEX IF NOT EXISTS traces_duration ON traces (duration_ms, trace_id);
CREATE INDEX IF NOT EXISTS traces_spans ON traces (span_count, trace_id);
CREATE INDEX IF NOT EXISTS traces_tokens ON traces (total_tokens, trace_id);
CREATE INDEX IF NOT EXISTS traces_cost ON traces (cost, trace_id);
CREATE INDEX IF NOT EXISTS traces_workflow ON traces (workflow_name, start_time);
CREATE INDEX IF NOT EXISTS traces_service ON traces (service_name, start_time);
CREATE INDEX IF NOT EXISTS traces_errors ON traces (error_count, start_time);
-- failed traces of a workflow or service, newest first, without reading the others
CREATE INDEX IF NOT EXISTS traces_workflow_errors ON traces (workflow_name, start_time)
    WHERE error_count > 0;
CREATE INDEX IF NOT EXISTS traces_service_errors ON traces (service_name, start_time)
    WHERE error_count > 0;
CREATE INDEX IF NOT EXISTS traces_session ON traces (session_id, start_time);
CREATE INDEX IF NOT EXISTS traces_user ON traces (user_id, start_time);
CREATE INDEX IF NOT EXISTS traces_updated ON traces (updated_at);
-- free-text search resolves root span names to an IN list (query.py, text_search_sql)
CREATE INDEX IF NOT EXISTS traces_root ON traces (root_span_name, start_time);

-- one row per (trace, model used in it), for the model filter and the models facet
CREATE TABLE IF NOT EXISTS trace_models (
    model      TEXT    NOT NULL,
    start_time INTEGER NOT NULL,
    trace_id   TEXT    NOT NULL,
    PRIMARY KEY (model, start_time, trace_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trace_models_trace ON trace_models (trace_id);

-- LLM usage per minute x model x workflow x service, over spans that count usage
CREATE TABLE IF NOT EXISTS usage_rollup (
    bucket_start     INTEGER NOT NULL,           -- seconds since the epoch, multiple of 60
    model            TEXT    NOT NULL,           -- '' when the span names no model
    workflow_name    TEXT    NOT NULL,           -- '' when unknown
    service_name     TEXT    NOT NULL,           -- '' when unknown
    calls            INTEGER NOT NULL,
    input_tokens     INTEGER NOT NULL,
    output_tokens    INTEGER NOT NULL,
    cached_tokens    INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    total_tokens     INTEGER NOT NULL,
    cost             REAL    NOT NULL,           -- sum of known costs
    unpriced_calls   INTEGER NOT NULL,           -- calls whose cost is unknown
    errors           INTEGER NOT NULL,
    duration_ms_sum  REAL    NOT NULL,
    duration_ms_max  REAL    NOT NULL,
    -- exact integer shadows of the REAL columns above (sums stay exact under any apply order)
    cost_pico        INTEGER NOT NULL DEFAULT 0, -- cost in 1e-12 currency units
    duration_ns_sum  INTEGER NOT NULL DEFAULT 0,
    duration_ns_max  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, model, workflow_name, service_name)
) WITHOUT ROWID;

-- traces per minute x workflow x service, for stats and dashboard charts without scanning traces
CREATE TABLE IF NOT EXISTS trace_rollup (
    bucket_start     INTEGER NOT NULL,           -- seconds since the epoch, multiple of 60
    workflow_name    TEXT    NOT NULL,
    service_name     TEXT    NOT NULL,
    traces           INTEGER NOT NULL,
    error_traces     INTEGER NOT NULL,
    spans            INTEGER NOT NULL,
    errors           INTEGER NOT NULL,           -- failed spans
    duration_ms_sum  REAL    NOT NULL,
    duration_ms_max  REAL    NOT NULL,
    input_tokens     INTEGER NOT NULL,
    output_tokens    INTEGER NOT NULL,
    total_tokens     INTEGER NOT NULL,
    cost             REAL    NOT NULL,
    cost_pico        INTEGER NOT NULL DEFAULT 0, -- exact integer shadows, as in usage_rollup
    duration_ns_sum  INTEGER NOT NULL DEFAULT 0,
    duration_ns_max  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, workflow_name, service_name)
) WITHOUT ROWID;

-- trace duration histogram per hour, for percentiles over any range without scanning traces.
-- bin b holds durations in [2^(b/4), 2^((b+1)/4)) ms (about 19% wide); bin 0 holds < 1 ms.
CREATE TABLE IF NOT EXISTS duration_histogram (
    bucket_start INTEGER NOT NULL,               -- seconds since the epoch, multiple of 3600
    bin          INTEGER NOT NULL,
    traces       INTEGER NOT NULL,
    PRIMARY KEY (bucket_start, bin)
) WITHOUT ROWID;


-- every tombstone applied (trace_id '' = all traces): a span is visible only when its offset is
-- above every tombstone of its trace, so late spans and late tombstones resolve the same way
CREATE TABLE IF NOT EXISTS tombstones (
    log_offset INTEGER NOT NULL,
    trace_id   TEXT    NOT NULL,
    PRIMARY KEY (trace_id, log_offset)
) WITHOUT ROWID;

-- inverted index of span attributes for `attr.<key>` queries (attr_index.py), filled off the
-- projector's critical path: one row per (generation, top-level attribute key, value, trace).
-- `gen` is the span's rowid >> attr_index.GEN_BITS: new rows land in the newest generation's
-- small region of the b-tree. `value` is the value as json_extract returns it: text up to 256
-- characters, integer, real, or 1/0 for true/false. X'' marks a value the index does not hold
-- (null, array, object, bytes, non-finite, longer text) and X'01' an integral real (its text
-- differs from the integer's, for GLOB).
-- Spans with rowid above meta 'attr_index_rowid' and traces in attr_dirty are not indexed yet.
CREATE TABLE IF NOT EXISTS attr_index (
    gen      INTEGER NOT NULL,
    key      TEXT NOT NULL,
    value         NOT NULL,                      -- no type: no affinity, values kept as stored
    trace_id TEXT NOT NULL,
    PRIMARY KEY (gen, key, value, trace_id)
) WITHOUT ROWID;
DROP INDEX IF EXISTS attr_index_trace;

-- traces whose index rows were dropped because spans of them were deleted or replaced
CREATE TABLE IF NOT EXISTS attr_dirty (
    trace_id TEXT PRIMARY KEY
) WITHOUT ROWID;
