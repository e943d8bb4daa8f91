/* Input side of the native OTLP decoder: the protobuf wire format and the typed JSON of
 * AnyValue / KeyValue lists. Included once by _otlp_native.c after _otlp_native_text.h.
 */
#ifndef MSGTRACE_OTLP_NATIVE_WIRE_H
#define MSGTRACE_OTLP_NATIVE_WIRE_H

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

#endif /* MSGTRACE_OTLP_NATIVE_WIRE_H */
