/*
 * The SQLite backend: WAL, prepared statements, one transaction per batch.
 * Schema: docs/schema.md; migrations: migrations.c.
 */
#include "store/store_int.h"

#include <dirent.h>
#include <sys/stat.h>
#include <errno.h>
#include <sqlite3.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    ST_CAMPAIGN_GET,
    ST_ACCOUNT_ENSURE,
    ST_CAMPAIGN_ADD,
    ST_MESSAGE_ADD,
    ST_EVENT_ADD,
    ST_DIRTY_ADD,
    ST_DIRTY_LIST,
    ST_DIRTY_DEL,
    ST_DIRTY_COUNT,
    ST_MSG_GET,
    ST_MSG_EVENTS,
    ST_OUTCOME_PUT,
    ST_MSG_STATUS,
    ST_SPOOL_GET,
    ST_SPOOL_SET,
    ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
    [ST_CAMPAIGN_GET] = "SELECT id FROM campaigns WHERE account = ?1 AND name = ?2",
    [ST_ACCOUNT_ENSURE] = "INSERT OR IGNORE INTO accounts(id, created_us) VALUES(?1, ?2)",
    [ST_CAMPAIGN_ADD] =
        "INSERT OR IGNORE INTO campaigns(account, name, created_us) VALUES(?1, ?2, ?3)",
    [ST_MESSAGE_ADD] = "INSERT INTO messages(account, campaign, message_id_hdr, recipient_domain,"
                       " recipient_hash, recipient_addr, recipient_count, sent_at, link_count,"
                       " provider) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_EVENT_ADD] = "INSERT INTO events(ts_us, route, method, account, campaign, message,"
                     " recipient, link, sent_at, provider, url, ip, ua, sec_purpose, purpose,"
                     " x_purpose, x_moz, accept, accept_language, referer, via, from_hdr, dnt,"
                     " sec_gpc, verdict, agent, via_proxy, certainty, reasons, datacenter,"
                     " rules_version) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                     " ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27,"
                     " ?28, ?29, ?30, ?31)",
    [ST_DIRTY_ADD] = "INSERT OR IGNORE INTO dirty_messages(message) VALUES(?1)",
    [ST_DIRTY_LIST] = "SELECT message FROM dirty_messages LIMIT ?1",
    [ST_DIRTY_DEL] = "DELETE FROM dirty_messages WHERE message = ?1",
    [ST_DIRTY_COUNT] = "SELECT count(*) FROM dirty_messages",
    [ST_MSG_GET] = "SELECT link_count, provider FROM messages WHERE id = ?1",
    [ST_MSG_EVENTS] = "SELECT e.id, e.ts_us, e.route, e.link, e.sent_at, e.verdict, e.datacenter,"
                      " e.agent, e.reasons, e.campaign, o.final_verdict, o.final_reasons, o.agent"
                      " FROM events e LEFT JOIN event_outcomes o ON o.event = e.id"
                      " WHERE e.message = ?1 ORDER BY e.ts_us, e.id",
    [ST_OUTCOME_PUT] =
        "INSERT OR REPLACE INTO event_outcomes(event, campaign, message, route, link,"
        " ts_us, agent, final_verdict, final_reasons)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_SPOOL_GET] = "SELECT seq, off FROM spool_state WHERE id = 1",
    [ST_SPOOL_SET] = "INSERT OR REPLACE INTO spool_state(id, seq, off) VALUES(1, ?1, ?2)",
    [ST_MSG_STATUS] =
        "UPDATE messages SET all_opened = ?2, all_clicked = ?3, all_first_open_us = ?4,"
        " all_first_click_us = ?5, all_opens = ?6, all_clicks = ?7, hum_opened = ?8,"
        " hum_clicked = ?9, hum_first_open_us = ?10, hum_first_click_us = ?11,"
        " hum_opens = ?12, hum_clicks = ?13, status_version = ?14 WHERE id = ?1",
};

typedef struct {
    store_t base;
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT];
    char spool_dir[4096]; /* <db>.spool */
} sq_t;

static int sq_fail(sq_t *q, const char *what)
{
    log_limited(&(log_limit_t){0}, 5, LOG_ERROR, "store: %s: %s", what, sqlite3_errmsg(q->db));
    return TO_ESTORE;
}

static int exec(sq_t *q, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store: %s", msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return TO_ESTORE;
    }
    return TO_OK;
}

static sqlite3_stmt *st(sq_t *q, int i)
{
    sqlite3_stmt *s = q->st[i];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

static void bind_slice(sqlite3_stmt *s, int i, slice_t v)
{
    if (!v.p)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_text(s, i, v.p, (int)v.len, SQLITE_STATIC);
}

static slice_t col_slice(sqlite3_stmt *s, int i)
{
    const char *p = (const char *)sqlite3_column_text(s, i);
    if (!p) return SLICE_NULL;
    return slice_make(p, (size_t)sqlite3_column_bytes(s, i));
}

static int migrate(sq_t *q, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(q->db));
        return TO_ESTORE;
    }
    int version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    int latest = 0;
    while (store__migrations[latest]) latest++;
    if (version > latest) {
        snprintf(err, errlen, "the database schema (version %d) is newer than this program (%d)",
                 version, latest);
        return TO_ESTORE;
    }
    for (int v = version; v < latest; v++) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        if (exec(q, "BEGIN IMMEDIATE") || exec(q, store__migrations[v]) || exec(q, pragma) ||
            exec(q, "COMMIT")) {
            exec(q, "ROLLBACK");
            snprintf(err, errlen, "migration to schema version %d failed", v + 1);
            return TO_ESTORE;
        }
    }
    return TO_OK;
}

static void sq_close(store_t *s)
{
    sq_t *q = (sq_t *)s;
    for (int i = 0; i < ST__COUNT; i++) sqlite3_finalize(q->st[i]);
    sqlite3_close(q->db);
    free(q);
}

static int sq_campaign_id(store_t *s, uint64_t account, slice_t name, bool create, uint64_t *out)
{
    sq_t *q = (sq_t *)s;
    sqlite3_stmt *g = st(q, ST_CAMPAIGN_GET);
    sqlite3_bind_int64(g, 1, (sqlite3_int64)account);
    bind_slice(g, 2, name);
    int rc = sqlite3_step(g);
    if (rc == SQLITE_ROW) {
        *out = (uint64_t)sqlite3_column_int64(g, 0);
        sqlite3_reset(g);
        return TO_OK;
    }
    sqlite3_reset(g);
    if (rc != SQLITE_DONE) return sq_fail(q, "campaign lookup");
    if (!create) return TO_ENOTFOUND;
    int64_t now = clock_now_us(&clock_system);
    sqlite3_stmt *a = st(q, ST_ACCOUNT_ENSURE);
    sqlite3_bind_int64(a, 1, (sqlite3_int64)account);
    sqlite3_bind_int64(a, 2, now);
    if (sqlite3_step(a) != SQLITE_DONE) return sq_fail(q, "account insert");
    sqlite3_stmt *c = st(q, ST_CAMPAIGN_ADD);
    sqlite3_bind_int64(c, 1, (sqlite3_int64)account);
    bind_slice(c, 2, name);
    sqlite3_bind_int64(c, 3, now);
    if (sqlite3_step(c) != SQLITE_DONE) return sq_fail(q, "campaign insert");
    if (sqlite3_changes(q->db) == 0) {
        /* another process created it between our lookup and our insert */
        g = st(q, ST_CAMPAIGN_GET);
        sqlite3_bind_int64(g, 1, (sqlite3_int64)account);
        bind_slice(g, 2, name);
        rc = sqlite3_step(g);
        if (rc == SQLITE_ROW) *out = (uint64_t)sqlite3_column_int64(g, 0);
        sqlite3_reset(g);
        return rc == SQLITE_ROW ? TO_OK : sq_fail(q, "campaign lookup");
    }
    *out = (uint64_t)sqlite3_last_insert_rowid(q->db);
    return TO_OK;
}

static int sq_message_insert(store_t *s, store_message_t *m)
{
    sq_t *q = (sq_t *)s;
    sqlite3_stmt *a = st(q, ST_ACCOUNT_ENSURE);
    sqlite3_bind_int64(a, 1, (sqlite3_int64)m->account);
    sqlite3_bind_int64(a, 2, clock_now_us(&clock_system));
    if (sqlite3_step(a) != SQLITE_DONE) return sq_fail(q, "account insert");
    sqlite3_stmt *i = st(q, ST_MESSAGE_ADD);
    sqlite3_bind_int64(i, 1, (sqlite3_int64)m->account);
    sqlite3_bind_int64(i, 2, (sqlite3_int64)m->campaign);
    bind_slice(i, 3, m->message_id_hdr);
    bind_slice(i, 4, m->recipient_domain);
    bind_slice(i, 5, m->recipient_hash);
    if (m->recipient_addr.len) bind_slice(i, 6, m->recipient_addr);
    sqlite3_bind_int(i, 7, (int)m->recipient_count);
    sqlite3_bind_int64(i, 8, m->sent_at);
    sqlite3_bind_int(i, 9, (int)m->link_count);
    sqlite3_bind_int(i, 10, m->provider);
    if (sqlite3_step(i) != SQLITE_DONE) return sq_fail(q, "message insert");
    m->id = (uint64_t)sqlite3_last_insert_rowid(q->db);
    return TO_OK;
}

static int bind_event(sqlite3_stmt *i, const store_event_t *e, buf_t *reasons)
{
    const http_event_t *ev = &e->ev;
    char route[2] = {ev->route, 0};
    sqlite3_bind_int64(i, 1, ev->ts_us);
    sqlite3_bind_text(i, 2, route, 1, SQLITE_TRANSIENT);
    sqlite3_bind_text(i, 3, ev->head ? "HEAD" : "GET", -1, SQLITE_STATIC);
    sqlite3_bind_int64(i, 4, (sqlite3_int64)ev->tok.account);
    sqlite3_bind_int64(i, 5, (sqlite3_int64)ev->tok.campaign);
    sqlite3_bind_int64(i, 6, (sqlite3_int64)ev->tok.message);
    sqlite3_bind_int64(i, 7, (sqlite3_int64)ev->tok.recipient);
    sqlite3_bind_int64(i, 8, ev->tok.link);
    sqlite3_bind_int64(i, 9, ev->tok.sent_at);
    sqlite3_bind_int(i, 10, ev->tok.provider);
    if (ev->tok.url.len) bind_slice(i, 11, ev->tok.url);
    bind_slice(i, 12, ev->ip);
    bind_slice(i, 13, ev->ua);
    bind_slice(i, 14, ev->sec_purpose);
    bind_slice(i, 15, ev->purpose);
    bind_slice(i, 16, ev->x_purpose);
    bind_slice(i, 17, ev->x_moz);
    bind_slice(i, 18, ev->accept);
    bind_slice(i, 19, ev->accept_language);
    bind_slice(i, 20, ev->referer);
    bind_slice(i, 21, ev->via);
    bind_slice(i, 22, ev->from);
    bind_slice(i, 23, ev->dnt);
    bind_slice(i, 24, ev->sec_gpc);
    sqlite3_bind_int(i, 25, e->cls.verdict);
    if (e->cls.agent) sqlite3_bind_text(i, 26, e->cls.agent, -1, SQLITE_STATIC);
    sqlite3_bind_int(i, 27, e->cls.via_proxy);
    sqlite3_bind_int(i, 28, e->cls.certainty);
    buf_reset(reasons);
    classify_reasons_text(e->cls.reasons, reasons);
    sqlite3_bind_text(i, 29, buf_cstr(reasons), (int)reasons->len, SQLITE_STATIC);
    sqlite3_bind_int(i, 30, e->cls.datacenter);
    sqlite3_bind_int64(i, 31, e->rules_version);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Inserts the batch; with pos, records in the same transaction how far the spool
 * has been ingested (pos[0] segment, pos[1] offset). */
static int insert_batch(sq_t *q, store_event_t *evs, size_t n, const uint64_t *pos)
{
    if (exec(q, "BEGIN IMMEDIATE")) return TO_ESTORE;
    buf_t reasons = BUF_INIT;
    uint64_t *msgs = xmalloc(xmul(n, sizeof(*msgs)));
    int rc = TO_OK;
    for (size_t k = 0; k < n && rc == TO_OK; k++) {
        store_event_t *e = &evs[k];
        sqlite3_stmt *i = st(q, ST_EVENT_ADD);
        bind_event(i, e, &reasons);
        if (sqlite3_step(i) != SQLITE_DONE) {
            rc = sq_fail(q, "event insert");
            break;
        }
        e->id = sqlite3_last_insert_rowid(q->db);
        msgs[k] = e->ev.tok.message;
    }
    buf_clear(&reasons);
    /* Each message the batch touched is marked once. */
    qsort(msgs, n, sizeof(*msgs), cmp_u64);
    for (size_t k = 0; k < n && rc == TO_OK; k++) {
        if (k > 0 && msgs[k] == msgs[k - 1]) continue;
        sqlite3_stmt *d = st(q, ST_DIRTY_ADD);
        sqlite3_bind_int64(d, 1, (sqlite3_int64)msgs[k]);
        if (sqlite3_step(d) != SQLITE_DONE) rc = sq_fail(q, "dirty insert");
    }
    free(msgs);
    if (rc == TO_OK && pos) {
        sqlite3_stmt *u = st(q, ST_SPOOL_SET);
        sqlite3_bind_int64(u, 1, (sqlite3_int64)pos[0]);
        sqlite3_bind_int64(u, 2, (sqlite3_int64)pos[1]);
        if (sqlite3_step(u) != SQLITE_DONE) rc = sq_fail(q, "spool position");
    }
    if (rc == TO_OK && exec(q, "COMMIT") == TO_OK) return TO_OK;
    exec(q, "ROLLBACK");
    return TO_ESTORE;
}

static int sq_insert_events(store_t *s, store_event_t *evs, size_t n)
{
    return insert_batch((sq_t *)s, evs, n, NULL);
}

/* ---- settling message status ------------------------------------------------------ */

static int settle_message(sq_t *q, int64_t msg, buf_t *reasons)
{
    uint32_t link_count = 0;
    uint8_t provider = 0;
    sqlite3_stmt *g = st(q, ST_MSG_GET);
    sqlite3_bind_int64(g, 1, msg);
    int rc = sqlite3_step(g);
    if (rc == SQLITE_ROW) {
        link_count = (uint32_t)sqlite3_column_int(g, 0);
        provider = (uint8_t)sqlite3_column_int(g, 1);
    } else if (rc != SQLITE_DONE)
        return sq_fail(q, "message lookup");
    sqlite3_reset(g);

    size_t n = 0, cap = 16;
    store__msg_ev_t *evs = xmalloc(xmul(cap, sizeof(*evs)));
    int *old_verdict = xmalloc(xmul(cap, sizeof(int)));
    uint64_t *old_reasons = xmalloc(xmul(cap, sizeof(uint64_t)));
    const char **old_agent = xmalloc(xmul(cap, sizeof(char *)));
    int64_t campaign = 0;
    sqlite3_stmt *e = st(q, ST_MSG_EVENTS);
    sqlite3_bind_int64(e, 1, msg);
    while ((rc = sqlite3_step(e)) == SQLITE_ROW) {
        if (n == cap) {
            cap *= 2;
            evs = xrealloc(evs, xmul(cap, sizeof(*evs)));
            old_verdict = xrealloc(old_verdict, xmul(cap, sizeof(int)));
            old_reasons = xrealloc(old_reasons, xmul(cap, sizeof(uint64_t)));
            old_agent = xrealloc(old_agent, xmul(cap, sizeof(char *)));
        }
        store__msg_ev_t *m = &evs[n];
        memset(m, 0, sizeof(*m));
        m->event_id = sqlite3_column_int64(e, 0);
        m->m.ts_us = sqlite3_column_int64(e, 1);
        slice_t route = col_slice(e, 2);
        m->m.route = route.len ? route.p[0] : HTTP_ROUTE_OPEN;
        m->m.link = (uint32_t)sqlite3_column_int64(e, 3);
        int64_t sent = sqlite3_column_int64(e, 4);
        m->m.seconds_since_send = sent > 0 ? m->m.ts_us / 1000000 - sent : -1;
        m->m.verdict = (uint8_t)sqlite3_column_int(e, 5);
        m->m.datacenter = sqlite3_column_int(e, 6) != 0;
        m->m.agent = store__agent_intern(col_slice(e, 7));
        m->reasons = classify_reasons_parse(col_slice(e, 8));
        campaign = sqlite3_column_int64(e, 9);
        old_verdict[n] = sqlite3_column_type(e, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(e, 10);
        old_reasons[n] = classify_reasons_parse(col_slice(e, 11));
        old_agent[n] = store__agent_intern(col_slice(e, 12));
        n++;
    }
    sqlite3_reset(e);
    if (rc != SQLITE_DONE) {
        free(evs);
        free(old_verdict);
        free(old_reasons);
        free(old_agent);
        return sq_fail(q, "message events");
    }
    classify_msg_opts_t o = q->base.msg_opts;
    o.link_count = link_count;
    store_view_status_t all, hum;
    store__derive(&o, evs, n, &all, &hum);
    rc = TO_OK;
    for (size_t i = 0; i < n && rc == TO_OK; i++) {
        store__msg_ev_t *m = &evs[i];
        uint64_t fr = m->reasons | m->m.final_reasons;
        const char *agent = store__agent_intern(slice_cstr(store__final_agent(&m->m, provider)));
        /* Interned names compare by pointer. */
        if (old_verdict[i] == m->m.final_verdict && old_reasons[i] == fr && old_agent[i] == agent)
            continue;
        sqlite3_stmt *p = st(q, ST_OUTCOME_PUT);
        char route[2] = {m->m.route, 0};
        sqlite3_bind_int64(p, 1, m->event_id);
        sqlite3_bind_int64(p, 2, campaign);
        sqlite3_bind_int64(p, 3, msg);
        sqlite3_bind_text(p, 4, route, 1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(p, 5, m->m.link);
        sqlite3_bind_int64(p, 6, m->m.ts_us);
        sqlite3_bind_text(p, 7, agent, -1, SQLITE_STATIC);
        sqlite3_bind_int(p, 8, m->m.final_verdict);
        buf_reset(reasons);
        classify_reasons_text(fr, reasons);
        sqlite3_bind_text(p, 9, buf_cstr(reasons), (int)reasons->len, SQLITE_STATIC);
        if (sqlite3_step(p) != SQLITE_DONE) rc = sq_fail(q, "outcome insert");
    }
    free(evs);
    free(old_verdict);
    free(old_reasons);
    free(old_agent);
    if (rc) return rc;
    sqlite3_stmt *u = st(q, ST_MSG_STATUS);
    sqlite3_bind_int64(u, 1, msg);
    const store_view_status_t *v[2] = {&all, &hum};
    for (int k = 0; k < 2; k++) {
        int b = 2 + k * 6;
        sqlite3_bind_int(u, b, v[k]->opened);
        sqlite3_bind_int(u, b + 1, v[k]->clicked);
        sqlite3_bind_int64(u, b + 2, v[k]->first_open_us);
        sqlite3_bind_int64(u, b + 3, v[k]->first_click_us);
        sqlite3_bind_int64(u, b + 4, v[k]->opens);
        sqlite3_bind_int64(u, b + 5, v[k]->clicks);
    }
    sqlite3_bind_int64(u, 14, q->base.rules ? classify_rules_version(q->base.rules) : 0);
    if (sqlite3_step(u) != SQLITE_DONE) return sq_fail(q, "message status");
    sqlite3_stmt *d = st(q, ST_DIRTY_DEL);
    sqlite3_bind_int64(d, 1, msg);
    if (sqlite3_step(d) != SQLITE_DONE) return sq_fail(q, "dirty delete");
    return TO_OK;
}

static int sq_settle(store_t *s, size_t max, size_t *out_done, size_t *out_left)
{
    sq_t *q = (sq_t *)s;
    *out_done = *out_left = 0;
    if (exec(q, "BEGIN IMMEDIATE")) return TO_ESTORE;
    size_t n = 0;
    int64_t *ids = xmalloc(xmul(max ? max : 1, sizeof(int64_t)));
    sqlite3_stmt *l = st(q, ST_DIRTY_LIST);
    sqlite3_bind_int64(l, 1, (sqlite3_int64)max);
    int rc;
    while (n < max && (rc = sqlite3_step(l)) == SQLITE_ROW) ids[n++] = sqlite3_column_int64(l, 0);
    sqlite3_reset(l);
    buf_t reasons = BUF_INIT;
    rc = TO_OK;
    for (size_t i = 0; i < n && rc == TO_OK; i++) rc = settle_message(q, ids[i], &reasons);
    buf_clear(&reasons);
    free(ids);
    if (rc == TO_OK) {
        sqlite3_stmt *c = st(q, ST_DIRTY_COUNT);
        if (sqlite3_step(c) == SQLITE_ROW) *out_left = (size_t)sqlite3_column_int64(c, 0);
        sqlite3_reset(c);
    }
    if (rc == TO_OK && exec(q, "COMMIT") == TO_OK) {
        *out_done = n;
        return TO_OK;
    }
    exec(q, "ROLLBACK");
    return TO_ESTORE;
}

/* ---- reading ---------------------------------------------------------------------- */

#define EVENT_COLS                                                                                 \
    "e.id, e.ts_us, e.route, e.method, e.account, e.campaign, e.message, e.recipient, e.link,"     \
    " e.sent_at, e.provider, e.url, e.ip, e.ua, e.sec_purpose, e.purpose, e.x_purpose,"            \
    " e.x_moz, e.accept, e.accept_language, e.referer, e.via, e.from_hdr, e.dnt, e.sec_gpc,"       \
    " e.verdict, e.agent, e.via_proxy, e.certainty, e.reasons, e.datacenter,"                      \
    " e.rules_version, o.final_verdict, o.final_reasons, o.agent"

static void read_event(sqlite3_stmt *s, store_event_t *e)
{
    memset(e, 0, sizeof(*e));
    e->id = sqlite3_column_int64(s, 0);
    http_event_t *ev = &e->ev;
    ev->ts_us = sqlite3_column_int64(s, 1);
    slice_t r = col_slice(s, 2);
    ev->route = r.len ? r.p[0] : '?';
    ev->head = slice_eq_cstr(col_slice(s, 3), "HEAD");
    ev->tok.account = (uint64_t)sqlite3_column_int64(s, 4);
    ev->tok.campaign = (uint64_t)sqlite3_column_int64(s, 5);
    ev->tok.message = (uint64_t)sqlite3_column_int64(s, 6);
    ev->tok.recipient = (uint64_t)sqlite3_column_int64(s, 7);
    ev->tok.link = (uint32_t)sqlite3_column_int64(s, 8);
    ev->tok.sent_at = sqlite3_column_int64(s, 9);
    ev->tok.provider = (uint8_t)sqlite3_column_int(s, 10);
    ev->tok.url = col_slice(s, 11);
    ev->ip = col_slice(s, 12);
    ev->ua = col_slice(s, 13);
    ev->sec_purpose = col_slice(s, 14);
    ev->purpose = col_slice(s, 15);
    ev->x_purpose = col_slice(s, 16);
    ev->x_moz = col_slice(s, 17);
    ev->accept = col_slice(s, 18);
    ev->accept_language = col_slice(s, 19);
    ev->referer = col_slice(s, 20);
    ev->via = col_slice(s, 21);
    ev->from = col_slice(s, 22);
    ev->dnt = col_slice(s, 23);
    ev->sec_gpc = col_slice(s, 24);
    e->cls.verdict = (uint8_t)sqlite3_column_int(s, 25);
    e->cls.agent = (const char *)sqlite3_column_text(s, 26);
    e->cls.via_proxy = sqlite3_column_int(s, 27) != 0;
    e->cls.certainty = (uint8_t)sqlite3_column_int(s, 28);
    e->cls.reasons = classify_reasons_parse(col_slice(s, 29));
    e->cls.datacenter = sqlite3_column_int(s, 30) != 0;
    e->rules_version = (uint32_t)sqlite3_column_int64(s, 31);
    bool settled = sqlite3_column_type(s, 32) != SQLITE_NULL;
    e->final_verdict = settled ? (uint8_t)sqlite3_column_int(s, 32) : e->cls.verdict;
    e->final_reasons = settled ? classify_reasons_parse(col_slice(s, 33)) : e->cls.reasons;
    e->final_agent = settled ? (const char *)sqlite3_column_text(s, 34) : e->cls.agent;
}

/* Finishes a listing query (ORDER BY, LIMIT), prepares it and binds the filters:
 * ?1 since, ?2 account, ?3 campaign name. Frees sql. */
static int prepare_listing(sq_t *q, buf_t *sql, const char *order, const store_query_t *qr,
                           int64_t since, const char *what, sqlite3_stmt **out)
{
    buf_printf(sql, " ORDER BY %s", order);
    if (qr->limit > 0) buf_printf(sql, " LIMIT %lld", (long long)qr->limit);
    int rc = sqlite3_prepare_v2(q->db, buf_cstr(sql), -1, out, NULL);
    buf_clear(sql);
    if (rc != SQLITE_OK) return sq_fail(q, what);
    sqlite3_bind_int64(*out, 1, since);
    if (qr->account) sqlite3_bind_int64(*out, 2, (sqlite3_int64)qr->account);
    if (qr->campaign.len) bind_slice(*out, 3, qr->campaign);
    return TO_OK;
}

static int sq_list_events(store_t *s, const store_query_t *qr, store_event_cb cb, void *arg)
{
    sq_t *q = (sq_t *)s;
    buf_t sql = BUF_INIT;
    buf_puts(&sql,
             "SELECT " EVENT_COLS " FROM events e LEFT JOIN event_outcomes o ON o.event = e.id");
    if (qr->campaign.len) buf_puts(&sql, " JOIN campaigns c ON c.id = e.campaign AND c.name = ?3");
    buf_puts(&sql, " WHERE e.ts_us >= ?1");
    if (qr->account) buf_puts(&sql, " AND e.account = ?2");
    sqlite3_stmt *st_;
    if (prepare_listing(q, &sql, "e.id", qr, qr->since_us, "events query", &st_)) return TO_ESTORE;
    int rc;
    int out = TO_OK;
    store_event_t e;
    while ((rc = sqlite3_step(st_)) == SQLITE_ROW) {
        read_event(st_, &e);
        if ((out = cb(arg, &e)) != 0) break;
    }
    if (out == TO_OK && rc != SQLITE_DONE) out = sq_fail(q, "events query");
    sqlite3_finalize(st_);
    return out;
}

static int sq_list_messages(store_t *s, const store_query_t *qr, store_message_cb cb, void *arg)
{
    sq_t *q = (sq_t *)s;
    buf_t sql = BUF_INIT;
    buf_puts(&sql,
             "SELECT m.id, m.account, m.campaign, m.message_id_hdr, m.recipient_domain,"
             " m.recipient_hash, m.recipient_addr, m.recipient_count, m.sent_at, m.link_count,"
             " m.provider, c.name, m.all_opened, m.all_clicked, m.all_first_open_us,"
             " m.all_first_click_us, m.all_opens, m.all_clicks, m.hum_opened, m.hum_clicked,"
             " m.hum_first_open_us, m.hum_first_click_us, m.hum_opens, m.hum_clicks"
             " FROM messages m JOIN campaigns c ON c.id = m.campaign WHERE m.sent_at >= ?1");
    if (qr->account) buf_puts(&sql, " AND m.account = ?2");
    if (qr->campaign.len) buf_puts(&sql, " AND c.name = ?3");
    sqlite3_stmt *st_;
    if (prepare_listing(q, &sql, "m.id", qr, qr->since_us / 1000000, "messages query", &st_))
        return TO_ESTORE;
    int rc, out = TO_OK;
    while ((rc = sqlite3_step(st_)) == SQLITE_ROW) {
        store_message_row_t r;
        memset(&r, 0, sizeof(r));
        r.m.id = (uint64_t)sqlite3_column_int64(st_, 0);
        r.m.account = (uint64_t)sqlite3_column_int64(st_, 1);
        r.m.campaign = (uint64_t)sqlite3_column_int64(st_, 2);
        r.m.message_id_hdr = col_slice(st_, 3);
        r.m.recipient_domain = col_slice(st_, 4);
        r.m.recipient_hash = col_slice(st_, 5);
        r.m.recipient_addr = col_slice(st_, 6);
        r.m.recipient_count = (uint32_t)sqlite3_column_int(st_, 7);
        r.m.sent_at = sqlite3_column_int64(st_, 8);
        r.m.link_count = (uint32_t)sqlite3_column_int(st_, 9);
        r.m.provider = (uint8_t)sqlite3_column_int(st_, 10);
        r.campaign_name = col_slice(st_, 11);
        store_view_status_t *v[2] = {&r.all, &r.human};
        for (int k = 0; k < 2; k++) {
            int b = 12 + k * 6;
            v[k]->opened = sqlite3_column_int(st_, b) != 0;
            v[k]->clicked = sqlite3_column_int(st_, b + 1) != 0;
            v[k]->first_open_us = sqlite3_column_int64(st_, b + 2);
            v[k]->first_click_us = sqlite3_column_int64(st_, b + 3);
            v[k]->opens = (uint32_t)sqlite3_column_int64(st_, b + 4);
            v[k]->clicks = (uint32_t)sqlite3_column_int64(st_, b + 5);
        }
        if ((out = cb(arg, &r)) != 0) break;
    }
    if (out == TO_OK && rc != SQLITE_DONE) out = sq_fail(q, "messages query");
    sqlite3_finalize(st_);
    return out;
}

/* ---- reclassify ------------------------------------------------------------------- */

static int sq_reclassify(store_t *s, const classify_rules_t *rules, slice_t campaign,
                         uint64_t *out_events)
{
    sq_t *q = (sq_t *)s;
    *out_events = 0;
    buf_t sql = BUF_INIT;
    buf_puts(&sql,
             "SELECT " EVENT_COLS " FROM events e LEFT JOIN event_outcomes o ON o.event = e.id");
    if (campaign.len) buf_puts(&sql, " JOIN campaigns c ON c.id = e.campaign AND c.name = ?1");
    buf_puts(&sql, " ORDER BY e.id");
    sqlite3_stmt *sel, *upd;
    if (sqlite3_prepare_v2(q->db, buf_cstr(&sql), -1, &sel, NULL) != SQLITE_OK) {
        buf_clear(&sql);
        return sq_fail(q, "reclassify query");
    }
    buf_clear(&sql);
    if (sqlite3_prepare_v2(q->db,
                           "UPDATE events SET verdict = ?2, agent = ?3, via_proxy = ?4,"
                           " certainty = ?5, reasons = ?6, datacenter = ?7, rules_version = ?8"
                           " WHERE id = ?1",
                           -1, &upd, NULL) != SQLITE_OK) {
        sqlite3_finalize(sel);
        return sq_fail(q, "reclassify update");
    }
    if (campaign.len) bind_slice(sel, 1, campaign);
    if (exec(q, "BEGIN IMMEDIATE")) {
        sqlite3_finalize(sel);
        sqlite3_finalize(upd);
        return TO_ESTORE;
    }
    int rc, out = TO_OK;
    buf_t reasons = BUF_INIT;
    store_event_t e;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        read_event(sel, &e);
        store_classify(rules, &e);
        sqlite3_reset(upd);
        sqlite3_bind_int64(upd, 1, e.id);
        sqlite3_bind_int(upd, 2, e.cls.verdict);
        sqlite3_bind_text(upd, 3, e.cls.agent ? e.cls.agent : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(upd, 4, e.cls.via_proxy);
        sqlite3_bind_int(upd, 5, e.cls.certainty);
        buf_reset(&reasons);
        classify_reasons_text(e.cls.reasons, &reasons);
        sqlite3_bind_text(upd, 6, buf_cstr(&reasons), (int)reasons.len, SQLITE_TRANSIENT);
        sqlite3_bind_int(upd, 7, e.cls.datacenter);
        sqlite3_bind_int64(upd, 8, e.rules_version);
        if (sqlite3_step(upd) != SQLITE_DONE) {
            out = sq_fail(q, "reclassify update");
            break;
        }
        (*out_events)++;
    }
    buf_clear(&reasons);
    if (out == TO_OK && rc != SQLITE_DONE) out = sq_fail(q, "reclassify query");
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    if (out == TO_OK) {
        /* Every message of the scope is re-derived. */
        sqlite3_stmt *d;
        const char *dsql = campaign.len ? "INSERT OR IGNORE INTO dirty_messages(message)"
                                          " SELECT m.id FROM messages m JOIN campaigns c"
                                          " ON c.id = m.campaign WHERE c.name = ?1"
                                        : "INSERT OR IGNORE INTO dirty_messages(message)"
                                          " SELECT id FROM messages";
        if (sqlite3_prepare_v2(q->db, dsql, -1, &d, NULL) != SQLITE_OK) {
            out = sq_fail(q, "reclassify mark");
        } else {
            if (campaign.len) bind_slice(d, 1, campaign);
            if (sqlite3_step(d) != SQLITE_DONE) out = sq_fail(q, "reclassify mark");
            sqlite3_finalize(d);
        }
    }
    if (out == TO_OK && exec(q, "COMMIT") == TO_OK) {
        const classify_rules_t *saved = q->base.rules;
        q->base.rules = rules;
        out = store_settle(s);
        q->base.rules = saved;
        return out;
    }
    exec(q, "ROLLBACK");
    return TO_ESTORE;
}

static void *sq_handle(store_t *s)
{
    return ((sq_t *)s)->db;
}

static const store__ops_t sq_ops;

int store__insert_events_at(store_t *s, store_event_t *evs, size_t n, uint64_t seq, uint64_t off)
{
    if (s->ops != &sq_ops) return TO_EUNSUPPORTED;
    uint64_t pos[2] = {seq, off};
    return insert_batch((sq_t *)s, evs, n, pos);
}

int store__spool_pos(store_t *s, uint64_t *seq, uint64_t *off)
{
    if (s->ops != &sq_ops) return TO_EUNSUPPORTED;
    sq_t *q = (sq_t *)s;
    sqlite3_stmt *g = st(q, ST_SPOOL_GET);
    int rc = sqlite3_step(g);
    *seq = *off = 0;
    if (rc == SQLITE_ROW) {
        *seq = (uint64_t)sqlite3_column_int64(g, 0);
        *off = (uint64_t)sqlite3_column_int64(g, 1);
    }
    sqlite3_reset(g);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? TO_OK : sq_fail(q, "spool position");
}

const char *store__spool_dir(store_t *s)
{
    return s->ops == &sq_ops ? ((sq_t *)s)->spool_dir : NULL;
}

int store_prepare_owner(store_t *s, unsigned uid, unsigned gid, char *err, size_t errlen)
{
    if (s->ops != &sq_ops) return TO_OK;
    sq_t *q = (sq_t *)s;
    if (mkdir(q->spool_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create the spool: %s", q->spool_dir, strerror(errno));
        return TO_EIO;
    }
    const char *db = sqlite3_db_filename(q->db, "main");
    char p[sizeof(q->spool_dir) + 300];
    const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; db && i < TO_ARRAY_LEN(suffixes); i++) {
        snprintf(p, sizeof(p), "%s%s", db, suffixes[i]);
        if (chown(p, (uid_t)uid, (gid_t)gid) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: cannot give it to the server's user: %s", p,
                     strerror(errno));
            return TO_EPERM;
        }
    }
    DIR *d = opendir(q->spool_dir);
    struct dirent *e;
    int rc = TO_OK;
    if (chown(q->spool_dir, (uid_t)uid, (gid_t)gid) != 0) rc = TO_EPERM;
    while (rc == TO_OK && d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof(p), "%s/%s", q->spool_dir, e->d_name);
        if (chown(p, (uid_t)uid, (gid_t)gid) != 0) rc = TO_EPERM;
    }
    if (d) closedir(d);
    if (rc) snprintf(err, errlen, "%s: cannot give the spool to the server's user", q->spool_dir);
    return rc;
}

static const store__ops_t sq_ops = {
    .kind = "sqlite",
    .close = sq_close,
    .campaign_id = sq_campaign_id,
    .message_insert = sq_message_insert,
    .insert_events = sq_insert_events,
    .list_events = sq_list_events,
    .list_messages = sq_list_messages,
    .settle = sq_settle,
    .reclassify = sq_reclassify,
    .sqlite_handle = sq_handle,
};

int store__sqlite_open(const char *path, store_t **out, char *err, size_t errlen)
{
    sq_t *q = xcalloc(1, sizeof(*q));
    q->base.ops = &sq_ops;
    if (snprintf(q->spool_dir, sizeof(q->spool_dir), "%s.spool", path) >=
        (int)sizeof(q->spool_dir)) {
        snprintf(err, errlen, "database path too long");
        free(q);
        return TO_EINVAL;
    }
    if (sqlite3_open_v2(path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open: %s", path,
                 q->db ? sqlite3_errmsg(q->db) : "out of memory");
        sqlite3_close(q->db);
        free(q);
        return TO_ESTORE;
    }
    sqlite3_busy_timeout(q->db, 10000);
    /* WAL with synchronous=NORMAL: a commit is in the WAL file before it returns, so a
     * killed process loses nothing it committed; store_synchronous=full adds an fsync
     * per commit for power loss. */
    if (exec(q, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
                " PRAGMA temp_store=MEMORY") != TO_OK) {
        snprintf(err, errlen, "%s: not a usable SQLite database", path);
        sqlite3_close(q->db);
        free(q);
        return TO_ESTORE;
    }
    int rc = migrate(q, err, errlen);
    for (int i = 0; rc == TO_OK && i < ST__COUNT; i++) {
        if (sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: prepare failed: %s", path, sqlite3_errmsg(q->db));
            rc = TO_ESTORE;
        }
    }
    if (rc) {
        sq_close(&q->base);
        return rc;
    }
    *out = &q->base;
    return TO_OK;
}

int store_apply_config(store_t *s, const config_t *c, char *err, size_t errlen)
{
    const char *sync = config_str(c, "store_synchronous");
    bool full = sync && !strcmp(sync, "full");
    if (sync && !full && strcmp(sync, "normal")) {
        snprintf(err, errlen, "store_synchronous: expected normal or full, not '%.32s'", sync);
        return TO_EINVAL;
    }
    if (s->ops != &sq_ops) return TO_OK;
    return exec((sq_t *)s, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}
