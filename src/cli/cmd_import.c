/*
 * trueopen import: access records (as a CDN or proxy in front of the tracker logs
 * them) stored and classified exactly as if they had arrived live at their time.
 * trueopen reclassify: re-scores stored events with the current rules.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

const cfg_def_t cli_import_cfg[] = {
    {"rules", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "rule directory (default: the built-in rules)"},
    {"max_line", CFG_SIZE, "64k", 256, 16777216, CFG_FLAG_ONLY, "longest input line accepted"},
    CFG_END,
};

static int load_rules(const config_t *c, const char *cmd, classify_rules_t **out)
{
    const char *dir = config_str(c, "rules");
    if (!dir) dir = classify_default_rules_dir();
    char err[512];
    if (classify_rules_load(dir, out, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen %s: %s\n", cmd, err);
        return 1;
    }
    return 0;
}

/* Loads the rules (with the thresholds of classify_cfg) and opens the store set to
 * score with them. Prints the problem and returns 1 on failure. */
static int open_scoring(const config_t *c, const char *cmd, classify_rules_t **rules, store_t **s)
{
    if (load_rules(c, cmd, rules)) return 1;
    char err[512];
    if (store_open(config_str(c, "db"), s, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen %s: %s\n", cmd, err);
        classify_rules_free(*rules);
        return 1;
    }
    classify_msg_opts_t mo;
    classify_opts_t co;
    classify_opts_from_config(c, &co, &mo);
    classify_rules_set_opts(*rules, &co);
    store_set_msg_opts(*s, &mo);
    return 0;
}

static slice_t jstr(json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return SLICE_NULL;
    size_t n = json_string_length(v);
    return slice_make(json_string_value(v), TO_MIN(n, max));
}

/* The header named key (any case) from a JSON object of headers. */
static slice_t jhdr(json_t *h, const char *name, size_t max)
{
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v)
    {
        if (strcasecmp(k, name) == 0 && json_is_string(v))
            return slice_make(json_string_value(v), TO_MIN(json_string_length(v), max));
    }
    return SLICE_NULL;
}

typedef struct {
    store_event_t *evs;
    json_t **docs; /* kept alive until the batch is inserted (events point into them) */
    buf_t *urls;
    size_t n, cap;
} batch_t;

static int flush(store_t *s, batch_t *b)
{
    int rc = store_insert_events(s, b->evs, b->n);
    for (size_t i = 0; i < b->n; i++) {
        json_decref(b->docs[i]);
        buf_reset(&b->urls[i]);
    }
    b->n = 0;
    return rc;
}

/* Parses one record into ev (slices into doc and url). Returns NULL or why not. */
static const char *parse_record(json_t *doc, const token_ring_t *ring, store_event_t *e, buf_t *url)
{
    if (!json_is_object(doc)) return "not a JSON object";
    memset(e, 0, sizeof(*e));
    http_event_t *ev = &e->ev;
    json_t *ts = json_object_get(doc, "ts");
    if (json_is_integer(ts)) {
        ev->ts_us = (int64_t)json_integer_value(ts) * 1000000;
    } else if (json_is_real(ts)) {
        ev->ts_us = (int64_t)(json_real_value(ts) * 1e6);
    } else if (!json_is_string(ts) ||
               !time_parse_us(slice_make(json_string_value(ts), json_string_length(ts)),
                              &ev->ts_us)) {
        return "\"ts\" is missing or not RFC 3339 or UNIX time";
    }
    slice_t method = jstr(doc, "method", 16);
    if (!method.p || slice_caseeq_cstr(method, "GET"))
        ev->head = false;
    else if (slice_caseeq_cstr(method, "HEAD"))
        ev->head = true;
    else
        return "\"method\" must be GET or HEAD";
    slice_t path = jstr(doc, "path", TOKEN_TEXT_MAX + 16);
    if (!path.p || path.len < 4 || path.p[0] != '/' || path.p[2] != '/' ||
        (path.p[1] != 'o' && path.p[1] != 'c' && path.p[1] != 'h'))
        return "\"path\" must be /o/<token>, /c/<token> or /h/<token>";
    ev->route = path.p[1];
    slice_t tok = slice_make(path.p + 3, path.len - 3);
    const char *q = memchr(tok.p, '?', tok.len);
    if (q) tok.len = (size_t)(q - tok.p);
    if (ev->route == 'o' && tok.len > 4 && !memcmp(tok.p + tok.len - 4, ".gif", 4)) tok.len -= 4;
    if (token_open(ring, tok, &ev->tok, url) != 0) return "the token does not open";
    if ((ev->route == 'c') != (ev->tok.url.len > 0)) return "the token does not fit the route";
    ev->ip = jstr(doc, "ip", 64);
    ev->ua = jstr(doc, "ua", HTTP_UA_MAX);
    json_t *h = json_object_get(doc, "headers");
    if (h && !json_is_object(h)) return "\"headers\" must be an object";
    if (h) {
        ev->sec_purpose = jhdr(h, "sec-purpose", HTTP_HEADER_MAX);
        ev->purpose = jhdr(h, "purpose", HTTP_HEADER_MAX);
        ev->x_purpose = jhdr(h, "x-purpose", HTTP_HEADER_MAX);
        ev->x_moz = jhdr(h, "x-moz", HTTP_HEADER_MAX);
        ev->accept = jhdr(h, "accept", HTTP_HEADER_MAX);
        ev->accept_language = jhdr(h, "accept-language", HTTP_HEADER_MAX);
        ev->referer = jhdr(h, "referer", HTTP_HEADER_MAX);
        ev->via = jhdr(h, "via", HTTP_HEADER_MAX);
        ev->from = jhdr(h, "from", HTTP_HEADER_MAX);
        ev->dnt = jhdr(h, "dnt", HTTP_HEADER_MAX);
        ev->sec_gpc = jhdr(h, "sec-gpc", HTTP_HEADER_MAX);
        if (!ev->ua.p) ev->ua = jhdr(h, "user-agent", HTTP_UA_MAX);
    }
    return NULL;
}

int cmd_import(int argc, char **argv)
{
    const cfg_def_t *const t[] = {store_cfg, cli_keys_cfg, cli_import_cfg, classify_cfg, NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    char err[512];
    token_ring_t *ring;
    if (token_ring_load(config_str(c, "keys"), &ring, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen import: %s\n", err);
        config_free(c);
        return 1;
    }
    classify_rules_t *rules;
    store_t *s;
    if (open_scoring(c, "import", &rules, &s)) {
        token_ring_free(ring);
        config_free(c);
        return 1;
    }
    store_set_rules(s, rules);
    size_t max_line = (size_t)config_int(c, "max_line");
    batch_t b = {0};
    b.cap = 1000;
    b.evs = xcalloc(b.cap, sizeof(*b.evs));
    b.docs = xcalloc(b.cap, sizeof(*b.docs));
    b.urls = xcalloc(b.cap, sizeof(*b.urls));
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    long lineno = 0, imported = 0, skipped = 0;
    int rc = 0;
    while ((len = getline(&line, &linecap, stdin)) >= 0) {
        lineno++;
        slice_t l = slice_trim(slice_make(line, (size_t)len));
        if (l.len == 0) continue;
        const char *why = NULL;
        json_t *doc = NULL;
        if ((size_t)len > max_line) {
            why = "line too long";
        } else {
            json_error_t je;
            doc = json_loadb(l.p, l.len, 0, &je);
            if (!doc) why = "not valid JSON";
        }
        if (!why) why = parse_record(doc, ring, &b.evs[b.n], &b.urls[b.n]);
        if (why) {
            fprintf(stderr, "trueopen import: line %ld: %s; skipped\n", lineno, why);
            json_decref(doc);
            skipped++;
            continue;
        }
        store_classify(rules, &b.evs[b.n]);
        b.docs[b.n++] = doc;
        imported++;
        if (b.n == b.cap && (rc = flush(s, &b)) != 0) break;
    }
    free(line);
    if (rc == 0 && b.n) rc = flush(s, &b);
    if (rc == 0) rc = store_settle(s);
    for (size_t i = 0; i < b.n; i++) json_decref(b.docs[i]);
    for (size_t i = 0; i < b.cap; i++) buf_clear(&b.urls[i]);
    free(b.evs);
    free(b.docs);
    free(b.urls);
    store_close(s);
    classify_rules_free(rules);
    token_ring_free(ring);
    config_free(c);
    if (rc) {
        fprintf(stderr, "trueopen import: %s\n", err_str(rc));
        return 1;
    }
    printf("imported %ld events, skipped %ld lines\n", imported, skipped);
    return 0;
}

const cfg_def_t cli_reclassify_cfg[] = {
    {"campaign", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "only this campaign (its name)"},
    CFG_END,
};

int cmd_reclassify(int argc, char **argv)
{
    const cfg_def_t *const t[] = {store_cfg, cli_reclassify_cfg, cli_import_cfg, classify_cfg,
                                  NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    classify_rules_t *rules;
    store_t *s;
    if (open_scoring(c, "reclassify", &rules, &s)) {
        config_free(c);
        return 1;
    }
    const char *camp = config_str(c, "campaign");
    uint64_t n = 0;
    int rc = store_reclassify(s, rules, camp ? slice_cstr(camp) : SLICE_NULL, &n);
    if (rc == 0)
        printf("reclassified %llu events with rules version %u\n", (unsigned long long)n,
               classify_rules_version(rules));
    else
        fprintf(stderr, "trueopen reclassify: %s\n", err_str(rc));
    store_close(s);
    classify_rules_free(rules);
    config_free(c);
    return rc ? 1 : 0;
}
