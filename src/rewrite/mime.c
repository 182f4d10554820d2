/*
 * A bounded MIME walker (after Postfix mime_state.c): finds the header block, the
 * top-level fields the rewriter needs, and every text/html and text/plain leaf body,
 * as byte ranges into the message. It never copies or re-serialises anything, which is
 * what keeps the output byte for byte equal outside rewritten bodies.
 *
 * Strict where a guess could lose mail: a header line that is neither a field nor a
 * continuation, a multipart without a boundary or without its closing delimiter, or a
 * limit passed (depth, header bytes) fails the parse and the message is left alone.
 */
#include "rewrite/rewrite_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef struct {
    slice_t type, subtype, boundary, charset;
    bool has_ct;
} ctype_t;

typedef struct {
    ctype_t ct;
    slice_t cte, disposition;
    size_t body_start;
    bool crlf_hdr;
    bool has_body; /* a blank line ended the headers */
} part_hdr_t;

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips whitespace and (nested) RFC 5322 comments. */
static const char *skip_cfws(const char *p, const char *e)
{
    for (int guard = 0; p < e && guard < 4096; guard++) {
        if (is_ws(*p)) {
            p++;
        } else if (*p == '(') {
            int depth = 0;
            while (p < e) {
                if (*p == '\\' && p + 1 < e) {
                    p += 2;
                    continue;
                }
                if (*p == '(') depth++;
                if (*p == ')' && --depth == 0) {
                    p++;
                    break;
                }
                p++;
            }
        } else {
            break;
        }
    }
    return p;
}

static bool is_tspecial(char c)
{
    return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static const char *token_end(const char *p, const char *e)
{
    while (p < e && (unsigned char)*p > 32 && (unsigned char)*p < 127 && !is_tspecial(*p)) p++;
    return p;
}

/* Content-Type: type "/" subtype *(";" param). Quoted values are returned without the
 * quotes (a boundary with backslash escapes is not supported: parse failure). */
static bool parse_ctype(slice_t v, ctype_t *ct)
{
    const char *p = v.p, *e = v.p + v.len;
    p = skip_cfws(p, e);
    const char *t = p;
    p = token_end(p, e);
    if (p == t) return false;
    ct->type = slice_make(t, (size_t)(p - t));
    p = skip_cfws(p, e);
    if (p >= e || *p != '/') return false;
    p = skip_cfws(p + 1, e);
    t = p;
    p = token_end(p, e);
    if (p == t) return false;
    ct->subtype = slice_make(t, (size_t)(p - t));
    for (int guard = 0; guard < 256; guard++) {
        p = skip_cfws(p, e);
        if (p >= e) return true;
        if (*p != ';') return false;
        p = skip_cfws(p + 1, e);
        if (p >= e) return true; /* trailing ';' */
        t = p;
        p = token_end(p, e);
        if (p == t) return false;
        slice_t name = slice_make(t, (size_t)(p - t));
        p = skip_cfws(p, e);
        if (p >= e || *p != '=') return false;
        p = skip_cfws(p + 1, e);
        slice_t val;
        if (p < e && *p == '"') {
            const char *q = ++p;
            while (p < e && *p != '"') {
                if (*p == '\\') return false;
                p++;
            }
            if (p >= e) return false;
            val = slice_make(q, (size_t)(p - q));
            p++;
        } else {
            t = p;
            p = token_end(p, e);
            if (p == t) return false;
            val = slice_make(t, (size_t)(p - t));
        }
        if (slice_caseeq_cstr(name, "boundary"))
            ct->boundary = val;
        else if (slice_caseeq_cstr(name, "charset"))
            ct->charset = val;
    }
    return false;
}

bool rewrite__charset_ascii_compatible(slice_t cs)
{
    if (cs.len == 0) return true;
    static const char *const prefixes[] = {
        "us-ascii", "ascii",     "utf-8",     "utf8",    "iso-8859-", "iso8859-",    "iso_8859-",
        "latin",    "windows-",  "cp125",     "cp437",   "cp850",     "cp852",       "cp866",
        "koi8-",    "shift_jis", "shift-jis", "sjis",    "x-sjis",    "windows-31j", "cp932",
        "euc-",     "gb2312",    "gbk",       "gb18030", "big5",      "tis-620",     "macintosh",
        "x-mac-",   "ks_c_5601", "cp949",     "iso-ir-", "ibm",       "ansi_x3.4",
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(prefixes); i++)
        if (slice_casestarts(cs, prefixes[i])) return true;
    return false;
}

static bool field_name_char(char c)
{
    return (unsigned char)c > 32 && (unsigned char)c < 127 && c != ':';
}

typedef struct {
    slice_t msg;
    const rewrite__mime_limits_t *lim;
    rewrite__mime_t *m;
} walk_t;

static int fail(walk_t *w, const char *why)
{
    if (!w->m->why) w->m->why = why;
    return TO_EPARSE;
}

/* Parses the header block at [start, end). top: also collect top-level fields. */
static int parse_headers(walk_t *w, size_t start, size_t end, bool top, part_hdr_t *h)
{
    const char *base = w->msg.p;
    size_t pos = start;
    slice_t *cur = NULL; /* the value being continued */
    const char *cur_start = NULL;
    size_t count = 0;
    memset(h, 0, sizeof(*h));
    h->body_start = end;
    slice_t ctv = SLICE_NULL, other = SLICE_NULL;
    bool first = true;
    while (pos < end) {
        if (pos - start > w->lim->max_header_size) return fail(w, "header block too large");
        const char *line = base + pos;
        const char *nl = memchr(line, '\n', end - pos);
        size_t llen = nl ? (size_t)(nl - line) : end - pos; /* without LF */
        size_t next = nl ? pos + llen + 1 : end;
        size_t clen = llen && line[llen - 1] == '\r' ? llen - 1 : llen;
        if (first) h->crlf_hdr = clen != llen;
        first = false;
        if (clen == 0 && nl) { /* the blank line */
            h->body_start = next;
            h->has_body = true;
            if (top) w->m->has_body = true;
            goto done;
        }
        if (clen == 0) break; /* a lone CR at the very end */
        if (line[0] == ' ' || line[0] == '\t') {
            if (!cur_start) return fail(w, "continuation line before any header");
            if (cur) cur->len = (size_t)(line + clen - cur->p);
        } else {
            size_t i = 0;
            while (i < clen && field_name_char(line[i])) i++;
            if (i == 0 || i >= clen || line[i] != ':') {
                /* Not a field: RFC 5322 allows none. */
                return fail(w, "malformed header line");
            }
            if (++count > 10000) return fail(w, "too many header fields");
            slice_t name = slice_make(line, i);
            slice_t val = slice_make(line + i + 1, clen - i - 1);
            cur_start = line;
            cur = NULL;
            /* Two of a field that says what the body is: readers differ on which one
             * counts, so a guess could rewrite a part as something it is not. */
            if (slice_caseeq_cstr(name, "content-type")) {
                if (ctv.p) return fail(w, "two Content-Type fields");
                ctv = val;
                cur = &ctv;
            } else if (slice_caseeq_cstr(name, "content-transfer-encoding")) {
                if (h->cte.p) return fail(w, "two Content-Transfer-Encoding fields");
                h->cte = val;
                cur = &h->cte;
            } else if (slice_caseeq_cstr(name, "content-disposition")) {
                h->disposition = val;
                cur = &h->disposition;
            } else if (top && slice_caseeq_cstr(name, "dkim-signature")) {
                w->m->dkim_signed = true;
            } else if (top && slice_caseeq_cstr(name, "message-id")) {
                w->m->message_id = val;
                cur = &w->m->message_id;
            } else if (top && slice_caseeq_cstr(name, "list-unsubscribe")) {
                w->m->list_unsubscribe = val;
                cur = &w->m->list_unsubscribe;
            } else if (top && w->lim->campaign_header &&
                       slice_caseeq_cstr(name, w->lim->campaign_header)) {
                w->m->campaign = val;
                cur = &w->m->campaign;
            } else {
                other = val;
                cur = &other;
            }
        }
        pos = next;
    }
    /* No blank line: the whole entity is a header block without a body. */
    h->body_start = end;
done:
    if (top) w->m->header_len = h->body_start - start;
    if (ctv.p) {
        h->ct.has_ct = true;
        if (!parse_ctype(ctv, &h->ct)) {
            /* RFC 2045: an invalid Content-Type means text/plain; but a part we would
             * then rewrite on a guess is not worth it: treat as opaque. */
            h->ct.has_ct = false;
            h->ct.type = SLICE_LIT("application");
            h->ct.subtype = SLICE_LIT("octet-stream");
            return 0;
        }
    }
    return 0;
}

static rewrite__enc_t parse_cte(slice_t v)
{
    v = slice_trim(v);
    if (v.len == 0 || slice_caseeq_cstr(v, "7bit")) return REWRITE__ENC_7BIT;
    if (slice_caseeq_cstr(v, "8bit")) return REWRITE__ENC_8BIT;
    if (slice_caseeq_cstr(v, "binary")) return REWRITE__ENC_BINARY;
    if (slice_caseeq_cstr(v, "quoted-printable")) return REWRITE__ENC_QP;
    if (slice_caseeq_cstr(v, "base64")) return REWRITE__ENC_BASE64;
    return REWRITE__ENC_OTHER;
}

static void add_leaf(walk_t *w, const rewrite__leaf_t *l)
{
    rewrite__mime_t *m = w->m;
    if (m->nleaves == m->capleaves) {
        m->capleaves = m->capleaves ? m->capleaves * 2 : 8;
        m->leaves = xrealloc(m->leaves, xmul(m->capleaves, sizeof(*m->leaves)));
    }
    m->leaves[m->nleaves++] = *l;
}

static bool body_crlf(slice_t msg, size_t s, size_t e, bool dflt)
{
    const char *nl = memchr(msg.p + s, '\n', e - s);
    if (!nl) return dflt;
    return nl > msg.p + s && nl[-1] == '\r';
}

static int walk_entity(walk_t *w, size_t start, size_t end, unsigned depth, bool top,
                       bool digest_child);

/* Is there a delimiter line "--boundary[--]" starting at p? Returns the offset past its
 * line ending (or end), *close set for the closing delimiter; 0 when not a delimiter. */
static size_t delimiter_at(slice_t msg, size_t p, size_t end, slice_t b, bool *close)
{
    size_t q = p + 2 + b.len;
    if (q > end) return 0;
    *close = false;
    if (q + 2 <= end && msg.p[q] == '-' && msg.p[q + 1] == '-') {
        *close = true;
        q += 2;
    }
    while (q < end && (msg.p[q] == ' ' || msg.p[q] == '\t')) q++; /* transport padding */
    if (q == end) return q;
    if (msg.p[q] == '\r' && q + 1 < end && msg.p[q + 1] == '\n') return q + 2;
    if (msg.p[q] == '\n') return q + 1;
    if (*close) return q; /* "--b--" followed by text: still the close (lenient) */
    return 0;
}

/*
 * The next line in [from, end) that starts with "--" (a line starts at from, when from
 * is a line start, or after a LF); returns its offset, or end. Part bodies are most of a
 * message and delimiters few, so this scans 16 bytes at a time for LF '-' '-'.
 */
static size_t next_dash_line(const char *p, size_t from, size_t end, bool from_is_line_start)
{
    if (from_is_line_start && from + 2 <= end && p[from] == '-' && p[from + 1] == '-') return from;
    size_t i = from;
#if defined(__SSE2__)
    const __m128i lf = _mm_set1_epi8('\n'), dash = _mm_set1_epi8('-');
    while (i + 18 <= end) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 1));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 2));
        __m128i m = _mm_and_si128(_mm_cmpeq_epi8(a, lf),
                                  _mm_and_si128(_mm_cmpeq_epi8(b, dash), _mm_cmpeq_epi8(c, dash)));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits) return i + (size_t)__builtin_ctz(bits) + 1;
        i += 16;
    }
#endif
    for (; i + 3 <= end; i++)
        if (p[i] == '\n' && p[i + 1] == '-' && p[i + 2] == '-') return i + 1;
    return end;
}

static int walk_multipart(walk_t *w, slice_t boundary, size_t start, size_t end, unsigned depth,
                          bool digest)
{
    slice_t msg = w->msg;
    if (boundary.len == 0 || boundary.len > 200) return fail(w, "multipart without boundary");
    size_t pos = start;
    size_t part_start = 0; /* 0: before the first delimiter (preamble) */
    bool in_part = false;
    for (;;) {
        size_t at = next_dash_line(msg.p, pos, end, pos == start || msg.p[pos - 1] == '\n');
        if (at + 2 + boundary.len > end) return fail(w, "multipart without closing delimiter");
        pos = at + 1;
        if (memcmp(msg.p + at + 2, boundary.p, boundary.len) != 0) continue;
        bool close;
        size_t after = delimiter_at(msg, at, end, boundary, &close);
        if (!after) continue;
        if (in_part) {
            /* The line ending before the delimiter belongs to it. */
            size_t pe = at;
            if (pe > part_start && msg.p[pe - 1] == '\n') pe--;
            if (pe > part_start && msg.p[pe - 1] == '\r') pe--;
            if (pe < part_start) pe = part_start;
            int rc = walk_entity(w, part_start, pe, depth + 1, false, digest);
            if (rc) return rc;
        }
        if (close) return 0;
        in_part = true;
        part_start = after;
        pos = after;
        if (pos >= end) return fail(w, "multipart without closing delimiter");
    }
}

static int walk_entity(walk_t *w, size_t start, size_t end, unsigned depth, bool top,
                       bool digest_child)
{
    if (depth > w->lim->max_depth) return fail(w, "MIME nesting too deep");
    part_hdr_t h;
    int rc = parse_headers(w, start, end, top, &h);
    if (rc) return rc;
    slice_t type = h.ct.type, sub = h.ct.subtype;
    if (!type.len) {
        type = digest_child ? SLICE_LIT("message") : SLICE_LIT("text");
        sub = digest_child ? SLICE_LIT("rfc822") : SLICE_LIT("plain");
    }
    rewrite__enc_t enc = parse_cte(h.cte);
    if (slice_caseeq_cstr(type, "multipart")) {
        /* A multipart must not be encoded (RFC 2045 6.4). */
        if (enc != REWRITE__ENC_7BIT && enc != REWRITE__ENC_8BIT && enc != REWRITE__ENC_BINARY)
            return fail(w, "encoded multipart");
        if (h.body_start >= end) return fail(w, "multipart without body");
        return walk_multipart(w, h.ct.boundary, h.body_start, end, depth,
                              slice_caseeq_cstr(sub, "digest"));
    }
    if (!slice_caseeq_cstr(type, "text")) return 0; /* message parts, images, ...: left alone */
    if (!h.has_body) return 0;                      /* headers only: there is no body to add to */
    bool html = slice_caseeq_cstr(sub, "html");
    if (!html && !slice_caseeq_cstr(sub, "plain")) return 0;
    slice_t disp = slice_trim(h.disposition);
    if (slice_casestarts(disp, "attachment")) return 0;
    if (enc == REWRITE__ENC_OTHER) return 0;
    rewrite__leaf_t l = {
        .kind = html ? REWRITE__LEAF_HTML : REWRITE__LEAF_TEXT,
        .enc = enc,
        .charset_ok = rewrite__charset_ascii_compatible(slice_trim(h.ct.charset)),
        .crlf = body_crlf(w->msg, h.body_start, end, h.crlf_hdr),
        .body_start = h.body_start,
        .body_end = end,
    };
    if (l.body_start > l.body_end) l.body_start = l.body_end;
    add_leaf(w, &l);
    return 0;
}

int rewrite__mime_parse(slice_t msg, const rewrite__mime_limits_t *lim, rewrite__mime_t *m)
{
    memset(m, 0, sizeof(*m));
    walk_t w = {msg, lim, m};
    if (msg.len == 0) return fail(&w, "empty message");
    /* NUL bytes: refused in the top-level header block (its values are recorded); a
     * text part holding one is left alone by the rewriter; other parts are never read. */
    int rc = walk_entity(&w, 0, msg.len, 0, true, false);
    if (rc == 0 && memchr(msg.p, '\0', m->header_len)) rc = fail(&w, "NUL byte in the header");
    if (rc) {
        free(m->leaves);
        m->leaves = NULL;
        m->nleaves = m->capleaves = 0;
    }
    return rc;
}

void rewrite__mime_clear(rewrite__mime_t *m)
{
    free(m->leaves);
    memset(m, 0, sizeof(*m));
}
