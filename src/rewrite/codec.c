/*
 * Transfer codecs: quoted-printable (RFC 2045 6.7) and base64 (6.8).
 *
 * Decoders are strict ("decodes cleanly" or the part is left alone) except where the RFC
 * tells decoders to be lenient: trailing whitespace on QP lines is transport padding and
 * is dropped; lowercase hex is accepted. Encoders keep lines at 76 octets; QP keeps each
 * line break as it was (CRLF or LF) and soft-breaks in the part's own form; base64 uses the
 * part's line ending; decode(encode(x)) == x for every x.
 */
#include "rewrite/rewrite_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Hex digit values plus one (either case); 0 for anything else. */
static const uint8_t hex1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* The digit's value, or -1. */
static inline int hexval(unsigned char c)
{
    return (int)hex1[c] - 1;
}

static void map_add(rewrite__qp_map_t *m, size_t dec, size_t enc)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->dec = xrealloc(m->dec, xmul(m->cap, sizeof(size_t)));
        m->enc = xrealloc(m->enc, xmul(m->cap, sizeof(size_t)));
    }
    m->dec[m->n] = dec;
    m->enc[m->n++] = enc;
}

void rewrite__qp_map_clear(rewrite__qp_map_t *m)
{
    free(m->dec);
    free(m->enc);
    memset(m, 0, sizeof(*m));
}

bool rewrite__qp_decode(slice_t in, buf_t *out)
{
    return rewrite__qp_decode_map(in, out, NULL);
}

/* Ends a physical line in the output: transport padding (spaces and tabs the encoder did
 * not write as =20/=09) before a line end is dropped, never reaching before keep. */
static inline char *trim_padding(char *w, const char *keep)
{
    while (w > keep && (w[-1] == ' ' || w[-1] == '\t')) w--;
    return w;
}

/*
 * One pass: runs of plain bytes are copied 16 at a time while the scan looks for '=' and
 * LF, the only bytes that need attention (CR matters only before LF). Line ends: an LF
 * ends a physical line (a CR before it is kept with it); trailing padding is dropped;
 * '=' then padding then a line end (or the end) is a soft break.
 */
bool rewrite__qp_decode_map(slice_t in, buf_t *out, rewrite__qp_map_t *map)
{
    const char *p = in.p, *end = in.p + in.len;
    buf_reserve(out, in.len + 16); /* decoding never grows; 16 for the block stores */
    char *w = out->p + out->len;
    char *keep = w; /* trimming stops here: the line start or the end of the last escape */
    bool ok = true;
    while (p < end) {
#if defined(__SSE2__)
        const __m128i eq = _mm_set1_epi8('='), lf = _mm_set1_epi8('\n');
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            _mm_storeu_si128((__m128i *)(void *)w, v);
            unsigned m = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, eq), _mm_cmpeq_epi8(v, lf)));
            if (m) {
                unsigned k = (unsigned)__builtin_ctz(m);
                p += k;
                w += k;
                goto special;
            }
            p += 16;
            w += 16;
        }
#endif
        while (p < end && *p != '=' && *p != '\n') *w++ = *p++;
        if (p == end) break;
#if defined(__SSE2__)
    special:
#endif
        if (*p == '\n') { /* a hard line break, kept in its own form */
            bool cr = w > keep && w[-1] == '\r';
            if (cr) w--;
            w = trim_padding(w, keep);
            if (cr) *w++ = '\r';
            *w++ = '\n';
            p++;
            keep = w;
            if (map) map_add(map, (size_t)(w - out->p), (size_t)(p - in.p));
            continue;
        }
        /* '=': an escape, or a soft break */
        int h = end - p >= 3 ? hexval((unsigned char)p[1]) : -1;
        int l = h >= 0 ? hexval((unsigned char)p[2]) : -1;
        if (l >= 0) {
            *w++ = (char)(h * 16 + l);
            p += 3;
            keep = w;
            continue;
        }
        const char *q = p + 1;
        while (q < end && (*q == ' ' || *q == '\t')) q++;
        if (q < end && *q == '\r' && q + 1 < end && q[1] == '\n') q++;
        if (q < end && *q != '\n') {
            ok = false;
            break;
        }
        p = q < end ? q + 1 : end; /* past the soft break */
        keep = w;
    }
    if (ok) {
        if (p >= end) w = trim_padding(w, keep); /* the last line's padding */
        if (map && (map->n == 0 || map->enc[map->n - 1] < in.len))
            map_add(map, (size_t)(w - out->p), in.len); /* the last line, without a break */
    }
    out->len = (size_t)(w - out->p);
    out->p[out->len] = 0;
    return ok;
}

static const char hexd[] = "0123456789ABCDEF";

/* 1: printable, written as itself anywhere; 2: space or tab (literal unless it ends a
 * line); 0: encoded. 0: invalid in b64_table is 255, see below. */
static uint8_t qp_class[256];
static uint8_t b64_table[256]; /* 0..63: value; 64: whitespace; 65: '='; 255: invalid */
static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_init(void)
{
    for (int c = 33; c <= 126; c++) qp_class[c] = c == '=' ? 0 : 1;
    qp_class[' '] = qp_class['\t'] = 2;
    memset(b64_table, 255, sizeof(b64_table));
    for (int i = 0; i < 64; i++) b64_table[(unsigned char)b64chars[i]] = (uint8_t)i;
    b64_table['\r'] = b64_table['\n'] = b64_table[' '] = b64_table['\t'] = 64;
    b64_table['='] = 65;
}

void rewrite__qp_encode(slice_t in, bool crlf, buf_t *out)
{
    const unsigned char *p = (const unsigned char *)in.p;
    size_t n = in.len, col = 0;
    pthread_once(&tables_once, tables_init);
    /* worst case: every byte as =XX, plus a soft break (3 bytes) per 25 of them */
    buf_reserve(out, xmul(n, 4) + 16);
    char *w = out->p + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (qp_class[c] == 1) {
            /* a run of printable bytes up to the line's room */
            size_t room = col < 75 ? 75 - col : 0, k = 0;
#if defined(__SSE2__)
            /* 16 at a time while all are printable, or spaces with no line end after */
            const __m128i sp = _mm_set1_epi8(' '), cr = _mm_set1_epi8('\r'),
                          lf = _mm_set1_epi8('\n'), eqc = _mm_set1_epi8('=');
            while (k + 16 <= room && i + k + 17 <= n) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i + k));
                __m128i nx = _mm_loadu_si128((const __m128i *)(const void *)(p + i + k + 1));
                __m128i print =
                    _mm_and_si128(_mm_cmpgt_epi8(v, sp), _mm_cmpgt_epi8(_mm_set1_epi8(127), v));
                print = _mm_andnot_si128(_mm_cmpeq_epi8(v, eqc), print);
                __m128i eol_next = _mm_or_si128(_mm_cmpeq_epi8(nx, cr), _mm_cmpeq_epi8(nx, lf));
                __m128i space_ok = _mm_andnot_si128(eol_next, _mm_cmpeq_epi8(v, sp));
                if (_mm_movemask_epi8(_mm_or_si128(print, space_ok)) != 0xffff) break;
                k += 16;
            }
#endif
            /* spaces and tabs join the run unless a line end (or the end) follows */
            while (k < room && i + k < n) {
                uint8_t cl = qp_class[p[i + k]];
                if (cl != 1 &&
                    !(cl == 2 && i + k + 1 < n && p[i + k + 1] != '\r' && p[i + k + 1] != '\n'))
                    break;
                k++;
            }
            if (k > 0) {
                memcpy(w, p + i, k);
                w += k;
                col += k;
                i += k - 1;
                continue;
            }
        }
        /* Line breaks stay as they were (CRLF or a bare LF; the decoder gives back exactly
         * what it read); crlf only chooses the soft breaks' form. */
        bool hard = c == '\n' || (c == '\r' && i + 1 < n && p[i + 1] == '\n');
        if (hard) {
            if (c == '\r') {
                *w++ = '\r';
                i++;
            }
            *w++ = '\n';
            col = 0;
            continue;
        }
        /* Whitespace is literal unless it would end a line (before a hard break or the
         * end of the text), where transport may strip it. */
        bool ends_line =
            i + 1 == n || p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n');
        bool literal = qp_class[c] == 1 || (qp_class[c] == 2 && !ends_line);
        size_t elen = literal ? 1 : 3;
        /* 76 octets per line including the soft break's '='; the last unit of a line
         * may use the 76th column when the hard break or the end follows. */
        size_t limit = ends_line ? 76 : 75;
        if (col + elen > limit) {
            *w++ = '=';
            if (crlf) *w++ = '\r';
            *w++ = '\n';
            col = 0;
        }
        if (literal) {
            *w++ = (char)c;
        } else {
            w[0] = '=';
            w[1] = hexd[c >> 4];
            w[2] = hexd[c & 15];
            w += 3;
        }
        col += elen;
    }
    out->len = (size_t)(w - out->p);
    out->p[out->len] = 0;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define B64_AVX2 1
#include <immintrin.h>

/*
 * AVX2 base64 for whole lines (after W. Mula and D. Lemire, "Faster Base64 Encoding and
 * Decoding Using AVX2 Instructions"): 24 bytes <-> 32 characters per step. Only lines
 * of the regular layout take this path; anything else goes to the scalar code, which
 * defines the behaviour.
 */

/* 32 characters at s -> 24 bytes at d (writes 32). False when one is not in the
 * alphabet (padding, whitespace, junk). */
__attribute__((target("avx2"))) static inline bool dec32(const unsigned char *s, char *d)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)s);
    __m256i upper = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8('A' - 1)),
                                     _mm256_cmpgt_epi8(_mm256_set1_epi8('Z' + 1), v));
    __m256i lower = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8('a' - 1)),
                                     _mm256_cmpgt_epi8(_mm256_set1_epi8('z' + 1), v));
    __m256i digit = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8('0' - 1)),
                                     _mm256_cmpgt_epi8(_mm256_set1_epi8('9' + 1), v));
    __m256i plus = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('+'));
    __m256i slash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('/'));
    __m256i valid = _mm256_or_si256(_mm256_or_si256(upper, lower),
                                    _mm256_or_si256(digit, _mm256_or_si256(plus, slash)));
    if ((unsigned)_mm256_movemask_epi8(valid) != 0xffffffffu) return false;
    __m256i shift = _mm256_or_si256(
        _mm256_or_si256(_mm256_and_si256(upper, _mm256_set1_epi8(-'A')),
                        _mm256_and_si256(lower, _mm256_set1_epi8(26 - 'a'))),
        _mm256_or_si256(_mm256_and_si256(digit, _mm256_set1_epi8(52 - '0')),
                        _mm256_or_si256(_mm256_and_si256(plus, _mm256_set1_epi8(62 - '+')),
                                        _mm256_and_si256(slash, _mm256_set1_epi8(63 - '/')))));
    __m256i vals = _mm256_add_epi8(v, shift); /* 6-bit values a b c d per 4 bytes */
    __m256i ab_cd = _mm256_maddubs_epi16(vals, _mm256_set1_epi32(0x01400140));
    __m256i abcd = _mm256_madd_epi16(ab_cd, _mm256_set1_epi32(0x00011000)); /* 24 bits each */
    __m256i packed = _mm256_shuffle_epi8(
        abcd, _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2, 1, 0, 6,
                               5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
    packed = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)(void *)d, packed);
    return true;
}

/* Whole lines of L characters (L % 4 == 0, 32 <= L <= 76) then CRLF or LF, from p[*i];
 * stops at the first line that is not one (the scalar code takes it from there). */
__attribute__((target("avx2"))) static void b64_decode_lines(const unsigned char *p, size_t n,
                                                             size_t *i, char **w)
{
    size_t pos = *i;
    char *o = *w;
    for (;;) {
        const unsigned char *nl = pos < n ? memchr(p + pos, '\n', TO_MIN(n - pos, 80)) : NULL;
        if (!nl) break;
        size_t L = (size_t)(nl - (p + pos));
        size_t next = pos + L + 1;
        if (L && p[pos + L - 1] == '\r') L--;
        if (L % 4 || L < 32) break;
        size_t k = 0;
        for (; k + 32 <= L; k += 32)
            if (!dec32(p + pos + k, o + k / 4 * 3)) goto out;
        if (k < L && !dec32(p + pos + L - 32, o + (L - 32) / 4 * 3)) goto out;
        o += L / 4 * 3;
        pos = next;
    }
out:
    *i = pos;
    *w = o;
}

/* 24 bytes at s (reads 28) -> 32 characters at d. */
__attribute__((target("avx2"))) static inline void enc24(const unsigned char *s, char *d)
{
    __m256i in = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)s)),
        _mm_loadu_si128((const __m128i *)(const void *)(s + 12)), 1);
    in = _mm256_shuffle_epi8(in,
                             _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10, 1,
                                              0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10));
    __m256i t0 = _mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00));
    __m256i t1 = _mm256_mulhi_epu16(t0, _mm256_set1_epi32(0x04000040));
    __m256i t2 = _mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0));
    __m256i t3 = _mm256_mullo_epi16(t2, _mm256_set1_epi32(0x01000010));
    __m256i idx = _mm256_or_si256(t1, t3); /* 6-bit indices, one per byte */
    /* index -> character: add 'A', 'a' - 26, '0' - 52, '+' - 62 or '/' - 63 */
    __m256i r = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
    __m256i less = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx);
    r = _mm256_or_si256(r, _mm256_and_si256(less, _mm256_set1_epi8(13)));
    __m256i lut =
        _mm256_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                         '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0,
                         'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                         '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
    r = _mm256_add_epi8(_mm256_shuffle_epi8(lut, r), idx);
    _mm256_storeu_si256((__m256i *)(void *)d, r);
}

/* Full 76-character lines (57 bytes each) while at least 61 input bytes remain: three
 * overlapping steps (bytes 0, 24 and 33 -> characters 0, 32 and 44). */
__attribute__((target("avx2"))) static void b64_encode_lines(const unsigned char *p, size_t n,
                                                             bool crlf, size_t *i, char **w)
{
    size_t pos = *i;
    char *o = *w;
    while (n - pos >= 61) {
        enc24(p + pos, o);
        enc24(p + pos + 24, o + 32);
        enc24(p + pos + 33, o + 44);
        o += 76;
        if (crlf) *o++ = '\r';
        *o++ = '\n';
        pos += 57;
    }
    *i = pos;
    *w = o;
}

static bool have_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#endif

/* The general decoder, from p[i] on, writing at w; whatever the line layout. */
static bool b64_decode_scalar(const unsigned char *p, size_t n, size_t i, buf_t *out, char *w)
{
    uint32_t acc = 0;
    int have = 0, pad = 0;
    bool ok = true;
    while (i < n) {
        /* fast path: four data bytes in a row */
        if (have == 0 && !pad && i + 4 <= n) {
            uint8_t a = b64_table[p[i]], b = b64_table[p[i + 1]], c = b64_table[p[i + 2]],
                    d = b64_table[p[i + 3]];
            if ((a | b | c | d) < 64) {
                uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
                w[0] = (char)(v >> 16);
                w[1] = (char)(v >> 8);
                w[2] = (char)v;
                w += 3;
                i += 4;
                continue;
            }
        }
        uint8_t v = b64_table[p[i++]];
        if (v == 64) continue;
        if (v == 65) {
            if (++pad > 2) {
                ok = false;
                break;
            }
            continue;
        }
        if (v == 255 || pad) { /* junk, or data after padding */
            ok = false;
            break;
        }
        acc = acc << 6 | v;
        if (++have == 4) {
            w[0] = (char)(acc >> 16);
            w[1] = (char)(acc >> 8);
            w[2] = (char)acc;
            w += 3;
            acc = 0;
            have = 0;
        }
    }
    if (ok) {
        if (have == 0) {
            ok = pad == 0;
        } else if (have == 2 && pad == 2) {
            *w++ = (char)(acc >> 4);
            ok = (acc & 0xf) == 0;
        } else if (have == 3 && pad == 1) {
            w[0] = (char)(acc >> 10);
            w[1] = (char)(acc >> 2);
            w += 2;
            ok = (acc & 0x3) == 0;
        } else {
            ok = false;
        }
    }
    out->len = (size_t)(w - out->p);
    out->p[out->len] = 0;
    return ok;
}

bool rewrite__b64_decode(slice_t in, buf_t *out, bool *out_trailing_eol)
{
    pthread_once(&tables_once, tables_init);
    const unsigned char *p = (const unsigned char *)in.p;
    size_t n = in.len;
    *out_trailing_eol = n > 0 && p[n - 1] == '\n';
    buf_reserve(out, n / 4 * 3 + 3 + 32); /* 32: the vector stores write past their bytes */
    char *w = out->p + out->len;
    size_t i = 0;
#ifdef B64_AVX2
    if (have_avx2()) b64_decode_lines(p, n, &i, &w);
#endif
    return b64_decode_scalar(p, n, i, out, w);
}

void rewrite__b64_encode(slice_t in, bool crlf, bool trailing_eol, buf_t *out)
{
    const unsigned char *p = (const unsigned char *)in.p;
    size_t n = in.len, col = 0;
    buf_reserve(out, (n + 2) / 3 * 4 + (n / 57 + 2) * 2);
    char *w = out->p + out->len;
    size_t i = 0;
#ifdef B64_AVX2
    if (have_avx2()) {
        b64_encode_lines(p, n, crlf, &i, &w);
        col = 0;
    }
#endif
    for (; i < n; i += 3) {
        if (col == 76) {
            if (crlf) *w++ = '\r';
            *w++ = '\n';
            col = 0;
        }
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        w[0] = b64chars[v >> 18];
        w[1] = b64chars[(v >> 12) & 63];
        w[2] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
        w[3] = i + 2 < n ? b64chars[v & 63] : '=';
        w += 4;
        col += 4;
    }
    if (trailing_eol && n > 0) {
        if (crlf) *w++ = '\r';
        *w++ = '\n';
    }
    out->len = (size_t)(w - out->p);
    out->p[out->len] = 0;
}
