#include <jansson.h>

#include "fixture.h"
#include "report/report.h"
#include "token/token.h"

#define T0 1780000000000000LL
#define S  1000000LL

static void fill(report_stats_t *st)
{
    sqlite3 *db = fx_open();
    fx_account(db, 1, 1);
    fx_campaign(db, 10, 1, "spring, \"quoted\"");
    fx_message(db, 1, 1, 10, TOKEN_PROVIDER_ICLOUD, T0 / S);
    fx_message(db, 2, 1, 10, TOKEN_PROVIDER_GMAIL, T0 / S);
    fx_event(db, 10, 1, 'o', 1, "apple_mpp", 0, T0 + 5 * S, NULL);
    fx_event(db, 10, 2, 'o', 0, "gmail_proxy", 0, T0 + 500 * S, NULL);
    fx_event(db, 10, 2, 'c', 0, "chrome", 1, T0 + 600 * S, "https://example.org/a,b");
    fx_settle(db);
    if (report_campaign_stats(db, 1, 10, -1, T0, st)) abort();
}

static json_t *parse(buf_t *b)
{
    json_error_t e;
    json_t *j = json_loadb(b->p, b->len, 0, &e);
    if (!j) fprintf(stderr, "json: %s at %d: %s\n", e.text, e.position, buf_cstr(b));
    return j;
}

static void test_json(const report_stats_t *st)
{
    buf_t b = BUF_INIT;
    report_stats_json(st, &b);
    json_t *j = parse(&b);
    CHECK(j != NULL);
    if (j) {
        static const char *const fields[] = {"sent",
                                             "unique_opens",
                                             "total_opens",
                                             "unique_clicks",
                                             "total_clicks",
                                             "open_rate",
                                             "click_rate",
                                             "view",
                                             "click_to_open_rate",
                                             "automated_excluded",
                                             "by_agent",
                                             "by_provider",
                                             "links",
                                             "hourly",
                                             "estimate",
                                             "automated",
                                             "other_view",
                                             "view_source",
                                             "campaign",
                                             "honeypot_hits"};
        for (size_t i = 0; i < TO_ARRAY_LEN(fields); i++) {
            if (!json_object_get(j, fields[i])) fprintf(stderr, "missing %s\n", fields[i]);
            CHECK(json_object_get(j, fields[i]) != NULL);
        }
        CHECK_STR(json_string_value(json_object_get(j, "view")), "people");
        CHECK_STR(json_string_value(json_object_get(j, "campaign")), "spring, \"quoted\"");
        CHECK_INT(json_integer_value(json_object_get(j, "sent")), 2);
        CHECK_INT(json_integer_value(json_object_get(j, "unique_opens")), 1);
        CHECK(json_real_value(json_object_get(j, "open_rate")) == 0.5);
        CHECK_INT(json_integer_value(json_object_get(j, "automated_excluded")), 1);
        json_t *ov = json_object_get(j, "other_view");
        CHECK_INT(json_integer_value(json_object_get(ov, "unique_opens")), 2);
        json_t *au = json_object_get(json_object_get(j, "automated"), "unique_opens");
        CHECK_INT(json_integer_value(json_object_get(au, "count")), 1);
        CHECK(json_real_value(json_object_get(au, "share")) == 0.5);
        CHECK_STR(json_string_value(json_object_get(json_object_get(j, "estimate"), "label")),
                  "estimate");
        CHECK_INT(json_array_size(json_object_get(j, "by_agent")), 3);
        CHECK_INT(json_array_size(json_object_get(j, "by_provider")), 2);
        json_t *l = json_array_get(json_object_get(j, "links"), 0);
        CHECK_STR(json_string_value(json_object_get(l, "url")), "https://example.org/a,b");
        json_t *h = json_array_get(json_object_get(j, "hourly"), 0);
        CHECK(json_is_string(json_object_get(h, "hour")));
        json_decref(j);
    }
    buf_clear(&b);
}

static void test_table_csv(const report_stats_t *st)
{
    buf_t b = BUF_INIT;
    report_stats_table(st, &b);
    CHECK(strstr(buf_cstr(&b), "view: people (from the account's setting)") != NULL);
    CHECK(strstr(buf_cstr(&b), "apple_mpp") != NULL);
    CHECK(strstr(buf_cstr(&b), "estimate: human open rate") != NULL);
    buf_reset(&b);
    report_stats_csv(st, &b);
    CHECK(strncmp(buf_cstr(&b), "section,name,metric,value\r\n", 27) == 0);
    CHECK(strstr(buf_cstr(&b), "campaign,\"spring, \"\"quoted\"\"\",view,people\r\n") != NULL);
    CHECK(strstr(buf_cstr(&b), "links,1,url,\"https://example.org/a,b\"\r\n") != NULL);
    CHECK(strstr(buf_cstr(&b), "by_agent,apple_mpp,automated,1\r\n") != NULL);
    buf_reset(&b);
    report_stats_table_side_by_side(st, st, &b);
    CHECK(strstr(buf_cstr(&b), "people only") != NULL && strstr(buf_cstr(&b), "all events"));
    buf_clear(&b);
    report_format_t f;
    CHECK(report_format_parse("csv", &f) && f == REPORT_FMT_CSV);
    CHECK(!report_format_parse("xml", &f));
    CHECK(!report_format_parse(NULL, &f));
}

static void test_campaigns_and_message(void)
{
    char nm[] = "a\"b";
    report_campaign_t c = {.id = 3, .account = 1, .name = nm, .sent = 9};
    buf_t b = BUF_INIT;
    report_campaigns_json(&c, 1, &b);
    json_t *j = parse(&b);
    CHECK(j && json_array_size(json_object_get(j, "campaigns")) == 1);
    json_decref(j);
    buf_reset(&b);
    report_message_t m = {.id = 5,
                          .account = 2,
                          .campaign = SLICE_LIT("spring"),
                          .message_id_hdr = SLICE_LIT("<x@y>"),
                          .recipient_domain = SLICE_LIT("y"),
                          .recipient_count = 1,
                          .link_count = 4,
                          .sent_at = 1764756000,
                          .opened = true,
                          .first_open_us = T0,
                          .opens = 2};
    report_message_json(&m, REPORT_VIEW_ALL, &b);
    j = parse(&b);
    CHECK(j != NULL);
    if (j) {
        CHECK(json_is_true(json_object_get(j, "opened")));
        CHECK(json_is_false(json_object_get(j, "clicked")));
        CHECK(json_is_null(json_object_get(j, "first_click_at")));
        CHECK(json_object_get(j, "recipient") == NULL); /* not kept */
        CHECK_STR(json_string_value(json_object_get(j, "view")), "all");
        CHECK_STR(json_string_value(json_object_get(j, "campaign")), "spring");
        CHECK_STR(json_string_value(json_object_get(j, "message_id")), "<x@y>");
        CHECK_INT(json_integer_value(json_object_get(j, "link_count")), 4);
        CHECK_INT(json_integer_value(json_object_get(j, "sent_at_unix")), 1764756000);
        CHECK_STR(json_string_value(json_object_get(j, "sent_at")), "2025-12-03T10:00:00.000000Z");
        json_decref(j);
    }
    buf_reset(&b);
    m.recipient_addr = SLICE_LIT("a@y");
    report_message_json(&m, REPORT_VIEW_PEOPLE, &b);
    j = parse(&b);
    CHECK(j && json_object_get(j, "recipient") != NULL);
    json_decref(j);
    buf_clear(&b);
}

int main(void)
{
    report_stats_t st;
    fill(&st);
    test_json(&st);
    test_table_csv(&st);
    report_stats_clear(&st);
    fx_close();
    test_campaigns_and_message();
    return test_done();
}
