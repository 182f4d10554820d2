#include "fixture.h"
#include "report/report.h"
#include "token/token.h"

#define T0 1780000000000000LL /* microseconds */
#define S  1000000LL

/*
 * The scenario (campaign "spring", account 1, sent at T0):
 *  1 icloud: Apple MPP prefetch, then a person in Apple Mail an hour later
 *  2 icloud: Apple MPP prefetch only (the person's opens are hidden)
 *  3 gmail: a person through Gmail's image proxy, then a click on link 1
 *  4 microsoft365: Safe Links follows links 1 and 2, nobody opens
 *  5 gmail: nothing
 *  6 gmail: Gmail's prefetcher, and a hit on the honeypot
 */
static sqlite3 *scenario(int suppress)
{
    sqlite3 *db = fx_open();
    fx_account(db, 1, suppress);
    fx_account(db, 2, 1);
    fx_campaign(db, 10, 1, "spring");
    fx_campaign(db, 11, 2, "spring");
    fx_campaign(db, 12, 2, "other");
    int prov[7] = {0,
                   TOKEN_PROVIDER_ICLOUD,
                   TOKEN_PROVIDER_ICLOUD,
                   TOKEN_PROVIDER_GMAIL,
                   TOKEN_PROVIDER_MICROSOFT365,
                   TOKEN_PROVIDER_GMAIL,
                   TOKEN_PROVIDER_GMAIL};
    for (int i = 1; i <= 6; i++) fx_message(db, i, 1, 10, prov[i], T0 / S);
    fx_message(db, 7, 2, 11, TOKEN_PROVIDER_GMAIL, T0 / S);
    fx_event(db, 10, 1, 'o', 1, "apple_mpp", 0, T0 + 5 * S, NULL);
    fx_event(db, 10, 1, 'o', 0, "apple_mail", 0, T0 + 3700 * S, NULL);
    fx_event(db, 10, 2, 'o', 1, "apple_mpp", 0, T0 + 6 * S, NULL);
    fx_event(db, 10, 3, 'o', 0, "gmail_proxy", 0, T0 + 7200 * S, NULL);
    fx_event(db, 10, 3, 'c', 0, "chrome", 1, T0 + 7300 * S, "https://example.org/a");
    fx_event(db, 10, 4, 'c', 1, "safe_links", 2, T0 + 20 * S, "https://example.org/b");
    fx_event(db, 10, 4, 'c', 1, "safe_links", 1, T0 + 19 * S, "https://example.org/a");
    fx_event(db, 10, 6, 'o', 1, "gmail_prefetch", 0, T0 + 3 * S, NULL);
    fx_event(db, 10, 6, 'h', 1, "gmail_prefetch", 65535, T0 + 4 * S, NULL);
    fx_event(db, 11, 7, 'o', 0, "thunderbird", 0, T0 + 9 * S, NULL);
    fx_settle(db);
    return db;
}

static const report_agent_t *agent(const report_stats_t *st, const char *name)
{
    for (size_t i = 0; i < st->n_agents; i++)
        if (!strcmp(st->agents[i].name, name)) return &st->agents[i];
    return NULL;
}

static const report_link_t *link_of(const report_stats_t *st, unsigned idx)
{
    for (size_t i = 0; i < st->n_links; i++)
        if (st->links[i].index == idx) return &st->links[i];
    return NULL;
}

static void test_views(void)
{
    sqlite3 *db = scenario(1);
    report_stats_t st;
    CHECK_INT(report_campaign_stats(db, 1, 10, -1, T0, &st), 0);
    CHECK_INT(st.view, REPORT_VIEW_PEOPLE);
    CHECK_INT(st.view_source, REPORT_VIEW_FROM_SETTING);
    CHECK_STR(st.campaign, "spring");
    CHECK_INT(st.sent, 6);
    CHECK_INT(st.unique_opens.v[REPORT_VIEW_PEOPLE], 2);
    CHECK_INT(st.unique_opens.v[REPORT_VIEW_ALL], 5);
    CHECK_INT(st.total_opens.v[REPORT_VIEW_PEOPLE], 2);
    CHECK_INT(st.total_opens.v[REPORT_VIEW_ALL], 5);
    CHECK_INT(st.unique_clicks.v[REPORT_VIEW_PEOPLE], 1);
    CHECK_INT(st.unique_clicks.v[REPORT_VIEW_ALL], 2);
    CHECK_INT(st.total_clicks.v[REPORT_VIEW_PEOPLE], 1);
    CHECK_INT(st.total_clicks.v[REPORT_VIEW_ALL], 3);
    CHECK_INT(report_automated_excluded(&st), 5);
    CHECK_INT(st.events, 9);
    CHECK_INT(st.automated_events, 6);
    CHECK_INT(st.honeypot.v[REPORT_VIEW_ALL], 1);
    CHECK_INT(report_automated(st.unique_opens), 3);
    CHECK(report_automated_share(st.unique_opens) > 0.59 &&
          report_automated_share(st.unique_opens) < 0.61);

    const report_agent_t *a = agent(&st, "apple_mpp");
    CHECK(a && a->opens == 2 && a->messages == 2 && a->automated == 2);
    a = agent(&st, "safe_links");
    CHECK(a && a->clicks == 2 && a->messages == 1 && a->automated == 2);
    a = agent(&st, "gmail_prefetch");
    CHECK(a && a->honeypot == 1 && a->opens == 1);
    CHECK(agent(&st, "thunderbird") == NULL); /* another account's campaign */

    const report_link_t *l1 = link_of(&st, 1), *l2 = link_of(&st, 2);
    CHECK(l1 && l2);
    if (l1 && l2) {
        CHECK_INT(l1->unique_clicks.v[REPORT_VIEW_PEOPLE], 1);
        CHECK_INT(l1->unique_clicks.v[REPORT_VIEW_ALL], 2);
        CHECK_INT(l1->total_clicks.v[REPORT_VIEW_ALL], 2);
        CHECK_INT(l2->unique_clicks.v[REPORT_VIEW_PEOPLE], 0);
        CHECK_INT(l2->total_clicks.v[REPORT_VIEW_ALL], 1);
        CHECK_STR(l1->url, "https://example.org/a");
        CHECK_STR(l2->url, "https://example.org/b");
    }
    CHECK(link_of(&st, 65535) == NULL); /* the honeypot is not a link */

    CHECK_INT(st.n_providers, 3);
    for (size_t i = 0; i < st.n_providers; i++) {
        const report_provider_t *p = &st.providers[i];
        if (p->code == TOKEN_PROVIDER_ICLOUD) {
            CHECK_INT(p->sent, 2);
            CHECK_INT(p->opened.v[REPORT_VIEW_PEOPLE], 1);
            CHECK_INT(p->opened.v[REPORT_VIEW_ALL], 2);
        } else if (p->code == TOKEN_PROVIDER_GMAIL) {
            CHECK_INT(p->sent, 3);
            CHECK_INT(p->opened.v[REPORT_VIEW_PEOPLE], 1);
            CHECK_INT(p->opened.v[REPORT_VIEW_ALL], 2);
        } else {
            CHECK_INT(p->code, TOKEN_PROVIDER_MICROSOFT365);
            CHECK_INT(p->clicked.v[REPORT_VIEW_ALL], 1);
            CHECK_INT(p->clicked.v[REPORT_VIEW_PEOPLE], 0);
        }
    }

    /* hours: T0 (5 events at +3..+20 s), T0+1h (one open), T0+2h (open, click) */
    CHECK_INT(st.n_hours, 3);
    if (st.n_hours == 3) {
        CHECK(st.hours[0].hour_us <= T0 && st.hours[0].hour_us + 3600 * S > T0);
        CHECK_INT(st.hours[0].opens.v[REPORT_VIEW_ALL], 3);
        CHECK_INT(st.hours[0].opens.v[REPORT_VIEW_PEOPLE], 0);
        CHECK_INT(st.hours[0].clicks.v[REPORT_VIEW_ALL], 2);
        CHECK_INT(st.hours[2].clicks.v[REPORT_VIEW_PEOPLE], 1);
    }

    /* Apple: 2 messages, one seen opened by a person; comparable: 4, one opened. */
    CHECK_INT(st.estimate.apple_messages, 2);
    CHECK_INT(st.estimate.apple_human_opened, 1);
    CHECK_INT(st.estimate.comparable_messages, 4);
    CHECK_INT(st.estimate.comparable_human_opened, 1);
    CHECK(st.estimate.estimated_human_open_rate > 0.333 &&
          st.estimate.estimated_human_open_rate < 0.334);
    CHECK(st.estimate.method && strstr(st.estimate.method, "comparable"));
    report_stats_clear(&st);

    /* An explicit view wins over the setting. */
    CHECK_INT(report_campaign_stats(db, 1, 10, REPORT_VIEW_ALL, T0, &st), 0);
    CHECK_INT(st.view, REPORT_VIEW_ALL);
    CHECK_INT(st.view_source, REPORT_VIEW_FROM_REQUEST);
    CHECK_INT(report_automated_excluded(&st), 0);
    report_stats_clear(&st);

    /* Another account's campaign is not found. */
    CHECK_INT(report_campaign_stats(db, 2, 10, -1, T0, &st), TO_ENOTFOUND);
    CHECK_INT(report_campaign_stats(db, 1, 999, -1, T0, &st), TO_ENOTFOUND);
    fx_close();

    /* suppress_automated off: the default view counts everything. */
    db = scenario(0);
    CHECK_INT(report_campaign_stats(db, 1, 10, -1, T0, &st), 0);
    CHECK_INT(st.view, REPORT_VIEW_ALL);
    CHECK_INT(st.view_source, REPORT_VIEW_FROM_SETTING);
    report_stats_clear(&st);
    fx_close();
}

static void test_find_and_list(void)
{
    sqlite3 *db = scenario(1);
    uint64_t acc = 0, id = 0;
    CHECK_INT(report_find_campaign(db, 0, slice_cstr("spring"), &acc, &id), TO_EINVAL);
    CHECK_INT(report_find_campaign(db, 2, slice_cstr("spring"), &acc, &id), 0);
    CHECK_INT(acc, 2);
    CHECK_INT(id, 11);
    CHECK_INT(report_find_campaign(db, 0, slice_cstr("other"), &acc, &id), 0);
    CHECK_INT(id, 12);
    CHECK_INT(report_find_campaign(db, 1, slice_cstr("other"), &acc, &id), TO_ENOTFOUND);
    report_campaign_t *c;
    size_t n;
    CHECK_INT(report_list_campaigns(db, 2, &c, &n), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(c[0].name, "other");
        CHECK_INT(c[1].sent, 1);
    }
    report_campaigns_free(c, n);
    CHECK_INT(report_list_campaigns(db, 0, &c, &n), 0);
    CHECK_INT(n, 3);
    report_campaigns_free(c, n);
    CHECK_INT(report_default_view(db, 1), REPORT_VIEW_PEOPLE);
    CHECK_INT(report_default_view(db, 77), REPORT_VIEW_PEOPLE); /* new accounts suppress */
    fx_close();
}

static void test_empty_campaign(void)
{
    sqlite3 *db = fx_open();
    fx_campaign(db, 1, 1, "empty");
    report_stats_t st;
    CHECK_INT(report_campaign_stats(db, 1, 1, -1, T0, &st), 0);
    CHECK_INT(st.sent, 0);
    CHECK_INT(st.n_agents, 0);
    CHECK_INT(st.n_hours, 0);
    CHECK(st.estimate.estimated_human_open_rate == 0.0);
    report_stats_clear(&st);
    fx_close();
}

/* More distinct agents than the report keeps apart: the rest are "other", nothing is
 * lost or overwritten. */
static void test_many_agents(void)
{
    sqlite3 *db = fx_open();
    fx_campaign(db, 1, 1, "many");
    fx_message(db, 1, 1, 1, 0, T0 / S);
    fx_exec(db, "BEGIN");
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof(name), "agent%03d", i);
        fx_event(db, 1, 1, 'o', 1, name, 0, T0 + i * S, NULL);
    }
    fx_exec(db, "COMMIT");
    fx_settle(db);
    report_stats_t st;
    CHECK_INT(report_campaign_stats(db, 1, 1, -1, T0, &st), 0);
    CHECK(st.n_agents <= 256);
    uint64_t total = 0;
    for (size_t i = 0; i < st.n_agents; i++) total += st.agents[i].events;
    CHECK_INT(total, 300);
    const report_agent_t *o = agent(&st, "other");
    CHECK(o && o->events == 300 - 255);
    const report_agent_t *first = agent(&st, "agent000");
    CHECK(first && first->events == 1);
    report_stats_clear(&st);
    fx_close();
}

static void test_view_parse(void)
{
    report_view_t v;
    CHECK(report_view_parse(slice_cstr("people"), &v) && v == REPORT_VIEW_PEOPLE);
    CHECK(report_view_parse(slice_cstr("all"), &v) && v == REPORT_VIEW_ALL);
    CHECK(!report_view_parse(slice_cstr("everything"), &v));
    CHECK_STR(report_view_name(REPORT_VIEW_ALL), "all");
    CHECK(report_rate(1, 0) == 0.0);
}

int main(void)
{
    test_views();
    test_find_and_list();
    test_empty_campaign();
    test_many_agents();
    test_view_parse();
    return test_done();
}
