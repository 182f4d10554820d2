/* The store contract, run against both backends: campaigns, messages, events,
 * derived message status in both views, listing, and migrations. */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_int.h"
#include "test.h"

static store_event_t ev(uint64_t msg, char route, uint32_t link, int64_t ts_s, uint8_t verdict,
                        const char *agent)
{
    store_event_t e;
    memset(&e, 0, sizeof(e));
    e.ev.ts_us = ts_s * 1000000;
    e.ev.route = route;
    e.ev.tok.account = 1;
    e.ev.tok.campaign = 1;
    e.ev.tok.message = msg;
    e.ev.tok.link = link;
    e.ev.tok.sent_at = 1000;
    e.ev.ip = SLICE_LIT("192.0.2.1");
    e.ev.ua = SLICE_LIT("Mozilla/5.0");
    if (route == 'c') e.ev.tok.url = SLICE_LIT("https://example.com/x");
    e.cls.verdict = verdict;
    e.cls.agent = agent;
    e.cls.reasons = CLASSIFY_BIT(verdict ? CLASSIFY_R_UA_MPP : CLASSIFY_R_UA_HUMAN_CLIENT);
    return e;
}

typedef struct {
    int n;
    store_message_row_t rows[8];
    char names[8][32];
} msgs_t;

static int collect_msg(void *arg, const store_message_row_t *r)
{
    msgs_t *m = arg;
    if (m->n < 8) {
        m->rows[m->n] = *r;
        snprintf(m->names[m->n], 32, "%.*s", SLICE_FMT(r->campaign_name));
        m->n++;
    }
    return 0;
}

typedef struct {
    int n, opens, clicks;
    int64_t last_id;
    bool ordered;
} evs_t;

static int collect_ev(void *arg, const store_event_t *e)
{
    evs_t *c = arg;
    c->n++;
    c->opens += e->ev.route == 'o';
    c->clicks += e->ev.route == 'c';
    if (e->id <= c->last_id) c->ordered = false;
    c->last_id = e->id;
    return 0;
}

typedef struct {
    uint64_t message;
    int n, automated, proofpoint, burst_reason;
} burst_t;

static int collect_burst(void *arg, const store_event_t *e)
{
    burst_t *c = arg;
    if (e->ev.tok.message != c->message) return 0;
    c->n++;
    c->automated += e->final_verdict == CLASSIFY_AUTOMATED;
    c->proofpoint += e->final_agent && !strcmp(e->final_agent, "proofpoint");
    c->burst_reason += (e->final_reasons & CLASSIFY_BIT(CLASSIFY_R_MSG_CLICK_BURST)) != 0;
    return 0;
}

static void contract(const char *uri)
{
    store_t *s;
    char err[256];
    CHECK_INT(store_open(uri, &s, err, sizeof(err)), 0);
    uint64_t camp = 0, again = 0, other = 0;
    CHECK_INT(store_campaign_id(s, 1, SLICE_LIT("spring-checkup"), false, &camp), TO_ENOTFOUND);
    CHECK_INT(store_campaign_id(s, 1, SLICE_LIT("spring-checkup"), true, &camp), 0);
    CHECK_INT(store_campaign_id(s, 1, SLICE_LIT("spring-checkup"), false, &again), 0);
    CHECK_INT(again, camp);
    CHECK_INT(store_campaign_id(s, 2, SLICE_LIT("spring-checkup"), true, &other), 0);
    CHECK(other != camp);
    CHECK_INT(store_campaign_id(s, 1, SLICE_LIT(""), true, &other), TO_EINVAL);

    store_message_t m = {0};
    m.account = 1;
    m.campaign = camp;
    m.message_id_hdr = SLICE_LIT("<a@example.com>");
    m.recipient_domain = SLICE_LIT("example.org");
    m.recipient_hash = SLICE_LIT("00ff");
    m.recipient_count = 1;
    m.sent_at = 1000;
    m.link_count = 3;
    CHECK_INT(store_message_insert(s, &m), 0);
    uint64_t m1 = m.id;
    CHECK_INT(store_message_insert(s, &m), 0);
    uint64_t m2 = m.id;
    CHECK_INT(store_message_insert(s, &m), 0);
    uint64_t m3 = m.id;
    CHECK(m1 != m2 && m2 != m3);

    /* m1: a machine prefetch at delivery, then a person opens later (upgrade).
     * m2: only a machine. m3: a person clicks without a counted open. */
    store_event_t e[4] = {
        ev(m1, 'o', 0, 1001, CLASSIFY_AUTOMATED, "apple_mpp"),
        ev(m1, 'o', 0, 5000, CLASSIFY_HUMAN, "apple_mail"),
        ev(m2, 'o', 0, 1002, CLASSIFY_AUTOMATED, "apple_mpp"),
        ev(m3, 'c', 1, 7000, CLASSIFY_HUMAN, "chrome"),
    };
    CHECK_INT(store_insert_events(s, e, 4), 0);
    CHECK(e[0].id > 0 && e[3].id > e[0].id);
    CHECK_INT(store_settle(s), 0);

    msgs_t got = {0};
    store_query_t q = {0};
    q.campaign = SLICE_LIT("spring-checkup");
    CHECK_INT(store_list_messages(s, &q, collect_msg, &got), 0);
    CHECK_INT(got.n, 3);
    if (got.n == 3) {
        CHECK_STR(got.names[0], "spring-checkup");
        store_message_row_t *r1 = &got.rows[0], *r2 = &got.rows[1], *r3 = &got.rows[2];
        CHECK(r1->all.opened && r1->human.opened);
        CHECK_INT(r1->all.opens, 2);
        CHECK_INT(r1->human.opens, 1);
        CHECK_INT(r1->all.first_open_us, 1001 * 1000000LL);
        CHECK_INT(r1->human.first_open_us, 5000 * 1000000LL);
        CHECK(r2->all.opened);
        CHECK(!r2->human.opened);
        CHECK_INT(r2->human.opens, 0);
        CHECK(r3->human.opened && r3->human.clicked);
        CHECK_INT(r3->human.opens, 0);
        CHECK_INT(r3->human.first_open_us, 7000 * 1000000LL);
    }
    /* m4, behind Proofpoint: two links clicked within a second by an ordinary
     * browser User-Agent. The message level makes both automated and names the
     * gateway. */
    m.provider = TOKEN_PROVIDER_PROOFPOINT;
    CHECK_INT(store_message_insert(s, &m), 0);
    uint64_t m4 = m.id;
    store_event_t b[2] = {
        ev(m4, 'c', 1, 1030, CLASSIFY_HUMAN, "chrome"),
        ev(m4, 'c', 2, 1030, CLASSIFY_HUMAN, "chrome"),
    };
    b[1].ev.ts_us += 300000;
    CHECK_INT(store_insert_events(s, b, 2), 0);
    CHECK_INT(store_settle(s), 0);
    burst_t bc = {0};
    bc.message = m4;
    store_query_t qb = {0};
    CHECK_INT(store_list_events(s, &qb, collect_burst, &bc), 0);
    CHECK_INT(bc.n, 2);
    CHECK_INT(bc.automated, 2);
    CHECK_INT(bc.proofpoint, 2);
    CHECK_INT(bc.burst_reason, 2);
    msgs_t got4 = {0};
    CHECK_INT(store_list_messages(s, &q, collect_msg, &got4), 0);
    if (got4.n == 4) {
        CHECK(got4.rows[3].all.clicked);
        CHECK(!got4.rows[3].human.clicked);
        CHECK(!got4.rows[3].human.opened);
    }

    evs_t ec = {0, 0, 0, 0, true};
    store_query_t all = {0};
    CHECK_INT(store_list_events(s, &all, collect_ev, &ec), 0);
    CHECK_INT(ec.n, 6);
    CHECK_INT(ec.opens, 3);
    CHECK_INT(ec.clicks, 3);
    CHECK(ec.ordered);
    evs_t since = {0, 0, 0, 0, true};
    store_query_t qs = {0};
    qs.since_us = 5000 * 1000000LL;
    CHECK_INT(store_list_events(s, &qs, collect_ev, &since), 0);
    CHECK_INT(since.n, 2); /* the person's open and click; the burst came before */
    evs_t none = {0, 0, 0, 0, true};
    store_query_t qn = {0};
    qn.campaign = SLICE_LIT("no-such-campaign");
    CHECK_INT(store_list_events(s, &qn, collect_ev, &none), 0);
    CHECK_INT(none.n, 0);
    store_close(s);
}

int main(void)
{
    contract("memory:");
    char path[] = "/tmp/trueopen-store-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    contract(path);

    /* Reopening an existing database keeps its data and version. */
    store_t *s;
    char err[256];
    CHECK_INT(store_open(path, &s, err, sizeof(err)), 0);
    uint64_t camp;
    CHECK_INT(store_campaign_id(s, 1, SLICE_LIT("spring-checkup"), false, &camp), 0);
    store_close(s);

    /* Each migration applies over the previous version with data in it. */
    int latest = 0;
    while (store__migrations[latest]) latest++;
    for (int v = 1; v <= latest; v++) {
        char p2[] = "/tmp/trueopen-migrate-test-XXXXXX";
        fd = mkstemp(p2);
        close(fd);
        sqlite3 *db;
        CHECK_INT(sqlite3_open(p2, &db), SQLITE_OK);
        for (int k = 0; k < v; k++)
            CHECK_INT(sqlite3_exec(db, store__migrations[k], NULL, NULL, NULL), SQLITE_OK);
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v);
        CHECK_INT(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
        CHECK_INT(sqlite3_exec(db,
                               "INSERT INTO campaigns(account, name, created_us) "
                               "VALUES(7, 'kept', 1)",
                               NULL, NULL, NULL),
                  SQLITE_OK);
        sqlite3_close(db);
        CHECK_INT(store_open(p2, &s, err, sizeof(err)), 0);
        CHECK_INT(store_campaign_id(s, 7, SLICE_LIT("kept"), false, &camp), 0);
        store_close(s);
        unlink(p2);
    }
    /* A database from a newer program is refused, not damaged. */
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK(store_open(path, &s, err, sizeof(err)) != 0);
    CHECK(strstr(err, "newer") != NULL);
    unlink(path);
    return test_done();
}
