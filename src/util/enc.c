#include "util/util.h"

#include <pthread.h>
#include <string.h>

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Two characters per 12 bits: every token is encoded, so three bytes cost two loads. */
static char b64u_pairs[4096][2];
static pthread_once_t pairs_once = PTHREAD_ONCE_INIT;

static void pairs_init(void)
{
    for (int v = 0; v < 4096; v++) {
        b64u_pairs[v][0] = b64u[v >> 6];
        b64u_pairs[v][1] = b64u[v & 63];
    }
}

void b64url_encode(buf_t *out, const void *src, size_t n)
{
    const uint8_t *p = src;
    pthread_once(&pairs_once, pairs_init);
    buf_reserve(out, (n + 2) / 3 * 4);
    char *o = out->p + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        memcpy(o, b64u_pairs[v >> 12], 2);
        memcpy(o + 2, b64u_pairs[v & 4095], 2);
        o += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = b64u[v >> 18];
        *o++ = b64u[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = b64u[v >> 18];
        *o++ = b64u[(v >> 12) & 63];
        *o++ = b64u[(v >> 6) & 63];
    }
    out->len = (size_t)(o - out->p);
    out->p[out->len] = 0;
}

/* Value + 1 of each base64url character; 0 for every other byte (a table: token
 * opening decodes on every tracking request). */
static const uint8_t b64u_rev[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64};

static int b64u_val(unsigned char c)
{
    return (int)b64u_rev[c] - 1;
}

size_t b64url_decoded_max(size_t n)
{
    return n / 4 * 3 + 3;
}

bool b64url_decode(slice_t in, uint8_t *out, size_t *out_len)
{
    if (in.len % 4 == 1) return false;
    size_t o = 0, i = 0;
    for (; i + 4 <= in.len; i += 4) {
        int a = b64u_val((unsigned char)in.p[i]), b = b64u_val((unsigned char)in.p[i + 1]),
            c = b64u_val((unsigned char)in.p[i + 2]), d = b64u_val((unsigned char)in.p[i + 3]);
        if ((a | b | c | d) < 0) return false;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    size_t rest = in.len - i;
    if (rest) {
        int a = b64u_val((unsigned char)in.p[i]), b = b64u_val((unsigned char)in.p[i + 1]);
        int c = rest == 3 ? b64u_val((unsigned char)in.p[i + 2]) : 0;
        if ((a | b | c) < 0) return false;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        /* Reject non-canonical trailing bits so one token has one spelling. */
        if (rest == 2 && (v & 0xffff)) return false;
        if (rest == 3 && (v & 0xff)) return false;
        out[o++] = (uint8_t)(v >> 16);
        if (rest == 3) out[o++] = (uint8_t)(v >> 8);
    }
    *out_len = o;
    return true;
}

void hex_encode(buf_t *out, const void *src, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    const uint8_t *p = src;
    buf_reserve(out, n * 2);
    for (size_t i = 0; i < n; i++) {
        out->p[out->len++] = hx[p[i] >> 4];
        out->p[out->len++] = hx[p[i] & 15];
    }
    out->p[out->len] = 0;
}

size_t varint_put(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t varint_get(const uint8_t *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        uint64_t b = p[i] & 0x7f;
        if (i == 9 && p[i] > 1) return 0; /* past 64 bits */
        v |= b << (7 * i);
        if (!(p[i] & 0x80)) {
            if (i > 0 && p[i] == 0) return 0; /* overlong */
            *out = v;
            return i + 1;
        }
    }
    return 0;
}
