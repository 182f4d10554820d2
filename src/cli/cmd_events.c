#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

const cfg_def_t cli_events_cfg[] = {
    {"since", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY,
     "only events at or after this time (RFC 3339 or UNIX)"},
    {"campaign", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "only this campaign (its name)"},
    {"format", CFG_STR, "table", 0, 0, CFG_FLAG_ONLY, "jsonl or table"},
    {"limit", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "at most this many rows (0: all)"},
    CFG_END,
};

typedef struct {
    bool jsonl;
    buf_t out;
} events_ctx_t;

static const char *route_name(char r)
{
    return r == 'o' ? "open" : r == 'c' ? "click" : r == 'h' ? "honeypot" : "unknown";
}

static void opt_str(buf_t *b, bool *first, const char *key, slice_t v)
{
    if (!v.p) return;
    json_key(b, first, key);
    json_str(b, v);
}

static int print_event(void *arg, const store_event_t *e)
{
    events_ctx_t *c = arg;
    buf_t *b = &c->out;
    buf_reset(b);
    char ts[32];
    time_format_us(e->ev.ts_us, ts);
    const http_event_t *ev = &e->ev;
    if (c->jsonl) {
        bool first = true;
        buf_putc(b, '{');
        json_key(b, &first, "id");
        buf_printf(b, "%lld", (long long)e->id);
        json_key(b, &first, "ts");
        json_cstr(b, ts);
        json_key(b, &first, "ts_us");
        buf_printf(b, "%lld", (long long)ev->ts_us);
        json_key(b, &first, "route");
        json_cstr(b, route_name(ev->route));
        json_key(b, &first, "method");
        json_cstr(b, ev->head ? "HEAD" : "GET");
        buf_printf(b,
                   ",\"account\":%llu,\"campaign\":%llu,\"message\":%llu,\"recipient\":%llu,"
                   "\"link\":%u,\"sent_at\":%lld,\"provider\":",
                   (unsigned long long)ev->tok.account, (unsigned long long)ev->tok.campaign,
                   (unsigned long long)ev->tok.message, (unsigned long long)ev->tok.recipient,
                   ev->tok.link, (long long)ev->tok.sent_at);
        json_cstr(b, token_provider_name(ev->tok.provider));
        opt_str(b, &first, "url", ev->tok.url);
        opt_str(b, &first, "ip", ev->ip);
        opt_str(b, &first, "ua", ev->ua);
        buf_puts(b, ",\"headers\":{");
        bool hf = true;
        opt_str(b, &hf, "sec-purpose", ev->sec_purpose);
        opt_str(b, &hf, "purpose", ev->purpose);
        opt_str(b, &hf, "x-purpose", ev->x_purpose);
        opt_str(b, &hf, "x-moz", ev->x_moz);
        opt_str(b, &hf, "accept", ev->accept);
        opt_str(b, &hf, "accept-language", ev->accept_language);
        opt_str(b, &hf, "referer", ev->referer);
        opt_str(b, &hf, "via", ev->via);
        opt_str(b, &hf, "from", ev->from);
        opt_str(b, &hf, "dnt", ev->dnt);
        opt_str(b, &hf, "sec-gpc", ev->sec_gpc);
        buf_putc(b, '}');
        json_key(b, &first, "verdict");
        json_cstr(b, e->cls.verdict == CLASSIFY_AUTOMATED ? "automated" : "human");
        json_key(b, &first, "agent");
        json_cstr(b, e->cls.agent ? e->cls.agent : "");
        json_key(b, &first, "via_proxy");
        buf_puts(b, e->cls.via_proxy ? "true" : "false");
        json_key(b, &first, "certainty");
        json_cstr(b, e->cls.certainty == CLASSIFY_PROBABLE ? "probable" : "certain");
        json_key(b, &first, "reasons");
        buf_putc(b, '[');
        buf_t r = BUF_INIT;
        classify_reasons_text(e->cls.reasons, &r);
        slice_t rs = buf_slice(&r);
        bool rf = true;
        while (rs.len) {
            const char *comma = memchr(rs.p, ',', rs.len);
            size_t n = comma ? (size_t)(comma - rs.p) : rs.len;
            if (!rf) buf_putc(b, ',');
            rf = false;
            json_str(b, slice_make(rs.p, n));
            rs = comma ? slice_make(comma + 1, rs.len - n - 1) : SLICE_NULL;
        }
        buf_clear(&r);
        buf_putc(b, ']');
        json_key(b, &first, "rules_version");
        buf_printf(b, "%u", e->rules_version);
        json_key(b, &first, "message_verdict");
        json_cstr(b, e->final_verdict == CLASSIFY_AUTOMATED ? "automated" : "human");
        json_key(b, &first, "message_agent");
        json_cstr(b, e->final_agent ? e->final_agent : "");
        buf_puts(b, "}\n");
    } else {
        buf_printf(b, "%-8lld %-27s %-8s %-4s %-8llu %-6u %-39.*s %-9s %-18s %.*s\n",
                   (long long)e->id, ts, route_name(ev->route), ev->head ? "HEAD" : "GET",
                   (unsigned long long)ev->tok.message, ev->tok.link, SLICE_FMT(ev->ip),
                   e->final_verdict == CLASSIFY_AUTOMATED ? "automated" : "human",
                   e->final_agent ? e->final_agent : "", (int)TO_MIN(ev->ua.len, 60),
                   ev->ua.p ? ev->ua.p : "");
    }
    return write_all(1, b->p, b->len) == 0 ? 0 : TO_EIO;
}

int cmd_events(int argc, char **argv)
{
    const cfg_def_t *const t[] = {store_cfg, cli_events_cfg, NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    store_query_t q = {0};
    const char *since = config_str(c, "since");
    if (since && !time_parse_us(slice_cstr(since), &q.since_us)) {
        fprintf(stderr, "trueopen events: --since '%s' is not a time\n", since);
        config_free(c);
        return 2;
    }
    const char *fmt = config_str(c, "format");
    if (strcmp(fmt, "jsonl") && strcmp(fmt, "table")) {
        fprintf(stderr, "trueopen events: --format must be jsonl or table\n");
        config_free(c);
        return 2;
    }
    const char *camp = config_str(c, "campaign");
    q.campaign = camp ? slice_cstr(camp) : SLICE_NULL;
    q.limit = config_int(c, "limit");
    store_t *s;
    char err[512];
    if (store_open(config_str(c, "db"), &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen events: %s\n", err);
        config_free(c);
        return 1;
    }
    events_ctx_t ctx = {!strcmp(fmt, "jsonl"), BUF_INIT};
    if (!ctx.jsonl)
        printf("%-8s %-27s %-8s %-4s %-8s %-6s %-39s %-9s %-18s %s\n", "id", "time", "route",
               "meth", "message", "link", "ip", "verdict", "agent", "user-agent");
    fflush(stdout);
    int rc = store_list_events(s, &q, print_event, &ctx);
    buf_clear(&ctx.out);
    store_close(s);
    config_free(c);
    if (rc) fprintf(stderr, "trueopen events: %s\n", err_str(rc));
    return rc ? 1 : 0;
}
