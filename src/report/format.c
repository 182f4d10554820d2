/*
 * Output formats of reports: JSON (the API and --format json; field names are a
 * contract, docs/api.md), an aligned text table, and a long-form CSV
 * (section,name,metric,value) that loads into any spreadsheet.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "report/report.h"
#include "token/token.h"

bool report_format_parse(const char *s, report_format_t *out)
{
    if (!s) return false;
    if (!strcmp(s, "table"))
        *out = REPORT_FMT_TABLE;
    else if (!strcmp(s, "json"))
        *out = REPORT_FMT_JSON;
    else if (!strcmp(s, "csv"))
        *out = REPORT_FMT_CSV;
    else
        return false;
    return true;
}

static const char *view_desc(report_view_t v)
{
    return v == REPORT_VIEW_ALL
               ? "all events: every open and click counts, automated ones included"
               : "people only: automated opens and clicks are logged but not counted";
}

static const char *source_name(report_view_source_t s)
{
    return s == REPORT_VIEW_FROM_SETTING ? "account_setting" : "request";
}

static void jnum(buf_t *b, bool *first, const char *key, uint64_t v)
{
    json_key(b, first, key);
    buf_printf(b, "%" PRIu64, v);
}

static void jrate(buf_t *b, bool *first, const char *key, double v)
{
    json_key(b, first, key);
    buf_printf(b, "%.4f", v);
}

/* The headline figures of one view. */
static void json_headline(const report_stats_t *st, report_view_t v, buf_t *b, bool *first)
{
    jnum(b, first, "sent", st->sent);
    jnum(b, first, "unique_opens", st->unique_opens.v[v]);
    jnum(b, first, "total_opens", st->total_opens.v[v]);
    jnum(b, first, "unique_clicks", st->unique_clicks.v[v]);
    jnum(b, first, "total_clicks", st->total_clicks.v[v]);
    jrate(b, first, "open_rate", report_rate(st->unique_opens.v[v], st->sent));
    jrate(b, first, "click_rate", report_rate(st->unique_clicks.v[v], st->sent));
    jrate(b, first, "click_to_open_rate",
          report_rate(st->unique_clicks.v[v], st->unique_opens.v[v]));
}

void report_stats_json(const report_stats_t *st, buf_t *b)
{
    report_view_t v = st->view;
    bool f = true;
    buf_putc(b, '{');
    json_key(b, &f, "campaign");
    json_cstr(b, st->campaign);
    jnum(b, &f, "campaign_id", st->campaign_id);
    jnum(b, &f, "account", st->account);
    json_key(b, &f, "legal_hold");
    buf_puts(b, st->legal_hold ? "true" : "false");
    json_key(b, &f, "view");
    json_cstr(b, report_view_name(v));
    json_key(b, &f, "view_source");
    json_cstr(b, source_name(st->view_source));
    json_key(b, &f, "view_description");
    json_cstr(b, view_desc(v));
    json_time(b, &f, "generated_at", st->generated_us);
    json_headline(st, v, b, &f);

    json_key(b, &f, "automated");
    {
        bool g = true;
        buf_putc(b, '{');
        const report_pair_t *ps[4] = {&st->unique_opens, &st->total_opens, &st->unique_clicks,
                                      &st->total_clicks};
        const char *nm[4] = {"unique_opens", "total_opens", "unique_clicks", "total_clicks"};
        for (int i = 0; i < 4; i++) {
            json_key(b, &g, nm[i]);
            buf_printf(b, "{\"count\":%" PRIu64 ",\"share\":%.4f}", report_automated(*ps[i]),
                       report_automated_share(*ps[i]));
        }
        buf_putc(b, '}');
    }
    jnum(b, &f, "automated_excluded", report_automated_excluded(st));
    jnum(b, &f, "events", st->events);
    jnum(b, &f, "automated_events", st->automated_events);
    jnum(b, &f, "honeypot_hits", st->honeypot.v[REPORT_VIEW_ALL]);

    json_key(b, &f, "other_view");
    {
        report_view_t o = v == REPORT_VIEW_ALL ? REPORT_VIEW_PEOPLE : REPORT_VIEW_ALL;
        bool g = true;
        buf_putc(b, '{');
        json_key(b, &g, "view");
        json_cstr(b, report_view_name(o));
        json_headline(st, o, b, &g);
        buf_putc(b, '}');
    }

    json_key(b, &f, "estimate");
    {
        const report_estimate_t *e = &st->estimate;
        bool g = true;
        buf_putc(b, '{');
        json_key(b, &g, "label");
        json_cstr(b, "estimate");
        json_key(b, &g, "metric");
        json_cstr(b, "human_open_rate");
        jrate(b, &g, "estimated_human_open_rate", e->estimated_human_open_rate);
        json_key(b, &g, "estimated_human_opens");
        buf_printf(b, "%.1f", e->estimated_human_opens);
        jrate(b, &g, "observed_human_open_rate",
              report_rate(st->unique_opens.v[REPORT_VIEW_PEOPLE], st->sent));
        jnum(b, &g, "apple_mpp_messages", e->apple_messages);
        jnum(b, &g, "apple_mpp_human_opened", e->apple_human_opened);
        jnum(b, &g, "comparable_messages", e->comparable_messages);
        jnum(b, &g, "comparable_human_opened", e->comparable_human_opened);
        jrate(b, &g, "comparable_human_open_rate", e->comparable_rate);
        json_key(b, &g, "method");
        json_cstr(b, e->method ? e->method : "");
        buf_putc(b, '}');
    }

    json_key(b, &f, "by_agent");
    buf_putc(b, '[');
    for (size_t i = 0; i < st->n_agents; i++) {
        const report_agent_t *a = &st->agents[i];
        bool g = true;
        if (i) buf_putc(b, ',');
        buf_putc(b, '{');
        json_key(b, &g, "agent");
        json_cstr(b, a->name);
        jnum(b, &g, "events", a->events);
        jnum(b, &g, "opens", a->opens);
        jnum(b, &g, "clicks", a->clicks);
        jnum(b, &g, "honeypot", a->honeypot);
        jnum(b, &g, "automated", a->automated);
        jnum(b, &g, "human", a->events - a->automated);
        jnum(b, &g, "counted",
             v == REPORT_VIEW_ALL ? a->opens + a->clicks : a->human_opens + a->human_clicks);
        jnum(b, &g, "messages", a->messages);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');

    json_key(b, &f, "by_provider");
    buf_putc(b, '[');
    for (size_t i = 0; i < st->n_providers; i++) {
        const report_provider_t *p = &st->providers[i];
        bool g = true;
        if (i) buf_putc(b, ',');
        buf_putc(b, '{');
        json_key(b, &g, "provider");
        json_cstr(b, token_provider_name(p->code));
        jnum(b, &g, "sent", p->sent);
        jnum(b, &g, "unique_opens", p->opened.v[v]);
        jnum(b, &g, "total_opens", p->opens.v[v]);
        jnum(b, &g, "unique_clicks", p->clicked.v[v]);
        jnum(b, &g, "total_clicks", p->clicks.v[v]);
        jrate(b, &g, "open_rate", report_rate(p->opened.v[v], p->sent));
        jrate(b, &g, "click_rate", report_rate(p->clicked.v[v], p->sent));
        jrate(b, &g, "click_to_open_rate", report_rate(p->clicked.v[v], p->opened.v[v]));
        jnum(b, &g, "automated_unique_opens", report_automated(p->opened));
        jnum(b, &g, "automated_unique_clicks", report_automated(p->clicked));
        buf_putc(b, '}');
    }
    buf_putc(b, ']');

    json_key(b, &f, "links");
    buf_putc(b, '[');
    for (size_t i = 0; i < st->n_links; i++) {
        const report_link_t *l = &st->links[i];
        bool g = true;
        if (i) buf_putc(b, ',');
        buf_putc(b, '{');
        jnum(b, &g, "link", l->index);
        json_key(b, &g, "url");
        json_cstr(b, l->url);
        jnum(b, &g, "unique_clicks", l->unique_clicks.v[v]);
        jnum(b, &g, "total_clicks", l->total_clicks.v[v]);
        jnum(b, &g, "automated_clicks", report_automated(l->total_clicks));
        buf_putc(b, '}');
    }
    buf_putc(b, ']');

    json_key(b, &f, "hourly");
    buf_putc(b, '[');
    for (size_t i = 0; i < st->n_hours; i++) {
        const report_hour_t *h = &st->hours[i];
        bool g = true;
        if (i) buf_putc(b, ',');
        buf_putc(b, '{');
        json_time(b, &g, "hour", h->hour_us);
        jnum(b, &g, "opens", h->opens.v[v]);
        jnum(b, &g, "clicks", h->clicks.v[v]);
        jnum(b, &g, "automated_opens", report_automated(h->opens));
        jnum(b, &g, "automated_clicks", report_automated(h->clicks));
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
}

/* ---- table ------------------------------------------------------------------------ */

static void pct(char out[16], double r)
{
    snprintf(out, 16, "%.1f%%", r * 100.0);
}

void report_stats_table(const report_stats_t *st, buf_t *b)
{
    report_view_t v = st->view;
    char r1[16], r2[16];
    buf_printf(b, "campaign %s (account %" PRIu64 ")%s\n", st->campaign, st->account,
               st->legal_hold ? "  [legal hold]" : "");
    buf_printf(b, "view: %s (%s) — %s\n", report_view_name(v),
               st->view_source == REPORT_VIEW_FROM_SETTING ? "from the account's setting"
                                                           : "as requested",
               view_desc(v));
    buf_printf(b, "\n%-20s %12s %12s %9s\n", "metric", "counted", "automated", "share");
    const report_pair_t *ps[4] = {&st->unique_opens, &st->total_opens, &st->unique_clicks,
                                  &st->total_clicks};
    const char *nm[4] = {"unique_opens", "total_opens", "unique_clicks", "total_clicks"};
    buf_printf(b, "%-20s %12" PRIu64 "\n", "sent", st->sent);
    for (int i = 0; i < 4; i++) {
        pct(r1, report_automated_share(*ps[i]));
        buf_printf(b, "%-20s %12" PRIu64 " %12" PRIu64 " %9s\n", nm[i], ps[i]->v[v],
                   report_automated(*ps[i]), r1);
    }
    pct(r1, report_rate(st->unique_opens.v[v], st->sent));
    buf_printf(b, "%-20s %12s\n", "open_rate", r1);
    pct(r1, report_rate(st->unique_clicks.v[v], st->sent));
    buf_printf(b, "%-20s %12s\n", "click_rate", r1);
    pct(r1, report_rate(st->unique_clicks.v[v], st->unique_opens.v[v]));
    buf_printf(b, "%-20s %12s\n", "click_to_open_rate", r1);
    buf_printf(b, "%-20s %12" PRIu64 "\n", "automated_excluded", report_automated_excluded(st));
    buf_printf(b, "%-20s %12" PRIu64 "\n", "honeypot_hits", st->honeypot.v[REPORT_VIEW_ALL]);
    if (v != REPORT_VIEW_ALL) {
        char r3[16];
        const report_view_t a = REPORT_VIEW_ALL;
        pct(r1, report_rate(st->unique_opens.v[a], st->sent));
        pct(r2, report_rate(st->unique_clicks.v[a], st->sent));
        pct(r3, report_rate(st->unique_clicks.v[a], st->unique_opens.v[a]));
        buf_printf(b, "with automated events: open_rate %s, click_rate %s, click_to_open_rate %s\n",
                   r1, r2, r3);
    }

    const report_estimate_t *e = &st->estimate;
    pct(r1, e->estimated_human_open_rate);
    pct(r2, e->comparable_rate);
    buf_printf(b,
               "\nestimate: human open rate %s (Apple MPP messages %" PRIu64
               ", comparable recipients' human open rate %s)\n  method: %s\n",
               r1, e->apple_messages, r2, e->method ? e->method : "");

    buf_printf(b, "\n%-24s %10s %10s %10s %10s %10s %10s\n", "by_agent", "events", "opens",
               "clicks", "honeypot", "automated", "messages");
    for (size_t i = 0; i < st->n_agents; i++) {
        const report_agent_t *a = &st->agents[i];
        buf_printf(b,
                   "%-24s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
                   " %10" PRIu64 "\n",
                   a->name, a->events, a->opens, a->clicks, a->honeypot, a->automated, a->messages);
    }
    buf_printf(b, "\n%-20s %10s %12s %8s %13s %8s %10s\n", "by_provider", "sent", "unique_opens",
               "open%", "unique_clicks", "click%", "auto_opens");
    for (size_t i = 0; i < st->n_providers; i++) {
        const report_provider_t *p = &st->providers[i];
        pct(r1, report_rate(p->opened.v[v], p->sent));
        pct(r2, report_rate(p->clicked.v[v], p->sent));
        buf_printf(b, "%-20s %10" PRIu64 " %12" PRIu64 " %8s %13" PRIu64 " %8s %10" PRIu64 "\n",
                   token_provider_name(p->code), p->sent, p->opened.v[v], r1, p->clicked.v[v], r2,
                   report_automated(p->opened));
    }
    buf_printf(b, "\n%-6s %13s %12s %10s  %s\n", "link", "unique_clicks", "total_clicks",
               "automated", "url");
    for (size_t i = 0; i < st->n_links; i++) {
        const report_link_t *l = &st->links[i];
        buf_printf(b, "%-6u %13" PRIu64 " %12" PRIu64 " %10" PRIu64 "  %s\n", l->index,
                   l->unique_clicks.v[v], l->total_clicks.v[v], report_automated(l->total_clicks),
                   l->url);
    }
    buf_printf(b, "\n%-22s %8s %8s %10s %10s\n", "hourly", "opens", "clicks", "auto_opens",
               "auto_clicks");
    for (size_t i = 0; i < st->n_hours; i++) {
        const report_hour_t *h = &st->hours[i];
        char ts[32];
        time_format_us(h->hour_us, ts);
        ts[13] = 0; /* YYYY-MM-DDTHH */
        buf_printf(b, "%-22s %8" PRIu64 " %8" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n", ts,
                   h->opens.v[v], h->clicks.v[v], report_automated(h->opens),
                   report_automated(h->clicks));
    }
}

void report_stats_table_side_by_side(const report_stats_t *p, const report_stats_t *a, buf_t *b)
{
    char r1[16], r2[16];
    buf_printf(b, "campaign %s (account %" PRIu64 "): both views side by side\n", p->campaign,
               p->account);
    buf_printf(b, "%-22s %16s %16s\n", "metric", "people only", "all events");
    buf_printf(b, "%-22s %16s %16s\n", "view", report_view_name(p->view),
               report_view_name(a->view));
    buf_printf(b, "%-22s %16" PRIu64 " %16" PRIu64 "\n", "sent", p->sent, a->sent);
    const report_pair_t *pp[4] = {&p->unique_opens, &p->total_opens, &p->unique_clicks,
                                  &p->total_clicks};
    const report_pair_t *ap[4] = {&a->unique_opens, &a->total_opens, &a->unique_clicks,
                                  &a->total_clicks};
    const char *nm[4] = {"unique_opens", "total_opens", "unique_clicks", "total_clicks"};
    for (int i = 0; i < 4; i++)
        buf_printf(b, "%-22s %16" PRIu64 " %16" PRIu64 "\n", nm[i], pp[i]->v[p->view],
                   ap[i]->v[a->view]);
    pct(r1, report_rate(p->unique_opens.v[p->view], p->sent));
    pct(r2, report_rate(a->unique_opens.v[a->view], a->sent));
    buf_printf(b, "%-22s %16s %16s\n", "open_rate", r1, r2);
    pct(r1, report_rate(p->unique_clicks.v[p->view], p->sent));
    pct(r2, report_rate(a->unique_clicks.v[a->view], a->sent));
    buf_printf(b, "%-22s %16s %16s\n", "click_rate", r1, r2);
    pct(r1, report_rate(p->unique_clicks.v[p->view], p->unique_opens.v[p->view]));
    pct(r2, report_rate(a->unique_clicks.v[a->view], a->unique_opens.v[a->view]));
    buf_printf(b, "%-22s %16s %16s\n", "click_to_open_rate", r1, r2);
    buf_printf(b, "%-22s %16" PRIu64 " %16" PRIu64 "\n", "automated_excluded",
               report_automated_excluded(p), report_automated_excluded(a));
    pct(r1, p->estimate.estimated_human_open_rate);
    buf_printf(b, "%-22s %16s %16s\n", "est. human open rate", r1, "(estimate)");
    buf_printf(b, "  estimate method: %s\n", p->estimate.method ? p->estimate.method : "");

    buf_printf(b, "\n%-24s %10s %10s %10s %10s %10s %10s\n", "by_agent", "opens", "clicks",
               "honeypot", "automated", "human", "messages");
    for (size_t i = 0; i < p->n_agents; i++) {
        const report_agent_t *g = &p->agents[i];
        buf_printf(b,
                   "%-24s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
                   " %10" PRIu64 "\n",
                   g->name, g->opens, g->clicks, g->honeypot, g->automated,
                   g->events - g->automated, g->messages);
    }
    buf_printf(b, "\n%-20s %10s %14s %14s %14s %14s\n", "by_provider", "sent", "opens(people)",
               "opens(all)", "clicks(people)", "clicks(all)");
    for (size_t i = 0; i < p->n_providers; i++) {
        const report_provider_t *q = &p->providers[i];
        buf_printf(b,
                   "%-20s %10" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 "\n",
                   token_provider_name(q->code), q->sent, q->opened.v[REPORT_VIEW_PEOPLE],
                   q->opened.v[REPORT_VIEW_ALL], q->clicked.v[REPORT_VIEW_PEOPLE],
                   q->clicked.v[REPORT_VIEW_ALL]);
    }
}

/* ---- csv -------------------------------------------------------------------------- */

static void csv_field(buf_t *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        buf_puts(b, s);
        return;
    }
    buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"') buf_putc(b, '"');
        buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

static void csv_row(buf_t *b, const char *section, const char *name, const char *metric,
                    const char *value)
{
    csv_field(b, section);
    buf_putc(b, ',');
    csv_field(b, name);
    buf_putc(b, ',');
    csv_field(b, metric);
    buf_putc(b, ',');
    csv_field(b, value);
    buf_puts(b, "\r\n");
}

static void csv_u(buf_t *b, const char *section, const char *name, const char *metric, uint64_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%" PRIu64, v);
    csv_row(b, section, name, metric, s);
}

static void csv_r(buf_t *b, const char *section, const char *name, const char *metric, double v)
{
    char s[32];
    snprintf(s, sizeof(s), "%.4f", v);
    csv_row(b, section, name, metric, s);
}

void report_stats_csv(const report_stats_t *st, buf_t *b)
{
    report_view_t v = st->view;
    csv_row(b, "section", "name", "metric", "value");
    csv_row(b, "campaign", st->campaign, "view", report_view_name(v));
    csv_row(b, "campaign", st->campaign, "view_source", source_name(st->view_source));
    csv_u(b, "campaign", st->campaign, "account", st->account);
    csv_u(b, "campaign", st->campaign, "sent", st->sent);
    const report_pair_t *ps[4] = {&st->unique_opens, &st->total_opens, &st->unique_clicks,
                                  &st->total_clicks};
    const char *nm[4] = {"unique_opens", "total_opens", "unique_clicks", "total_clicks"};
    for (int i = 0; i < 4; i++) {
        char an[48];
        csv_u(b, "campaign", st->campaign, nm[i], ps[i]->v[v]);
        snprintf(an, sizeof(an), "automated_%s", nm[i]);
        csv_u(b, "campaign", st->campaign, an, report_automated(*ps[i]));
        snprintf(an, sizeof(an), "automated_share_%s", nm[i]);
        csv_r(b, "campaign", st->campaign, an, report_automated_share(*ps[i]));
    }
    csv_r(b, "campaign", st->campaign, "open_rate", report_rate(st->unique_opens.v[v], st->sent));
    csv_r(b, "campaign", st->campaign, "click_rate", report_rate(st->unique_clicks.v[v], st->sent));
    csv_r(b, "campaign", st->campaign, "click_to_open_rate",
          report_rate(st->unique_clicks.v[v], st->unique_opens.v[v]));
    csv_u(b, "campaign", st->campaign, "automated_excluded", report_automated_excluded(st));
    csv_u(b, "campaign", st->campaign, "honeypot_hits", st->honeypot.v[REPORT_VIEW_ALL]);
    csv_r(b, "estimate", "human_open_rate", "estimated_human_open_rate",
          st->estimate.estimated_human_open_rate);
    csv_row(b, "estimate", "human_open_rate", "method",
            st->estimate.method ? st->estimate.method : "");
    for (size_t i = 0; i < st->n_agents; i++) {
        const report_agent_t *a = &st->agents[i];
        csv_u(b, "by_agent", a->name, "events", a->events);
        csv_u(b, "by_agent", a->name, "opens", a->opens);
        csv_u(b, "by_agent", a->name, "clicks", a->clicks);
        csv_u(b, "by_agent", a->name, "honeypot", a->honeypot);
        csv_u(b, "by_agent", a->name, "automated", a->automated);
        csv_u(b, "by_agent", a->name, "messages", a->messages);
    }
    for (size_t i = 0; i < st->n_providers; i++) {
        const report_provider_t *p = &st->providers[i];
        const char *pn = token_provider_name(p->code);
        csv_u(b, "by_provider", pn, "sent", p->sent);
        csv_u(b, "by_provider", pn, "unique_opens", p->opened.v[v]);
        csv_u(b, "by_provider", pn, "unique_clicks", p->clicked.v[v]);
        csv_r(b, "by_provider", pn, "open_rate", report_rate(p->opened.v[v], p->sent));
        csv_u(b, "by_provider", pn, "automated_unique_opens", report_automated(p->opened));
    }
    for (size_t i = 0; i < st->n_links; i++) {
        const report_link_t *l = &st->links[i];
        char ln[16];
        snprintf(ln, sizeof(ln), "%u", l->index);
        csv_row(b, "links", ln, "url", l->url);
        csv_u(b, "links", ln, "unique_clicks", l->unique_clicks.v[v]);
        csv_u(b, "links", ln, "total_clicks", l->total_clicks.v[v]);
        csv_u(b, "links", ln, "automated_clicks", report_automated(l->total_clicks));
    }
    for (size_t i = 0; i < st->n_hours; i++) {
        const report_hour_t *h = &st->hours[i];
        char ts[32];
        time_format_us(h->hour_us, ts);
        csv_u(b, "hourly", ts, "opens", h->opens.v[v]);
        csv_u(b, "hourly", ts, "clicks", h->clicks.v[v]);
        csv_u(b, "hourly", ts, "automated_opens", report_automated(h->opens));
        csv_u(b, "hourly", ts, "automated_clicks", report_automated(h->clicks));
    }
}

/* ---- messages and campaigns ------------------------------------------------------- */

void report_message_json(const report_message_t *m, report_view_t view, buf_t *b)
{
    bool f = true;
    buf_putc(b, '{');
    jnum(b, &f, "id", m->id);
    jnum(b, &f, "account", m->account);
    json_key(b, &f, "campaign");
    json_str(b, m->campaign);
    json_key(b, &f, "message_id");
    json_str(b, m->message_id_hdr);
    json_key(b, &f, "recipient_domain");
    json_str(b, m->recipient_domain);
    jnum(b, &f, "recipient_count", m->recipient_count);
    json_key(b, &f, "recipient_hash");
    json_str(b, m->recipient_hash);
    if (m->recipient_addr.len) {
        json_key(b, &f, "recipient");
        json_str(b, m->recipient_addr);
    }
    json_time(b, &f, "sent_at", m->sent_at * 1000000);
    json_key(b, &f, "sent_at_unix");
    buf_printf(b, "%lld", (long long)m->sent_at);
    jnum(b, &f, "link_count", m->link_count);
    json_key(b, &f, "provider");
    json_cstr(b, token_provider_name(m->provider));
    json_key(b, &f, "view");
    json_cstr(b, report_view_name(view));
    json_key(b, &f, "opened");
    buf_puts(b, m->opened ? "true" : "false");
    json_key(b, &f, "clicked");
    buf_puts(b, m->clicked ? "true" : "false");
    json_time(b, &f, "first_open_at", m->first_open_us);
    json_time(b, &f, "first_click_at", m->first_click_us);
    jnum(b, &f, "opens", m->opens);
    jnum(b, &f, "clicks", m->clicks);
    json_key(b, &f, "other_view");
    buf_printf(b, "{\"view\":\"%s\",\"opened\":%s,\"clicked\":%s}",
               report_view_name(view == REPORT_VIEW_ALL ? REPORT_VIEW_PEOPLE : REPORT_VIEW_ALL),
               m->other_opened ? "true" : "false", m->other_clicked ? "true" : "false");
    buf_putc(b, '}');
}

void report_campaigns_json(const report_campaign_t *c, size_t n, buf_t *b)
{
    buf_puts(b, "{\"campaigns\":[");
    for (size_t i = 0; i < n; i++) {
        bool f = true;
        if (i) buf_putc(b, ',');
        buf_putc(b, '{');
        json_key(b, &f, "name");
        json_cstr(b, c[i].name);
        jnum(b, &f, "id", c[i].id);
        jnum(b, &f, "account", c[i].account);
        json_time(b, &f, "created_at", c[i].created_us);
        json_key(b, &f, "legal_hold");
        buf_puts(b, c[i].legal_hold ? "true" : "false");
        jnum(b, &f, "sent", c[i].sent);
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
}

void report_campaigns_table(const report_campaign_t *c, size_t n, buf_t *b)
{
    buf_printf(b, "%-8s %-8s %-32s %-28s %10s %s\n", "account", "id", "name", "created", "sent",
               "hold");
    for (size_t i = 0; i < n; i++) {
        char ts[32] = "-";
        if (c[i].created_us) time_format_us(c[i].created_us, ts);
        buf_printf(b, "%-8" PRIu64 " %-8" PRIu64 " %-32s %-28s %10" PRIu64 " %s\n", c[i].account,
                   c[i].id, c[i].name, ts, c[i].sent, c[i].legal_hold ? "yes" : "no");
    }
}
