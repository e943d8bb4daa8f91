/* Native OTLP protobuf -> Arrow column buffers for the sealer (msgtrace.core.otlp_native).
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

/* ------------------------------------------------------------------------------------------ */
/* growable byte buffers */

typedef struct { char *p; size_t len, cap; } Buf;

static int buf_grow(Buf *b, size_t extra) {
    size_t need = b->len + extra, cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return NOMEM;
    b->p = p;
    b->cap = cap;
    return OK;
}
#define RESERVE(b, n) do { if ((b)->len + (n) > (b)->cap) TRY(buf_grow((b), (n))); } while (0)

static inline int put(Buf *b, const void *s, size_t n) {
    RESERVE(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return OK;
}
static inline int put_c(Buf *b, char c) {
    RESERVE(b, 1);
    b->p[b->len++] = c;
    return OK;
}
#define PUT_LIT(b, s) put((b), (s), sizeof(s) - 1)

static int put_u64(Buf *b, uint64_t v) {
    char tmp[24];
    int i = 24;
    do { tmp[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    return put(b, tmp + i, (size_t)(24 - i));
}
static int put_i64(Buf *b, int64_t v) {
    if (v < 0) {
        TRY(put_c(b, '-'));
        return put_u64(b, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(b, (uint64_t)v);
}

static const char HEX[] = "0123456789abcdef";
static int put_hex(Buf *b, const uint8_t *s, size_t n) {
    RESERVE(b, 2 * n);
    char *o = b->p + b->len;
    for (size_t i = 0; i < n; i++) { o[2 * i] = HEX[s[i] >> 4]; o[2 * i + 1] = HEX[s[i] & 15]; }
    b->len += 2 * n;
    return OK;
}

/* ------------------------------------------------------------------------------------------ */
/* UTF-8 (strict, as protobuf checks proto3 strings) and JSON text */

static int utf8_ok(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ULL)) { i += 8; continue; }
        }
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80) return 0;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= n) return 0;
            uint8_t c1 = s[i + 1], c2 = s[i + 2];
            if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80) return 0;
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return 0;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= n) return 0;
            uint8_t c1 = s[i + 1], c2 = s[i + 2], c3 = s[i + 3];
            if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80 || (c3 & 0xC0) != 0x80) return 0;
            if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return 0;
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* bytes that need an escape inside a JSON string (RFC 8259): ", \ and control characters */
static uint8_t NEEDS_ESCAPE[256];

static void init_tables(void) {
    for (int c = 0; c < 0x20; c++) NEEDS_ESCAPE[c] = 1;
    NEEDS_ESCAPE['"'] = NEEDS_ESCAPE['\\'] = 1;
}

/* Length of the valid UTF-8 sequence at s[0] (a non-ASCII lead byte), 0 when invalid. */
static inline size_t utf8_seq(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F)) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F)) return 0;
        return 4;
    }
    return 0;
}

/* A JSON string of s[0:n]; PUNT when s is not valid UTF-8. `dollar` prepends one "$" (the
 * escape of map keys starting with "$"). Plain ASCII runs are checked and copied 16 (SSE2) or 8
 * bytes at a time. Capacity invariant: at least (bytes of input left) + 1 free bytes after `o`,
 * so a 16-byte store of 16 input bytes never overruns. */
static int json_str(Buf *b, const uint8_t *s, size_t n, int dollar) {
    RESERVE(b, n + 3);
    char *o = b->p + b->len;
    *o++ = '"';
    if (dollar) *o++ = '$';
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    size_t i = 0;
    while (i < n) {
#ifdef __SSE2__
        if (i + 16 <= n) { /* copy the run before the first byte that is not plain ASCII */
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            int mask = _mm_movemask_epi8(_mm_or_si128(
                _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)), /* controls and bytes >= 0x80 */
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')))));
            _mm_storeu_si128((__m128i *)o, v);
            if (!mask) {
                o += 16;
                i += 16;
                continue;
            }
            int clean = __builtin_ctz((unsigned)mask);
            o += clean;
            i += (size_t)clean;
        }
#endif
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
            if (!((w & high) | ((w - ones * 0x20) & ~w & high) | ((q - ones) & ~q & high) |
                  ((bs - ones) & ~bs & high))) {
                memcpy(o, &w, 8);
                o += 8;
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c >= 0x80) {
            size_t len = utf8_seq(s + i, n - i);
            if (!len) return PUNT;
            memcpy(o, s + i, len);
            o += len;
            i += len;
            continue;
        }
        i++;
        if (!NEEDS_ESCAPE[c]) { *o++ = (char)c; continue; }
        b->len = (size_t)(o - b->p);
        RESERVE(b, n - i + 8);
        o = b->p + b->len;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default: *o++ = 'u'; *o++ = '0'; *o++ = '0'; *o++ = HEX[c >> 4]; *o++ = HEX[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return OK;
}

/* Shortest of %.15g/%.16g/%.17g that reads back exactly; always with a '.' or an exponent. */
static int json_double(Buf *b, double d) {
    if (d != d) return PUT_LIT(b, "{\"$double\":\"NaN\"}");
    if (isinf(d)) return d > 0 ? PUT_LIT(b, "{\"$double\":\"Infinity\"}")
                               : PUT_LIT(b, "{\"$double\":\"-Infinity\"}");
    char tmp[48];
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(tmp, sizeof tmp - 2, "%.*g", prec, d);
        if (len <= 0 || len >= (int)sizeof tmp - 2) return PUNT;
        if (prec == 17 || strtod(tmp, NULL) == d) break;
    }
    int fraction = 0;
    for (int i = 0; i < len; i++) {
        char c = tmp[i];
        if (c == '.' || c == 'e') fraction = 1;
        else if (!((c >= '0' && c <= '9') || c == '-' || c == '+')) return PUNT; /* odd locale */
    }
    if (!fraction) { tmp[len++] = '.'; tmp[len++] = '0'; }
    return put(b, tmp, (size_t)len);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static int json_bytes(Buf *b, const uint8_t *s, size_t n) {
    TRY(PUT_LIT(b, "{\"$bytes\":\""));
    RESERVE(b, (n + 2) / 3 * 4 + 2);
    char *o = b->p + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8) | s[i + 2];
        *o++ = B64[v >> 18]; *o++ = B64[(v >> 12) & 63]; *o++ = B64[(v >> 6) & 63]; *o++ = B64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *o++ = B64[v >> 18]; *o++ = B64[(v >> 12) & 63]; *o++ = '='; *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8);
        *o++ = B64[v >> 18]; *o++ = B64[(v >> 12) & 63]; *o++ = B64[(v >> 6) & 63]; *o++ = '=';
    }
    b->len = (size_t)(o - b->p);
    return PUT_LIT(b, "\"}");
}

/* ------------------------------------------------------------------------------------------ */
/* protobuf wire format */

typedef struct { const uint8_t *p, *end; } Rd;
typedef struct { uint32_t num; int wt; uint64_t v; const uint8_t *s; size_t n; } Field;

static inline int rd_varint(Rd *r, uint64_t *out, int max_bytes) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (r->p >= r->end) return PUNT;
        uint8_t c = *r->p++;
        if (i == 9 && c > 1) return PUNT;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) { *out = v; return OK; }
    }
    return PUNT;
}

static inline uint64_t le64(const uint8_t *s) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | s[i];
    return v;
}

/* Next field of a message; PUNT on truncation, field 0, groups or an oversized tag/length. */
static inline int rd_field(Rd *r, Field *f) {
    uint64_t tag;
    if (r->p < r->end && *r->p < 0x80) tag = *r->p++;
    else TRY(rd_varint(r, &tag, 5));
    if (tag > 0xffffffffu || (tag >> 3) == 0) return PUNT;
    f->num = (uint32_t)(tag >> 3);
    f->wt = (int)(tag & 7);
    switch (f->wt) {
    case 0:
        if (r->p < r->end && *r->p < 0x80) { f->v = *r->p++; return OK; }
        return rd_varint(r, &f->v, 10);
    case 1:
        if (r->end - r->p < 8) return PUNT;
        f->v = le64(r->p);
        r->p += 8;
        return OK;
    case 5:
        if (r->end - r->p < 4) return PUNT;
        f->v = (uint64_t)r->p[0] | ((uint64_t)r->p[1] << 8) | ((uint64_t)r->p[2] << 16) |
               ((uint64_t)r->p[3] << 24);
        r->p += 4;
        return OK;
    case 2: {
        uint64_t len;
        if (r->p < r->end && *r->p < 0x80) len = *r->p++;
        else TRY(rd_varint(r, &len, 5));
        if (len > INT32_LIMIT || len > (uint64_t)(r->end - r->p)) return PUNT;
        f->s = r->p;
        f->n = (size_t)len;
        r->p += len;
        return OK;
    }
    default:
        return PUNT;
    }
}
#define WANT(f, w) do { if ((f).wt != (w)) return PUNT; } while (0)
#define WANT_STR(f) do { WANT(f, 2); if (!utf8_ok((f).s, (f).n)) return PUNT; } while (0)

/* ------------------------------------------------------------------------------------------ */
/* typed JSON of AnyValue / KeyValue lists; duplicate keys in one object send the request to Python */

typedef struct { const uint8_t *s; size_t n; uint64_t h; } Key;
#define LOCAL_KEYS 24
typedef struct { Key *k; size_t n, cap; Key local[LOCAL_KEYS]; } Keys;

static void keys_init(Keys *ks) { ks->k = ks->local; ks->n = 0; ks->cap = LOCAL_KEYS; }
static void keys_free(Keys *ks) { if (ks->k != ks->local) free(ks->k); }

static int keys_add(Keys *ks, const uint8_t *s, size_t n) {
    if (ks->n == ks->cap) {
        size_t cap = ks->cap * 2;
        Key *k = malloc(cap * sizeof(Key));
        if (!k) return NOMEM;
        memcpy(k, ks->k, ks->n * sizeof(Key));
        keys_free(ks);
        ks->k = k;
        ks->cap = cap;
    }
    uint64_t a = 0, z = 0;
    memcpy(&a, s, n < 8 ? n : 8);
    if (n > 8) memcpy(&z, s + n - 8, 8);
    ks->k[ks->n++] = (Key){s, n, (a * 0x9E3779B97F4A7C15ULL) ^ (z + n * 0xC2B2AE3D27D4EB4FULL)};
    return OK;
}

static int key_cmp(const void *x, const void *y) {
    const Key *a = x, *b = y;
    if (a->h != b->h) return a->h < b->h ? -1 : 1;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return memcmp(a->s, b->s, a->n);
}

/* PUNT when two keys are equal (Python's dict would keep one). Reorders the keys. */
static int keys_check(Keys *ks) {
    size_t n = ks->n;
    if (n < 2) return OK;
    if (n <= 32) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (ks->k[i].h == ks->k[j].h && !key_cmp(&ks->k[i], &ks->k[j])) return PUNT;
        return OK;
    }
    qsort(ks->k, n, sizeof(Key), key_cmp);
    for (size_t i = 1; i < n; i++)
        if (!key_cmp(&ks->k[i], &ks->k[i - 1])) return PUNT;
    return OK;
}

typedef struct { const uint8_t *s; size_t n; int is_str; } StrVal;

static int write_kv(Buf *out, Keys *keys, const uint8_t *p, size_t n, int depth,
                    const uint8_t **key, size_t *key_n, StrVal *sv);

static int write_any(Buf *out, const uint8_t *p, size_t n, int depth, StrVal *sv) {
    if (depth > MAX_DEPTH) return PUNT;
    Rd r = {p, p + n};
    Field f, val = {0};
    int count = 0;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        switch (f.num) {
        case 1: case 5: case 6: case 7: WANT(f, 2); break;
        case 2: case 3: WANT(f, 0); break;
        case 4: WANT(f, 1); break;
        case 8: return PUNT; /* string_value_strindex: Python writes null; rare, leave it there */
        default: continue;
        }
        val = f;
        count++;
    }
    if (count > 1) return PUNT; /* oneof last-wins / message merge: leave to protobuf */
    if (sv) sv->is_str = 0;
    if (!count) return PUT_LIT(out, "null");
    switch (val.num) {
    case 1: /* json_str checks the UTF-8 */
        if (sv) { sv->s = val.s; sv->n = val.n; sv->is_str = 1; }
        return json_str(out, val.s, val.n, 0);
    case 2: return val.v ? PUT_LIT(out, "true") : PUT_LIT(out, "false");
    case 3: return put_i64(out, (int64_t)val.v);
    case 4: {
        double d;
        memcpy(&d, &val.v, 8);
        return json_double(out, d);
    }
    case 5: {
        TRY(put_c(out, '['));
        Rd a = {val.s, val.s + val.n};
        int first = 1;
        while (a.p < a.end) {
            TRY(rd_field(&a, &f));
            if (f.num != 1) continue;
            WANT(f, 2);
            if (!first) TRY(put_c(out, ','));
            first = 0;
            TRY(write_any(out, f.s, f.n, depth + 2, NULL));
        }
        return put_c(out, ']');
    }
    case 6: {
        TRY(put_c(out, '{'));
        Rd a = {val.s, val.s + val.n};
        Keys keys;
        keys_init(&keys);
        int rc = OK;
        while (a.p < a.end && rc == OK) {
            rc = rd_field(&a, &f);
            if (rc || f.num != 1) continue;
            if (f.wt != 2) { rc = PUNT; break; }
            if (keys.n) rc = put_c(out, ',');
            if (!rc) rc = write_kv(out, &keys, f.s, f.n, depth + 2, NULL, NULL, NULL);
        }
        if (!rc) rc = keys_check(&keys);
        keys_free(&keys);
        TRY(rc);
        return put_c(out, '}');
    }
    default: /* 7 */
        return json_bytes(out, val.s, val.n);
    }
}

/* One KeyValue (message depth `depth`) as `"key":value`; the caller writes separators. */
static int write_kv(Buf *out, Keys *keys, const uint8_t *p, size_t n, int depth,
                    const uint8_t **key, size_t *key_n, StrVal *sv) {
    if (depth > MAX_DEPTH) return PUNT;
    Rd r = {p, p + n};
    Field f;
    const uint8_t *k = (const uint8_t *)"", *v = NULL;
    size_t kn = 0, vn = 0;
    while (r.p < r.end) {
        TRY(rd_field(&r, &f));
        switch (f.num) {
        case 1: WANT_STR(f); k = f.s; kn = f.n; break;
        case 2: WANT(f, 2); if (v) return PUNT; v = f.s; vn = f.n; break;
        case 3: WANT(f, 0); break; /* key_strindex: does not change the key */
        default: break;
        }
    }
    TRY(keys_add(keys, k, kn));
    TRY(json_str(out, k, kn, kn && k[0] == '$'));
    TRY(put_c(out, ':'));
    if (key) { *key = k; *key_n = kn; }
    if (!v) {
        if (sv) sv->is_str = 0;
        return PUT_LIT(out, "null");
    }
    return write_any(out, v, vn, depth + 1, sv);
}

/* `{...}` of every field `num` (KeyValues at message depth `depth`) of message p[0:n]; other
 * fields are not checked here. */
static int write_attrs(Buf *out, const uint8_t *p, size_t n, uint32_t num, int depth) {
    TRY(put_c(out, '{'));
    Rd r = {p, p + n};
    Field f;
    Keys keys;
    keys_init(&keys);
    int rc = OK;
    while (r.p < r.end && rc == OK) {
        rc = rd_field(&r, &f);
        if (rc || f.num != num) continue;
        if (f.wt != 2) { rc = PUNT; break; }
        if (keys.n) rc = put_c(out, ',');
        if (!rc) rc = write_kv(out, &keys, f.s, f.n, depth, NULL, NULL, NULL);
    }
    if (!rc) rc = keys_check(&keys);
    keys_free(&keys);
    TRY(rc);
    return put_c(out, '}');
}

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

static int all_zero(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) if (s[i]) return 0;
    return 1;
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

    const char *problem = NULL;
    char why[96];
    if (tid_n != 16) { snprintf(why, sizeof why, "trace_id has %zu bytes, expected 16", tid_n); problem = why; }
    else if (all_zero(tid, 16)) problem = "trace_id is all zeros";
    else if (sid_n != 8) { snprintf(why, sizeof why, "span_id has %zu bytes, expected 8", sid_n); problem = why; }
    else if (all_zero(sid, 8)) problem = "span_id is all zeros";
    else if (pid_n && pid_n != 8) {
        snprintf(why, sizeof why, "parent_span_id has %zu bytes, expected 0 or 8", pid_n);
        problem = why;
    } else if (kind < 0 || kind > 5) {
        snprintf(why, sizeof why, "kind %d is not a SpanKind (0-5)", (int)kind);
        problem = why;
    } else if (code < 0 || code > 2) {
        snprintf(why, sizeof why, "status code %d is not a StatusCode (0-2)", (int)code);
        problem = why;
    }
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

static PyMethodDef methods[] = {
    {"decode", native_decode, METH_VARARGS,
     "decode(payload, offset, received_time_unix_nano) -> (rows, rejected, named, columns) | None"},
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
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "SOURCE_DIGEST", SOURCE_DIGEST) < 0) Py_CLEAR(m);
    return m;
}
