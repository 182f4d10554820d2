/* trueopen messages: the sent messages the rewriter recorded, with their status
 * (opened, clicked, first times, counts) in the view asked for. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "report/report.h"
#include "store/store.h"

const cfg_def_t cli_messages_cfg[] = {
    {"campaign", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "only this campaign (its name)"},
    {"format", CFG_STR, "table", 0, 0, CFG_FLAG_ONLY, "jsonl or table"},
    {"limit", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "at most this many rows (0: all)"},
    {"exclude_automated", CFG_BOOL, "false", 0, 0, CFG_FLAG_ONLY,
     "status counting people only (default: the account's suppress_automated)"},
    {"include_automated", CFG_BOOL, "false", 0, 0, CFG_FLAG_ONLY,
     "status counting every event, automated ones included"},
    CFG_END,
};

typedef struct {
    bool jsonl;
    buf_t out;
    size_t rows;
    int view; /* -1: each account's setting */
    void *db; /* sqlite3 *, for the accounts' settings; NULL: people */
    uint64_t last_account;
    report_view_t last_view;
} msgs_ctx_t;

static report_view_t view_of(msgs_ctx_t *c, uint64_t account)
{
    if (c->view >= 0) return (report_view_t)c->view;
    if (!c->db) return REPORT_VIEW_PEOPLE;
    if (account != c->last_account) {
        c->last_account = account;
        c->last_view = report_default_view(c->db, account);
    }
    return c->last_view;
}

static int print_message(void *arg, const store_message_row_t *r)
{
    msgs_ctx_t *c = arg;
    buf_t *b = &c->out;
    buf_reset(b);
    report_view_t v = view_of(c, r->m.account);
    const store_view_status_t *vs = v == REPORT_VIEW_ALL ? &r->all : &r->human;
    if (c->jsonl) {
        const store_view_status_t *os = v == REPORT_VIEW_ALL ? &r->human : &r->all;
        report_message_t m = {
            .id = r->m.id,
            .account = r->m.account,
            .campaign = r->campaign_name,
            .message_id_hdr = r->m.message_id_hdr,
            .recipient_domain = r->m.recipient_domain,
            .recipient_hash = r->m.recipient_hash,
            .recipient_addr = r->m.recipient_addr,
            .recipient_count = r->m.recipient_count,
            .link_count = r->m.link_count,
            .sent_at = r->m.sent_at,
            .provider = r->m.provider,
            .opened = vs->opened,
            .clicked = vs->clicked,
            .first_open_us = vs->first_open_us,
            .first_click_us = vs->first_click_us,
            .opens = vs->opens,
            .clicks = vs->clicks,
            .other_opened = os->opened,
            .other_clicked = os->clicked,
        };
        report_message_json(&m, v, b);
        buf_putc(b, '\n');
    } else {
        char ts[32], fo[32] = "-";
        time_format_us(r->m.sent_at * 1000000, ts);
        if (vs->first_open_us) time_format_us(vs->first_open_us, fo);
        buf_printf(b,
                   "%-8llu %-20.*s %-40.*s %-24.*s %-20.19s %5u %-6s %-6s %-6s %-20.19s %5u %6u\n",
                   (unsigned long long)r->m.id, (int)TO_MIN(r->campaign_name.len, 20),
                   r->campaign_name.p, (int)TO_MIN(r->m.message_id_hdr.len, 40),
                   r->m.message_id_hdr.p ? r->m.message_id_hdr.p : "",
                   (int)TO_MIN(r->m.recipient_domain.len, 24),
                   r->m.recipient_domain.p ? r->m.recipient_domain.p : "", ts, r->m.link_count,
                   report_view_name(v), vs->opened ? "yes" : "no", vs->clicked ? "yes" : "no", fo,
                   vs->opens, vs->clicks);
    }
    c->rows++;
    return fwrite(b->p, 1, b->len, stdout) == b->len ? 0 : TO_EIO;
}

int cmd_messages(int argc, char **argv)
{
    const cfg_def_t *const t[] = {cli_messages_cfg, store_cfg, NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    const char *fmt = config_str(c, "format");
    if (strcmp(fmt, "jsonl") && strcmp(fmt, "table")) {
        fprintf(stderr, "trueopen messages: --format must be jsonl or table\n");
        config_free(c);
        return 2;
    }
    bool ex = config_bool(c, "exclude_automated"), in = config_bool(c, "include_automated");
    if (ex && in) {
        fprintf(stderr, "trueopen messages: --exclude-automated and --include-automated "
                        "contradict each other\n");
        config_free(c);
        return 2;
    }
    char err[512];
    store_t *s;
    if (store_open(config_str(c, "db"), &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen messages: %s\n", err);
        config_free(c);
        return 1;
    }
    /* status is derived: settle what gained events so it is exact */
    int rc = store_settle(s);
    if (rc) {
        fprintf(stderr, "trueopen messages: cannot settle message status: %s\n", err_str(rc));
        store_close(s);
        config_free(c);
        return 1;
    }
    const char *camp = config_str(c, "campaign");
    store_query_t q = {.campaign = camp ? slice_cstr(camp) : SLICE_NULL,
                       .limit = config_int(c, "limit")};
    msgs_ctx_t ctx = {.jsonl = !strcmp(fmt, "jsonl"),
                      .out = BUF_INIT,
                      .view = ex   ? REPORT_VIEW_PEOPLE
                              : in ? REPORT_VIEW_ALL
                                   : -1,
                      .db = store_sqlite_handle(s),
                      .last_account = 0,
                      .last_view = REPORT_VIEW_PEOPLE};
    if (ctx.db) ctx.last_view = report_default_view(ctx.db, 0);
    if (!ctx.jsonl)
        printf("%-8s %-20s %-40s %-24s %-20s %5s %-6s %-6s %-6s %-20s %5s %6s\n", "id", "campaign",
               "message_id", "recipient_domain", "sent_at", "links", "view", "opened", "clicked",
               "first_open", "opens", "clicks");
    rc = store_list_messages(s, &q, print_message, &ctx);
    if (rc) fprintf(stderr, "trueopen messages: %s\n", err_str(rc));
    char target[256];
    snprintf(target, sizeof(target), "campaign %.200s", camp ? camp : "(all)");
    cli_audit(s, 0, "messages", target, rc);
    buf_clear(&ctx.out);
    store_close(s);
    config_free(c);
    return rc ? 1 : 0;
}
