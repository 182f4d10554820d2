/*
 * Loading a rule directory. DIR/rules.conf lists the files in load order:
 *
 *   range SET FORMAT FILE [URL]   published ranges (FORMAT cidr | google_json | aws_json)
 *   ua FILE                       User-Agent patterns, earlier files win
 *   operator FILE                 the operator's additions (ranges, patterns, overrides)
 *
 * The format of each file is described in data/rules/README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "classify/classify_int.h"

/* Bump when the code's decision rules change, so stored verdicts can be recomputed. */
#define CLASSIFY_CODE_VERSION 1u
#define RULE_FILE_MAX         (64u << 20)

#ifndef TO_RULES_DIR
#define TO_RULES_DIR "/usr/share/trueopen/rules"
#endif

const char *classify_default_rules_dir(void)
{
    return TO_RULES_DIR;
}

void classify_opts_default(classify_opts_t *o)
{
    o->early_after_send_s = 10;
    o->google_prefetch_window_s = 60;
    o->gateway_window_s = 300;
}

void classify_msg_opts_default(classify_msg_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->burst_window_ms = 1000;
    o->honeypot_window_ms = 30000;
    o->gateway_window_s = 300;
}

const cfg_def_t classify_cfg[] = {
    {"rules_dir", CFG_STR, NULL, 0, 0, CFG_RELOADABLE,
     "rule data directory (default: the installed data/rules)"},
    {"early_after_send", CFG_MS, "10s", 0, 86400000, CFG_RELOADABLE,
     "an open or click this soon after sending is suspect (probable automated)"},
    {"google_prefetch_window", CFG_MS, "60s", 0, 86400000, CFG_RELOADABLE,
     "an open from Google space this soon after sending is Gmail's prefetcher"},
    {"gateway_window", CFG_MS, "300s", 0, 86400000, CFG_RELOADABLE,
     "a click from gateway or cloud space this soon after sending, before any human open, is "
     "a scanner"},
    {"burst_window", CFG_MS, "1s", 1, 3600000, CFG_RELOADABLE,
     "two or more distinct links of one message clicked within this window are a scanner"},
    {"honeypot_window", CFG_MS, "30s", 0, 3600000, CFG_RELOADABLE,
     "events of a message within this window around a honeypot hit are automated"},
    CFG_END,
};

void classify_opts_from_config(const config_t *c, classify_opts_t *o, classify_msg_opts_t *m)
{
    if (o) {
        classify_opts_default(o);
        o->early_after_send_s = config_int(c, "early_after_send") / 1000;
        o->google_prefetch_window_s = config_int(c, "google_prefetch_window") / 1000;
        o->gateway_window_s = config_int(c, "gateway_window") / 1000;
    }
    if (m) {
        classify_msg_opts_default(m);
        m->burst_window_ms = config_int(c, "burst_window");
        m->honeypot_window_ms = config_int(c, "honeypot_window");
        m->gateway_window_s = config_int(c, "gateway_window") / 1000;
    }
}

void classify_rules_set_opts(classify_rules_t *r, const classify_opts_t *o)
{
    r->opts = *o;
}

uint32_t classify_rules_version(const classify_rules_t *r)
{
    return r->version;
}

static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 16777619u;
    return h;
}

/* ---- line splitting ------------------------------------------------------------------ */

/* Next whitespace-separated field of *s (advancing it); empty slice at the end. */
static slice_t next_field(slice_t *s)
{
    size_t i = 0;
    while (i < s->len && (s->p[i] == ' ' || s->p[i] == '\t')) i++;
    size_t b = i;
    while (i < s->len && s->p[i] != ' ' && s->p[i] != '\t') i++;
    slice_t f = slice_make(s->p + b, i - b);
    *s = slice_make(s->p + i, s->len - i);
    return f;
}

static char *slice_strdup(slice_t s)
{
    return xstrndup(s.p, s.len);
}

typedef struct {
    const char *p, *end;
    unsigned line;
} lines_t;

static bool next_line(lines_t *l, slice_t *out)
{
    if (l->p >= l->end) return false;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    const char *e = nl ? nl : l->end;
    *out = slice_make(l->p, (size_t)(e - l->p));
    if (out->len && out->p[out->len - 1] == '\r') out->len--;
    l->p = nl ? nl + 1 : l->end;
    l->line++;
    return true;
}

static bool blank_or_comment(slice_t s)
{
    s = slice_trim(s);
    return s.len == 0 || s.p[0] == '#';
}

/* ---- range files --------------------------------------------------------------------- */

static bool plausible(bool v6, unsigned plen)
{
    return v6 ? plen >= 16 : plen >= 8;
}

static int add_cidr(slice_t text, uint32_t bit, classify__ranges_t *r4, classify__ranges_t *r6,
                    const char *where, unsigned line, char *err, size_t errlen)
{
    bool v6;
    classify__u128 lo, hi;
    unsigned plen;
    if (!classify__cidr_parse(text, &v6, &lo, &hi, &plen)) {
        snprintf(err, errlen, "%s:%u: not an address range: '%.*s'", where, line,
                 (int)TO_MIN(text.len, 60u), text.p);
        return TO_EPARSE;
    }
    if (!plausible(v6, plen)) {
        snprintf(err, errlen, "%s:%u: implausibly wide range /%u", where, line, plen);
        return TO_EPARSE;
    }
    classify__ranges_add(v6 ? r6 : r4, lo, hi, bit);
    return 0;
}

int classify__parse_ranges(const char *format, const char *data, size_t len, uint32_t bit,
                           classify__ranges_t *r4, classify__ranges_t *r6, size_t *count,
                           const char *where, char *err, size_t errlen)
{
    *count = 0;
    if (!strcmp(format, "cidr")) {
        /* One range per line; a CSV row (Apple's feed) counts by its first column. */
        lines_t l = {data, data + len, 0};
        slice_t s;
        while (next_line(&l, &s)) {
            if (blank_or_comment(s)) continue;
            const char *comma = memchr(s.p, ',', s.len);
            if (comma) s.len = (size_t)(comma - s.p);
            int rc = add_cidr(s, bit, r4, r6, where, l.line, err, errlen);
            if (rc) return rc;
            (*count)++;
        }
    } else if (!strcmp(format, "google_json") || !strcmp(format, "aws_json")) {
        json_error_t je;
        json_t *root = json_loadb(data, len, 0, &je);
        if (!root || !json_is_object(root)) {
            snprintf(err, errlen, "%s:%d: not JSON: %s", where, root ? 1 : je.line,
                     root ? "not an object" : je.text);
            json_decref(root);
            return TO_EPARSE;
        }
        static const char *const arrays[] = {"prefixes", "ipv6_prefixes"};
        static const char *const keys[] = {"ipv4Prefix", "ipv6Prefix", "ip_prefix", "ipv6_prefix"};
        for (size_t a = 0; a < TO_ARRAY_LEN(arrays); a++) {
            json_t *arr = json_object_get(root, arrays[a]);
            if (!arr) continue;
            if (!json_is_array(arr)) {
                snprintf(err, errlen, "%s: '%s' is not an array", where, arrays[a]);
                json_decref(root);
                return TO_EPARSE;
            }
            size_t i;
            json_t *it;
            json_array_foreach(arr, i, it)
            {
                const char *v = NULL;
                for (size_t k = 0; k < TO_ARRAY_LEN(keys) && !v; k++)
                    v = json_string_value(json_object_get(it, keys[k]));
                if (!v) {
                    snprintf(err, errlen, "%s: %s[%zu] has no prefix", where, arrays[a], i);
                    json_decref(root);
                    return TO_EPARSE;
                }
                int rc = add_cidr(slice_cstr(v), bit, r4, r6, where, (unsigned)i + 1, err, errlen);
                if (rc) {
                    json_decref(root);
                    return rc;
                }
                (*count)++;
            }
        }
        json_decref(root);
    } else {
        snprintf(err, errlen, "%s: unknown range format '%s'", where, format);
        return TO_EPARSE;
    }
    if (*count == 0) {
        snprintf(err, errlen, "%s: no ranges", where);
        return TO_EPARSE;
    }
    return 0;
}

/* ---- patterns and operator files ------------------------------------------------------ */

typedef struct {
    classify__ua_pat_t *v;
    size_t n, cap;
} pats_t;

static void pats_add(pats_t *p, classify__ua_pat_t pat)
{
    xgrow(p->v, p->cap, p->n, 64);
    p->v[p->n++] = pat;
}

static bool valid_agent(slice_t a)
{
    if (a.len == 0 || a.len > 64) return false;
    for (size_t i = 0; i < a.len; i++) {
        char c = a.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* "agent class pattern" (pattern: the rest of the line). */
static int parse_pattern(slice_t s, const char *where, unsigned line, bool op, pats_t *out,
                         char *err, size_t errlen)
{
    slice_t agent = next_field(&s);
    slice_t cls = next_field(&s);
    slice_t pat = slice_trim(s);
    char clsz[32];
    snprintf(clsz, sizeof(clsz), "%.*s", (int)TO_MIN(cls.len, 31u), cls.p);
    int c = classify__ua_class_id(clsz);
    if (!valid_agent(agent)) {
        snprintf(err, errlen, "%s:%u: bad agent name (a-z 0-9 _ - .)", where, line);
        return TO_EPARSE;
    }
    if (c < 0 || cls.len > 31) {
        snprintf(err, errlen, "%s:%u: unknown class '%.*s'", where, line, (int)TO_MIN(cls.len, 40u),
                 cls.p);
        return TO_EPARSE;
    }
    if (pat.len == 0) {
        snprintf(err, errlen, "%s:%u: missing pattern", where, line);
        return TO_EPARSE;
    }
    char w[512];
    snprintf(w, sizeof(w), "%s:%u", where, line);
    pats_add(out, (classify__ua_pat_t){classify__intern(agent.p, agent.len), (uint8_t)c, op,
                                       slice_strdup(pat), xstrdup(w)});
    return 0;
}

static int parse_verdict(slice_t v, uint8_t *out)
{
    if (slice_eq_cstr(v, "human"))
        *out = CLASSIFY_HUMAN;
    else if (slice_eq_cstr(v, "automated"))
        *out = CLASSIFY_AUTOMATED;
    else
        return -1;
    return 0;
}

typedef struct {
    classify__ranges_t r4, r6;
    pats_t pats, oppats;
    classify__op_range_t *ops;
    size_t nops, capops;
    classify__override_t *ov;
    size_t nov, capov;
    classify__file_info_t *files;
    size_t nfiles, capfiles;
    uint32_t hash;
} load_t;

static int parse_operator(load_t *L, const char *data, size_t len, const char *where, size_t *count,
                          char *err, size_t errlen)
{
    lines_t l = {data, data + len, 0};
    slice_t s;
    while (next_line(&l, &s)) {
        if (blank_or_comment(s)) continue;
        slice_t kw = next_field(&s);
        if (slice_eq_cstr(kw, "range")) {
            slice_t cidr = next_field(&s), agent = next_field(&s), verdict = next_field(&s);
            uint8_t v;
            bool v6;
            classify__u128 lo, hi;
            unsigned plen;
            if (!classify__cidr_parse(cidr, &v6, &lo, &hi, &plen)) {
                snprintf(err, errlen, "%s:%u: not an address range", where, l.line);
                return TO_EPARSE;
            }
            if (!valid_agent(agent) || parse_verdict(verdict, &v) || slice_trim(s).len) {
                snprintf(err, errlen, "%s:%u: expected 'range CIDR AGENT human|automated'", where,
                         l.line);
                return TO_EPARSE;
            }
            if (L->nops == L->capops) {
                L->capops = L->capops ? L->capops * 2 : 16;
                L->ops = xrealloc(L->ops, xmul(L->capops, sizeof(*L->ops)));
            }
            L->ops[L->nops++] =
                (classify__op_range_t){lo, hi, v6, plen, classify__intern(agent.p, agent.len), v};
            classify__ranges_add(v6 ? &L->r6 : &L->r4, lo, hi,
                                 CLASSIFY__SETBIT(CLASSIFY__SET_OPERATOR));
        } else if (slice_eq_cstr(kw, "ua")) {
            int rc = parse_pattern(s, where, l.line, true, &L->oppats, err, errlen);
            if (rc) return rc;
        } else if (slice_eq_cstr(kw, "override")) {
            slice_t agent = next_field(&s), verdict = next_field(&s);
            uint8_t v;
            if (!valid_agent(agent) || parse_verdict(verdict, &v) || slice_trim(s).len) {
                snprintf(err, errlen, "%s:%u: expected 'override AGENT human|automated'", where,
                         l.line);
                return TO_EPARSE;
            }
            if (L->nov == L->capov) {
                L->capov = L->capov ? L->capov * 2 : 16;
                L->ov = xrealloc(L->ov, xmul(L->capov, sizeof(*L->ov)));
            }
            L->ov[L->nov++] = (classify__override_t){classify__intern(agent.p, agent.len), v};
        } else {
            snprintf(err, errlen, "%s:%u: unknown directive '%.*s' (range, ua, override)", where,
                     l.line, (int)TO_MIN(kw.len, 40u), kw.p);
            return TO_EPARSE;
        }
        (*count)++;
    }
    return 0;
}

static void file_info(load_t *L, const char *file, const char *kind, size_t entries)
{
    if (L->nfiles == L->capfiles) {
        L->capfiles = L->capfiles ? L->capfiles * 2 : 16;
        L->files = xrealloc(L->files, xmul(L->capfiles, sizeof(*L->files)));
    }
    L->files[L->nfiles++] = (classify__file_info_t){xstrdup(file), xstrdup(kind), entries};
}

static void load_clear(load_t *L)
{
    free(L->r4.v);
    free(L->r6.v);
    for (size_t i = 0; i < L->pats.n; i++) {
        free(L->pats.v[i].regex);
        free(L->pats.v[i].where);
    }
    for (size_t i = 0; i < L->oppats.n; i++) {
        free(L->oppats.v[i].regex);
        free(L->oppats.v[i].where);
    }
    free(L->pats.v);
    free(L->oppats.v);
    free(L->ops);
    free(L->ov);
    for (size_t i = 0; i < L->nfiles; i++) {
        free(L->files[i].file);
        free(L->files[i].kind);
    }
    free(L->files);
}

int classify__parse_rule_text(int kind, const char *data, size_t len, size_t *count, char *err,
                              size_t errlen)
{
    load_t L = {0};
    int rc = 0;
    *count = 0;
    if (kind == 0) {
        rc = parse_operator(&L, data, len, "operator.rules", count, err, errlen);
    } else {
        lines_t pl = {data, data + len, 0};
        slice_t ps;
        while (!rc && next_line(&pl, &ps)) {
            if (blank_or_comment(ps)) continue;
            rc = parse_pattern(ps, "ua.rules", pl.line, false, &L.pats, err, errlen);
            (*count)++;
        }
    }
    if (!rc && L.pats.n + L.oppats.n <= 8) {
        pats_t *p = L.pats.n ? &L.pats : &L.oppats;
        classify__ua_db_t *db = NULL;
        rc = classify__ua_compile(p->v, p->n, &db, err, errlen);
        if (!rc) classify__ua_match(db, slice_make(data, len));
        classify__ua_free(db);
    }
    load_clear(&L);
    return rc;
}

/* Reads DIR/NAME, rejecting names that leave the directory. */
static int read_rule_file(const char *dir, slice_t name, buf_t *b, char *err, size_t errlen)
{
    if (name.len == 0 || name.len > 200 || name.p[0] == '/' || slice_casefind(name, "..") >= 0) {
        snprintf(err, errlen, "rules.conf: bad file name '%.*s'", (int)TO_MIN(name.len, 60u),
                 name.p);
        return TO_EPARSE;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%.*s", dir, SLICE_FMT(name));
    buf_reset(b);
    int rc = buf_read_file(b, path, RULE_FILE_MAX);
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, rc == TO_ETOOBIG ? "too large" : strerror(errno));
        return rc == TO_ETOOBIG ? TO_EPARSE : TO_ENOTFOUND;
    }
    return 0;
}

static int load_manifest(load_t *L, const char *dir, const char *manifest, size_t mlen, char *err,
                         size_t errlen)
{
    lines_t l = {manifest, manifest + mlen, 0};
    slice_t s;
    buf_t b = BUF_INIT;
    int rc = 0;
    while (!rc && next_line(&l, &s)) {
        if (blank_or_comment(s)) continue;
        slice_t kw = next_field(&s);
        char fname[256], kind[64];
        size_t count = 0;
        if (slice_eq_cstr(kw, "range")) {
            slice_t set = next_field(&s), fmt = next_field(&s), file = next_field(&s);
            char setz[40], fmtz[40];
            snprintf(setz, sizeof(setz), "%.*s", (int)TO_MIN(set.len, 39u), set.p);
            snprintf(fmtz, sizeof(fmtz), "%.*s", (int)TO_MIN(fmt.len, 39u), fmt.p);
            int id = classify__set_id(setz);
            if (id < 0 || id == CLASSIFY__SET_OPERATOR || file.len == 0) {
                snprintf(err, errlen, "rules.conf:%u: expected 'range SET FORMAT FILE [URL]'",
                         l.line);
                rc = TO_EPARSE;
                break;
            }
            if ((rc = read_rule_file(dir, file, &b, err, errlen))) break;
            snprintf(fname, sizeof(fname), "%.*s", (int)TO_MIN(file.len, 255u), file.p);
            L->hash = fnv1a(fnv1a(L->hash, fname, strlen(fname)), b.p, b.len);
            rc = classify__parse_ranges(fmtz, b.p, b.len, CLASSIFY__SETBIT(id), &L->r4, &L->r6,
                                        &count, fname, err, errlen);
            snprintf(kind, sizeof(kind), "range %s", setz);
        } else if (slice_eq_cstr(kw, "ua") || slice_eq_cstr(kw, "operator")) {
            bool op = slice_eq_cstr(kw, "operator");
            slice_t file = next_field(&s);
            if ((rc = read_rule_file(dir, file, &b, err, errlen))) break;
            snprintf(fname, sizeof(fname), "%.*s", (int)TO_MIN(file.len, 255u), file.p);
            L->hash = fnv1a(fnv1a(L->hash, fname, strlen(fname)), b.p, b.len);
            if (op) {
                rc = parse_operator(L, b.p, b.len, fname, &count, err, errlen);
            } else {
                lines_t pl = {b.p, b.p + b.len, 0};
                slice_t ps;
                while (!rc && next_line(&pl, &ps)) {
                    if (blank_or_comment(ps)) continue;
                    rc = parse_pattern(ps, fname, pl.line, false, &L->pats, err, errlen);
                    count++;
                }
            }
            snprintf(kind, sizeof(kind), "%s", op ? "operator" : "ua");
        } else {
            snprintf(err, errlen, "rules.conf:%u: unknown directive (range, ua, operator)", l.line);
            rc = TO_EPARSE;
            break;
        }
        if (!rc) file_info(L, fname, kind, count);
    }
    buf_clear(&b);
    return rc;
}

int classify_rules_load(const char *dir, classify_rules_t **out, char *err, size_t errlen)
{
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof(path), "%s/.lock", dir);
    /* `rules update` swaps files under an exclusive lock; read under a shared one so a
     * load sees all old files or all new ones. */
    int lockfd = open(path, O_RDONLY | O_CLOEXEC);
    if (lockfd >= 0) flock(lockfd, LOCK_SH);
    snprintf(path, sizeof(path), "%s/rules.conf", dir);
    buf_t m = BUF_INIT;
    int rc = buf_read_file(&m, path, 1u << 20);
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, rc == TO_ETOOBIG ? "too large" : strerror(errno));
        buf_clear(&m);
        if (lockfd >= 0) close(lockfd);
        return TO_ENOTFOUND;
    }
    load_t L = {0};
    L.hash = fnv1a(2166136261u, &(uint32_t){CLASSIFY_CODE_VERSION}, 4);
    L.hash = fnv1a(L.hash, m.p, m.len);
    rc = load_manifest(&L, dir, m.p, m.len, err, errlen);
    buf_clear(&m);
    if (lockfd >= 0) close(lockfd);
    if (rc) {
        load_clear(&L);
        return rc == TO_ENOTFOUND ? TO_ENOTFOUND : TO_EPARSE;
    }
    classify_rules_t *r = xcalloc(1, sizeof(*r));
    /* Operator patterns come first: they win over the shipped ones. */
    r->npats = L.oppats.n + L.pats.n;
    r->pats = xmalloc(xmul(r->npats + 1, sizeof(*r->pats)));
    if (L.oppats.n) memcpy(r->pats, L.oppats.v, L.oppats.n * sizeof(*r->pats));
    if (L.pats.n) memcpy(r->pats + L.oppats.n, L.pats.v, L.pats.n * sizeof(*r->pats));
    L.oppats.n = L.pats.n = 0;
    rc = classify__ua_compile(r->pats, r->npats, &r->ua, err, errlen);
    if (rc) {
        load_clear(&L);
        classify_rules_free(r);
        return TO_EPARSE;
    }
    classify__iptab_build(&r->v4, &L.r4);
    classify__iptab_build(&r->v6, &L.r6);
    r->ops = L.ops;
    r->nops = L.nops;
    r->overrides = L.ov;
    r->noverrides = L.nov;
    r->files = L.files;
    r->nfiles = L.nfiles;
    L.ops = NULL;
    L.ov = NULL;
    L.files = NULL;
    L.nfiles = 0;
    r->version = L.hash ? L.hash : 1;
    classify_opts_default(&r->opts);
    load_clear(&L);
    *out = r;
    return 0;
}

void classify_rules_free(classify_rules_t *r)
{
    if (!r) return;
    classify__iptab_clear(&r->v4);
    classify__iptab_clear(&r->v6);
    for (size_t i = 0; i < r->npats; i++) {
        free(r->pats[i].regex);
        free(r->pats[i].where);
    }
    free(r->pats);
    classify__ua_free(r->ua);
    free(r->ops);
    free(r->overrides);
    for (size_t i = 0; i < r->nfiles; i++) {
        free(r->files[i].file);
        free(r->files[i].kind);
    }
    free(r->files);
    free(r);
}

void classify_rules_describe(const classify_rules_t *r, buf_t *out)
{
    size_t ranges = 0;
    for (size_t i = 0; i < r->nfiles; i++) {
        buf_printf(out, "%-40s %-26s %zu\n", r->files[i].file, r->files[i].kind,
                   r->files[i].entries);
        if (!strncmp(r->files[i].kind, "range", 5)) ranges += r->files[i].entries;
    }
    buf_printf(out,
               "total: %zu ranges (%zu v4 and %zu v6 intervals), %zu patterns, %zu operator "
               "ranges, %zu overrides\nrules_version: %08x\n",
               ranges, r->v4.n, r->v6.n, r->npats, r->nops, r->noverrides, r->version);
}
