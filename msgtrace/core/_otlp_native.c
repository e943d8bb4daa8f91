/* Native OTLP protobuf -> Arrow column buffers for the sealer (msgtrace.core.otlp_native), and
 * ingest's verdict without building anything (`validate`, see _otlp_native_validate.h).
 *
 * Contract: `decode(payload: bytes, offset: int, received_time_unix_nano: int)` returns None when
 * the request must take the Python path (msgtrace.core.otlp.decode_rows), else
 * (rows, rejected, named_problems, columns): one entry per segment column in
 * msgtrace.core.schema.SPAN_COLUMNS order, (values,) for int64/int8 columns and
 * (validity | None, int32 offsets, data, null_count) for string columns.
 *
 * The result equals decode_rows(payload, PROTOBUF, ...) value for value; typed-JSON columns parse
 * to the same values with object keys in the same order. Anything whose Python result is not
 * reproduced exactly here returns None (the Python path then decodes or raises): malformed or
 * truncated wire data, invalid UTF-8 in any string field (Python repairs it), wire types that
 * do not match a known field, a singular message or AnyValue value sent twice (protobuf merges),
 * duplicate keys in one attribute map (Python keeps the last), groups, fields this decoder does
 * not model (Resource.entity_refs, AnyValue.string_value_strindex), AnyValues nested deeper
 * than MAX_DEPTH messages, more than 2 GiB in one string column.
 *
 * The parse runs without the GIL on the immutable bytes object; no Python object is made per value.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum { OK = 0, PUNT = 1, NOMEM = 2 };
#define TRY(x) do { int rc_ = (x); if (rc_) return rc_; } while (0)
/* Deepest message (ResourceSpans = 1) decoded natively; protobuf refuses past 100. */
#define MAX_DEPTH 96
#define MAX_NAMED 3           /* otlp_validate.MAX_PROBLEMS_NAMED */
#define INT32_LIMIT 0x7fffffffu

#include "_otlp_native_text.h"
#include "_otlp_native_wire.h"
#include "_otlp_native_validate.h"

/* ------------------------------------------------------------------------------------------ */
/* columns */

enum {
    C_OFFSET, C_RECEIVED, C_TRACE_ID, C_SPAN_ID, C_PARENT, C_TRACE_STATE, C_FLAGS, C_NAME, C_KIND,
    C_START, C_END, C_STATUS_CODE, C_STATUS_MESSAGE, C_ATTRS, C_DROPPED_ATTRS, C_EVENTS,
    C_DROPPED_EVENTS, C_LINKS, C_DROPPED_LINKS, C_SERVICE, C_RES_ATTRS, C_RES_DROPPED,
    C_RES_SCHEMA, C_SCOPE_NAME, C_SCOPE_VERSION, C_SCOPE_ATTRS, C_SCOPE_DROPPED, C_SCOPE_SCHEMA,
    NCOLS
};
enum { T_I64, T_I8, T_STR, T_STR_NULL };
static const int COL_TYPE[NCOLS] = {
    T_I64, T_I64, T_STR, T_STR, T_STR_NULL, T_STR_NULL, T_I64, T_STR, T_I8,
    T_I64, T_I64, T_I8, T_STR_NULL, T_STR, T_I64, T_STR,
    T_I64, T_STR, T_I64, T_STR_NULL, T_STR, T_I64,
    T_STR_NULL, T_STR_NULL, T_STR_NULL, T_STR, T_I64, T_STR_NULL,
};

typedef struct { Buf vals; Buf data; Buf valid; Py_ssize_t nulls; } Col; /* vals: ints or offsets */

typedef struct {
    Col col[NCOLS];
    size_t rows;
    int64_t offset, received;
    size_t rejected;
    char named[MAX_NAMED][160];
    /* per ResourceSpans / ScopeSpans constants */
    Buf res_attrs, scope_attrs;
    const uint8_t *service, *res_schema, *scope_name, *scope_version, *scope_schema;
    size_t service_n, res_schema_n, scope_name_n, scope_version_n, scope_schema_n;
    int has_service;
    int64_t res_dropped, scope_dropped;
} St;

static int col_i64(St *st, int c, int64_t v) { return put(&st->col[c].vals, &v, 8); }
static int col_i8(St *st, int c, int8_t v) { return put(&st->col[c].vals, &v, 1); }

/* Close the current row of string column c (its bytes are already in .data). */
static int col_end(St *st, int c, int valid) {
    Col *col = &st->col[c];
    if (col->data.len > INT32_LIMIT) return PUNT;
    int32_t off = (int32_t)col->data.len;
    TRY(put(&col->vals, &off, 4));
    if (COL_TYPE[c] == T_STR_NULL) {
        if (st->rows % 8 == 0) TRY(put_c(&col->valid, 0));
        if (valid) col->valid.p[st->rows / 8] |= (char)(1 << (st->rows % 8));
        else col->nulls++;
    }
    return OK;
}
static int col_str(St *st, int c, const uint8_t *s, size_t n) {
    TRY(put(&st->col[c].data, s, n));
    return col_end(st, c, 1);
}
/* null when empty (`value or None`) */
static int col_opt(St *st, int c, const uint8_t *s, size_t n) {
    if (!n) return col_end(st, c, 0);
    return col_str(st, c, s, n);
}
static int col_hex(St *st, int c, const uint8_t *s, size_t n) {
    TRY(put_hex(&st->col[c].data, s, n));
    return col_end(st, c, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* spans */

static int write_event(Buf *out, const uint8_t *p, size_t n) {
    Rd r = {p, p + n};
    Field f;
    uint64_t time = 0, dropped = 0;
    const uint8_t *name = (const uint8_t *)"";
    size_t name_n = 0;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        switch (f.num) {
        case 1: WANT(f, 1); time = f.v; break;
        case 2: WANT_STR(f); name = f.s; name_n = f.n; break;
        case 3: WANT(f, 2); break;
        case 4: WANT(f, 0); dropped = (uint32_t)f.v; break;
        default: break;
        }
    }
    TRY(PUT_LIT(out, "{\"time_unix_nano\":"));
    TRY(put_u64(out, time));
    TRY(PUT_LIT(out, ",\"name\":"));
    TRY(json_str(out, name, name_n, 0));
    TRY(PUT_LIT(out, ",\"attributes\":"));
    TRY(write_attrs(out, p, n, 3, 5));
    TRY(PUT_LIT(out, ",\"dropped_attributes_count\":"));
    TRY(put_u64(out, dropped));
    return put_c(out, '}');
}

static int write_link(Buf *out, const uint8_t *p, size_t n) {
    Rd r = {p, p + n};
    Field f;
    uint64_t dropped = 0, flags = 0;
    const uint8_t *tid = NULL, *sid = NULL, *ts = NULL;
    size_t tid_n = 0, sid_n = 0, ts_n = 0;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        switch (f.num) {
        case 1: WANT(f, 2); tid = f.s; tid_n = f.n; break;
        case 2: WANT(f, 2); sid = f.s; sid_n = f.n; break;
        case 3: WANT_STR(f); ts = f.s; ts_n = f.n; break;
        case 4: WANT(f, 2); break;
        case 5: WANT(f, 0); dropped = (uint32_t)f.v; break;
        case 6: WANT(f, 5); flags = f.v; break;
        default: break;
        }
    }
    TRY(PUT_LIT(out, "{\"trace_id\":\""));
    TRY(put_hex(out, tid, tid_n));
    TRY(PUT_LIT(out, "\",\"span_id\":\""));
    TRY(put_hex(out, sid, sid_n));
    TRY(PUT_LIT(out, "\",\"trace_state\":"));
    if (ts_n) TRY(json_str(out, ts, ts_n, 0));
    else TRY(PUT_LIT(out, "null"));
    TRY(PUT_LIT(out, ",\"attributes\":"));
    TRY(write_attrs(out, p, n, 4, 5));
    TRY(PUT_LIT(out, ",\"dropped_attributes_count\":"));
    TRY(put_u64(out, dropped));
    TRY(PUT_LIT(out, ",\"flags\":"));
    TRY(put_u64(out, flags));
    return put_c(out, '}');
}

static void add_problem(St *st, size_t ri, size_t si, const char *problem) {
    if (st->rejected < MAX_NAMED)
        snprintf(st->named[st->rejected], sizeof st->named[0], "span %zu of resource %zu: %s",
                 si, ri, problem);
    st->rejected++;
}

static int parse_status(const uint8_t *p, size_t n, int32_t *code, const uint8_t **msg, size_t *msg_n) {
    Rd r = {p, p + n};
    Field f;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        if (f.num == 2) { WANT_STR(f); *msg = f.s; *msg_n = f.n; }
        else if (f.num == 3) { WANT(f, 0); *code = (int32_t)(uint32_t)f.v; }
    }
    return OK;
}

static int parse_span(St *st, const uint8_t *p, size_t n, size_t ri, size_t si) {
    Rd r = {p, p + n};
    Field f;
    const uint8_t *tid = (const uint8_t *)"", *sid = tid, *pid = tid, *ts = tid, *name = tid, *msg = tid;
    size_t tid_n = 0, sid_n = 0, pid_n = 0, ts_n = 0, name_n = 0, msg_n = 0;
    uint64_t flags = 0, start = 0, end = 0, d_attrs = 0, d_events = 0, d_links = 0;
    int32_t kind = 0, code = 0;
    int has_status = 0;
    Buf *attrs = &st->col[C_ATTRS].data, *events = &st->col[C_EVENTS].data,
        *links = &st->col[C_LINKS].data;
    size_t attrs0 = attrs->len, events0 = events->len, links0 = links->len;
    Keys keys;
    keys_init(&keys);
    int n_events = 0, n_links = 0, rc = OK;
    rc = put_c(attrs, '{');
    if (!rc) rc = put_c(events, '[');
    if (!rc) rc = put_c(links, '[');
    while (r.p < r.end && rc == OK) {
        if ((rc = rd_field(&r, &f))) break;
        switch (f.num) {
        case 1: if (f.wt != 2) rc = PUNT; tid = f.s; tid_n = f.n; break;
        case 2: if (f.wt != 2) rc = PUNT; sid = f.s; sid_n = f.n; break;
        case 3: if (f.wt != 2 || !utf8_ok(f.s, f.n)) rc = PUNT; ts = f.s; ts_n = f.n; break;
        case 4: if (f.wt != 2) rc = PUNT; pid = f.s; pid_n = f.n; break;
        case 5: if (f.wt != 2 || !utf8_ok(f.s, f.n)) rc = PUNT; name = f.s; name_n = f.n; break;
        case 6: if (f.wt != 0) rc = PUNT; kind = (int32_t)(uint32_t)f.v; break;
        case 7: if (f.wt != 1) rc = PUNT; start = f.v; break;
        case 8: if (f.wt != 1) rc = PUNT; end = f.v; break;
        case 9:
            if (f.wt != 2) { rc = PUNT; break; }
            if (keys.n) rc = put_c(attrs, ',');
            if (!rc) rc = write_kv(attrs, &keys, f.s, f.n, 4, NULL, NULL, NULL);
            break;
        case 10: if (f.wt != 0) rc = PUNT; d_attrs = (uint32_t)f.v; break;
        case 11:
            if (f.wt != 2) { rc = PUNT; break; }
            if (n_events++) rc = put_c(events, ',');
            if (!rc) rc = write_event(events, f.s, f.n);
            break;
        case 12: if (f.wt != 0) rc = PUNT; d_events = (uint32_t)f.v; break;
        case 13:
            if (f.wt != 2) { rc = PUNT; break; }
            if (n_links++) rc = put_c(links, ',');
            if (!rc) rc = write_link(links, f.s, f.n);
            break;
        case 14: if (f.wt != 0) rc = PUNT; d_links = (uint32_t)f.v; break;
        case 15:
            if (f.wt != 2 || has_status) { rc = PUNT; break; }
            has_status = 1;
            rc = parse_status(f.s, f.n, &code, &msg, &msg_n);
            break;
        case 16: if (f.wt != 5) rc = PUNT; flags = f.v; break;
        default: break;
        }
    }
    if (!rc) rc = keys_check(&keys);
    keys_free(&keys);
    if (!rc) rc = put_c(attrs, '}');
    if (!rc) rc = put_c(events, ']');
    if (!rc) rc = put_c(links, ']');
    TRY(rc);

    char why[96];
    const char *problem = span_problem(tid, tid_n, sid, sid_n, pid_n, kind, code, why, sizeof why);
    if (problem) {
        add_problem(st, ri, si, problem);
        attrs->len = attrs0;
        events->len = events0;
        links->len = links0;
        return OK;
    }
    if (start > (uint64_t)INT64_MAX) start = (uint64_t)INT64_MAX;
    if (end > (uint64_t)INT64_MAX) end = (uint64_t)INT64_MAX;
    TRY(col_i64(st, C_OFFSET, st->offset));
    TRY(col_i64(st, C_RECEIVED, st->received));
    TRY(col_hex(st, C_TRACE_ID, tid, 16));
    TRY(col_hex(st, C_SPAN_ID, sid, 8));
    if (pid_n && !all_zero(pid, 8)) TRY(col_hex(st, C_PARENT, pid, 8));
    else TRY(col_end(st, C_PARENT, 0));
    TRY(col_opt(st, C_TRACE_STATE, ts, ts_n));
    TRY(col_i64(st, C_FLAGS, (int64_t)flags));
    TRY(col_str(st, C_NAME, name, name_n));
    TRY(col_i8(st, C_KIND, (int8_t)kind));
    TRY(col_i64(st, C_START, (int64_t)start));
    TRY(col_i64(st, C_END, (int64_t)end));
    TRY(col_i8(st, C_STATUS_CODE, (int8_t)code));
    TRY(col_opt(st, C_STATUS_MESSAGE, msg, msg_n));
    TRY(col_end(st, C_ATTRS, 1));
    TRY(col_i64(st, C_DROPPED_ATTRS, (int64_t)d_attrs));
    TRY(col_end(st, C_EVENTS, 1));
    TRY(col_i64(st, C_DROPPED_EVENTS, (int64_t)d_events));
    TRY(col_end(st, C_LINKS, 1));
    TRY(col_i64(st, C_DROPPED_LINKS, (int64_t)d_links));
    if (st->has_service) TRY(col_str(st, C_SERVICE, st->service, st->service_n));
    else TRY(col_end(st, C_SERVICE, 0));
    TRY(col_str(st, C_RES_ATTRS, (const uint8_t *)st->res_attrs.p, st->res_attrs.len));
    TRY(col_i64(st, C_RES_DROPPED, st->res_dropped));
    TRY(col_opt(st, C_RES_SCHEMA, st->res_schema, st->res_schema_n));
    TRY(col_opt(st, C_SCOPE_NAME, st->scope_name, st->scope_name_n));
    TRY(col_opt(st, C_SCOPE_VERSION, st->scope_version, st->scope_version_n));
    TRY(col_str(st, C_SCOPE_ATTRS, (const uint8_t *)st->scope_attrs.p, st->scope_attrs.len));
    TRY(col_i64(st, C_SCOPE_DROPPED, st->scope_dropped));
    TRY(col_opt(st, C_SCOPE_SCHEMA, st->scope_schema, st->scope_schema_n));
    st->rows++;
    return OK;
}

/* ------------------------------------------------------------------------------------------ */
/* scopes, resources, the request */

static int parse_scope(St *st, const uint8_t *p, size_t n) {
    Rd r = {p, p + n};
    Field f;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        switch (f.num) {
        case 1: WANT_STR(f); st->scope_name = f.s; st->scope_name_n = f.n; break;
        case 2: WANT_STR(f); st->scope_version = f.s; st->scope_version_n = f.n; break;
        case 3: WANT(f, 2); break;
        case 4: WANT(f, 0); st->scope_dropped = (uint32_t)f.v; break;
        default: break;
        }
    }
    st->scope_attrs.len = 0;
    return write_attrs(&st->scope_attrs, p, n, 3, 4);
}

static int parse_scope_spans(St *st, const uint8_t *p, size_t n, size_t ri, size_t *si) {
    Rd r = {p, p + n};
    Field f;
    const uint8_t *scope = NULL;
    size_t scope_n = 0;
    st->scope_name = st->scope_version = st->scope_schema = NULL;
    st->scope_name_n = st->scope_version_n = st->scope_schema_n = 0;
    st->scope_dropped = 0;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        switch (f.num) {
        case 1: WANT(f, 2); if (scope) return PUNT; scope = f.s; scope_n = f.n; break;
        case 2: WANT(f, 2); break;
        case 3: WANT_STR(f); st->scope_schema = f.s; st->scope_schema_n = f.n; break;
        default: break;
        }
    }
    st->scope_attrs.len = 0;
    if (scope) TRY(parse_scope(st, scope, scope_n));
    else TRY(PUT_LIT(&st->scope_attrs, "{}"));
    r = (Rd){p, p + n};
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        if (f.num != 2) continue;
        TRY(parse_span(st, f.s, f.n, ri, (*si)++));
    }
    return OK;
}

static int parse_resource(St *st, const uint8_t *p, size_t n) {
    Rd r = {p, p + n};
    Field f;
    Keys keys;
    keys_init(&keys);
    Buf *out = &st->res_attrs;
    int rc = put_c(out, '{');
    while (r.p < r.end && rc == OK) {
        if ((rc = rd_field(&r, &f))) break;
        switch (f.num) {
        case 1: {
            if (f.wt != 2) { rc = PUNT; break; }
            if (keys.n) rc = put_c(out, ',');
            const uint8_t *k = NULL;
            size_t kn = 0;
            StrVal sv = {NULL, 0, 0};
            if (!rc) rc = write_kv(out, &keys, f.s, f.n, 3, &k, &kn, &sv);
            if (!rc && kn == 12 && !memcmp(k, "service.name", 12)) {
                st->has_service = sv.is_str;
                st->service = sv.s;
                st->service_n = sv.n;
            }
            break;
        }
        case 2: if (f.wt != 0) rc = PUNT; st->res_dropped = (uint32_t)f.v; break;
        case 3: rc = PUNT; break; /* entity_refs: not modelled here */
        default: break;
        }
    }
    if (!rc) rc = keys_check(&keys);
    keys_free(&keys);
    TRY(rc);
    return put_c(out, '}');
}

static int parse_resource_spans(St *st, const uint8_t *p, size_t n, size_t ri) {
    Rd r = {p, p + n};
    Field f;
    const uint8_t *res = NULL;
    size_t res_n = 0;
    st->res_schema = NULL;
    st->res_schema_n = 0;
    st->res_dropped = 0;
    st->has_service = 0;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        switch (f.num) {
        case 1: WANT(f, 2); if (res) return PUNT; res = f.s; res_n = f.n; break;
        case 2: WANT(f, 2); break;
        case 3: WANT_STR(f); st->res_schema = f.s; st->res_schema_n = f.n; break;
        default: break;
        }
    }
    st->res_attrs.len = 0;
    if (res) TRY(parse_resource(st, res, res_n));
    else TRY(PUT_LIT(&st->res_attrs, "{}"));
    size_t si = 0;
    r = (Rd){p, p + n};
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        if (f.num != 2) continue;
        TRY(parse_scope_spans(st, f.s, f.n, ri, &si));
    }
    return OK;
}

static int parse_request(St *st, const uint8_t *p, size_t n) {
    for (int c = 0; c < NCOLS; c++)
        if (COL_TYPE[c] >= T_STR) { int32_t zero = 0; TRY(put(&st->col[c].vals, &zero, 4)); }
    Rd r = {p, p + n};
    Field f;
    size_t ri = 0;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        if (f.num != 1) continue;
        WANT(f, 2);
        TRY(parse_resource_spans(st, f.s, f.n, ri++));
    }
    return OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Python glue */

static void st_free(St *st) {
    for (int c = 0; c < NCOLS; c++) {
        free(st->col[c].vals.p);
        free(st->col[c].data.p);
        free(st->col[c].valid.p);
    }
    free(st->res_attrs.p);
    free(st->scope_attrs.p);
}

static PyObject *bytes_of(const Buf *b) {
    return PyBytes_FromStringAndSize(b->p ? b->p : "", (Py_ssize_t)b->len);
}

static PyObject *build_result(St *st) {
    PyObject *cols = PyList_New(NCOLS), *named = PyList_New(0), *out = NULL;
    if (!cols || !named) goto done;
    for (size_t i = 0; i < st->rejected && i < MAX_NAMED; i++) {
        PyObject *s = PyUnicode_FromString(st->named[i]);
        if (!s || PyList_Append(named, s) < 0) { Py_XDECREF(s); goto done; }
        Py_DECREF(s);
    }
    for (int c = 0; c < NCOLS; c++) {
        Col *col = &st->col[c];
        PyObject *item;
        if (COL_TYPE[c] <= T_I8) {
            item = Py_BuildValue("(N)", bytes_of(&col->vals));
        } else if (COL_TYPE[c] == T_STR_NULL && col->nulls) {
            item = Py_BuildValue("(NNNn)", bytes_of(&col->valid), bytes_of(&col->vals),
                                 bytes_of(&col->data), col->nulls);
        } else {
            item = Py_BuildValue("(ONNn)", Py_None, bytes_of(&col->vals), bytes_of(&col->data),
                                 (Py_ssize_t)0);
        }
        if (!item) goto done;
        PyList_SET_ITEM(cols, c, item);
    }
    out = Py_BuildValue("(nnOO)", (Py_ssize_t)st->rows, (Py_ssize_t)st->rejected, named, cols);
done:
    Py_XDECREF(cols);
    Py_XDECREF(named);
    return out;
}

static PyObject *native_decode(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *payload;
    long long offset, received;
    if (!PyArg_ParseTuple(args, "SLL", &payload, &offset, &received)) return NULL;
    St *st = calloc(1, sizeof(St));
    if (!st) return PyErr_NoMemory();
    st->offset = offset;
    st->received = received;
    const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(payload);
    size_t n = (size_t)PyBytes_GET_SIZE(payload);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = parse_request(st, p, n);
    Py_END_ALLOW_THREADS
    PyObject *out;
    if (rc == NOMEM) out = PyErr_NoMemory();
    else if (rc) out = Py_NewRef(Py_None);
    else out = build_result(st);
    st_free(st);
    free(st);
    return out;
}

/* validate(payload) -> (accepted, rejected, named) | None; the walk runs without the GIL. */
static PyObject *native_validate(PyObject *self, PyObject *payload) {
    (void)self;
    if (!PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "validate() needs bytes");
        return NULL;
    }
    Verdict *v = calloc(1, sizeof(Verdict));
    if (!v) return PyErr_NoMemory();
    const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(payload);
    size_t n = (size_t)PyBytes_GET_SIZE(payload);
    int rc;
    if (n < 16384) {
        rc = check_request(v, p, n); /* a short walk: not worth giving up the GIL */
    } else {
        Py_BEGIN_ALLOW_THREADS
        rc = check_request(v, p, n);
        Py_END_ALLOW_THREADS
    }
    PyObject *out = NULL, *named = NULL;
    if (rc) {
        out = Py_NewRef(Py_None);
        goto done;
    }
    named = PyList_New(0);
    if (!named) goto done;
    for (size_t i = 0; i < v->rejected && i < MAX_NAMED; i++) {
        PyObject *s = PyUnicode_FromString(v->named[i]);
        if (!s || PyList_Append(named, s) < 0) { Py_XDECREF(s); goto done; }
        Py_DECREF(s);
    }
    out = Py_BuildValue("(nnO)", (Py_ssize_t)v->accepted, (Py_ssize_t)v->rejected, named);
done:
    Py_XDECREF(named);
    free(v);
    return out;
}

static PyMethodDef methods[] = {
    {"decode", native_decode, METH_VARARGS,
     "decode(payload, offset, received_time_unix_nano) -> (rows, rejected, named, columns) | None"},
    {"validate", native_validate, METH_O,
     "validate(payload: bytes) -> (accepted, rejected, named) | None (None: use the Python path)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "msgtrace.core._otlp_native",
    "Native OTLP protobuf decoder into Arrow column buffers (see msgtrace.core.otlp_native).",
    -1, methods, NULL, NULL, NULL, NULL,
};

#ifndef SOURCE_DIGEST
#define SOURCE_DIGEST "" /* setup.py defines it: sha256 of this file, 16 hex digits */
#endif

PyMODINIT_FUNC PyInit__otlp_native(void) {
    init_tables();
    init_validate_tables();
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "SOURCE_DIGEST", SOURCE_DIGEST) < 0) Py_CLEAR(m);
    return m;
}
