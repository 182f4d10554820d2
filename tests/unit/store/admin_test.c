#include <sqlite3.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"

#define DAY_US (86400LL * 1000000LL)
#define NOW    (1790000000LL * 1000000LL)

static char path[64];

static store_t *open_tmp(void)
{
    snprintf(path, sizeof(path), "/tmp/to-admin-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) abort();
    close(fd);
    unlink(path);
    store_t *s;
    char err[256];
    if (store_open(path, &s, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    return s;
}

static void close_tmp(store_t *s)
{
    store_close(s);
    char p[96];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

static void sql(store_t *s, const char *q)
{
    char *e = NULL;
    if (sqlite3_exec(store_sqlite_handle(s), q, NULL, NULL, &e) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", q, e);
        abort();
    }
}

static long long count(store_t *s, const char *q)
{
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_prepare_v2(store_sqlite_handle(s), q, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_settings(void)
{
    store_t *s = open_tmp();
    store_settings_t st;
    CHECK_INT(store_settings_get(s, 5, &st), 0);
    CHECK(!st.exists && st.suppress_automated && st.honeypot && !st.keep_recipient_address);
    CHECK_INT(st.retention_days, 365);
    char err[256];
    CHECK_INT(store_settings_set(s, 5, "suppress_automated", "off", NOW, err, sizeof(err)), 0);
    CHECK_INT(store_settings_set(s, 5, "retention_days", "30", NOW, err, sizeof(err)), 0);
    CHECK_INT(store_settings_set(s, 5, "keep_recipient_address", "on", NOW, err, sizeof(err)), 0);
    CHECK_INT(store_settings_set(s, 5, "honeypot", "false", NOW, err, sizeof(err)), 0);
    CHECK_INT(store_settings_get(s, 5, &st), 0);
    CHECK(st.exists && !st.suppress_automated && st.keep_recipient_address && !st.honeypot);
    CHECK_INT(st.retention_days, 30);
    /* bad input: a clear error, nothing changes */
    CHECK_INT(store_settings_set(s, 5, "retention_days", "0", NOW, err, sizeof(err)), TO_EINVAL);
    CHECK(strstr(err, "retention_days") != NULL);
    CHECK_INT(store_settings_set(s, 5, "retention_days", "ten", NOW, err, sizeof(err)), TO_EINVAL);
    CHECK_INT(store_settings_set(s, 5, "suppress_automated", "maybe", NOW, err, sizeof(err)),
              TO_EINVAL);
    CHECK_INT(store_settings_set(s, 5, "colour", "on", NOW, err, sizeof(err)), TO_EINVAL);
    CHECK_INT(store_settings_set(s, 0, "honeypot", "on", NOW, err, sizeof(err)), TO_EINVAL);
    CHECK_INT(store_settings_get(s, 5, &st), 0);
    CHECK_INT(st.retention_days, 30);
    CHECK(!st.suppress_automated);
    buf_t b = BUF_INIT;
    store_settings_json(&st, &b);
    CHECK(strstr(buf_cstr(&b), "\"suppress_automated\":false") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"retention_days\":30") != NULL);
    buf_clear(&b);
    close_tmp(s);
}

static void test_apikeys(void)
{
    store_t *s = open_tmp();
    util_rand_t r = rand_fixed(7);
    buf_t k1 = BUF_INIT, k2 = BUF_INIT;
    int64_t id1, id2;
    CHECK_INT(store_apikey_new(s, 1, &r, NOW, &k1, &id1), 0);
    CHECK_INT(store_apikey_new(s, 2, &r, NOW, &k2, &id2), 0);
    CHECK(slice_starts(buf_slice(&k1), STORE_APIKEY_PREFIX));
    CHECK_INT(k1.len, 4 + 43);
    CHECK(strcmp(buf_cstr(&k1), buf_cstr(&k2)) != 0);
    /* stored hashed: the key text is nowhere in the table */
    char q[256];
    snprintf(q, sizeof(q), "SELECT count(*) FROM api_keys WHERE hash = '%s' OR prefix = '%s'",
             buf_cstr(&k1), buf_cstr(&k1));
    CHECK_INT(count(s, q), 0);
    CHECK_INT(count(s, "SELECT count(*) FROM api_keys WHERE length(hash) = 64"), 2);

    uint64_t acc;
    int64_t kid;
    CHECK_INT(store_apikey_check(s, buf_slice(&k1), &acc, &kid), 0);
    CHECK_INT(acc, 1);
    CHECK_INT(kid, id1);
    CHECK_INT(store_apikey_check(s, buf_slice(&k2), &acc, &kid), 0);
    CHECK_INT(acc, 2);
    CHECK_INT(store_apikey_check(s, slice_cstr("tok_nonsense-nonsense-nonsense"), &acc, &kid),
              TO_EPERM);
    CHECK_INT(store_apikey_check(s, slice_cstr(""), &acc, &kid), TO_EPERM);

    store_apikey_t *ks;
    size_t n;
    CHECK_INT(store_apikey_list(s, 1, &ks, &n), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_INT(ks[0].id, id1);
        CHECK(!strncmp(ks[0].prefix, buf_cstr(&k1), STORE_APIKEY_SHOWN));
        CHECK_INT(strlen(ks[0].prefix), STORE_APIKEY_SHOWN);
    }
    free(ks);
    /* revoking another account's key fails; revoking one's own works once */
    CHECK_INT(store_apikey_revoke(s, 2, id1, NOW), TO_ENOTFOUND);
    CHECK_INT(store_apikey_revoke(s, 1, id1, NOW), 0);
    CHECK_INT(store_apikey_revoke(s, 1, id1, NOW), TO_ENOTFOUND);
    CHECK_INT(store_apikey_check(s, buf_slice(&k1), &acc, &kid), TO_EPERM);
    CHECK_INT(store_apikey_list(s, 0, &ks, &n), 0);
    CHECK_INT(n, 2);
    if (n == 2) CHECK(ks[0].revoked_us == NOW && ks[1].revoked_us == 0);
    free(ks);
    buf_clear(&k1);
    buf_clear(&k2);
    close_tmp(s);
}

typedef struct {
    int n;
    char last[256];
} audit_acc_t;

static int audit_cb(void *arg, const store_audit_t *a)
{
    audit_acc_t *x = arg;
    x->n++;
    snprintf(x->last, sizeof(x->last), "%s %s %s %d %llu %lld", a->via, a->action, a->target,
             a->status, (unsigned long long)a->account, (long long)a->key_id);
    return 0;
}

static void test_audit(void)
{
    store_t *s = open_tmp();
    store_audit_t a = {.ts_us = NOW,
                       .via = "api",
                       .account = 3,
                       .key_id = 9,
                       .action = "GET",
                       .target = "/api/v1/campaigns",
                       .status = 200,
                       .remote = "127.0.0.1"};
    CHECK_INT(store_audit_add(s, &a), 0);
    a.account = 0;
    a.key_id = 0;
    a.status = 401;
    a.ts_us = NOW + 1;
    CHECK_INT(store_audit_add(s, &a), 0);
    audit_acc_t x = {0};
    CHECK_INT(store_audit_list(s, 0, 0, audit_cb, &x), 0);
    CHECK_INT(x.n, 2);
    CHECK_STR(x.last, "api GET /api/v1/campaigns 401 0 0");
    x.n = 0;
    CHECK_INT(store_audit_list(s, 0, 3, audit_cb, &x), 0);
    CHECK_INT(x.n, 1);
    CHECK_STR(x.last, "api GET /api/v1/campaigns 200 3 9");
    x.n = 0;
    CHECK_INT(store_audit_list(s, NOW + 1, 0, audit_cb, &x), 0);
    CHECK_INT(x.n, 1);
    close_tmp(s);
}

/* Two campaigns of account 1 (retention 30 days), one under hold; messages sent 40 and
 * 10 days ago, each with one event at sending. */
static void test_retain(void)
{
    store_t *s = open_tmp();
    char err[256];
    CHECK_INT(store_settings_set(s, 1, "retention_days", "30", NOW, err, sizeof(err)), 0);
    sql(s, "INSERT INTO campaigns(id, account, name, created_us) VALUES(1, 1, 'old', 0),"
           " (2, 1, 'kept', 0), (3, 2, 'other', 0)");
    long long old_s = NOW / 1000000 - 40 * 86400, new_s = NOW / 1000000 - 10 * 86400;
    char q[2048];
    int id = 1;
    for (int c = 1; c <= 3; c++)
        for (int k = 0; k < 2; k++, id++) {
            long long sent = k ? new_s : old_s;
            snprintf(
                q, sizeof(q),
                "INSERT INTO messages(id, account, campaign, sent_at) VALUES(%d, %d, %d, %lld);"
                "INSERT INTO events(id, ts_us, route, method, account, campaign, message,"
                " recipient, link, sent_at, provider) VALUES(%d, %lld, 'o', 'GET', %d, %d, %d,"
                " 0, 0, %lld, 0);"
                "INSERT INTO dirty_messages(message) VALUES(%d)",
                id, c == 3 ? 2 : 1, c, sent, id, sent * 1000000, c == 3 ? 2 : 1, c, id, sent, id);
            sql(s, q);
        }
    /* an event older than retention on a message that stays (clock skew at sending) */
    sql(s, "INSERT INTO events(id, ts_us, route, method, account, campaign, message, recipient,"
           " link, sent_at, provider) VALUES(100, 1, 'o', 'GET', 1, 1, 2, 0, 0, 0, 0)");
    /* retention settles first: the events get their outcomes and are found by them */
    CHECK_INT(store_hold_set(s, 1, slice_cstr("kept"), true), 0);
    CHECK_INT(store_hold_set(s, 1, slice_cstr("nope"), true), TO_ENOTFOUND);
    store_retain_result_t r;
    CHECK_INT(store_retain(s, NOW, &r), 0);
    CHECK_INT(r.held_campaigns, 1);
    CHECK_INT(r.messages, 1); /* only campaign 1's old message: 2 is held, 3 keeps 365 days */
    CHECK_INT(r.events, 2);   /* its event and the stray old one */
    CHECK_INT(count(s, "SELECT count(*) FROM messages WHERE campaign = 1"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM messages WHERE campaign = 2"), 2);
    CHECK_INT(count(s, "SELECT count(*) FROM events WHERE campaign = 2"), 2);
    CHECK_INT(count(s, "SELECT count(*) FROM event_outcomes WHERE campaign = 1"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM messages WHERE campaign = 3"), 2);
    CHECK_INT(count(s, "SELECT count(*) FROM event_outcomes WHERE campaign = 2"), 2);
    CHECK_INT(count(s, "SELECT count(*) FROM dirty_messages WHERE message = 2"), 1);
    /* the hold cleared: the next pass deletes the held campaign's old data */
    CHECK_INT(store_hold_set(s, 0, slice_cstr("kept"), false), 0);
    CHECK_INT(store_retain(s, NOW, &r), 0);
    CHECK_INT(r.messages, 1);
    CHECK_INT(count(s, "SELECT count(*) FROM messages WHERE campaign = 2"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM campaigns"), 3);
    close_tmp(s);
}

static void test_hold_ambiguous(void)
{
    store_t *s = open_tmp();
    sql(s, "INSERT INTO campaigns(id, account, name, created_us) VALUES(1, 1, 'x', 0),"
           " (2, 2, 'x', 0)");
    CHECK_INT(store_hold_set(s, 0, slice_cstr("x"), true), TO_EINVAL);
    CHECK_INT(count(s, "SELECT count(*) FROM campaigns WHERE legal_hold = 1"), 0);
    CHECK_INT(store_hold_set(s, 2, slice_cstr("x"), true), 0);
    CHECK_INT(count(s, "SELECT legal_hold FROM campaigns WHERE id = 2"), 1);
    close_tmp(s);
}

static void test_memory_backend(void)
{
    store_t *s;
    char err[128];
    CHECK_INT(store_open("memory:", &s, err, sizeof(err)), 0);
    store_settings_t st;
    CHECK_INT(store_settings_get(s, 1, &st), TO_EUNSUPPORTED);
    store_close(s);
}

int main(void)
{
    test_settings();
    test_apikeys();
    test_audit();
    test_retain();
    test_hold_ambiguous();
    test_memory_backend();
    return test_done();
}
