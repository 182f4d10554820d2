/* trueopen classify: JSON lines of events in, one JSON line of verdicts out per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "cli/cli.h"

const cfg_def_t cli_rules_dir_cfg[] = {
    {"rules", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "rule data directory (overrides rules_dir)"},
    CFG_END,
};

const cfg_def_t cli_classify_cfg[] = {
    {"link_count", CFG_INT, "0", 0, 65535, CFG_FLAG_ONLY,
     "tracked links per message, for the every-link-clicked rule (0: unknown)"},
    CFG_END,
};

const char *cli_rules_dir(const config_t *c)
{
    const char *dir = config_str(c, "rules");
    if (!dir) dir = config_str(c, "rules_dir");
    return dir ? dir : classify_default_rules_dir();
}

typedef struct {
    classify_json_event_t ev;
    classify_result_t res;
    long line;
    size_t order;
    uint8_t final_verdict;
    uint64_t final_reasons;
} row_t;

static int by_message(const void *a, const void *b)
{
    const row_t *x = *(row_t *const *)a, *y = *(row_t *const *)b;
    size_t n = TO_MIN(x->ev.message.len, y->ev.message.len);
    int c = memcmp(x->ev.message.p, y->ev.message.p, n);
    if (c) return c;
    if (x->ev.message.len != y->ev.message.len)
        return x->ev.message.len < y->ev.message.len ? -1 : 1;
    if (x->ev.ts_us != y->ev.ts_us) return x->ev.ts_us < y->ev.ts_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Message-level rules over the rows of each message (sorted by time). */
static void apply_messages(row_t *rows, size_t n, const classify_msg_opts_t *mo)
{
    row_t **idx = xmalloc(xmul(n + 1, sizeof(*idx)));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        rows[i].final_verdict = rows[i].res.verdict;
        rows[i].final_reasons = 0;
        /* Without a time, the order of events is their time since sending, then input order. */
        if (!rows[i].ev.has_ts)
            rows[i].ev.ts_us = rows[i].ev.in.seconds_since_send >= 0
                                   ? rows[i].ev.in.seconds_since_send * 1000000
                                   : (int64_t)i;
        if (rows[i].ev.message.len) idx[k++] = &rows[i];
    }
    qsort(idx, k, sizeof(*idx), by_message);
    classify_msg_event_t *m = xmalloc(xmul(k + 1, sizeof(*m)));
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j < k && idx[j]->ev.message.len == idx[i]->ev.message.len &&
               !memcmp(idx[j]->ev.message.p, idx[i]->ev.message.p, idx[i]->ev.message.len))
            j++;
        for (size_t e = i; e < j; e++) {
            row_t *r = idx[e];
            m[e - i] = (classify_msg_event_t){
                .ts_us = r->ev.ts_us,
                .route = r->ev.in.route,
                .link = r->ev.link,
                .seconds_since_send = r->ev.in.seconds_since_send,
                .verdict = r->res.verdict,
                .datacenter = r->res.datacenter,
                .agent = r->res.agent,
            };
        }
        classify_message(mo, m, j - i);
        for (size_t e = i; e < j; e++) {
            idx[e]->final_verdict = m[e - i].final_verdict;
            idx[e]->final_reasons = m[e - i].final_reasons;
        }
        i = j;
    }
    free(m);
    free(idx);
}

int cmd_classify(int argc, char **argv)
{
    const cfg_def_t *const t[] = {classify_cfg, cli_rules_dir_cfg, cli_classify_cfg, NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    const char *dir = cli_rules_dir(c);
    classify_rules_t *rules = NULL;
    char err[1024];
    if (classify_rules_load(dir, &rules, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen classify: %s\n", err);
        config_free(c);
        return 1;
    }
    classify_opts_t opts;
    classify_msg_opts_t mo;
    classify_opts_from_config(c, &opts, &mo);
    mo.link_count = (uint32_t)config_int(c, "link_count");
    classify_rules_set_opts(rules, &opts);

    arena_t a;
    arena_init(&a, 64 * 1024);
    row_t *rows = NULL;
    size_t n = 0, cap = 0;
    long lineno = 0, bad = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, stdin)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (len == 0) continue;
        xgrow(rows, cap, n, 256);
        row_t *r = &rows[n];
        memset(r, 0, sizeof(*r));
        if (classify_json_parse(slice_make(line, (size_t)len), &a, &r->ev, err, sizeof(err))) {
            fprintf(stderr, "trueopen classify: line %ld: %s (skipped)\n", lineno, err);
            bad++;
            continue;
        }
        r->line = lineno;
        r->order = n;
        classify_event(rules, &r->ev.in, &r->res);
        n++;
    }
    free(line);
    apply_messages(rows, n, &mo);
    buf_t out = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        buf_reset(&out);
        classify_json_result(&out, &rows[i].res, rows[i].final_verdict, rows[i].final_reasons,
                             classify_rules_version(rules));
        buf_putc(&out, '\n');
        fwrite(out.p, 1, out.len, stdout);
    }
    buf_clear(&out);
    free(rows);
    arena_clear(&a);
    classify_rules_free(rules);
    config_free(c);
    if (bad) fprintf(stderr, "trueopen classify: %ld bad line(s) skipped\n", bad);
    return bad ? 1 : 0;
}
