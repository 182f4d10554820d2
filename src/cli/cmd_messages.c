/* trueopen messages: the sent messages the rewriter recorded. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

const cfg_def_t cli_messages_cfg[] = {
    {"campaign", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "only this campaign (its name)"},
    {"format", CFG_STR, "table", 0, 0, CFG_FLAG_ONLY, "jsonl or table"},
    {"limit", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "at most this many rows (0: all)"},
    CFG_END,
};

typedef struct {
    bool jsonl;
    buf_t out;
    size_t rows;
} msgs_ctx_t;

static int print_message(void *arg, const store_message_row_t *r)
{
    msgs_ctx_t *c = arg;
    buf_t *b = &c->out;
    buf_reset(b);
    char ts[32];
    time_format_us(r->m.sent_at * 1000000, ts);
    if (c->jsonl) {
        bool first = true;
        buf_putc(b, '{');
        json_key(b, &first, "id");
        buf_printf(b, "%llu", (unsigned long long)r->m.id);
        json_key(b, &first, "account");
        buf_printf(b, "%llu", (unsigned long long)r->m.account);
        json_key(b, &first, "campaign");
        json_str(b, r->campaign_name);
        json_key(b, &first, "message_id");
        json_str(b, r->m.message_id_hdr);
        json_key(b, &first, "recipient_domain");
        json_str(b, r->m.recipient_domain);
        json_key(b, &first, "recipient_count");
        buf_printf(b, "%u", r->m.recipient_count);
        json_key(b, &first, "sent_at");
        json_cstr(b, ts);
        json_key(b, &first, "sent_at_unix");
        buf_printf(b, "%lld", (long long)r->m.sent_at);
        json_key(b, &first, "link_count");
        buf_printf(b, "%u", r->m.link_count);
        json_key(b, &first, "provider");
        json_cstr(b, token_provider_name(r->m.provider));
        buf_puts(b, "}\n");
    } else {
        buf_printf(b, "%-8llu %-20.*s %-40.*s %-24.*s %-20.19s %5u\n", (unsigned long long)r->m.id,
                   (int)TO_MIN(r->campaign_name.len, 20), r->campaign_name.p,
                   (int)TO_MIN(r->m.message_id_hdr.len, 40),
                   r->m.message_id_hdr.p ? r->m.message_id_hdr.p : "",
                   (int)TO_MIN(r->m.recipient_domain.len, 24),
                   r->m.recipient_domain.p ? r->m.recipient_domain.p : "", ts, r->m.link_count);
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
    char err[512];
    store_t *s;
    if (store_open(config_str(c, "db"), &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen messages: %s\n", err);
        config_free(c);
        return 1;
    }
    const char *camp = config_str(c, "campaign");
    store_query_t q = {.campaign = camp ? slice_cstr(camp) : SLICE_NULL,
                       .limit = config_int(c, "limit")};
    msgs_ctx_t ctx = {.jsonl = !strcmp(fmt, "jsonl"), .out = BUF_INIT};
    if (!ctx.jsonl)
        printf("%-8s %-20s %-40s %-24s %-20s %5s\n", "id", "campaign", "message_id",
               "recipient_domain", "sent_at", "links");
    int rc = store_list_messages(s, &q, print_message, &ctx);
    if (rc) fprintf(stderr, "trueopen messages: %s\n", err_str(rc));
    buf_clear(&ctx.out);
    store_close(s);
    config_free(c);
    return rc ? 1 : 0;
}
