/*
 * Routes, the fields of an event taken from a request, and response heads. Pure
 * functions over slices: the loop in server.c owns all I/O.
 */
#include "http/http_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* GIF89a, 1x1, one transparent pixel: the smallest image every mail client shows. */
const uint8_t http__gif[43] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
};

static const char *const route_names[HTTP__R__COUNT] = {
    "open", "click", "honeypot", "healthz", "metrics", "other",
};

const char *http__route_name(http__route_id_t r)
{
    return (unsigned)r < HTTP__R__COUNT ? route_names[r] : "other";
}

http__route_id_t http__route(slice_t target, slice_t *out_token)
{
    *out_token = SLICE_NULL;
    slice_t t = target;
    /* absolute-form (a request through a forward proxy): drop scheme and authority */
    if (slice_casestarts(t, "http://") || slice_casestarts(t, "https://")) {
        size_t skip = t.p[4] == ':' ? 7 : 8;
        const char *slash = memchr(t.p + skip, '/', t.len - skip);
        if (!slash) return HTTP__R_OTHER;
        t = slice_make(slash, t.len - (size_t)(slash - t.p));
    }
    for (size_t i = 0; i < t.len; i++)
        if (t.p[i] == '?' || t.p[i] == '#') {
            t.len = i;
            break;
        }
    if (slice_eq_cstr(t, "/healthz")) return HTTP__R_HEALTHZ;
    if (slice_eq_cstr(t, "/metrics")) return HTTP__R_METRICS;
    if (t.len < 4 || t.p[0] != '/' || t.p[2] != '/') return HTTP__R_OTHER;
    http__route_id_t r;
    switch (t.p[1]) {
    case 'o': r = HTTP__R_OPEN; break;
    case 'c': r = HTTP__R_CLICK; break;
    case 'h': r = HTTP__R_HONEYPOT; break;
    default: return HTTP__R_OTHER;
    }
    slice_t tok = slice_make(t.p + 3, t.len - 3);
    if (r == HTTP__R_OPEN && tok.len > 4 && !memcmp(tok.p + tok.len - 4, ".gif", 4)) tok.len -= 4;
    *out_token = tok;
    return r;
}

bool http__url_ok(slice_t url)
{
    if (!slice_casestarts(url, "http://") && !slice_casestarts(url, "https://")) return false;
    size_t skip = url.p[4] == ':' ? 7 : 8;
    if (url.len == skip) return false; /* no host */
    for (size_t i = 0; i < url.len; i++) {
        uint8_t c = (uint8_t)url.p[i];
        if (c <= 0x20 || c >= 0x7f) return false;
    }
    return true;
}

slice_t http__cut(slice_t s, size_t max)
{
    if (s.len <= max) return s;
    size_t n = max;
    /* back off over continuation bytes so a multi-byte character is not split */
    size_t k = 0;
    while (n > 0 && k < 3 && ((uint8_t)s.p[n] & 0xc0) == 0x80) {
        n--;
        k++;
    }
    return slice_make(s.p, n);
}

void http__event_headers(http_event_t *ev, const http__request_t *req)
{
    static const struct {
        const char *name;
        size_t len, off;
    } map[] = {
#define HTTP__M(name, field) {name, sizeof(name) - 1, offsetof(http_event_t, field)}
        HTTP__M("sec-purpose", sec_purpose),
        HTTP__M("purpose", purpose),
        HTTP__M("x-purpose", x_purpose),
        HTTP__M("x-moz", x_moz),
        HTTP__M("accept", accept),
        HTTP__M("accept-language", accept_language),
        HTTP__M("referer", referer),
        HTTP__M("via", via),
        HTTP__M("from", from),
        HTTP__M("dnt", dnt),
        HTTP__M("sec-gpc", sec_gpc),
#undef HTTP__M
    };
    ev->ua = SLICE_NULL;
    for (size_t k = 0; k < TO_ARRAY_LEN(map); k++)
        *(slice_t *)(void *)((char *)ev + map[k].off) = SLICE_NULL;
    bool have_ua = false;
    for (size_t i = 0; i < req->nheaders; i++) {
        const http__header_t *h = &req->headers[i];
        if (!have_ua && h->name.len == 10 && !strncasecmp(h->name.p, "user-agent", 10)) {
            ev->ua = http__cut(h->value, HTTP_UA_MAX);
            have_ua = true;
            continue;
        }
        for (size_t k = 0; k < TO_ARRAY_LEN(map); k++) {
            /* the length first: most headers match no name */
            if (h->name.len != map[k].len || strncasecmp(h->name.p, map[k].name, map[k].len))
                continue;
            slice_t *dst = (slice_t *)(void *)((char *)ev + map[k].off);
            /* the first occurrence wins; an empty value still counts as present */
            if (!dst->p) *dst = http__cut(h->value, HTTP_HEADER_MAX);
            break;
        }
    }
}

const char *http__status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static char *put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}
#define PUT(w, lit) put((w), (lit), sizeof(lit) - 1)

/* Decimal digits of v (no printf on the hot path). */
static char *put_u64(char *w, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *w++ = tmp[--n];
    return w;
}

int http__response(const http__resp_t *r, const char *date, char *scratch, size_t cap,
                   struct iovec *iov)
{
    if (NEVER(cap < HTTP__HEAD_SCRATCH + r->location.len)) return 0;
    char *w = scratch;
    w = PUT(w, "HTTP/1.1 ");
    w = put_u64(w, (uint64_t)r->status);
    *w++ = ' ';
    const char *text = http__status_text(r->status);
    w = put(w, text, strlen(text));
    w = PUT(w, "\r\nServer: trueopen\r\nDate: ");
    w = put(w, date, 29);
    w = PUT(w, "\r\n");
    if (r->nocache)
        w = PUT(w, "Cache-Control: no-store, no-cache, must-revalidate, private\r\n"
                   "Pragma: no-cache\r\nExpires: 0\r\n");
    if (r->location.len) {
        w = PUT(w, "Location: ");
        w = put(w, r->location.p, r->location.len);
        w = PUT(w, "\r\nReferrer-Policy: no-referrer\r\n");
    }
    if (r->allow) {
        w = PUT(w, "Allow: ");
        w = put(w, r->allow, strlen(r->allow));
        w = PUT(w, "\r\n");
    }
    if (r->ctype) {
        w = PUT(w, "Content-Type: ");
        w = put(w, r->ctype, strlen(r->ctype));
        w = PUT(w, "\r\n");
    }
    if (r->status != 204 && r->status != 304) {
        w = PUT(w, "Content-Length: ");
        w = put_u64(w, r->body.len);
        w = PUT(w, "\r\n");
    }
    w = r->keep_alive ? PUT(w, "Connection: keep-alive\r\n\r\n")
                      : PUT(w, "Connection: close\r\n\r\n");
    iov[0].iov_base = scratch;
    iov[0].iov_len = (size_t)(w - scratch);
    if (r->head || !r->body.len || r->status == 204 || r->status == 304) return 1;
    iov[1].iov_base = (void *)(uintptr_t)r->body.p;
    iov[1].iov_len = r->body.len;
    return 2;
}
