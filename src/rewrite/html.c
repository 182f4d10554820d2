/*
 * The HTML tokenizer: the HTML5 tokenizer's tag, attribute, comment and raw-text states
 * (WHATWG 13.2.5), reduced to what link rewriting needs. It works on bytes, so it suits
 * any charset whose bytes below 0x80 are ASCII. One pass, no allocation; text runs are
 * skipped with memchr.
 */
#include "rewrite/rewrite.h"

#include <string.h>
#include <strings.h>

static inline bool ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static inline bool alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void rewrite_html_init(rewrite_html_t *h, slice_t text)
{
    h->p = text.p;
    h->len = text.len;
    h->pos = 0;
    h->tail = text.len;
    h->raw_start = SIZE_MAX;
}

/* Case-insensitive search for needle (lowercase, starting with a non-letter) in
 * [from, len). */
static size_t find_ci(const char *p, size_t len, size_t from, const char *needle)
{
    size_t n = strlen(needle);
    while (from + n <= len) {
        const char *c = memchr(p + from, needle[0], len - from);
        if (!c) return len;
        size_t at = (size_t)(c - p);
        if (at + n > len) return len;
        if (strncasecmp(p + at, needle, n) == 0) return at;
        from = at + 1;
    }
    return len;
}

/* After a raw-text start tag: the position of its end tag "</name" followed by
 * whitespace, '/' or '>' (or the end of the input). */
static size_t skip_raw(const char *p, size_t len, size_t from, slice_t name)
{
    char needle[16];
    if (name.len > 12) return from;
    needle[0] = '<';
    needle[1] = '/';
    for (size_t i = 0; i < name.len; i++) {
        char c = name.p[i];
        needle[2 + i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    needle[2 + name.len] = 0;
    for (;;) {
        size_t at = find_ci(p, len, from, needle);
        if (at >= len) return len;
        size_t q = at + 2 + name.len;
        if (q < len && (ws(p[q]) || p[q] == '/' || p[q] == '>')) return at;
        from = at + 1;
    }
}

static bool raw_text_tag(slice_t n)
{
    switch (n.len) {
    case 3: return rewrite_html_is(n, "xmp");
    case 5: return rewrite_html_is(n, "style") || rewrite_html_is(n, "title");
    case 6: return rewrite_html_is(n, "script");
    case 8: return rewrite_html_is(n, "textarea");
    default: return false;
    }
}

/* Parses a tag at p[at] == '<' (followed by a letter, or '/' and a letter). Returns the
 * offset past '>' or 0 when the input ends inside the tag. */
static size_t parse_tag(const char *p, size_t len, size_t at, rewrite_html_tag_t *t)
{
    size_t i = at + 1;
    t->end = p[i] == '/';
    if (t->end) i++;
    size_t ns = i;
    while (i < len && !ws(p[i]) && p[i] != '/' && p[i] != '>') i++;
    t->name = slice_make(p + ns, i - ns);
    t->nattrs = 0;
    t->attrs_dropped = false;
    t->start = at;
    for (;;) {
        while (i < len && (ws(p[i]) || p[i] == '/')) i++;
        if (i >= len) return 0;
        if (p[i] == '>') {
            t->stop = i + 1;
            return i + 1;
        }
        /* attribute name; a leading '=' belongs to the name (13.2.5.32) */
        size_t as = i++;
        while (i < len && !ws(p[i]) && p[i] != '/' && p[i] != '>' && p[i] != '=') i++;
        rewrite_html_attr_t a = {.name = slice_make(p + as, i - as)};
        size_t j = i;
        while (j < len && ws(p[j])) j++;
        if (j < len && p[j] == '=') {
            j++;
            while (j < len && ws(p[j])) j++;
            if (j >= len) return 0;
            a.has_value = true;
            if (p[j] == '"' || p[j] == '\'') {
                char q = p[j];
                const char *e = memchr(p + j + 1, q, len - j - 1);
                if (!e) return 0;
                a.quote = q;
                a.value_off = j + 1;
                a.value = slice_make(p + j + 1, (size_t)(e - (p + j + 1)));
                i = (size_t)(e - p) + 1;
            } else if (p[j] == '>') {
                a.value_off = j;
                a.value = slice_make(p + j, 0);
                i = j;
            } else {
                size_t vs = j;
                while (j < len && !ws(p[j]) && p[j] != '>') j++;
                a.value_off = vs;
                a.value = slice_make(p + vs, j - vs);
                i = j;
            }
        }
        if (t->nattrs < REWRITE_HTML_ATTRS_MAX)
            t->attrs[t->nattrs++] = a;
        else
            t->attrs_dropped = true;
    }
}

bool rewrite_html_next(rewrite_html_t *h, rewrite_html_tag_t *out)
{
    const char *p = h->p;
    size_t len = h->len;
    while (h->pos < len) {
        const char *lt = memchr(p + h->pos, '<', len - h->pos);
        if (!lt) break;
        size_t at = (size_t)(lt - p);
        if (at + 1 >= len || (p[at + 1] == '/' && at + 2 >= len)) {
            h->tail = at; /* "<" or "</" at the very end would swallow what follows */
            break;
        }
        char c = p[at + 1];
        if (alpha(c) || (c == '/' && at + 2 < len && alpha(p[at + 2]))) {
            size_t next = parse_tag(p, len, at, out);
            if (!next) { /* EOF in a tag: not a tag, and nothing after it is shown */
                /* an unfinished end tag of a raw-text element leaves that element open */
                h->tail = h->raw_start != SIZE_MAX ? h->raw_start : at;
                break;
            }
            h->raw_start = SIZE_MAX;
            h->pos = next;
            if (!out->end && raw_text_tag(out->name)) {
                h->pos = skip_raw(p, len, next, out->name);
                if (h->pos == len)
                    h->tail = at; /* never closed: the rest is its text */
                else
                    h->raw_start = at;
            }
            return true;
        }
        if (c == '!') {
            if (at + 3 < len && p[at + 2] == '-' && p[at + 3] == '-') {
                /* comment: ends at "-->" ("<!-->" and "<!--->" end at once) */
                size_t s = at + 4;
                if (s < len && p[s] == '>') {
                    h->pos = s + 1;
                    continue;
                }
                if (s + 1 < len && p[s] == '-' && p[s + 1] == '>') {
                    h->pos = s + 2;
                    continue;
                }
                const char *e = memmem(p + s, len - s, "-->", 3);
                h->pos = e ? (size_t)(e - p) + 3 : len;
                if (!e) h->tail = at;
                continue;
            }
            const char *e = memchr(p + at + 2, '>', len - at - 2);
            h->pos = e ? (size_t)(e - p) + 1 : len;
            if (!e) h->tail = at;
            continue;
        }
        if (c == '?' || (c == '/' && at + 2 < len && p[at + 2] != '>')) {
            const char *e = memchr(p + at + 2, '>', len - at - 2);
            h->pos = e ? (size_t)(e - p) + 1 : len;
            if (!e) h->tail = at;
            continue;
        }
        h->pos = at + 1;
    }
    h->pos = len;
    return false;
}

static void put_utf8(buf_t *out, uint32_t cp)
{
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12);
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | cp >> 18);
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(out, b, n);
}

static const struct {
    const char *name;
    const char *text;
} named[] = {
    {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", "\xc2\xa0"},
};

void rewrite_html_unescape(slice_t v, buf_t *out)
{
    if (!v.len) return;
    const char *p = v.p, *e = v.p + v.len;
    while (p < e) {
        const char *amp = memchr(p, '&', (size_t)(e - p));
        if (!amp) {
            buf_append(out, p, (size_t)(e - p));
            return;
        }
        buf_append(out, p, (size_t)(amp - p));
        p = amp + 1;
        if (p < e && *p == '#') {
            const char *q = p + 1;
            bool hex = q < e && (*q == 'x' || *q == 'X');
            if (hex) q++;
            uint32_t cp = 0;
            const char *ds = q;
            while (q < e) {
                char c = *q;
                int d = c >= '0' && c <= '9'          ? c - '0'
                        : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                      : -1;
                if (d < 0) break;
                if (cp <= 0x10ffff) cp = cp * (hex ? 16u : 10u) + (uint32_t)d;
                q++;
            }
            if (q == ds) { /* "&#" with no digits: literal */
                buf_putc(out, '&');
                continue;
            }
            if (q < e && *q == ';') q++;
            put_utf8(out, cp);
            p = q;
            continue;
        }
        bool done = false;
        for (size_t i = 0; i < TO_ARRAY_LEN(named) && !done; i++) {
            size_t n = strlen(named[i].name);
            if ((size_t)(e - p) >= n && strncmp(p, named[i].name, n) == 0) {
                const char *q = p + n;
                bool semi = q < e && *q == ';';
                /* Legacy forms without ';' are decoded only for the four basics, and in
                 * attributes not when followed by '=' or an alphanumeric (13.2.5.73). */
                bool legacy_ok =
                    i < 4 && !(q < e && (*q == '=' || alpha(*q) || (*q >= '0' && *q <= '9')));
                if (semi || legacy_ok) {
                    buf_puts(out, named[i].text);
                    p = q + (semi ? 1 : 0);
                    done = true;
                }
            }
        }
        if (!done) buf_putc(out, '&');
    }
}
