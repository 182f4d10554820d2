#include "util/util.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void json_str(buf_t *b, slice_t s)
{
    static const char hx[] = "0123456789abcdef";
    buf_reserve(b, s.len + 2);
    buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s.p;
    size_t i = 0;
    while (i < s.len) {
        size_t run = i;
        while (run < s.len && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            buf_append(b, p + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t l = utf8_len(p + i, s.len - i);
            if (l == 0) {
                buf_puts(b, "\xef\xbf\xbd");
                i++;
            } else {
                buf_append(b, p + i, l);
                i += l;
            }
            continue;
        }
        switch (c) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        default: {
            char e[7] = {'\\', 'u', '0', '0', hx[c >> 4], hx[c & 15], 0};
            buf_puts(b, e);
        }
        }
        i++;
    }
    buf_putc(b, '"');
}

void json_cstr(buf_t *b, const char *s)
{
    if (!s) {
        buf_puts(b, "null");
        return;
    }
    json_str(b, slice_cstr(s));
}

void json_key(buf_t *b, bool *first, const char *key)
{
    if (!*first) buf_putc(b, ',');
    *first = false;
    json_cstr(b, key);
    buf_putc(b, ':');
}

void json_time(buf_t *b, bool *first, const char *key, int64_t t_us)
{
    json_key(b, first, key);
    if (!t_us) {
        buf_puts(b, "null");
        return;
    }
    char ts[32];
    time_format_us(t_us, ts);
    json_cstr(b, ts);
}
