/*
 * The request-head parser: a byte-level state machine (the shape of nginx's
 * ngx_http_parse_request_line) that resumes where it stopped, so partial reads cost
 * nothing extra and the verdict on a stream does not depend on how it was split.
 * Limits are checked byte by byte in stream order: the head size first, then what the
 * current byte means.
 */
#include "http/http_internal.h"

#include <string.h>

enum {
    S_START = 0, /* optional empty lines before the request line (RFC 9112 2.2) */
    S_METHOD,
    S_TARGET_START,
    S_TARGET,
    S_VERSION,
    S_RL_LF, /* after the version's CR */
    S_HDR_START,
    S_HDR_NAME,
    S_HDR_VALUE,
    S_HDR_LF,
    S_END_LF,
    S_DONE,
    S_ERROR,
};

/* RFC 9110 tchar */
static const uint8_t tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

#define METHOD_MAX 16

void http__parser_init(http__parser_t *p)
{
    memset(p, 0, sizeof(*p));
}

static int fail(http__parser_t *p, int status, const char *why)
{
    p->state = S_ERROR;
    p->error = why;
    return -status;
}

/* Bytes of a target: visible ASCII and obs-text (RFC 9112 3.2 allows nothing else). */
static bool target_byte(uint8_t c)
{
    return c > 0x20 && c != 0x7f;
}

/* Field-value bytes: anything but CTLs other than HT. */
static bool value_byte(uint8_t c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The semantic checks on a complete head: Host, Content-Length, Transfer-Encoding,
 * Connection. */
static int finish(http__parser_t *p, const char *buf, http__request_t *r)
{
    r->method = slice_make(buf + p->method_off, p->method_len);
    r->target = slice_make(buf + p->target_off, p->target_len);
    r->meth = slice_eq_cstr(r->method, "GET")    ? HTTP__GET
              : slice_eq_cstr(r->method, "HEAD") ? HTTP__HEAD
                                                 : HTTP__OTHER;
    r->minor = p->minor;
    r->keep_alive = p->minor >= 1;
    r->has_body = r->chunked = false;
    r->content_length = 0;
    r->nheaders = p->nheaders;
    r->head_len = p->pos;
    /* The head is valid: cut its header lines into names and trimmed values. */
    const char *q = buf + p->hdr_off;
    for (size_t n = 0; n < p->nheaders; n++) {
        const char *lf = memchr(q, '\n', (size_t)(buf + p->pos - q));
        if (NEVER(!lf)) return fail(p, 400, "parser misuse");
        const char *end = lf > q && lf[-1] == '\r' ? lf - 1 : lf;
        const char *colon = memchr(q, ':', (size_t)(end - q));
        if (NEVER(!colon)) return fail(p, 400, "parser misuse");
        r->headers[n].name = slice_make(q, (size_t)(colon - q));
        r->headers[n].value = slice_trim(slice_make(colon + 1, (size_t)(end - colon - 1)));
        q = lf + 1;
    }
    bool host = false, have_cl = false;
    for (size_t i = 0; i < r->nheaders; i++) {
        const http__header_t *h = &r->headers[i];
        if (slice_caseeq_cstr(h->name, "host")) {
            if (host) return fail(p, 400, "more than one Host header");
            host = true;
        } else if (slice_caseeq_cstr(h->name, "content-length")) {
            uint64_t v;
            if (!slice_to_u64(h->value, &v)) return fail(p, 400, "bad Content-Length");
            if (have_cl && v != r->content_length)
                return fail(p, 400, "conflicting Content-Length headers");
            have_cl = true;
            r->content_length = v;
        } else if (slice_caseeq_cstr(h->name, "transfer-encoding")) {
            r->chunked = true;
        } else if (slice_caseeq_cstr(h->name, "connection")) {
            /* a comma-separated list of options */
            slice_t v = h->value;
            while (v.len) {
                size_t k = 0;
                while (k < v.len && v.p[k] != ',') k++;
                slice_t opt = slice_trim(slice_make(v.p, k));
                if (slice_caseeq_cstr(opt, "close"))
                    r->keep_alive = false;
                else if (slice_caseeq_cstr(opt, "keep-alive") && p->minor == 0)
                    r->keep_alive = true;
                v = k < v.len ? slice_make(v.p + k + 1, v.len - k - 1) : SLICE_NULL;
            }
        }
    }
    if (r->chunked && have_cl) return fail(p, 400, "both Content-Length and Transfer-Encoding");
    if (r->chunked) return fail(p, 501, "Transfer-Encoding is not supported");
    if (p->minor >= 1 && !host) return fail(p, 400, "HTTP/1.1 request without Host");
    r->has_body = r->content_length > 0;
    p->state = S_DONE;
    return (int)p->pos;
}

int http__parse(http__parser_t *p, const http__limits_t *lim, const char *buf, size_t len,
                http__request_t *r, http__header_t *hdrs)
{
    if (p->state == S_ERROR) return fail(p, 400, p->error ? p->error : "parse error");
    if (p->state == S_DONE) return (int)p->pos;
    r->headers = hdrs;
    size_t i = p->pos;
    uint32_t st = p->state;
    static const char version[] = "HTTP/1.";
    for (; i < len; i++) {
        if (i >= lim->max_head) {
            p->pos = (uint32_t)i;
            return fail(p, 431, "request head too large");
        }
        uint8_t c = (uint8_t)buf[i];
        switch (st) {
        case S_START:
            if (c == '\r' || c == '\n') break;
            p->method_off = (uint32_t)i;
            st = S_METHOD;
            /* fall through */
        case S_METHOD:
            if (tchar[c]) {
                if (i - p->method_off >= METHOD_MAX) return fail(p, 400, "method too long");
                break;
            }
            if (c != ' ' || i == p->method_off) return fail(p, 400, "bad method");
            p->method_len = (uint32_t)(i - p->method_off);
            st = S_TARGET_START;
            break;
        case S_TARGET_START:
            if (!target_byte(c)) return fail(p, 400, "bad request target");
            p->target_off = (uint32_t)i;
            st = S_TARGET;
            /* fall through */
        case S_TARGET: {
            /* scan the run of target bytes at once; i < stop holds here */
            size_t j = i;
            size_t stop = len < lim->max_head ? len : lim->max_head;
            while (j < stop && target_byte((uint8_t)buf[j])) {
                if (j - p->target_off >= lim->max_url)
                    return fail(p, 414, "request target too long");
                j++;
            }
            if (j == stop) {
                i = j - 1; /* the loop's i++ moves to j */
                break;
            }
            i = j;
            if (buf[j] != ' ') return fail(p, 400, "bad request target");
            p->target_len = (uint32_t)(j - p->target_off);
            p->mark = (uint32_t)(j + 1);
            st = S_VERSION;
            break;
        }
        case S_VERSION: {
            size_t k = i - p->mark;
            if (k == 5 && c >= '2' && c <= '9') {
                return fail(p, 505, "HTTP version not supported");
            } else if (k < 7) {
                if (c != (uint8_t)version[k]) return fail(p, 400, "bad HTTP version");
            } else if (k == 7) {
                if (c < '0' || c > '9') return fail(p, 400, "bad HTTP version");
                p->minor = (uint8_t)(c - '0');
                if (p->minor > 1) p->minor = 1; /* a later 1.x is answered as 1.1 */
            } else if (c == '\r') {
                st = S_RL_LF;
            } else if (c == '\n') {
                st = S_HDR_START;
                p->hdr_off = (uint32_t)(i + 1);
            } else {
                return fail(p, 400, "bad HTTP version");
            }
            break;
        }
        case S_RL_LF:
            if (c != '\n') return fail(p, 400, "bare CR in request line");
            st = S_HDR_START;
            p->hdr_off = (uint32_t)(i + 1);
            break;
        case S_HDR_START:
            if (c == '\r') {
                st = S_END_LF;
                break;
            }
            if (c == '\n') {
                p->pos = (uint32_t)(i + 1);
                return finish(p, buf, r);
            }
            if (c == ' ' || c == '\t') return fail(p, 400, "obsolete header line folding");
            if (!tchar[c]) return fail(p, 400, "bad header name");
            if (p->nheaders >= lim->max_headers) return fail(p, 431, "too many headers");
            p->nheaders++;
            st = S_HDR_NAME;
            break;
        case S_HDR_NAME:
            if (tchar[c]) break;
            if (c != ':') return fail(p, 400, "bad header name");
            st = S_HDR_VALUE;
            break;
        case S_HDR_VALUE: {
            if (c == '\r' || c == '\n') {
                st = c == '\r' ? S_HDR_LF : S_HDR_START;
                break;
            }
            size_t j = i;
            size_t stop = len < lim->max_head ? len : lim->max_head;
            while (j < stop && buf[j] != '\r' && buf[j] != '\n') {
                if (!value_byte((uint8_t)buf[j]))
                    return fail(p, 400, "control character in header value");
                j++;
            }
            i = j - 1; /* j > i: byte i is neither CR nor LF */
            break;
        }
        case S_HDR_LF:
            if (c != '\n') return fail(p, 400, "bare CR in header");
            st = S_HDR_START;
            break;
        case S_END_LF:
            if (c != '\n') return fail(p, 400, "bare CR at end of head");
            p->pos = (uint32_t)(i + 1);
            return finish(p, buf, r);
        default: return fail(p, 400, "parser misuse");
        }
        if (st == S_ERROR) break;
    }
    p->state = st;
    p->pos = (uint32_t)i;
    return 0;
}

const http__header_t *http__find_header(const http__request_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (slice_caseeq_cstr(r->headers[i].name, name)) return &r->headers[i];
    return NULL;
}
