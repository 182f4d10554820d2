/*
 * Transfer codecs: quoted-printable (RFC 2045 6.7) and base64 (6.8).
 *
 * Decoders are strict ("decodes cleanly" or the part is left alone) except where the RFC
 * tells decoders to be lenient: trailing whitespace on QP lines is transport padding and
 * is dropped; lowercase hex is accepted. Encoders keep lines at 76 octets and use the
 * part's own line ending; decode(encode(x)) == x for every x.
 */
#include "rewrite/rewrite_int.h"

#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool rewrite__qp_decode(slice_t in, buf_t *out)
{
    const char *p = in.p, *end = in.p + in.len;
    buf_reserve(out, in.len);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end; /* line content end */
        bool crlf = nl && le > p && le[-1] == '\r';
        if (crlf) le--;
        const char *ce = le;
        while (ce > p && (ce[-1] == ' ' || ce[-1] == '\t')) ce--; /* transport padding */
        bool soft = ce > p && ce[-1] == '=';
        /* A '=' that ends the line is a soft break, unless it is the second half of
         * nothing: "==" at the end is '=' '=' which the loop below rejects anyway. */
        const char *stop = soft ? ce - 1 : ce;
        for (const char *q = p; q < stop;) {
            const char *eq = memchr(q, '=', (size_t)(stop - q));
            if (!eq) {
                buf_append(out, q, (size_t)(stop - q));
                break;
            }
            buf_append(out, q, (size_t)(eq - q));
            if (stop - eq < 3) return false;
            int h = hexval((unsigned char)eq[1]), l = hexval((unsigned char)eq[2]);
            if (h < 0 || l < 0) return false;
            buf_putc(out, (char)(h * 16 + l));
            q = eq + 3;
        }
        if (!nl) break;
        if (!soft) {
            if (crlf) buf_putc(out, '\r');
            buf_putc(out, '\n');
        }
        p = nl + 1;
    }
    return true;
}

static const char hexd[] = "0123456789ABCDEF";

void rewrite__qp_encode(slice_t in, bool crlf, buf_t *out)
{
    const unsigned char *p = (const unsigned char *)in.p;
    size_t n = in.len, col = 0;
    buf_reserve(out, n + n / 8 + 16);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        bool hard = crlf ? (c == '\r' && i + 1 < n && p[i + 1] == '\n') : c == '\n';
        if (hard) {
            buf_puts(out, crlf ? "\r\n" : "\n");
            if (crlf) i++;
            col = 0;
            continue;
        }
        /* Whitespace is literal unless it would end a line (before a hard break or the
         * end of the text), where transport may strip it. */
        bool ends_line = i + 1 == n || (crlf ? (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
                                             : p[i + 1] == '\n');
        char enc[3];
        size_t elen;
        if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !ends_line)) {
            enc[0] = (char)c;
            elen = 1;
        } else {
            enc[0] = '=';
            enc[1] = hexd[c >> 4];
            enc[2] = hexd[c & 15];
            elen = 3;
        }
        /* 76 octets per line including the soft break's '='; the last unit of a line
         * may use the 76th column when the hard break or the end follows. */
        size_t limit = ends_line ? 76 : 75;
        if (col + elen > limit) {
            buf_puts(out, crlf ? "=\r\n" : "=\n");
            col = 0;
        }
        buf_append(out, enc, elen);
        col += elen;
    }
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

bool rewrite__b64_decode(slice_t in, buf_t *out, bool *out_trailing_eol)
{
    const unsigned char *p = (const unsigned char *)in.p;
    size_t n = in.len;
    *out_trailing_eol = n > 0 && p[n - 1] == '\n';
    uint32_t acc = 0;
    int have = 0, pad = 0;
    buf_reserve(out, n / 4 * 3 + 3);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
        if (c == '=') {
            pad++;
            if (pad > 2) return false;
            continue;
        }
        if (pad) return false; /* data after padding */
        int v = b64val(c);
        if (v < 0) return false;
        acc = acc << 6 | (uint32_t)v;
        if (++have == 4) {
            char b[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};
            buf_append(out, b, 3);
            acc = 0;
            have = 0;
        }
    }
    if (have == 0) return pad == 0;
    if (have == 2 && pad == 2) {
        buf_putc(out, (char)(acc >> 4));
        return (acc & 0xf) == 0;
    }
    if (have == 3 && pad == 1) {
        char b[2] = {(char)(acc >> 10), (char)(acc >> 2)};
        buf_append(out, b, 2);
        return (acc & 0x3) == 0;
    }
    return false;
}

void rewrite__b64_encode(slice_t in, bool crlf, bool trailing_eol, buf_t *out)
{
    const unsigned char *p = (const unsigned char *)in.p;
    size_t n = in.len, col = 0;
    const char *eol = crlf ? "\r\n" : "\n";
    buf_reserve(out, (n + 2) / 3 * 4 + (n / 57 + 2) * 2);
    for (size_t i = 0; i < n; i += 3) {
        if (col == 76) {
            buf_puts(out, eol);
            col = 0;
        }
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char q[4] = {b64chars[v >> 18], b64chars[(v >> 12) & 63],
                     i + 1 < n ? b64chars[(v >> 6) & 63] : '=', i + 2 < n ? b64chars[v & 63] : '='};
        buf_append(out, q, 4);
        col += 4;
    }
    if (trailing_eol && n > 0) buf_puts(out, eol);
}
