/*
 * The rewrite property, shared by the fuzz target and the unit tests: out is either in
 * unchanged, or a message whose bytes outside rewritten part bodies are in's, whose
 * rewritten bodies decode to in's decoded text except for (a) link values replaced by
 * TRACKING_URL/c/<token> and (b) inserted pixel/honeypot blocks; every token opens, click
 * tokens name the link that was there (the URL sealed is the original value, entity
 * decoded) with link indexes 1.. in document order, the pixel is link 0 and the honeypot
 * TOKEN_LINK_HONEYPOT; QP and base64 lines stay within 76 octets.
 */
#ifndef TO_REWRITE_CHECK_H
#define TO_REWRITE_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite/rewrite_int.h"

typedef struct {
    const token_ring_t *ring;
    const char *tracking_url;
    uint32_t next_link;                  /* state: next expected click index */
    uint64_t account, campaign, message; /* set from the first token, then must match */
    bool have_ids;
    uint32_t clicks, blocks;
    char why[160];
} rw_check_t;

static bool rwc_tokchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static bool rwc_fail(rw_check_t *c, const char *why)
{
    snprintf(c->why, sizeof(c->why), "%s", why);
    return false;
}

/* Opens the token at b[*j..]; checks ids; returns false when it does not open. */
static bool rwc_token(rw_check_t *c, slice_t b, size_t *j, token_fields_t *f, buf_t *url)
{
    size_t s = *j;
    while (*j < b.len && rwc_tokchar(b.p[*j])) (*j)++;
    if (token_open(c->ring, slice_make(b.p + s, *j - s), f, url) != 0)
        return rwc_fail(c, "a token does not open");
    if (!c->have_ids) {
        c->have_ids = true;
        c->account = f->account;
        c->campaign = f->campaign;
        c->message = f->message;
    } else if (f->account != c->account || f->campaign != c->campaign || f->message != c->message) {
        return rwc_fail(c, "tokens of one message disagree on their ids");
    }
    return true;
}

static const char rwc_hp_pre[] = "<a href=\"";
static const char rwc_px_pre[] = "<img src=\"";

/* Compares decoded texts a (input) and b (output). */
static bool rwc_text(rw_check_t *c, slice_t a, slice_t b, bool html, bool crlf)
{
    size_t tl = strlen(c->tracking_url);
    size_t i = 0, j = 0;
    buf_t url = BUF_INIT, tmp = BUF_INIT, clean = BUF_INIT;
    bool ok = true;
    const char *eol = crlf ? "\r\n" : "\n";
    size_t el = strlen(eol);
    while (ok) {
        /* next tracking URL in b */
        const char *hit = NULL;
        for (size_t k = j; k + tl + 3 <= b.len; k++) {
            const char *q = memchr(b.p + k, c->tracking_url[0], b.len - k);
            if (!q) break;
            k = (size_t)(q - b.p);
            if (k + tl + 3 <= b.len && memcmp(q, c->tracking_url, tl) == 0 && q[tl] == '/' &&
                (q[tl + 1] == 'c' || q[tl + 1] == 'o' || q[tl + 1] == 'h') && q[tl + 2] == '/') {
                /* skip ones already in a (pre-existing tracking links) */
                hit = q;
                break;
            }
        }
        size_t k = hit ? (size_t)(hit - b.p) : b.len;
        char kind = hit ? hit[tl + 1] : 0;
        size_t seg_end = k; /* b[j..seg_end) must equal a[i..] */
        size_t pre = 0;
        if (kind == 'h' || kind == 'o') {
            pre = kind == 'h' ? strlen(rwc_hp_pre) : strlen(rwc_px_pre);
            if (k < pre || memcmp(b.p + k - pre, kind == 'h' ? rwc_hp_pre : rwc_px_pre, pre)) {
                kind = 'x'; /* a tracking URL written by the author: plain text */
                pre = 0;
            } else {
                seg_end = k - pre;
            }
        }
        bool around = false;
        size_t seg = seg_end - j;
        bool ends_eol = seg >= el && memcmp(b.p + seg_end - el, eol, el) == 0;
        if (i + seg > a.len || memcmp(a.p + i, b.p + j, seg) != 0) {
            if ((kind == 'h' || kind == 'o') && seg >= el &&
                memcmp(b.p + seg_end - el, eol, el) == 0 && i + seg - el <= a.len &&
                memcmp(a.p + i, b.p + j, seg - el) == 0) {
                around = true;
                seg -= el;
            } else {
                if (getenv("RWC_DEBUG"))
                    fprintf(stderr, "differs: in at %zu: [%.40s] out at %zu: [%.40s] seg %zu\n", i,
                            a.p + i, j, b.p + j, seg);
                ok = rwc_fail(c, "text outside rewritten attributes differs");
                break;
            }
        }
        i += seg;
        j = k;
        if (!hit) {
            if (i != a.len) ok = rwc_fail(c, "output text ends early");
            break;
        }
        {
            /* a tracking URL that was already in the input, at the same place: its
             * token too is the input's (else it is ours); step over the prefix only and
             * compare what follows as text */
            size_t pe = k + tl + 3, te = pe;
            while (te < b.len && rwc_tokchar(b.p[te])) te++;
            size_t span = te - seg_end;
            if (!around && i + span <= a.len && memcmp(a.p + i, b.p + seg_end, span) == 0) {
                i += pe - seg_end;
                j = pe;
                continue;
            }
            if (kind == 'x') {
                ok = rwc_fail(c, "stray tracking URL in output");
                break;
            }
        }
        size_t start_j = j;
        j += tl + 3;
        token_fields_t f;
        if (!rwc_token(c, b, &j, &f, &url)) {
            ok = false;
            break;
        }
        if (kind == 'c') {
            /* a non-click token written by the author would be in a as well */
            if (f.link == 0 || f.link == TOKEN_LINK_HONEYPOT) {
                ok = rwc_fail(c, "click URL with a non-click token");
                break;
            }
            if (f.link != c->next_link) {
                ok = rwc_fail(c, "click tokens out of document order");
                break;
            }
            c->next_link++;
            c->clicks++;
            /* the original value in a: up to the delimiter that follows in b */
            char q = start_j > 0 ? b.p[start_j - 1] : 0;
            size_t e = i;
            if (html && (q == '"' || q == '\'')) {
                while (e < a.len && a.p[e] != q) e++;
            } else if (html) {
                while (e < a.len && !strchr(" \t\r\n\f>", a.p[e])) e++;
            } else {
                /* text: a URL runs to whitespace or markup, minus trailing punctuation */
                while (e < a.len && (unsigned char)a.p[e] > 32 && (unsigned char)a.p[e] < 127 &&
                       !strchr("<>\"'`", a.p[e]))
                    e++;
                while (e > i && strchr(".,;:!?)]}", a.p[e - 1])) e--;
            }
            buf_reset(&tmp);
            if (html)
                rewrite_html_unescape(slice_make(a.p + i, e - i), &tmp);
            else
                buf_append(&tmp, a.p + i, e - i);
            buf_reset(&clean);
            slice_t t = slice_trim(buf_slice(&tmp));
            for (size_t x = 0; x < t.len; x++)
                if (t.p[x] != '\t' && t.p[x] != '\n' && t.p[x] != '\r') buf_putc(&clean, t.p[x]);
            slice_t orig = buf_slice(&clean);
            bool same = slice_eq(orig, f.url);
            bool resolved = !same && orig.len <= f.url.len && !slice_casestarts(orig, "http:") &&
                            !slice_casestarts(orig, "https:") &&
                            memcmp(f.url.p + f.url.len - orig.len, orig.p, orig.len) == 0;
            if (!same && !resolved && getenv("RWC_DEBUG"))
                fprintf(stderr, "orig [%.*s] sealed [%.*s]\n", SLICE_FMT(orig), SLICE_FMT(f.url));
            if (!same && !resolved) {
                ok = rwc_fail(c, "a click token does not name the link that was there");
                break;
            }
            i = e;
            continue;
        }
        /* a block: honeypot then pixel, or either alone */
        c->blocks++;
        if (kind == 'h') {
            if (f.link != TOKEN_LINK_HONEYPOT) {
                ok = rwc_fail(c, "honeypot token with a wrong link index");
                break;
            }
            const char *close = "></a>";
            const char *cl = memmem(b.p + j, b.len - j, close, strlen(close));
            if (!cl || cl - (b.p + j) > 300) {
                ok = rwc_fail(c, "honeypot markup incomplete");
                break;
            }
            j = (size_t)(cl - b.p) + strlen(close);
            size_t pl = strlen(rwc_px_pre);
            if (j + pl + tl + 3 <= b.len && memcmp(b.p + j, rwc_px_pre, pl) == 0 &&
                memcmp(b.p + j + pl, c->tracking_url, tl) == 0 && b.p[j + pl + tl + 1] == 'o') {
                /* ours only if its token opens (else it is the input's own markup) */
                size_t pj = j + pl + tl + 3, te = pj;
                while (te < b.len && rwc_tokchar(b.p[te])) te++;
                token_fields_t pf;
                if (token_open(c->ring, slice_make(b.p + pj, te - pj), &pf, &url) == 0) {
                    j = pj;
                    kind = 'o';
                    if (!rwc_token(c, b, &j, &f, &url)) {
                        ok = false;
                        break;
                    }
                }
            }
        }
        if (kind == 'o') {
            if (f.link != 0) {
                ok = rwc_fail(c, "pixel token with a wrong link index");
                break;
            }
            const char *cl = memchr(b.p + j, '>', b.len - j);
            if (!cl || cl - (b.p + j) > 300) {
                ok = rwc_fail(c, "pixel markup incomplete");
                break;
            }
            j = (size_t)(cl - b.p) + 1;
        }
        /* EOL block EOL is the library's own line (a block never precedes an EOL
         * otherwise: it goes before </body> or before trailing whitespace). */
        if (!around && ends_eol && j + el <= b.len && memcmp(b.p + j, eol, el) == 0) {
            around = true;
            i -= el;
        }
        if (around) {
            if (j + el > b.len || memcmp(b.p + j, eol, el)) {
                if (getenv("RWC_DEBUG"))
                    fprintf(stderr, "unbalanced at %zu of %zu, el %zu\n", j, b.len, el);
                ok = rwc_fail(c, "block line break unbalanced");
                break;
            }
            j += el;
        }
    }
    buf_clear(&url);
    buf_clear(&tmp);
    buf_clear(&clean);
    return ok;
}

static bool rwc_lines(rw_check_t *c, slice_t body, size_t max)
{
    size_t col = 0;
    for (size_t i = 0; i < body.len; i++) {
        if (body.p[i] == '\n') {
            col = 0;
        } else if (body.p[i] != '\r' && ++col > max) {
            if (getenv("RWC_DEBUG"))
                fprintf(stderr, "line too long at %zu (max %zu): [%.60s]\n", i, max,
                        body.p + i - col + 1);
            return rwc_fail(c, "encoded line too long");
        }
    }
    return true;
}

/* Checks the property for in -> out. lim: the limits the rewriter used. */
static bool rewrite_check(rw_check_t *c, const rewrite__mime_limits_t *lim, slice_t in, slice_t out)
{
    c->next_link = 1;
    c->have_ids = false;
    c->clicks = c->blocks = 0;
    c->why[0] = 0;
    if (slice_eq(in, out)) return true;
    rewrite__mime_t a, b;
    if (rewrite__mime_parse(in, lim, &a) != 0)
        return rwc_fail(c, "input was changed but does not parse");
    if (rewrite__mime_parse(out, lim, &b) != 0) {
        rewrite__mime_clear(&a);
        return rwc_fail(c, "output does not parse");
    }
    bool ok = a.nleaves == b.nleaves && a.header_len == b.header_len;
    if (!ok) rwc_fail(c, "MIME structure changed");
    size_t pa = 0, pb = 0;
    size_t longest_in = 0, col = 0;
    for (size_t i = 0; i < in.len; i++) {
        if (in.p[i] == '\n')
            col = 0;
        else if (++col > longest_in)
            longest_in = col;
    }
    buf_t da = BUF_INIT, db = BUF_INIT;
    for (size_t k = 0; ok && k < a.nleaves; k++) {
        const rewrite__leaf_t *la = &a.leaves[k], *lb = &b.leaves[k];
        size_t sa = la->body_start - pa, sb = lb->body_start - pb;
        if (sa != sb || memcmp(in.p + pa, out.p + pb, sa) != 0) {
            ok = rwc_fail(c, "bytes outside part bodies changed");
            break;
        }
        slice_t ba = slice_make(in.p + la->body_start, la->body_end - la->body_start);
        slice_t bb = slice_make(out.p + lb->body_start, lb->body_end - lb->body_start);
        pa = la->body_end;
        pb = lb->body_end;
        if (slice_eq(ba, bb)) continue;
        if (la->kind != lb->kind || la->enc != lb->enc) {
            ok = rwc_fail(c, "a part changed kind or encoding");
            break;
        }
        buf_reset(&da);
        buf_reset(&db);
        slice_t ta = ba, tb = bb;
        bool e1, e2;
        /* lines the rewrite did not touch keep their bytes, even when overlong */
        size_t in_longest = 0, col2 = 0;
        for (size_t x = 0; x < ba.len; x++) {
            if (ba.p[x] == '\n')
                col2 = 0;
            else if (ba.p[x] != '\r' && ++col2 > in_longest)
                in_longest = col2;
        }
        size_t enc_max = TO_MAX(76, in_longest);
        if (la->enc == REWRITE__ENC_QP) {
            ok = rewrite__qp_decode(ba, &da) && rewrite__qp_decode(bb, &db) &&
                 rwc_lines(c, bb, enc_max);
        } else if (la->enc == REWRITE__ENC_BASE64) {
            ok = rewrite__b64_decode(ba, &da, &e1) && rewrite__b64_decode(bb, &db, &e2) &&
                 rwc_lines(c, bb, 76);
        } else if (la->enc != REWRITE__ENC_BINARY) {
            ok = rwc_lines(c, bb, TO_MAX(REWRITE_LINE_MAX, longest_in));
        }
        if (!ok) {
            if (!c->why[0]) rwc_fail(c, "a rewritten part does not decode");
            break;
        }
        if (la->enc == REWRITE__ENC_QP || la->enc == REWRITE__ENC_BASE64) {
            ta = buf_slice(&da);
            tb = buf_slice(&db);
        }
        ok = rwc_text(c, ta, tb, la->kind == REWRITE__LEAF_HTML, la->crlf);
    }
    if (ok && (in.len - pa != out.len - pb || memcmp(in.p + pa, out.p + pb, in.len - pa) != 0))
        ok = rwc_fail(c, "bytes after the last part changed");
    buf_clear(&da);
    buf_clear(&db);
    rewrite__mime_clear(&a);
    rewrite__mime_clear(&b);
    return ok;
}

#endif
