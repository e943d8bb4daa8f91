/* Ingest verdict of the native OTLP decoder: one walk of the wire format that counts the spans
 * msgtrace.core.otlp.validate accepts and names the ones it rejects, without building anything.
 * Included once by _otlp_native.c after _otlp_native_wire.h (static functions).
 *
 * Contract: check_request returns OK only when the Python path (otlp_validate.validate_protobuf,
 * then parse_request_lenient when a span is accepted) would return the same counts and messages
 * without raising; anything else is PUNT and the caller runs the Python path, which then accepts,
 * rejects or raises DecodeError with its own message. PUNT therefore covers every malformed input
 * and the rare shapes modelled loosely here: a known field with an unexpected wire type (protobuf
 * would keep it as an unknown field), groups, varints of odd lengths, messages nested deeper than
 * VMAX_DEPTH (protobuf refuses past its recursion limit of 100).
 *
 * Strings are not UTF-8 checked: invalid UTF-8 never changes the Python verdict (the lenient parse
 * accepts it and decode_rows repairs it), so every length-delimited scalar is skipped by length.
 */
#ifndef MSGTRACE_OTLP_NATIVE_VALIDATE_H
#define MSGTRACE_OTLP_NATIVE_VALIDATE_H

/* message types of the full ExportTraceServiceRequest schema */
enum {
    VM_REQUEST, VM_RESOURCE_SPANS, VM_RESOURCE, VM_KEY_VALUE, VM_ANY_VALUE, VM_ARRAY_VALUE,
    VM_KV_LIST, VM_ENTITY_REF, VM_SCOPE_SPANS, VM_SCOPE, VM_SPAN, VM_EVENT, VM_LINK, VM_STATUS,
    VM_COUNT
};
/* how a known field is encoded; the wire type each kind must arrive with is VKIND_WIRE[kind] */
enum { VK_UNKNOWN, VK_VARINT, VK_FIXED64, VK_FIXED32, VK_BYTES, VK_MESSAGE };
static const int VKIND_WIRE[] = {-1, 0, 1, 5, 2, 2};
#define VMAX_FIELD 16
/* Deepest message walked (ExportTraceServiceRequest = 0); a safe margin under protobuf's 100. */
#define VMAX_DEPTH 90

typedef struct { uint8_t kind, msg; } VField;
static VField VSCHEMA[VM_COUNT][VMAX_FIELD + 1];

static void vfield(int msg, int num, int kind, int sub) {
    VSCHEMA[msg][num] = (VField){(uint8_t)kind, (uint8_t)sub};
}

/* The field numbers and encodings of opentelemetry-proto's trace request (v1.x). */
static void init_validate_tables(void) {
    vfield(VM_REQUEST, 1, VK_MESSAGE, VM_RESOURCE_SPANS);
    vfield(VM_RESOURCE_SPANS, 1, VK_MESSAGE, VM_RESOURCE);
    vfield(VM_RESOURCE_SPANS, 2, VK_MESSAGE, VM_SCOPE_SPANS);
    vfield(VM_RESOURCE_SPANS, 3, VK_BYTES, 0);
    vfield(VM_RESOURCE, 1, VK_MESSAGE, VM_KEY_VALUE);
    vfield(VM_RESOURCE, 2, VK_VARINT, 0);
    vfield(VM_RESOURCE, 3, VK_MESSAGE, VM_ENTITY_REF);
    vfield(VM_KEY_VALUE, 1, VK_BYTES, 0);
    vfield(VM_KEY_VALUE, 2, VK_MESSAGE, VM_ANY_VALUE);
    vfield(VM_KEY_VALUE, 3, VK_VARINT, 0);
    vfield(VM_ANY_VALUE, 1, VK_BYTES, 0);
    vfield(VM_ANY_VALUE, 2, VK_VARINT, 0);
    vfield(VM_ANY_VALUE, 3, VK_VARINT, 0);
    vfield(VM_ANY_VALUE, 4, VK_FIXED64, 0);
    vfield(VM_ANY_VALUE, 5, VK_MESSAGE, VM_ARRAY_VALUE);
    vfield(VM_ANY_VALUE, 6, VK_MESSAGE, VM_KV_LIST);
    vfield(VM_ANY_VALUE, 7, VK_BYTES, 0);
    vfield(VM_ANY_VALUE, 8, VK_VARINT, 0);
    vfield(VM_ARRAY_VALUE, 1, VK_MESSAGE, VM_ANY_VALUE);
    vfield(VM_KV_LIST, 1, VK_MESSAGE, VM_KEY_VALUE);
    for (int i = 1; i <= 4; i++) vfield(VM_ENTITY_REF, i, VK_BYTES, 0);
    vfield(VM_SCOPE_SPANS, 1, VK_MESSAGE, VM_SCOPE);
    vfield(VM_SCOPE_SPANS, 2, VK_MESSAGE, VM_SPAN);
    vfield(VM_SCOPE_SPANS, 3, VK_BYTES, 0);
    vfield(VM_SCOPE, 1, VK_BYTES, 0);
    vfield(VM_SCOPE, 2, VK_BYTES, 0);
    vfield(VM_SCOPE, 3, VK_MESSAGE, VM_KEY_VALUE);
    vfield(VM_SCOPE, 4, VK_VARINT, 0);
    static const int span[][3] = {
        {1, VK_BYTES, 0}, {2, VK_BYTES, 0}, {3, VK_BYTES, 0}, {4, VK_BYTES, 0},
        {5, VK_BYTES, 0}, {6, VK_VARINT, 0}, {7, VK_FIXED64, 0}, {8, VK_FIXED64, 0},
        {9, VK_MESSAGE, VM_KEY_VALUE}, {10, VK_VARINT, 0}, {11, VK_MESSAGE, VM_EVENT},
        {12, VK_VARINT, 0}, {13, VK_MESSAGE, VM_LINK}, {14, VK_VARINT, 0},
        {15, VK_MESSAGE, VM_STATUS}, {16, VK_FIXED32, 0},
    };
    for (size_t i = 0; i < sizeof span / sizeof span[0]; i++)
        vfield(VM_SPAN, span[i][0], span[i][1], span[i][2]);
    vfield(VM_EVENT, 1, VK_FIXED64, 0);
    vfield(VM_EVENT, 2, VK_BYTES, 0);
    vfield(VM_EVENT, 3, VK_MESSAGE, VM_KEY_VALUE);
    vfield(VM_EVENT, 4, VK_VARINT, 0);
    vfield(VM_LINK, 1, VK_BYTES, 0);
    vfield(VM_LINK, 2, VK_BYTES, 0);
    vfield(VM_LINK, 3, VK_BYTES, 0);
    vfield(VM_LINK, 4, VK_MESSAGE, VM_KEY_VALUE);
    vfield(VM_LINK, 5, VK_VARINT, 0);
    vfield(VM_LINK, 6, VK_FIXED32, 0);
    vfield(VM_STATUS, 2, VK_BYTES, 0);
    vfield(VM_STATUS, 3, VK_VARINT, 0);
}

static int all_zero(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) if (s[i]) return 0;
    return 1;
}

/* Why a span is rejected, NULL when it is kept: otlp_validate.span_problem, message for message.
 * `why` receives the formatted messages. */
static const char *span_problem(const uint8_t *tid, size_t tid_n, const uint8_t *sid, size_t sid_n,
                                size_t pid_n, int32_t kind, int32_t code, char *why, size_t why_n) {
    if (tid_n != 16) { snprintf(why, why_n, "trace_id has %zu bytes, expected 16", tid_n); return why; }
    if (all_zero(tid, 16)) return "trace_id is all zeros";
    if (sid_n != 8) { snprintf(why, why_n, "span_id has %zu bytes, expected 8", sid_n); return why; }
    if (all_zero(sid, 8)) return "span_id is all zeros";
    if (pid_n && pid_n != 8) {
        snprintf(why, why_n, "parent_span_id has %zu bytes, expected 0 or 8", pid_n);
        return why;
    }
    if (kind < 0 || kind > 5) {
        snprintf(why, why_n, "kind %d is not a SpanKind (0-5)", (int)kind);
        return why;
    }
    if (code < 0 || code > 2) {
        snprintf(why, why_n, "status code %d is not a StatusCode (0-2)", (int)code);
        return why;
    }
    return NULL;
}

typedef struct {
    size_t accepted, rejected;
    char named[MAX_NAMED][160];
} Verdict;

/* Every field of message `type` at p[0:n] and, recursively, of its sub-messages. */
static int check_msg(int type, const uint8_t *p, size_t n, int depth) {
    if (depth > VMAX_DEPTH) return PUNT;
    Rd r = {p, p + n};
    Field f;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        if (f.num > VMAX_FIELD) continue;
        VField d = VSCHEMA[type][f.num];
        if (d.kind == VK_UNKNOWN) continue;
        if (f.wt != VKIND_WIRE[d.kind]) return PUNT;
        if (d.kind == VK_MESSAGE) TRY(check_msg(d.msg, f.s, f.n, depth + 1));
    }
    return OK;
}

/* A Span (depth 3): its fields like check_msg, then the acceptance rule on the last value of each
 * id, kind and status code seen (protobuf keeps the last scalar and merges repeated statuses). */
static int check_span(Verdict *v, const uint8_t *p, size_t n, size_t ri, size_t si) {
    Rd r = {p, p + n};
    Field f;
    const uint8_t *tid = (const uint8_t *)"", *sid = tid;
    size_t tid_n = 0, sid_n = 0, pid_n = 0;
    int32_t kind = 0, code = 0;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        if (f.num > VMAX_FIELD) continue;
        VField d = VSCHEMA[VM_SPAN][f.num];
        if (d.kind == VK_UNKNOWN) continue;
        if (f.wt != VKIND_WIRE[d.kind]) return PUNT;
        switch (f.num) {
        case 1: tid = f.s; tid_n = f.n; break;
        case 2: sid = f.s; sid_n = f.n; break;
        case 4: pid_n = f.n; break;
        case 6: kind = (int32_t)(uint32_t)f.v; break;
        case 15: {
            Rd s = {f.s, f.s + f.n};
            Field g;
            while (s.p < s.end) {
                TRY(rd_field(&s, &g));
                if (g.num == 2) { if (g.wt != 2) return PUNT; }
                else if (g.num == 3) { if (g.wt != 0) return PUNT; code = (int32_t)(uint32_t)g.v; }
            }
            break;
        }
        default:
            if (d.kind == VK_MESSAGE) TRY(check_msg(d.msg, f.s, f.n, 4));
        }
    }
    char why[96];
    const char *problem = span_problem(tid, tid_n, sid, sid_n, pid_n, kind, code, why, sizeof why);
    if (!problem) {
        v->accepted++;
        return OK;
    }
    if (v->rejected < MAX_NAMED)
        snprintf(v->named[v->rejected], sizeof v->named[0], "span %zu of resource %zu: %s", si, ri,
                 problem);
    v->rejected++;
    return OK;
}

static int check_scope_spans(Verdict *v, const uint8_t *p, size_t n, size_t ri, size_t *si) {
    Rd r = {p, p + n};
    Field f;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        if (f.num > VMAX_FIELD) continue;
        VField d = VSCHEMA[VM_SCOPE_SPANS][f.num];
        if (d.kind == VK_UNKNOWN) continue;
        if (f.wt != VKIND_WIRE[d.kind]) return PUNT;
        if (f.num == 2) TRY(check_span(v, f.s, f.n, ri, (*si)++));
        else if (d.kind == VK_MESSAGE) TRY(check_msg(d.msg, f.s, f.n, 3));
    }
    return OK;
}

static int check_resource_spans(Verdict *v, const uint8_t *p, size_t n, size_t ri) {
    Rd r = {p, p + n};
    Field f;
    size_t si = 0; /* span index within the resource, over all its ScopeSpans */
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        if (f.num > VMAX_FIELD) continue;
        VField d = VSCHEMA[VM_RESOURCE_SPANS][f.num];
        if (d.kind == VK_UNKNOWN) continue;
        if (f.wt != VKIND_WIRE[d.kind]) return PUNT;
        if (f.num == 2) TRY(check_scope_spans(v, f.s, f.n, ri, &si));
        else if (d.kind == VK_MESSAGE) TRY(check_msg(d.msg, f.s, f.n, 2));
    }
    return OK;
}

static int check_request(Verdict *v, const uint8_t *p, size_t n) {
    Rd r = {p, p + n};
    Field f;
    size_t ri = 0;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        if (f.num != 1) continue;
        if (f.wt != 2) return PUNT;
        TRY(check_resource_spans(v, f.s, f.n, ri++));
    }
    return OK;
}

#endif /* MSGTRACE_OTLP_NATIVE_VALIDATE_H */
