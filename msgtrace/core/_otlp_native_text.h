/* Output text for the native OTLP decoder: growable buffers, strict UTF-8, JSON strings,
 * numbers and base64. Included once by _otlp_native.c (not a public header; static functions).
 */
#ifndef MSGTRACE_OTLP_NATIVE_TEXT_H
#define MSGTRACE_OTLP_NATIVE_TEXT_H

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

#endif /* MSGTRACE_OTLP_NATIVE_TEXT_H */
