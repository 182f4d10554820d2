#include "fixture.h"
#include "report/report.h"
#include "token/token.h"

#define T0 1780000000000000LL
#define S  1000000LL

static buf_t key1, key2;

static sqlite3 *setup(void)
{
    sqlite3 *db = fx_open();
    fx_account(db, 1, 1);
    fx_account(db, 2, 1);
    fx_campaign(db, 10, 1, "spring sale");
    fx_campaign(db, 11, 2, "private");
    fx_message(db, 1, 1, 10, TOKEN_PROVIDER_ICLOUD, T0 / S);
    fx_message(db, 2, 1, 10, TOKEN_PROVIDER_GMAIL, T0 / S);
    fx_message(db, 3, 2, 11, TOKEN_PROVIDER_GMAIL, T0 / S);
    fx_event(db, 10, 1, 'o', 1, "apple_mpp", 0, T0 + 5 * S, NULL);
    fx_event(db, 10, 2, 'o', 0, "gmail_proxy", 0, T0 + 500 * S, NULL);
    fx_event(db, 11, 3, 'o', 0, "thunderbird", 0, T0 + 9 * S, NULL);
    fx_settle(db);
    util_rand_t r = rand_fixed(1);
    int64_t id;
    buf_init(&key1);
    buf_init(&key2);
    if (store_apikey_new(fx_store, 1, &r, T0, &key1, &id) ||
        store_apikey_new(fx_store, 2, &r, T0, &key2, &id))
        abort();
    return db;
}

static int call(const char *method, const char *target, const char *key, const char *body,
                buf_t *out)
{
    char auth[128] = "";
    if (key) snprintf(auth, sizeof(auth), "Bearer %s", key);
    const char *q = strchr(target, '?');
    report_api_request_t rq = {
        .method = slice_cstr(method),
        .path = q ? slice_make(target, (size_t)(q - target)) : slice_cstr(target),
        .query = q ? slice_cstr(q + 1) : SLICE_NULL,
        .authorization = slice_cstr(auth),
        .body = body ? slice_cstr(body) : SLICE_NULL,
        .remote = "127.0.0.1",
    };
    report_api_response_t resp;
    buf_init(&resp.body);
    report_api_handle(fx_store, &rq, T0 + 3600 * S, &resp);
    buf_reset(out);
    buf_append_slice(out, buf_slice(&resp.body));
    buf_clear(&resp.body);
    return resp.status;
}

static long long count(sqlite3 *db, const char *q)
{
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_auth_and_isolation(sqlite3 *db)
{
    buf_t b = BUF_INIT;
    CHECK_INT(call("GET", "/api/v1/campaigns", NULL, NULL, &b), 401);
    CHECK_INT(call("GET", "/api/v1/campaigns", "tok_wrongwrongwrongwrong", NULL, &b), 401);
    CHECK_INT(call("GET", "/api/v1/campaigns", buf_cstr(&key1), NULL, &b), 200);
    CHECK(strstr(buf_cstr(&b), "\"spring sale\"") != NULL);
    CHECK(strstr(buf_cstr(&b), "private") == NULL);
    /* another account's campaign looks exactly like a missing one */
    CHECK_INT(call("GET", "/api/v1/campaigns/private/stats", buf_cstr(&key1), NULL, &b), 404);
    CHECK(strstr(buf_cstr(&b), "thunderbird") == NULL);
    CHECK_INT(call("GET", "/api/v1/campaigns/private/messages", buf_cstr(&key1), NULL, &b), 404);
    CHECK_INT(call("GET", "/api/v1/campaigns/nothing/stats", buf_cstr(&key1), NULL, &b), 404);
    CHECK_INT(call("GET", "/api/v1/campaigns/private/stats", buf_cstr(&key2), NULL, &b), 200);
    CHECK(strstr(buf_cstr(&b), "thunderbird") != NULL);
    CHECK_INT(call("GET", "/api/v1/nowhere", buf_cstr(&key1), NULL, &b), 404);
    CHECK_INT(call("POST", "/api/v1/campaigns", buf_cstr(&key1), NULL, &b), 405);
    /* every call is audited, refused ones too */
    CHECK_INT(count(db, "SELECT count(*) FROM audit"), 9);
    CHECK_INT(count(db, "SELECT count(*) FROM audit WHERE status = 401 AND account IS NULL"), 2);
    CHECK_INT(count(db, "SELECT count(*) FROM audit WHERE account = 1 AND key_id IS NOT NULL"
                        " AND target = '/api/v1/campaigns/private/stats' AND status = 404"),
              1);
    buf_clear(&b);
}

static void test_views(void)
{
    buf_t b = BUF_INIT;
    CHECK_INT(call("GET", "/api/v1/campaigns/spring%20sale/stats", buf_cstr(&key1), NULL, &b), 200);
    CHECK(strstr(buf_cstr(&b), "\"view\":\"people\"") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"view_source\":\"account_setting\"") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"unique_opens\":1,") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"automated_excluded\":1,") != NULL);
    CHECK_INT(
        call("GET", "/api/v1/campaigns/spring%20sale/stats?view=all", buf_cstr(&key1), NULL, &b),
        200);
    CHECK(strstr(buf_cstr(&b), "\"view\":\"all\"") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"unique_opens\":2,") != NULL);
    CHECK_INT(call("GET", "/api/v1/campaigns/spring%20sale/stats?include_automated=1",
                   buf_cstr(&key1), NULL, &b),
              200);
    CHECK(strstr(buf_cstr(&b), "\"view\":\"all\"") != NULL);
    CHECK_INT(call("GET", "/api/v1/campaigns/spring%20sale/stats?exclude_automated=1",
                   buf_cstr(&key1), NULL, &b),
              200);
    CHECK(strstr(buf_cstr(&b), "\"view_source\":\"request\"") != NULL);
    CHECK_INT(call("GET", "/api/v1/campaigns/spring%20sale/stats?view=all&exclude_automated=1",
                   buf_cstr(&key1), NULL, &b),
              400);
    CHECK_INT(
        call("GET", "/api/v1/campaigns/spring%20sale/stats?view=most", buf_cstr(&key1), NULL, &b),
        400);
    CHECK_INT(call("GET", "/api/v1/campaigns/spring%2/stats", buf_cstr(&key1), NULL, &b), 400);

    /* messages: opened in the view asked for */
    CHECK_INT(call("GET", "/api/v1/campaigns/spring%20sale/messages", buf_cstr(&key1), NULL, &b),
              200);
    CHECK(strstr(buf_cstr(&b), "\"id\":1,") != NULL);
    const char *m1 = strstr(buf_cstr(&b), "\"id\":1,");
    CHECK(m1 && strstr(m1, "\"opened\":false") < strstr(m1, "\"id\":2,"));
    CHECK(strstr(buf_cstr(&b), "\"next_after\":null") != NULL);
    CHECK_INT(call("GET", "/api/v1/campaigns/spring%20sale/messages?view=all&limit=1",
                   buf_cstr(&key1), NULL, &b),
              200);
    CHECK(strstr(buf_cstr(&b), "\"opened\":true") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"next_after\":1") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"id\":2,") == NULL);
    CHECK_INT(
        call("GET", "/api/v1/campaigns/spring%20sale/messages?after=1", buf_cstr(&key1), NULL, &b),
        200);
    CHECK(strstr(buf_cstr(&b), "\"id\":2,") != NULL && strstr(buf_cstr(&b), "\"id\":1,") == NULL);
    CHECK_INT(
        call("GET", "/api/v1/campaigns/spring%20sale/messages?limit=0", buf_cstr(&key1), NULL, &b),
        400);
    CHECK_INT(call("GET", "/api/v1/campaigns/spring%20sale/messages?limit=999999", buf_cstr(&key1),
                   NULL, &b),
              400);
    buf_clear(&b);
}

static void test_settings(void)
{
    buf_t b = BUF_INIT;
    CHECK_INT(call("GET", "/api/v1/settings", buf_cstr(&key1), NULL, &b), 200);
    CHECK(strstr(buf_cstr(&b), "\"suppress_automated\":true") != NULL);
    CHECK_INT(call("PUT", "/api/v1/settings", buf_cstr(&key1),
                   "{\"suppress_automated\":false,\"retention_days\":90}", &b),
              200);
    CHECK(strstr(buf_cstr(&b), "\"suppress_automated\":false") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"retention_days\":90") != NULL);
    /* the setting now picks the default view */
    CHECK_INT(call("GET", "/api/v1/campaigns/spring%20sale/stats", buf_cstr(&key1), NULL, &b), 200);
    CHECK(strstr(buf_cstr(&b), "\"view\":\"all\"") != NULL);
    /* bad bodies change nothing */
    CHECK_INT(call("PUT", "/api/v1/settings", buf_cstr(&key1),
                   "{\"suppress_automated\":true,\"retention_days\":0}", &b),
              400);
    CHECK_INT(call("PUT", "/api/v1/settings", buf_cstr(&key1), "{\"colour\":true}", &b), 400);
    CHECK_INT(call("PUT", "/api/v1/settings", buf_cstr(&key1), "[1,2]", &b), 400);
    CHECK_INT(call("PUT", "/api/v1/settings", buf_cstr(&key1), "{\"honeypot\":\"yes\"}", &b), 400);
    CHECK_INT(call("PUT", "/api/v1/settings", buf_cstr(&key1), "not json", &b), 400);
    CHECK_INT(call("GET", "/api/v1/settings", buf_cstr(&key1), NULL, &b), 200);
    CHECK(strstr(buf_cstr(&b), "\"suppress_automated\":false") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"retention_days\":90") != NULL);
    /* account 2 is untouched */
    CHECK_INT(call("GET", "/api/v1/settings", buf_cstr(&key2), NULL, &b), 200);
    CHECK(strstr(buf_cstr(&b), "\"suppress_automated\":true") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"account\":2") != NULL);
    buf_clear(&b);
}

static void test_helpers(void)
{
    buf_t b = BUF_INIT;
    CHECK(report_url_decode(slice_cstr("a%2Fb+c%41"), &b));
    CHECK_STR(buf_cstr(&b), "a/b cA");
    buf_reset(&b);
    CHECK(!report_url_decode(slice_cstr("a%2"), &b));
    CHECK(!report_url_decode(slice_cstr("a%00"), &b));
    CHECK(!report_url_decode(slice_cstr("%zz"), &b));
    buf_clear(&b);
    slice_t v;
    CHECK(report_query_get(slice_cstr("a=1&view=all&b"), "view", &v) && slice_eq_cstr(v, "all"));
    CHECK(report_query_get(slice_cstr("a=1&b"), "b", &v) && v.len == 0);
    CHECK(!report_query_get(slice_cstr("viewx=1"), "view", &v));
    CHECK(!report_query_get(SLICE_NULL, "view", &v));
}

int main(void)
{
    sqlite3 *db = setup();
    test_auth_and_isolation(db);
    test_views();
    test_settings();
    fx_close();
    buf_clear(&key1);
    buf_clear(&key2);
    test_helpers();
    return test_done();
}
