/*
 * The rewriter: plan (parse, decode, find links, apply the skip rules) -> record (the
 * sink) -> seal -> emit. Nothing is recorded for a message that will not change, and
 * nothing can fail between recording and emitting except memory, which aborts.
 */
#include "rewrite/rewrite_int.h"

#include <ctype.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const cfg_def_t rewrite_cfg[] = {
    {"tracking_url", CFG_STR, NULL, 0, 0, 0,
     "absolute http(s) URL of the tracking server; tokens go under /o/, /c/ and /h/"},
    {"account", CFG_INT, "0", 0, INT64_MAX, 0, "account id of the messages rewritten"},
    {"campaign_header", CFG_STR, "X-Campaign-ID", 0, 0, 0, "header that names the campaign"},
    {"default_campaign", CFG_STR, "default", 0, 0, 0,
     "campaign name for messages without the campaign header"},
    {"max_message_size", CFG_SIZE, "20M", 1024, 1073741824, 0,
     "larger messages are delivered unchanged"},
    {"max_mime_depth", CFG_INT, "16", 1, 100, 0,
     "deeper MIME nesting: the message is delivered unchanged"},
    {"max_header_size", CFG_SIZE, "1M", 1024, 67108864, 0,
     "larger header blocks: the message is delivered unchanged"},
    {"max_links", CFG_INT, "1000", 0, 65000, 0, "click tokens per message; later links are left"},
    {"honeypot", CFG_BOOL, "on", 0, 0, 0, "add a hidden honeypot link to HTML parts"},
    {"wrap_text_links", CFG_BOOL, "off", 0, 0, 0, "also wrap http(s) URLs in text/plain parts"},
    {"rewrite_signed", CFG_BOOL, "off", 0, 0, 0,
     "rewrite messages that carry a DKIM-Signature (breaks the signature)"},
    {"skip_list_unsubscribe", CFG_BOOL, "on", 0, 0, 0,
     "leave links that are List-Unsubscribe targets alone"},
    {"skip_link_pattern", CFG_LIST, NULL, 0, 0, 0,
     "case-insensitive URL substring of links never wrapped (repeatable; default: unsub, "
     "optout, opt-out, confirm, verify; an empty value means none)"},
    {"optout_attribute", CFG_STR, "data-trueopen=off", 0, 0, 0,
     "links with this attribute (NAME=VALUE or NAME) are left alone"},
    {"keep_recipient_address", CFG_BOOL, "off", 0, 0, 0,
     "store the recipient address itself (else only its domain and a keyed hash)"},
    {"account_map", CFG_LIST, NULL, 0, 0, 0,
     "milter: 'SENDER ACCOUNT', the account of an authenticated sender (repeatable)"},
    {"mark_header", CFG_BOOL, "on", 0, 0, 0, "milter: add X-Trueopen: tracked when rewritten"},
    CFG_END,
};

static const char *const default_skip[] = {"unsub", "optout", "opt-out", "confirm", "verify"};

struct rewrite {
    rewrite_opts_t o;
    rewrite_deps_t d;
    char track_host[256];
    size_t track_len;         /* strlen(o.tracking_url) */
    size_t *skip_len;         /* of o.skip_patterns (lowercase) */
    uint64_t skip_first[256]; /* bit i: pattern i (of the first 64) starts with this byte */
    uint8_t hash_key[32];
    _Atomic uint64_t by_status[REWRITE__STATUS_COUNT];
    _Atomic uint64_t links, parts_bad, parts_charset;
    log_limit_t lim;
};

/* ---- options ---------------------------------------------------------------------- */

/* The host (lowercase, without port or userinfo) of an absolute URL, or empty. */
static slice_t url_host(slice_t u, size_t *out_scheme_len)
{
    size_t i = 0;
    while (i < u.len && u.p[i] != ':') {
        char c = u.p[i];
        if (!isalnum((unsigned char)c) && c != '+' && c != '-' && c != '.') return SLICE_NULL;
        i++;
    }
    if (out_scheme_len) *out_scheme_len = i;
    if (i + 3 > u.len || u.p[i + 1] != '/' || u.p[i + 2] != '/') return SLICE_NULL;
    size_t s = i + 3, e = s;
    while (e < u.len && u.p[e] != '/' && u.p[e] != '?' && u.p[e] != '#' && u.p[e] != '\\') e++;
    slice_t auth = slice_make(u.p + s, e - s);
    const char *at = memrchr(auth.p, '@', auth.len);
    if (at) auth = slice_make(at + 1, auth.len - (size_t)(at + 1 - auth.p));
    if (auth.len && auth.p[0] == '[') {
        const char *rb = memchr(auth.p, ']', auth.len);
        if (rb) auth.len = (size_t)(rb - auth.p) + 1;
    } else {
        const char *colon = memchr(auth.p, ':', auth.len);
        if (colon) auth.len = (size_t)(colon - auth.p);
    }
    while (auth.len && auth.p[auth.len - 1] == '.') auth.len--; /* "host." == "host" */
    return auth;
}

static bool is_http(slice_t u)
{
    return slice_casestarts(u, "http://") || slice_casestarts(u, "https://");
}

static char **list_dup(const config_t *c, const char *name, size_t *n)
{
    size_t len = config_list_len(c, name);
    char **v = xcalloc(len ? len : 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        const char *s = config_list_at(c, name, i);
        if (s && *s) v[k++] = xstrdup(s);
    }
    *n = k;
    return v;
}

int rewrite_opts_from_config(const config_t *c, rewrite_opts_t *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    const char *tu = config_str(c, "tracking_url");
    if (!tu || !*tu) {
        snprintf(err, errlen, "tracking_url is required");
        return TO_EINVAL;
    }
    slice_t t = slice_cstr(tu);
    while (t.len && t.p[t.len - 1] == '/') t.len--;
    if (!is_http(t) || url_host(t, NULL).len == 0) {
        snprintf(err, errlen, "tracking_url: expected an absolute http(s) URL");
        return TO_EINVAL;
    }
    /* Only characters that need no escaping in a quoted, unquoted or QP context. */
    for (size_t i = 0; i < t.len; i++) {
        char ch = t.p[i];
        if (!isalnum((unsigned char)ch) && !strchr(":/.-_~%[]", ch)) {
            snprintf(err, errlen, "tracking_url: character '%c' is not allowed", ch);
            return TO_EINVAL;
        }
    }
    o->tracking_url = xstrndup(t.p, t.len);
    o->account = (uint64_t)config_int(c, "account");
    o->campaign_header = xstrdup(config_str(c, "campaign_header"));
    o->default_campaign = xstrdup(config_str(c, "default_campaign"));
    o->max_message_size = (size_t)config_int(c, "max_message_size");
    o->max_depth = (unsigned)config_int(c, "max_mime_depth");
    o->max_header_size = (size_t)config_int(c, "max_header_size");
    o->max_links = (unsigned)config_int(c, "max_links");
    o->honeypot = config_bool(c, "honeypot");
    o->wrap_text_links = config_bool(c, "wrap_text_links");
    o->rewrite_signed = config_bool(c, "rewrite_signed");
    o->skip_list_unsubscribe = config_bool(c, "skip_list_unsubscribe");
    o->keep_recipient_address = config_bool(c, "keep_recipient_address");
    o->mark_header = config_bool(c, "mark_header");
    const char *oa = config_str(c, "optout_attribute");
    if (oa && *oa) {
        const char *eq = strchr(oa, '=');
        o->optout_name = eq ? xstrndup(oa, (size_t)(eq - oa)) : xstrdup(oa);
        o->optout_value = xstrdup(eq ? eq + 1 : "");
        for (char *p = o->optout_name; *p; p++) *p = (char)tolower((unsigned char)*p);
    }
    if (config_list_len(c, "skip_link_pattern") > 0) {
        o->skip_patterns = list_dup(c, "skip_link_pattern", &o->nskip);
    } else {
        o->nskip = TO_ARRAY_LEN(default_skip);
        o->skip_patterns = xcalloc(o->nskip, sizeof(char *));
        for (size_t i = 0; i < o->nskip; i++) o->skip_patterns[i] = xstrdup(default_skip[i]);
    }
    size_t nm = config_list_len(c, "account_map");
    o->account_map_sender = xcalloc(nm ? nm : 1, sizeof(char *));
    o->account_map_account = xcalloc(nm ? nm : 1, sizeof(uint64_t));
    for (size_t i = 0; i < nm; i++) {
        const char *s = config_list_at(c, "account_map", i);
        const char *sp = s ? strpbrk(s, " \t") : NULL;
        uint64_t acc;
        if (!sp || !slice_to_u64(slice_trim(slice_cstr(sp)), &acc) || acc == 0) {
            snprintf(err, errlen, "account_map: expected 'SENDER ACCOUNT', got '%.80s'",
                     s ? s : "");
            rewrite_opts_clear(o);
            return TO_EINVAL;
        }
        o->account_map_sender[o->naccount_map] = xstrndup(s, (size_t)(sp - s));
        o->account_map_account[o->naccount_map++] = acc;
    }
    return 0;
}

void rewrite_opts_clear(rewrite_opts_t *o)
{
    free(o->tracking_url);
    free(o->campaign_header);
    free(o->default_campaign);
    free(o->optout_name);
    free(o->optout_value);
    for (size_t i = 0; i < o->nskip; i++) free(o->skip_patterns[i]);
    free(o->skip_patterns);
    for (size_t i = 0; i < o->naccount_map; i++) free(o->account_map_sender[i]);
    free(o->account_map_sender);
    free(o->account_map_account);
    memset(o, 0, sizeof(*o));
}

uint64_t rewrite_account_for(const rewrite_opts_t *o, slice_t auth_sender)
{
    for (size_t i = 0; auth_sender.len && i < o->naccount_map; i++)
        if (slice_caseeq_cstr(auth_sender, o->account_map_sender[i]))
            return o->account_map_account[i];
    return o->account;
}

int rewrite_new(rewrite_opts_t *opts, const rewrite_deps_t *deps, rewrite_t **out, char *err,
                size_t errlen)
{
    uint8_t key[32];
    if (!deps->ring || !token_ring_derive(deps->ring, "recipient-hash", key)) {
        snprintf(err, errlen, "the key ring has no active key");
        return TO_EINVAL;
    }
    if (!opts->tracking_url || !deps->sink.campaign_id || !deps->sink.message_sent || !deps->rand ||
        !deps->clock) {
        snprintf(err, errlen, "rewriter options incomplete");
        return TO_EINVAL;
    }
    rewrite_t *rw = xcalloc(1, sizeof(*rw));
    rw->o = *opts;
    memset(opts, 0, sizeof(*opts));
    rw->d = *deps;
    memcpy(rw->hash_key, key, sizeof(key));
    sodium_memzero(key, sizeof(key));
    rw->track_len = strlen(rw->o.tracking_url);
    rw->skip_len = xcalloc(rw->o.nskip ? rw->o.nskip : 1, sizeof(size_t));
    for (size_t i = 0; i < rw->o.nskip; i++) {
        char *pat = rw->o.skip_patterns[i];
        for (char *c = pat; *c; c++) *c = (char)tolower((unsigned char)*c); /* as matched */
        rw->skip_len[i] = strlen(pat);
        if (i < 64) rw->skip_first[(unsigned char)pat[0]] |= 1ull << i;
    }
    slice_t h = url_host(slice_cstr(rw->o.tracking_url), NULL);
    size_t n = TO_MIN(h.len, sizeof(rw->track_host) - 1);
    for (size_t i = 0; i < n; i++) rw->track_host[i] = (char)tolower((unsigned char)h.p[i]);
    *out = rw;
    return 0;
}

void rewrite_free(rewrite_t *rw)
{
    if (!rw) return;
    free(rw->skip_len);
    rewrite_opts_clear(&rw->o);
    sodium_memzero(rw->hash_key, sizeof(rw->hash_key));
    free(rw);
}

const rewrite_opts_t *rewrite_opts(const rewrite_t *rw)
{
    return &rw->o;
}

const char *rewrite_status_str(rewrite_status_t s)
{
    static const char *const names[] = {"rewritten", "untracked",  "dkim-signed", "too-big",
                                        "parse",     "no-account", "store"};
    return (unsigned)s < TO_ARRAY_LEN(names) ? names[s] : "?";
}

void rewrite_stats(const rewrite_t *rw, rewrite_stats_t *out)
{
    for (int i = 0; i < REWRITE__STATUS_COUNT; i++) out->by_status[i] = rw->by_status[i];
    out->links = rw->links;
    out->parts_bad = rw->parts_bad;
    out->parts_charset = rw->parts_charset;
}

/* ---- planning ---------------------------------------------------------------------- */

enum { ED_CLICK, ED_BLOCK };

typedef struct {
    int kind;
    size_t off, len;         /* range of the decoded text replaced (len 0: insertion) */
    uint32_t link;           /* click: link index */
    size_t url_off, url_len; /* click: into plan.urls */
    bool eol_around;         /* block: put it on a line of its own */
    bool pixel, honeypot;    /* block contents */
} edit_t;

typedef struct {
    size_t leaf;
    buf_t dec;    /* decoded text for QP/base64 */
    slice_t text; /* the decoded text */
    bool b64_eol;
    rewrite__qp_map_t qp; /* QP: logical lines, to re-encode only the changed ones */
    bool line_limit;      /* 7bit/8bit: lines must stay within REWRITE_LINE_MAX */
    edit_t *ed;
    size_t ned, caped;
} part_plan_t;

typedef struct {
    rewrite_t *rw;
    slice_t msg;
    rewrite__mime_t mime;
    part_plan_t *parts;
    size_t nparts;
    buf_t urls; /* decoded/resolved URLs, back to back */
    slice_t unsub[16];
    size_t nunsub;
    uint32_t links;
    size_t token_max; /* longest replacement a click may need, minus the URL */
    rewrite_result_t *res;
    rewrite_account_settings_t as; /* the message's account's settings */
} plan_t;

static void add_edit(part_plan_t *pp, const edit_t *e)
{
    if (pp->ned == pp->caped) {
        pp->caped = pp->caped ? pp->caped * 2 : 16;
        pp->ed = xrealloc(pp->ed, xmul(pp->caped, sizeof(*pp->ed)));
    }
    pp->ed[pp->ned++] = *e;
}

static int edit_cmp(const void *a, const void *b)
{
    const edit_t *x = a, *y = b;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    return x->kind - y->kind;
}

/* Longest token text for a URL of n bytes (every varint at its widest). */
static size_t token_len_max(size_t n)
{
    size_t raw = TOKEN_HEADER_LEN + 6 * 10 + 1 + n + TOKEN_TAG_LEN;
    return (raw * 4 + 2) / 3;
}

/* Appends u with leading/trailing ASCII whitespace stripped and tab/CR/LF removed
 * (what the WHATWG URL parser does before anything else). */
static void clean_url(slice_t u, buf_t *out)
{
    u = slice_trim(u);
    buf_reserve(out, u.len);
    char *w = out->p + out->len;
    for (size_t i = 0; i < u.len; i++)
        if (u.p[i] != '\t' && u.p[i] != '\n' && u.p[i] != '\r') *w++ = u.p[i];
    out->len = (size_t)(w - out->p);
    out->p[out->len] = 0;
}

static bool has_scheme(slice_t u)
{
    if (!u.len || !isalpha((unsigned char)u.p[0])) return false;
    for (size_t i = 1; i < u.len; i++) {
        char c = u.p[i];
        if (c == ':') return true;
        if (!isalnum((unsigned char)c) && c != '+' && c != '-' && c != '.') return false;
    }
    return false;
}

/* Resolves a relative reference against an absolute http(s) base into out. */
static void resolve(slice_t base, slice_t rel, buf_t *out)
{
    size_t scheme_len = 0;
    url_host(base, &scheme_len);
    size_t auth_end = scheme_len + 3;
    while (auth_end < base.len && !strchr("/?#", base.p[auth_end])) auth_end++;
    size_t pq_end = auth_end; /* end of path (before ?/#) */
    while (pq_end < base.len && base.p[pq_end] != '?' && base.p[pq_end] != '#') pq_end++;
    if (rel.len >= 2 && (rel.p[0] == '/' || rel.p[0] == '\\') &&
        (rel.p[1] == '/' || rel.p[1] == '\\')) {
        buf_append(out, base.p, scheme_len + 1);
    } else if (rel.p[0] == '/' || rel.p[0] == '\\') {
        buf_append(out, base.p, auth_end);
    } else if (rel.p[0] == '?') {
        buf_append(out, base.p, pq_end);
    } else {
        const char *slash =
            pq_end > auth_end ? memrchr(base.p + auth_end, '/', pq_end - auth_end) : NULL;
        if (slash) {
            buf_append(out, base.p, (size_t)(slash - base.p) + 1);
        } else {
            buf_append(out, base.p, auth_end);
            buf_putc(out, '/');
        }
    }
    buf_append_slice(out, rel);
}

/* Is the (cleaned, absolute http(s)) URL exempt from wrapping? */
static bool skip_url(plan_t *pl, slice_t u)
{
    rewrite_t *rw = pl->rw;
    slice_t host = url_host(u, NULL);
    if (host.len == 0) return true;
    if (slice_caseeq_cstr(host, rw->track_host)) return true; /* already tracked */
    if (u.len > TOKEN_URL_MAX) return true;
    for (size_t i = 0; i < pl->nunsub; i++)
        if (slice_eq(slice_trim(pl->unsub[i]), u)) return true;
    if (rw->o.nskip) {
        char low[TOKEN_URL_MAX];
        for (size_t i = 0; i < u.len; i++) {
            char ch = u.p[i];
            low[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
        }
        /* one pass for the first 64 patterns: at each byte, only those starting with it */
        for (size_t at = 0; at < u.len; at++) {
            for (uint64_t m = rw->skip_first[(unsigned char)low[at]]; m; m &= m - 1) {
                size_t i = (size_t)__builtin_ctzll(m), n = rw->skip_len[i];
                const char *pat = rw->o.skip_patterns[i];
                if (n <= u.len - at && (n == 1 || low[at + 1] == pat[1]) &&
                    memcmp(low + at, pat, n) == 0)
                    return true;
            }
        }
        for (size_t i = 64; i < rw->o.nskip; i++)
            if (memmem(low, u.len, rw->o.skip_patterns[i], rw->skip_len[i])) return true;
    }
    return false;
}

/*
 * Line lengths in 7bit/8bit parts. The output line holding an edit runs, in the input,
 * from cur_start (the start of the line where the current output line began) to the
 * line end after the edit; its length is those input bytes minus the replaced ranges
 * plus their replacements (a replaced value may hold line breaks, which then join
 * lines). growth is that sum for the edits already on the current output line.
 */
typedef struct {
    bool any;
    size_t cur_start, last_end;
    int64_t growth;
} linecap_t;

static bool line_fits(part_plan_t *pp, linecap_t *lc, size_t off, size_t len, size_t newlen)
{
    if (!pp->line_limit) return true;
    slice_t t = pp->text;
    /* An insertion may come before edits already planned (the block before </body>,
     * links after it): then it joins their line if no line break lies between. */
    size_t lo = TO_MIN(off, lc->last_end), hi = TO_MAX(off, lc->last_end);
    bool same = lc->any && !memchr(t.p + lo, '\n', hi - lo);
    size_t start = lc->cur_start;
    int64_t growth = lc->growth;
    if (!same) {
        const char *s = off ? memrchr(t.p, '\n', off) : NULL;
        start = s ? (size_t)(s - t.p) + 1 : 0;
        growth = 0;
    }
    size_t from = same ? TO_MAX(off + len, lc->last_end) : off + len;
    const char *e = memchr(t.p + from, '\n', t.len - from);
    size_t end = e ? (size_t)(e - t.p) : t.len;
    if (end > start && t.p[end - 1] == '\r') end--;
    int64_t grow = (int64_t)newlen - (int64_t)len;
    if ((int64_t)(end - start) + growth + grow > REWRITE_LINE_MAX) return false;
    lc->any = true;
    lc->cur_start = start;
    lc->last_end = TO_MAX(off + len, same ? lc->last_end : 0);
    lc->growth = growth + grow;
    return true;
}

/* Is input offset x inside a replaced range (where its line break vanishes)? */
static bool replaced(const part_plan_t *pp, size_t x)
{
    for (size_t k = 0; k < pp->ned; k++)
        if (pp->ed[k].len && x >= pp->ed[k].off && x < pp->ed[k].off + pp->ed[k].len) return true;
    return false;
}

/* The longest the output line holding input offset at can get, from every edit planned
 * so far (the block goes in before </body>, possibly before links planned after it, and a
 * replaced value with line breaks joins lines). */
static size_t out_line_len(const plan_t *pl, const part_plan_t *pp, size_t at)
{
    slice_t t = pp->text;
    size_t tl = pl->rw->track_len;
    size_t start = at;
    while (start > 0 && (t.p[start - 1] != '\n' || replaced(pp, start - 1))) start--;
    size_t end = at;
    while (end < t.len && (t.p[end] != '\n' || replaced(pp, end))) end++;
    int64_t n = (int64_t)(end - start);
    for (size_t k = 0; k < pp->ned; k++) {
        const edit_t *e = &pp->ed[k];
        if (e->kind != ED_CLICK || e->off < start || e->off >= end) continue;
        n += (int64_t)(tl + 3 + token_len_max(e->url_len)) - (int64_t)e->len;
    }
    return n > 0 ? (size_t)n : 0;
}

/* Considers one candidate link (raw attribute value or URL text) for wrapping. */
static void consider(plan_t *pl, part_plan_t *pp, linecap_t *lc, slice_t url, size_t off,
                     size_t len)
{
    rewrite_t *rw = pl->rw;
    if (pl->links >= rw->o.max_links || skip_url(pl, url)) {
        pl->res->links_skipped++;
        return;
    }
    size_t newlen = rw->track_len + 3 + token_len_max(url.len);
    if (!line_fits(pp, lc, off, len, newlen)) {
        pl->res->links_skipped++;
        pl->res->links_long++;
        return;
    }
    edit_t e = {.kind = ED_CLICK, .off = off, .len = len, .link = ++pl->links};
    e.url_off = pl->urls.len;
    buf_append_slice(&pl->urls, url);
    e.url_len = url.len;
    add_edit(pp, &e);
}

typedef struct {
    size_t value_off, value_len;
    slice_t value;
    bool optout;
} cand_t;

static bool optout_attr(rewrite_t *rw, const rewrite_html_tag_t *t)
{
    if (!rw->o.optout_name) return false;
    for (size_t i = 0; i < t->nattrs; i++) {
        if (!slice_caseeq_cstr(t->attrs[i].name, rw->o.optout_name)) continue;
        if (!rw->o.optout_value[0]) return true;
        if (slice_caseeq_cstr(slice_trim(t->attrs[i].value), rw->o.optout_value)) return true;
    }
    return false;
}

static const rewrite_html_attr_t *attr(const rewrite_html_tag_t *t, const char *name)
{
    for (size_t i = 0; i < t->nattrs; i++)
        if (rewrite_html_is(t->attrs[i].name, name)) return &t->attrs[i];
    return NULL;
}

/* Is a raw attribute value a URL on the tracking host under /<kind>/? */
static bool tracked_kind(rewrite_t *rw, slice_t raw, char kind, buf_t *tmp)
{
    /* Only the first tl + 3 bytes are compared: references after them cannot change
     * those, nor whether the text is longer (each decodes to at least one byte). */
    size_t tl = rw->track_len;
    slice_t u = raw;
    size_t head = TO_MIN(raw.len, tl + 3);
    if (head && memchr(raw.p, '&', head)) {
        buf_reset(tmp);
        rewrite_html_unescape(raw, tmp);
        u = buf_slice(tmp);
    }
    return u.len > tl + 3 && strncasecmp(u.p, rw->o.tracking_url, tl) == 0 && u.p[tl] == '/' &&
           u.p[tl + 1] == kind && u.p[tl + 2] == '/';
}

static void plan_html(plan_t *pl, part_plan_t *pp)
{
    rewrite_t *rw = pl->rw;
    rewrite_html_t h;
    rewrite_html_tag_t *t = xmalloc(sizeof(*t));
    cand_t *c = NULL;
    size_t nc = 0, capc = 0;
    size_t body_close = SIZE_MAX;
    bool has_pixel = false, has_honeypot = false, base_seen = false;
    buf_t base = BUF_INIT, tmp = BUF_INIT;
    rewrite_html_init(&h, pp->text);
    while (rewrite_html_next(&h, t)) {
        if (t->end) {
            if (rewrite_html_is(t->name, "body")) body_close = t->start;
            continue;
        }
        bool is_a = rewrite_html_is(t->name, "a");
        if (is_a || rewrite_html_is(t->name, "area")) {
            const rewrite_html_attr_t *href = attr(t, "href");
            if (!href || !href->has_value) continue;
            if (is_a && tracked_kind(rw, href->value, 'h', &tmp)) has_honeypot = true;
            if (nc == capc) {
                capc = capc ? capc * 2 : 32;
                c = xrealloc(c, xmul(capc, sizeof(*c)));
            }
            c[nc++] = (cand_t){href->value_off, href->value.len, href->value, optout_attr(rw, t)};
        } else if (rewrite_html_is(t->name, "img")) {
            const rewrite_html_attr_t *src = attr(t, "src");
            if (src && tracked_kind(rw, src->value, 'o', &tmp)) has_pixel = true;
        } else if (!base_seen && rewrite_html_is(t->name, "base")) {
            const rewrite_html_attr_t *href = attr(t, "href");
            if (href && href->has_value) {
                base_seen = true; /* the first base with an href wins */
                buf_reset(&tmp);
                rewrite_html_unescape(href->value, &tmp);
                clean_url(buf_slice(&tmp), &base);
                if (!is_http(buf_slice(&base)) || url_host(buf_slice(&base), NULL).len == 0)
                    buf_reset(&base);
            }
        }
    }
    linecap_t lc = {0};
    buf_t url = BUF_INIT;
    for (size_t i = 0; i < nc; i++) {
        if (c[i].optout) {
            pl->res->links_skipped++;
            continue;
        }
        buf_reset(&tmp);
        rewrite_html_unescape(c[i].value, &tmp);
        buf_reset(&url);
        clean_url(buf_slice(&tmp), &url);
        slice_t u = buf_slice(&url);
        if (u.len == 0 || u.p[0] == '#') continue; /* fragment-only: not a link out */
        if (has_scheme(u)) {
            if (!is_http(u)) continue; /* mailto:, tel:, sms:, javascript:, ... */
        } else {
            if (base.len == 0) continue; /* relative without a usable base */
            buf_reset(&tmp);
            resolve(buf_slice(&base), u, &tmp);
            buf_reset(&url);
            buf_append_slice(&url, buf_slice(&tmp));
            u = buf_slice(&url);
        }
        consider(pl, pp, &lc, u, c[i].value_off, c[i].value_len);
    }
    bool want_pixel = !has_pixel;
    bool want_honeypot = pl->as.honeypot && !has_honeypot;
    if (want_pixel || want_honeypot) {
        size_t at = body_close;
        if (at == SIZE_MAX) { /* no </body>: at the end, before trailing whitespace */
            at = h.tail;
            while (at > 0 && strchr(" \t\r\n", pp->text.p[at - 1])) at--;
        }
        edit_t e = {.kind = ED_BLOCK, .off = at, .pixel = want_pixel, .honeypot = want_honeypot};
        size_t blen = (rw->track_len + 3 + token_len_max(0)) * 2 + 400;
        if (pp->line_limit && out_line_len(pl, pp, at) + blen > REWRITE_LINE_MAX)
            e.eol_around = true;
        add_edit(pp, &e);
    }
    buf_clear(&url);
    buf_clear(&base);
    buf_clear(&tmp);
    free(c);
    free(t);
}

static bool url_char(unsigned char c)
{
    return c > 32 && c < 127 && c != '<' && c != '>' && c != '"' && c != '\'' && c != '`';
}

static void plan_text(plan_t *pl, part_plan_t *pp)
{
    slice_t t = pp->text;
    linecap_t lc = {0};
    size_t pos = 0;
    while (pos < t.len) {
        long at = slice_casefind(slice_make(t.p + pos, t.len - pos), "http");
        if (at < 0) break;
        size_t s = pos + (size_t)at;
        pos = s + 4;
        slice_t rest = slice_make(t.p + s, t.len - s);
        if (!slice_casestarts(rest, "http://") && !slice_casestarts(rest, "https://")) continue;
        size_t e = s;
        while (e < t.len && url_char((unsigned char)t.p[e])) e++;
        if (s > 0 && isalnum((unsigned char)t.p[s - 1])) { /* inside a word */
            pos = e;                                       /* and so is any URL further in it */
            continue;
        }
        while (e > s && strchr(".,;:!?)]}", t.p[e - 1])) e--; /* sentence punctuation */
        pos = e;
        slice_t u = slice_make(t.p + s, e - s);
        if (url_host(u, NULL).len == 0) continue;
        consider(pl, pp, &lc, u, s, e - s);
    }
}

/* ---- emitting ---------------------------------------------------------------------- */

/* Seals the message's token fields f for one link straight into out. */
static void seal(rewrite_t *rw, token_fields_t *f, uint32_t link, slice_t url, buf_t *out)
{
    f->link = link;
    f->url = url;
    if (token_seal(rw->d.ring, f, rw->d.rand, out) != 0)
        log_panic("token_seal failed on a planned link"); /* sizes are checked in planning */
}

static void emit_block(rewrite_t *rw, token_fields_t *tf, const edit_t *e, bool crlf, buf_t *out)
{
    const char *eol = crlf ? "\r\n" : "\n";
    if (e->eol_around) buf_puts(out, eol);
    if (e->honeypot) {
        /* Hidden from people in every common client: no text, so nothing renders even
         * where styles are stripped; display:none for Gmail, Apple Mail and Outlook.com;
         * mso-hide:all for Outlook's Word engine; out of the tab order and of the
         * accessibility tree. */
        buf_puts(out, "<a href=\"");
        buf_puts(out, rw->o.tracking_url);
        buf_puts(out, "/h/");
        seal(rw, tf, TOKEN_LINK_HONEYPOT, SLICE_NULL, out);
        buf_puts(out, "\" tabindex=\"-1\" aria-hidden=\"true\" style=\"display:none!important;"
                      "mso-hide:all;visibility:hidden;opacity:0;font-size:0;line-height:0;"
                      "max-height:0;max-width:0;overflow:hidden\"></a>");
    }
    if (e->pixel) {
        buf_puts(out, "<img src=\"");
        buf_puts(out, rw->o.tracking_url);
        buf_puts(out, "/o/");
        seal(rw, tf, 0, SLICE_NULL, out);
        buf_puts(out, "\" width=\"1\" height=\"1\" alt=\"\" border=\"0\" style=\"display:block;"
                      "width:1px;height:1px;border:0;margin:0;padding:0\">");
    }
    if (e->eol_around) buf_puts(out, eol);
}

/* Appends text[from, to) with the edits starting in it applied; *ei advances. Returns
 * where the text continues (past the last edit's replaced range). */
static size_t apply_edits(plan_t *pl, part_plan_t *pp, token_fields_t *tf, size_t from, size_t to,
                          bool last, size_t *ei, buf_t *out)
{
    rewrite_t *rw = pl->rw;
    const rewrite__leaf_t *l = &pl->mime.leaves[pp->leaf];
    size_t pos = from;
    while (*ei < pp->ned && (pp->ed[*ei].off < to || (last && pp->ed[*ei].off <= to))) {
        const edit_t *e = &pp->ed[(*ei)++];
        buf_append(out, pp->text.p + pos, e->off - pos);
        if (e->kind == ED_CLICK) {
            buf_puts(out, rw->o.tracking_url);
            buf_puts(out, "/c/");
            seal(rw, tf, e->link, slice_make(pl->urls.p + e->url_off, e->url_len), out);
        } else {
            emit_block(rw, tf, e, l->crlf, out);
        }
        pos = e->off + e->len;
    }
    return pos;
}

static void emit_part(plan_t *pl, part_plan_t *pp, token_fields_t *tf, buf_t *out)
{
    const rewrite__leaf_t *l = &pl->mime.leaves[pp->leaf];
    size_t ei = 0;
    if (l->enc == REWRITE__ENC_QP && pp->qp.n > 0) {
        /* Lines without edits keep their encoded bytes; changed lines are re-encoded. */
        slice_t enc = slice_make(pl->msg.p + l->body_start, l->body_end - l->body_start);
        buf_t line = BUF_INIT;
        size_t dstart = 0, estart = 0, n = pp->qp.n;
        for (size_t k = 0; k < n; k++) {
            if (ei == pp->ned) { /* no more edits: the rest as it was */
                buf_append(out, enc.p + estart, pp->qp.enc[n - 1] - estart);
                break;
            }
            /* Skip to the line of the next edit (the first line ending after it, or the
             * last line) and copy the lines before it in one piece. */
            size_t lo = k, hi = n - 1, off = pp->ed[ei].off;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (pp->qp.dec[mid] > off)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            if (lo > k) {
                buf_append(out, enc.p + estart, pp->qp.enc[lo - 1] - estart);
                dstart = pp->qp.dec[lo - 1];
                estart = pp->qp.enc[lo - 1];
                k = lo;
            }
            bool last = k + 1 == n;
            size_t dend = pp->qp.dec[k];
            if (pp->ed[ei].off < dend || (last && pp->ed[ei].off <= dend)) {
                buf_reset(&line);
                size_t pos = dstart;
                for (;;) {
                    pos = apply_edits(pl, pp, tf, pos, dend, last, &ei, &line);
                    if (pos < dend) {
                        buf_append(&line, pp->text.p + pos, dend - pos);
                        pos = dend;
                    }
                    /* The segment must end with a line break of the input, so the lines
                     * copied after it start a line of their own. A replaced value may have
                     * run past this line, or ended just at its end and so taken its break
                     * away: take in the next line(s). */
                    if (last || (pos == dend && line.len && line.p[line.len - 1] == '\n')) break;
                    while (k + 1 < n && pp->qp.dec[k] <= pos) k++;
                    last = k + 1 == n;
                    dend = pp->qp.dec[k];
                }
                rewrite__qp_encode(buf_slice(&line), l->crlf, out);
            } else {
                buf_append(out, enc.p + estart, pp->qp.enc[k] - estart);
            }
            dstart = dend;
            estart = pp->qp.enc[k];
        }
        buf_clear(&line);
        return;
    }
    buf_t text = BUF_INIT;
    bool direct = l->enc != REWRITE__ENC_QP && l->enc != REWRITE__ENC_BASE64;
    buf_t *t = direct ? out : &text;
    buf_reserve(t, pp->text.len + pp->ned * 160);
    size_t pos = apply_edits(pl, pp, tf, 0, pp->text.len, true, &ei, t);
    buf_append(t, pp->text.p + pos, pp->text.len - pos);
    if (l->enc == REWRITE__ENC_QP)
        rewrite__qp_encode(buf_slice(&text), l->crlf, out);
    else if (l->enc == REWRITE__ENC_BASE64)
        rewrite__b64_encode(buf_slice(&text), l->crlf, pp->b64_eol, out);
    buf_clear(&text);
}

/* ---- the message ------------------------------------------------------------------- */

static void plan_clear(plan_t *pl)
{
    for (size_t i = 0; i < pl->nparts; i++) {
        buf_clear(&pl->parts[i].dec);
        rewrite__qp_map_clear(&pl->parts[i].qp);
        free(pl->parts[i].ed);
    }
    free(pl->parts);
    buf_clear(&pl->urls);
    rewrite__mime_clear(&pl->mime);
}

/* Copies a header value, unfolded and trimmed, at most max bytes. */
static void header_text(slice_t v, size_t max, buf_t *out)
{
    if (!v.len) return;
    v = slice_trim(v);
    for (size_t i = 0; i < v.len && out->len < max; i++) {
        char c = v.p[i];
        if (c == '\r' || c == '\n') continue;
        buf_putc(out, c == '\t' ? ' ' : c);
    }
}

static void parse_unsub(plan_t *pl, slice_t v)
{
    if (!v.len) return;
    const char *p = v.p, *e = v.p + v.len;
    while (p < e && pl->nunsub < TO_ARRAY_LEN(pl->unsub)) {
        const char *lt = memchr(p, '<', (size_t)(e - p));
        if (!lt) break;
        const char *gt = memchr(lt, '>', (size_t)(e - lt));
        if (!gt) break;
        pl->unsub[pl->nunsub++] = slice_make(lt + 1, (size_t)(gt - lt - 1));
        p = gt + 1;
    }
}

static void finish(rewrite_t *rw, const rewrite_env_t *env, slice_t msg, rewrite_result_t *res,
                   rewrite_status_t st, const char *why)
{
    res->status = st;
    if (why) res->why = why;
    atomic_fetch_add(&rw->by_status[st], 1);
    atomic_fetch_add(&rw->parts_bad, res->parts_bad);
    atomic_fetch_add(&rw->parts_charset, res->parts_charset);
    const char *id = env && env->logid ? env->logid : "-";
    if (st == REWRITE_PARSE || st == REWRITE_STORE || st == REWRITE_TOO_BIG ||
        st == REWRITE_NO_ACCOUNT)
        log_limited(&rw->lim, 20, LOG_WARN, "rewrite %s: delivered unchanged: %s%s%s (%zu bytes)",
                    id, rewrite_status_str(st), res->why ? ": " : "", res->why ? res->why : "",
                    msg.len);
    else if (res->parts_bad || res->parts_charset)
        log_limited(&rw->lim, 20, LOG_WARN,
                    "rewrite %s: %u part(s) left unchanged (transfer encoding), %u (charset)", id,
                    res->parts_bad, res->parts_charset);
}

/* Lowercased address without angle brackets into out; its domain offset in *dom. */
static void norm_addr(slice_t a, buf_t *out, size_t *dom)
{
    a = slice_trim(a);
    if (a.len >= 2 && a.p[0] == '<' && a.p[a.len - 1] == '>')
        a = slice_trim(slice_make(a.p + 1, a.len - 2));
    size_t start = out->len;
    for (size_t i = 0; i < a.len; i++) buf_putc(out, (char)tolower((unsigned char)a.p[i]));
    const char *at = memrchr(out->p + start, '@', out->len - start);
    *dom = at ? (size_t)(at - out->p) + 1 : out->len;
}

int rewrite_message(rewrite_t *rw, slice_t msg, const rewrite_env_t *env, buf_t *out,
                    rewrite_result_t *res)
{
    if (!rw || !out || !res || (!msg.p && msg.len)) return TO_EINVAL;
    static const rewrite_env_t empty_env;
    if (!env) env = &empty_env;
    memset(res, 0, sizeof(*res));
    if (msg.len > rw->o.max_message_size) {
        finish(rw, env, msg, res, REWRITE_TOO_BIG, NULL);
        return 0;
    }

    plan_t pl = {.rw = rw, .msg = msg, .res = res};
    pl.as = (rewrite_account_settings_t){rw->o.honeypot, rw->o.keep_recipient_address};
    if (rw->d.sink.account_settings && (env->account || rw->o.account))
        rw->d.sink.account_settings(rw->d.sink.ctx, env->account ? env->account : rw->o.account,
                                    &pl.as);
    rewrite__mime_limits_t lim = {rw->o.max_depth, rw->o.max_header_size, rw->o.campaign_header};
    if (rewrite__mime_parse(msg, &lim, &pl.mime) != 0) {
        const char *why = pl.mime.why;
        plan_clear(&pl);
        {
            finish(rw, env, msg, res, REWRITE_PARSE, why);
            return 0;
        }
    }
    res->header_len = pl.mime.header_len;
    if (pl.mime.dkim_signed && !rw->o.rewrite_signed) {
        plan_clear(&pl);
        {
            finish(rw, env, msg, res, REWRITE_SIGNED, NULL);
            return 0;
        }
    }
    if (rw->o.skip_list_unsubscribe) parse_unsub(&pl, pl.mime.list_unsubscribe);

    pl.parts = xcalloc(pl.mime.nleaves ? pl.mime.nleaves : 1, sizeof(*pl.parts));
    for (size_t i = 0; i < pl.mime.nleaves; i++) {
        const rewrite__leaf_t *l = &pl.mime.leaves[i];
        if (l->kind == REWRITE__LEAF_TEXT && !rw->o.wrap_text_links) continue;
        if (!l->charset_ok) {
            res->parts_charset++;
            continue;
        }
        part_plan_t *pp = &pl.parts[pl.nparts];
        memset(pp, 0, sizeof(*pp));
        pp->leaf = i;
        slice_t body = slice_make(msg.p + l->body_start, l->body_end - l->body_start);
        bool ok = true;
        if (l->enc == REWRITE__ENC_QP)
            ok = rewrite__qp_decode_map(body, &pp->dec, &pp->qp);
        else if (l->enc == REWRITE__ENC_BASE64)
            ok = rewrite__b64_decode(body, &pp->dec, &pp->b64_eol);
        if (!ok) {
            buf_clear(&pp->dec);
            rewrite__qp_map_clear(&pp->qp);
            res->parts_bad++;
            continue;
        }
        pp->text =
            l->enc == REWRITE__ENC_QP || l->enc == REWRITE__ENC_BASE64 ? buf_slice(&pp->dec) : body;
        pp->line_limit = l->enc == REWRITE__ENC_7BIT || l->enc == REWRITE__ENC_8BIT;
        if (memchr(pp->text.p ? pp->text.p : "", '\0', pp->text.len)) { /* binary in a text part */
            buf_clear(&pp->dec);
            rewrite__qp_map_clear(&pp->qp);
            res->parts_bad++;
            continue;
        }
        if (l->kind == REWRITE__LEAF_HTML)
            plan_html(&pl, pp);
        else
            plan_text(&pl, pp);
        if (pp->ned == 0) {
            buf_clear(&pp->dec);
            rewrite__qp_map_clear(&pp->qp);
            free(pp->ed);
            continue;
        }
        qsort(pp->ed, pp->ned, sizeof(*pp->ed), edit_cmp);
        if (l->kind == REWRITE__LEAF_HTML)
            res->html_parts++;
        else
            res->text_parts++;
        pl.nparts++;
    }
    if (pl.nparts == 0) {
        plan_clear(&pl);
        {
            finish(rw, env, msg, res, REWRITE_UNTRACKED, NULL);
            return 0;
        }
    }
    uint64_t account = env->account ? env->account : rw->o.account;
    if (account == 0) {
        plan_clear(&pl);
        {
            finish(rw, env, msg, res, REWRITE_NO_ACCOUNT, NULL);
            return 0;
        }
    }

    /* Record. */
    buf_t camp = BUF_INIT, mid = BUF_INIT, addrs = BUF_INIT, hash = BUF_INIT;
    if (env->campaign.len)
        header_text(env->campaign, 256, &camp);
    else if (pl.mime.campaign.len)
        header_text(pl.mime.campaign, 256, &camp);
    if (camp.len == 0) buf_puts(&camp, rw->o.default_campaign ? rw->o.default_campaign : "default");
    header_text(pl.mime.message_id, 998, &mid);
    rewrite_sent_t sent = {.account = account, .link_count = pl.links};
    sent.message_id_hdr = buf_slice(&mid);
    size_t nrcpt = TO_MAX(env->nrcpt, env->nrcpt_total); /* also those not listed */
    bool one_rcpt = nrcpt == 1 && env->nrcpt == 1;
    sent.recipient_count = (uint32_t)TO_MIN(nrcpt, UINT32_MAX);
    sent.sent_at = env->sent_at ? env->sent_at : clock_now_us(rw->d.clock) / 1000000;
    size_t first_start = 0, first_len = 0, first_dom = 0;
    bool one_domain = env->nrcpt > 0;
    for (size_t i = 0; i < env->nrcpt; i++) {
        size_t start = addrs.len, dom;
        norm_addr(env->rcpt[i], &addrs, &dom);
        if (i == 0) {
            first_start = start;
            first_len = addrs.len - start;
            first_dom = dom;
        } else if (one_domain) {
            slice_t d0 = slice_make(addrs.p + first_dom, first_start + first_len - first_dom);
            slice_t d1 = slice_make(addrs.p + dom, addrs.len - dom);
            one_domain = slice_eq(d0, d1);
        }
        if (i > 0) addrs.len = start; /* keep only the first address */
    }
    if (one_domain)
        sent.recipient_domain =
            slice_make(addrs.p + first_dom, first_start + first_len - first_dom);
    if (one_rcpt) {
        uint8_t h[32];
        crypto_generichash(h, sizeof(h), (const unsigned char *)addrs.p + first_start, first_len,
                           rw->hash_key, sizeof(rw->hash_key));
        hex_encode(&hash, h, sizeof(h));
        sent.recipient_hash = buf_slice(&hash);
        if (pl.as.keep_recipient_address)
            sent.recipient_addr = slice_make(addrs.p + first_start, first_len);
    }
    if (sent.recipient_domain.len && rw->d.provider)
        sent.provider = rw->d.provider(rw->d.provider_ctx, sent.recipient_domain);
    int rc = rw->d.sink.campaign_id(rw->d.sink.ctx, account, buf_slice(&camp), &sent.campaign);
    uint64_t msg_id = 0;
    if (rc == 0) rc = rw->d.sink.message_sent(rw->d.sink.ctx, &sent, &msg_id);
    buf_clear(&camp);
    buf_clear(&mid);
    if (rc != 0) {
        buf_clear(&addrs);
        buf_clear(&hash);
        plan_clear(&pl);
        res->why = err_str(rc);
        {
            finish(rw, env, msg, res, REWRITE_STORE, NULL);
            return 0;
        }
    }

    /* Seal and emit. */
    token_fields_t tf = {.account = account,
                         .campaign = sent.campaign,
                         .message = msg_id,
                         .recipient = one_rcpt ? msg_id : 0,
                         .sent_at = sent.sent_at,
                         .provider = sent.provider};
    buf_clear(&addrs);
    buf_clear(&hash);
    buf_reserve(out, msg.len + msg.len / 4 + 1024);
    size_t pos = 0;
    for (size_t i = 0; i < pl.nparts; i++) {
        part_plan_t *pp = &pl.parts[i];
        const rewrite__leaf_t *l = &pl.mime.leaves[pp->leaf];
        buf_append(out, msg.p + pos, l->body_start - pos);
        emit_part(&pl, pp, &tf, out);
        pos = l->body_end;
    }
    buf_append(out, msg.p + pos, msg.len - pos);
    res->changed = true;
    res->links = pl.links;
    res->message_id = msg_id;
    atomic_fetch_add(&rw->links, pl.links);
    plan_clear(&pl);
    finish(rw, env, msg, res, REWRITE_DONE, NULL);
    return 0;
}
