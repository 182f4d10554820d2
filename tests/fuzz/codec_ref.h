/*
 * Reference transfer decoders and encoders: the plain byte-at-a-time versions,
 * kept so tests and the codec fuzz target can check the vectorised ones in
 * src/rewrite/codec.c against them, output for output.
 */
#ifndef TO_CODEC_REF_H
#define TO_CODEC_REF_H

#include <stdlib.h>
#include <string.h>

#include "rewrite/rewrite_int.h"

static const char ref_b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static uint8_t ref_b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return (uint8_t)(c - 'A');
    if (c >= 'a' && c <= 'z') return (uint8_t)(c - 'a' + 26);
    if (c >= '0' && c <= '9') return (uint8_t)(c - '0' + 52);
    if (c == '+') return 62;
    if (c == '/') return 63;
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') return 64;
    if (c == '=') return 65;
    return 255;
}

static int ref_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static void ref_map_add(rewrite__qp_map_t *m, size_t dec, size_t enc)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->dec = xrealloc(m->dec, xmul(m->cap, sizeof(size_t)));
        m->enc = xrealloc(m->enc, xmul(m->cap, sizeof(size_t)));
    }
    m->dec[m->n] = dec;
    m->enc[m->n++] = enc;
}

static bool ref_qp_decode_map(slice_t in, buf_t *out, rewrite__qp_map_t *map)
{
    const char *p = in.p, *end = in.p + in.len;
    buf_reserve(out, in.len);
    char *w = out->p + out->len; /* decoding never grows: in.len bytes are enough */
    bool ok = true;
    while (p < end && ok) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end; /* line content end */
        bool crlf = nl && le > p && le[-1] == '\r';
        if (crlf) le--;
        const char *ce = le;
        while (ce > p && (ce[-1] == ' ' || ce[-1] == '\t')) ce--; /* transport padding */
        bool soft = ce > p && ce[-1] == '=';
        const char *stop = soft ? ce - 1 : ce;
        for (const char *q = p; q < stop;) {
            const char *eq = memchr(q, '=', (size_t)(stop - q));
            size_t run = (size_t)((eq ? eq : stop) - q);
            memcpy(w, q, run);
            w += run;
            if (!eq) break;
            int h = stop - eq >= 3 ? ref_hexval((unsigned char)eq[1]) : -1;
            int l = h >= 0 ? ref_hexval((unsigned char)eq[2]) : -1;
            if (l < 0) {
                ok = false;
                break;
            }
            *w++ = (char)(h * 16 + l);
            q = eq + 3;
        }
        if (!nl) break;
        if (!soft) {
            if (crlf) *w++ = '\r';
            *w++ = '\n';
            if (map) ref_map_add(map, (size_t)(w - out->p), (size_t)(nl + 1 - in.p));
        }
        p = nl + 1;
    }
    if (map && ok && (map->n == 0 || map->enc[map->n - 1] < in.len))
        ref_map_add(map, (size_t)(w - out->p), in.len); /* the last line, without a break */
    out->len = (size_t)(w - out->p);
    out->p[out->len] = 0;
    return ok;
}

/* Written independently of the decoder under test: drop whitespace, then the text must be
 * groups of four alphabet characters, the last one possibly ending in one or two '='
 * whose unused bits are zero. */
static bool ref_b64_decode(slice_t in, buf_t *out, bool *out_trailing_eol)
{
    *out_trailing_eol = in.len > 0 && in.p[in.len - 1] == '\n';
    char *s = xmalloc(in.len + 1);
    size_t k = 0;
    for (size_t i = 0; i < in.len; i++)
        if (ref_b64val((unsigned char)in.p[i]) != 64) s[k++] = in.p[i];
    size_t pad = 0;
    while (pad < k && s[k - 1 - pad] == '=') pad++;
    bool ok = pad <= 2 && k % 4 == 0;
    for (size_t i = 0; ok && i < k - pad; i++) ok = ref_b64val((unsigned char)s[i]) < 64;
    for (size_t g = 0; ok && g < k; g += 4) {
        uint8_t v[4] = {0};
        size_t data = g + 4 == k ? 4 - pad : 4;
        if (data < 2) ok = false;
        for (size_t q = 0; ok && q < data; q++) v[q] = ref_b64val((unsigned char)s[g + q]);
        if (!ok) break;
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        char b[3] = {(char)(x >> 16), (char)(x >> 8), (char)x};
        if (data == 2 && (x & 0xffff)) ok = false;
        if (data == 3 && (x & 0xff)) ok = false;
        if (ok) buf_append(out, b, data - 1);
    }
    free(s);
    return ok;
}

/* The whole text in one line first, then cut into lines of 76. */
static void ref_b64_encode(slice_t in, bool crlf, bool trailing_eol, buf_t *out)
{
    const unsigned char *p = (const unsigned char *)in.p;
    size_t n = in.len;
    buf_t flat = BUF_INIT;
    for (size_t i = 0; i < n; i += 3) {
        size_t have = n - i < 3 ? n - i : 3;
        uint32_t v = 0;
        for (size_t q = 0; q < 3; q++) v = v << 8 | (q < have ? p[i + q] : 0);
        for (size_t q = 0; q < 4; q++)
            buf_putc(&flat, q <= have ? ref_b64chars[(v >> (18 - 6 * q)) & 63] : '=');
    }
    for (size_t i = 0; i < flat.len; i += 76) {
        if (i) buf_puts(out, crlf ? "\r\n" : "\n");
        buf_append(out, flat.p + i, flat.len - i < 76 ? flat.len - i : 76);
    }
    if (trailing_eol && n > 0) buf_puts(out, crlf ? "\r\n" : "\n");
    buf_clear(&flat);
}

static const char ref_hexd[] = "0123456789ABCDEF";

/* One byte at a time: the encoder's rules without its runs. */
static void ref_qp_encode(slice_t in, bool crlf, buf_t *out)
{
    const unsigned char *p = (const unsigned char *)in.p;
    size_t n = in.len, col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '\n' || (c == '\r' && i + 1 < n && p[i + 1] == '\n')) { /* kept as it was */
            if (c == '\r') {
                buf_putc(out, '\r');
                i++;
            }
            buf_putc(out, '\n');
            col = 0;
            continue;
        }
        bool ends_line =
            i + 1 == n || p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n');
        bool printable = c >= 33 && c <= 126 && c != '=';
        bool literal = printable || ((c == ' ' || c == '\t') && !ends_line);
        size_t unit = literal ? 1 : 3;
        if (col + unit > (ends_line ? 76u : 75u)) { /* a soft break: '=' is the 76th octet */
            buf_puts(out, crlf ? "=\r\n" : "=\n");
            col = 0;
        }
        if (literal)
            buf_putc(out, (char)c);
        else
            buf_printf(out, "=%c%c", ref_hexd[c >> 4], ref_hexd[c & 15]);
        col += unit;
    }
}

/* How many of the two decoders disagree with their references on in (0, 1 or 2): whether
 * they accept it, the bytes they give, and the QP line map. */
static int ref_disagree(slice_t in)
{
    int bad = 0;
    buf_t a = BUF_INIT, b = BUF_INIT;
    rewrite__qp_map_t ma = {0}, mb = {0};
    bool oa = rewrite__qp_decode_map(in, &a, &ma), ob = ref_qp_decode_map(in, &b, &mb);
    if (oa != ob || (oa && (!slice_eq(buf_slice(&a), buf_slice(&b)) || ma.n != mb.n))) bad++;
    for (size_t i = 0; !bad && oa && i < ma.n; i++)
        if (ma.dec[i] != mb.dec[i] || ma.enc[i] != mb.enc[i]) bad++;
    rewrite__qp_map_clear(&ma);
    rewrite__qp_map_clear(&mb);
    buf_reset(&a);
    buf_reset(&b);
    bool ea, eb;
    oa = rewrite__b64_decode(in, &a, &ea);
    ob = ref_b64_decode(in, &b, &eb);
    if (oa != ob || ea != eb || (oa && !slice_eq(buf_slice(&a), buf_slice(&b)))) bad++;
    buf_clear(&a);
    buf_clear(&b);
    return bad;
}

#endif
