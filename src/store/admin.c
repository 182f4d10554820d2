/*
 * Administration data of the SQLite store: account settings, API keys (stored as
 * BLAKE2b hashes), the audit log, legal holds and retention. The tables come from the
 * reporting migration (migrations.c); docs/schema.md documents them.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define DAY_US (86400LL * 1000000LL)

static sqlite3 *db_of(store_t *s)
{
    return (sqlite3 *)store_sqlite_handle(s);
}

static int fail(sqlite3 *db, const char *what)
{
    log_error("store: %s: %s", what, sqlite3_errmsg(db));
    return TO_ESTORE;
}

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) return fail(db, "prepare");
    return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return fail(db, sql);
    return 0;
}

static int ensure_account(sqlite3 *db, uint64_t account, int64_t now_us)
{
    sqlite3_stmt *st;
    int rc = prep(db, "INSERT OR IGNORE INTO accounts(id, created_us) VALUES(?1, ?2)", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)account);
    sqlite3_bind_int64(st, 2, now_us);
    if (sqlite3_step(st) != SQLITE_DONE) rc = fail(db, "account insert");
    sqlite3_finalize(st);
    return rc;
}

/* ---- settings --------------------------------------------------------------------- */

const char *const store_setting_names[] = {"suppress_automated", "retention_days",
                                           "keep_recipient_address", "honeypot", NULL};

int store_settings_get(store_t *s, uint64_t account, store_settings_t *out)
{
    sqlite3 *db = db_of(s);
    if (!db) return TO_EUNSUPPORTED;
    *out = (store_settings_t){account, false, true, false, true, 365};
    sqlite3_stmt *st;
    int rc = prep(db,
                  "SELECT suppress_automated, keep_recipient_address, honeypot, retention_days"
                  " FROM accounts WHERE id = ?1",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)account);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        out->exists = true;
        out->suppress_automated = sqlite3_column_int64(st, 0) != 0;
        out->keep_recipient_address = sqlite3_column_int64(st, 1) != 0;
        out->honeypot = sqlite3_column_int64(st, 2) != 0;
        out->retention_days = sqlite3_column_int64(st, 3);
    } else if (r != SQLITE_DONE) {
        rc = fail(db, "settings get");
    }
    sqlite3_finalize(st);
    return rc;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const on[] = {"on", "1", "true", "yes"};
    static const char *const off[] = {"off", "0", "false", "no"};
    for (size_t i = 0; i < TO_ARRAY_LEN(on); i++) {
        if (!strcmp(v, on[i])) return *out = true, true;
        if (!strcmp(v, off[i])) return *out = false, true;
    }
    return false;
}

int store_settings_set(store_t *s, uint64_t account, const char *key, const char *value,
                       int64_t now_us, char *err, size_t errlen)
{
    sqlite3 *db = db_of(s);
    if (!db) return TO_EUNSUPPORTED;
    if (account == 0) {
        snprintf(err, errlen, "account must be a positive number");
        return TO_EINVAL;
    }
    const char *col = NULL;
    int64_t v = 0;
    if (!strcmp(key, "retention_days")) {
        int64_t d;
        if (!slice_to_i64(slice_cstr(value), &d) || d < 1 || d > 36500) {
            snprintf(err, errlen, "retention_days must be a number of days from 1 to 36500");
            return TO_EINVAL;
        }
        col = "retention_days";
        v = d;
    } else {
        for (size_t i = 0; store_setting_names[i]; i++)
            if (!strcmp(key, store_setting_names[i])) col = store_setting_names[i];
        if (!col) {
            snprintf(err, errlen,
                     "unknown setting (known: suppress_automated, retention_days, "
                     "keep_recipient_address, honeypot)");
            return TO_EINVAL;
        }
        bool b;
        if (!parse_bool(value, &b)) {
            snprintf(err, errlen, "%s takes on or off", col);
            return TO_EINVAL;
        }
        v = b;
    }
    char sql[128];
    snprintf(sql, sizeof(sql), "UPDATE accounts SET %s = ?2 WHERE id = ?1", col);
    int rc = exec(db, "BEGIN IMMEDIATE");
    if (rc) return rc;
    rc = ensure_account(db, account, now_us);
    sqlite3_stmt *st = NULL;
    if (!rc) rc = prep(db, sql, &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)account);
        sqlite3_bind_int64(st, 2, v);
        if (sqlite3_step(st) != SQLITE_DONE) rc = fail(db, "settings set");
        sqlite3_finalize(st);
    }
    if (!rc) rc = exec(db, "COMMIT");
    if (rc) {
        exec(db, "ROLLBACK");
        snprintf(err, errlen, "%s", err_str(rc));
    }
    return rc;
}

void store_settings_json(const store_settings_t *st, buf_t *b)
{
    buf_printf(b,
               "{\"account\":%llu,\"suppress_automated\":%s,\"retention_days\":%lld,"
               "\"keep_recipient_address\":%s,\"honeypot\":%s}",
               (unsigned long long)st->account, st->suppress_automated ? "true" : "false",
               (long long)st->retention_days, st->keep_recipient_address ? "true" : "false",
               st->honeypot ? "true" : "false");
}

/* ---- API keys --------------------------------------------------------------------- */

static void key_hash(slice_t key, char out[65])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof(h), (const uint8_t *)key.p, key.len, NULL, 0);
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[h[i] >> 4];
        out[2 * i + 1] = hx[h[i] & 15];
    }
    out[64] = 0;
    sodium_memzero(h, sizeof(h));
}

int store_apikey_new(store_t *s, uint64_t account, util_rand_t *rnd, int64_t now_us, buf_t *out_key,
                     int64_t *out_id)
{
    sqlite3 *db = db_of(s);
    if (!db) return TO_EUNSUPPORTED;
    if (account == 0) return TO_EINVAL;
    uint8_t raw[32];
    rand_fill(rnd, raw, sizeof(raw));
    buf_t key = BUF_INIT;
    buf_puts(&key, STORE_APIKEY_PREFIX);
    b64url_encode(&key, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    char hash[65];
    key_hash(buf_slice(&key), hash);
    char prefix[STORE_APIKEY_SHOWN + 1];
    memcpy(prefix, key.p, STORE_APIKEY_SHOWN);
    prefix[STORE_APIKEY_SHOWN] = 0;

    int rc = exec(db, "BEGIN IMMEDIATE");
    if (!rc) rc = ensure_account(db, account, now_us);
    sqlite3_stmt *st = NULL;
    if (!rc)
        rc = prep(db,
                  "INSERT INTO api_keys(account, prefix, hash, created_us) VALUES(?1, ?2, ?3, ?4)",
                  &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)account);
        sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_us);
        if (sqlite3_step(st) != SQLITE_DONE) rc = fail(db, "api key insert");
        sqlite3_finalize(st);
    }
    if (!rc) {
        *out_id = sqlite3_last_insert_rowid(db);
        rc = exec(db, "COMMIT");
    }
    if (rc)
        exec(db, "ROLLBACK");
    else
        buf_append(out_key, key.p, key.len);
    sodium_memzero(key.p, key.len);
    buf_clear(&key);
    return rc;
}

int store_apikey_list(store_t *s, uint64_t account, store_apikey_t **out, size_t *out_n)
{
    sqlite3 *db = db_of(s);
    if (!db) return TO_EUNSUPPORTED;
    sqlite3_stmt *st;
    int rc = prep(db,
                  "SELECT id, account, prefix, created_us, revoked_us FROM api_keys"
                  " WHERE ?1 = 0 OR account = ?1 ORDER BY id",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)account);
    store_apikey_t *v = NULL;
    size_t n = 0, cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(v, cap, n, 8);
        store_apikey_t *k = &v[n++];
        memset(k, 0, sizeof(*k));
        k->id = sqlite3_column_int64(st, 0);
        k->account = (uint64_t)sqlite3_column_int64(st, 1);
        const char *p = (const char *)sqlite3_column_text(st, 2);
        snprintf(k->prefix, sizeof(k->prefix), "%s", p ? p : "");
        k->created_us = sqlite3_column_int64(st, 3);
        k->revoked_us = sqlite3_column_int64(st, 4);
    }
    if (r != SQLITE_DONE) rc = fail(db, "api key list");
    sqlite3_finalize(st);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *out_n = n;
    return 0;
}

int store_apikey_revoke(store_t *s, uint64_t account, int64_t id, int64_t now_us)
{
    sqlite3 *db = db_of(s);
    if (!db) return TO_EUNSUPPORTED;
    sqlite3_stmt *st;
    int rc = prep(db,
                  "UPDATE api_keys SET revoked_us = ?3 WHERE id = ?1 AND account = ?2"
                  " AND revoked_us = 0",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)account);
    sqlite3_bind_int64(st, 3, now_us > 0 ? now_us : 1);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail(db, "api key revoke");
    else if (sqlite3_changes(db) == 0)
        rc = TO_ENOTFOUND;
    sqlite3_finalize(st);
    return rc;
}

int store_apikey_check(store_t *s, slice_t key, uint64_t *out_account, int64_t *out_id)
{
    sqlite3 *db = db_of(s);
    if (!db) return TO_EUNSUPPORTED;
    if (key.len < STORE_APIKEY_SHOWN || key.len > 256) return TO_EPERM;
    char hash[65];
    key_hash(key, hash);
    sqlite3_stmt *st;
    int rc = prep(db, "SELECT id, account, revoked_us FROM api_keys WHERE hash = ?1", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW && sqlite3_column_int64(st, 2) == 0) {
        *out_id = sqlite3_column_int64(st, 0);
        *out_account = (uint64_t)sqlite3_column_int64(st, 1);
    } else if (r == SQLITE_ROW || r == SQLITE_DONE) {
        rc = TO_EPERM;
    } else {
        rc = fail(db, "api key check");
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- audit ------------------------------------------------------------------------ */

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

int store_audit_add(store_t *s, const store_audit_t *a)
{
    sqlite3 *db = db_of(s);
    if (!db) return TO_EUNSUPPORTED;
    sqlite3_stmt *st;
    int rc = prep(db,
                  "INSERT INTO audit(ts_us, via, account, key_id, action, target, status, remote)"
                  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, a->ts_us);
    bind_text_or_null(st, 2, a->via ? a->via : "api");
    if (a->account)
        sqlite3_bind_int64(st, 3, (sqlite3_int64)a->account);
    else
        sqlite3_bind_null(st, 3);
    if (a->key_id)
        sqlite3_bind_int64(st, 4, a->key_id);
    else
        sqlite3_bind_null(st, 4);
    bind_text_or_null(st, 5, a->action ? a->action : "");
    bind_text_or_null(st, 6, a->target ? a->target : "");
    sqlite3_bind_int(st, 7, a->status);
    bind_text_or_null(st, 8, a->remote);
    for (int tries = 0;; tries++) {
        int r = sqlite3_step(st);
        if (r == SQLITE_DONE) break;
        if ((r == SQLITE_BUSY || r == SQLITE_LOCKED) && tries < 50) {
            sqlite3_reset(st);
            sqlite3_sleep(20);
            continue;
        }
        rc = fail(db, "audit insert");
        break;
    }
    sqlite3_finalize(st);
    return rc;
}

int store_audit_list(store_t *s, int64_t since_us, uint64_t account, store_audit_cb cb, void *arg)
{
    sqlite3 *db = db_of(s);
    if (!db) return TO_EUNSUPPORTED;
    sqlite3_stmt *st;
    int rc = prep(db,
                  "SELECT id, ts_us, via, account, key_id, action, target, status, remote"
                  " FROM audit WHERE ts_us >= ?1 AND (?2 = 0 OR account = ?2) ORDER BY id",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, since_us);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)account);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        store_audit_t a = {
            .id = sqlite3_column_int64(st, 0),
            .ts_us = sqlite3_column_int64(st, 1),
            .via = (const char *)sqlite3_column_text(st, 2),
            .account = (uint64_t)sqlite3_column_int64(st, 3),
            .key_id = sqlite3_column_int64(st, 4),
            .action = (const char *)sqlite3_column_text(st, 5),
            .target = (const char *)sqlite3_column_text(st, 6),
            .status = sqlite3_column_int(st, 7),
            .remote = (const char *)sqlite3_column_text(st, 8),
        };
        rc = cb(arg, &a);
        if (rc) break;
    }
    if (!rc && r != SQLITE_DONE) rc = fail(db, "audit list");
    sqlite3_finalize(st);
    return rc;
}

/* ---- legal holds ------------------------------------------------------------------ */

int store_hold_set(store_t *s, uint64_t account, slice_t campaign, bool on)
{
    sqlite3 *db = db_of(s);
    if (!db) return TO_EUNSUPPORTED;
    sqlite3_stmt *st;
    int rc = prep(db, "SELECT id FROM campaigns WHERE name = ?1 AND (?2 = 0 OR account = ?2)", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, campaign.p ? campaign.p : "", (int)campaign.len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)account);
    int n = 0, r;
    int64_t id = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if (n++ == 0) id = sqlite3_column_int64(st, 0);
    if (r != SQLITE_DONE) rc = fail(db, "hold lookup");
    sqlite3_finalize(st);
    if (rc) return rc;
    if (n == 0) return TO_ENOTFOUND;
    if (n > 1) return TO_EINVAL; /* the name exists in several accounts */
    rc = prep(db, "UPDATE campaigns SET legal_hold = ?2 WHERE id = ?1", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, on ? 1 : 0);
    if (sqlite3_step(st) != SQLITE_DONE) rc = fail(db, "hold set");
    sqlite3_finalize(st);
    return rc;
}

/* ---- retention -------------------------------------------------------------------- */

static int run_bound(sqlite3 *db, const char *sql, int64_t campaign, int64_t cut_us, int64_t cut_s,
                     uint64_t *changes)
{
    sqlite3_stmt *st;
    int rc = prep(db, sql, &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, campaign);
    sqlite3_bind_int64(st, 2, cut_us);
    sqlite3_bind_int64(st, 3, cut_s);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail(db, "retention");
    else if (changes)
        *changes += (uint64_t)sqlite3_changes(db);
    sqlite3_finalize(st);
    return rc;
}

/* One campaign in one transaction: messages sent before the cut go with all their
 * events; events before the cut go too; surviving messages that lost events are
 * marked dirty so their status is recomputed. Old events are found through the
 * narrow event_outcomes index (the store settles first, so every event has its
 * outcome) and through events(message) for the messages that go. */
static int retain_campaign(sqlite3 *db, int64_t c, int64_t cut_us, store_retain_result_t *o)
{
    static const char mark[] =
        "INSERT OR IGNORE INTO dirty_messages(message) SELECT DISTINCT message FROM"
        " event_outcomes WHERE campaign = ?1 AND ts_us < ?2 AND message NOT IN"
        " (SELECT id FROM messages WHERE campaign = ?1 AND sent_at < ?3)";
    static const char doom_old[] =
        "INSERT OR IGNORE INTO temp.retain_ev(id) SELECT event FROM event_outcomes"
        " WHERE campaign = ?1 AND ts_us < ?2";
    static const char doom_msg[] =
        "INSERT OR IGNORE INTO temp.retain_ev(id) SELECT e.id FROM events e WHERE e.message IN"
        " (SELECT id FROM messages WHERE campaign = ?1 AND sent_at < ?3)";
    static const char del_out[] =
        "DELETE FROM event_outcomes WHERE event IN (SELECT id FROM temp.retain_ev)";
    static const char del_ev[] = "DELETE FROM events WHERE id IN (SELECT id FROM temp.retain_ev)";
    static const char del_dirty[] =
        "DELETE FROM dirty_messages WHERE message IN (SELECT id FROM messages"
        " WHERE campaign = ?1 AND sent_at < ?3)";
    static const char del_msg[] = "DELETE FROM messages WHERE campaign = ?1 AND sent_at < ?3";
    int64_t cut_s = cut_us / 1000000;
    int rc = exec(db, "CREATE TEMP TABLE IF NOT EXISTS retain_ev(id INTEGER PRIMARY KEY)");
    if (!rc) rc = exec(db, "BEGIN IMMEDIATE");
    if (rc) return rc;
    rc = exec(db, "DELETE FROM temp.retain_ev");
    if (!rc) rc = run_bound(db, mark, c, cut_us, cut_s, NULL);
    if (!rc) rc = run_bound(db, doom_old, c, cut_us, cut_s, NULL);
    if (!rc) rc = run_bound(db, doom_msg, c, cut_us, cut_s, NULL);
    if (!rc) rc = run_bound(db, del_out, c, cut_us, cut_s, NULL);
    if (!rc) rc = run_bound(db, del_ev, c, cut_us, cut_s, &o->events);
    if (!rc) rc = run_bound(db, del_dirty, c, cut_us, cut_s, NULL);
    if (!rc) rc = run_bound(db, del_msg, c, cut_us, cut_s, &o->messages);
    if (!rc) rc = exec(db, "DELETE FROM temp.retain_ev");
    if (!rc) rc = exec(db, "COMMIT");
    if (rc) exec(db, "ROLLBACK");
    return rc;
}

int store_retain(store_t *s, int64_t now_us, store_retain_result_t *out)
{
    sqlite3 *db = db_of(s);
    if (!db) return TO_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    int rc = store_settle(s); /* every event gets its outcome row first */
    if (rc) return rc;
    sqlite3_stmt *st;
    rc = prep(db,
              "SELECT c.id, c.legal_hold, coalesce(a.retention_days, 365)"
              " FROM campaigns c LEFT JOIN accounts a ON a.id = c.account ORDER BY c.id",
              &st);
    if (rc) return rc;
    int64_t *ids = NULL, *days = NULL;
    size_t n = 0, cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int64(st, 1)) {
            out->held_campaigns++;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = xrealloc(ids, xmul(cap, sizeof(*ids)));
            days = xrealloc(days, xmul(cap, sizeof(*days)));
        }
        ids[n] = sqlite3_column_int64(st, 0);
        days[n++] = sqlite3_column_int64(st, 2);
    }
    if (r != SQLITE_DONE) rc = fail(db, "retention campaigns");
    sqlite3_finalize(st);
    for (size_t i = 0; !rc && i < n; i++) {
        int64_t d = days[i] < 1 ? 1 : days[i];
        rc = retain_campaign(db, ids[i], now_us - d * DAY_US, out);
        out->campaigns++;
    }
    free(ids);
    free(days);
    return rc;
}
