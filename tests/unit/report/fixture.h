/*
 * Test fixture for report tests: a fresh SQLite store (the real migrations) and
 * helpers that write
 * campaigns, messages and events with chosen outcomes. Message status columns are
 * recomputed from the outcomes with the documented rules (docs/schema.md): a message
 * is opened in a view when it has a counted open or a counted click.
 */
#ifndef TO_REPORT_FIXTURE_H
#define TO_REPORT_FIXTURE_H

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"

static store_t *fx_store;
static char fx_path[64];

/* A fresh SQLite store in a temporary file (the real migrations), as a connection. */
__attribute__((unused)) static sqlite3 *fx_open(void)
{
    snprintf(fx_path, sizeof(fx_path), "/tmp/to-report-test-XXXXXX");
    int fd = mkstemp(fx_path);
    if (fd < 0) abort();
    close(fd);
    unlink(fx_path);
    char err[256];
    if (store_open(fx_path, &fx_store, err, sizeof(err)) != 0) {
        fprintf(stderr, "fixture: %s\n", err);
        abort();
    }
    return store_sqlite_handle(fx_store);
}

__attribute__((unused)) static void fx_close(void)
{
    store_close(fx_store);
    fx_store = NULL;
    char p[96];
    unlink(fx_path);
    snprintf(p, sizeof(p), "%s-wal", fx_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", fx_path);
    unlink(p);
}

__attribute__((unused)) static void fx_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "fixture: %s: %s\n", sql, err);
        sqlite3_free(err);
        abort();
    }
}

__attribute__((unused)) static void fx_account(sqlite3 *db, int id, int suppress)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO accounts(id, name, created_us, suppress_automated)"
             " VALUES(%d, 'acct%d', 1, %d)",
             id, id, suppress);
    fx_exec(db, sql);
}

__attribute__((unused)) static void fx_campaign(sqlite3 *db, int id, int account, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO campaigns(id, account, name, created_us) VALUES(%d, %d, '%s', 1)", id,
             account, name);
    fx_exec(db, sql);
}

__attribute__((unused)) static void fx_message(sqlite3 *db, int id, int account, int campaign,
                                               int provider, long long sent_at)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO messages(id, account, campaign, message_id_hdr, recipient_domain,"
             " recipient_hash, sent_at, provider) VALUES(%d, %d, %d, '<m%d@example.org>',"
             " 'example.org', 'h%d', %lld, %d)",
             id, account, campaign, id, id, sent_at, provider);
    fx_exec(db, sql);
}

static int fx_next_event = 1;

/* An event with its final verdict fv (0 human, 1 automated). */
__attribute__((unused)) static void fx_event(sqlite3 *db, int campaign, int message, char route,
                                             int fv, const char *agent, int link, long long ts_us,
                                             const char *url)
{
    char sql[1024];
    int id = fx_next_event++;
    snprintf(sql, sizeof(sql),
             "INSERT INTO events(id, ts_us, route, method, account, campaign, message, recipient,"
             " link, sent_at, provider, url, verdict, agent) VALUES(%d, %lld, '%c', 'GET', 1,"
             " %d, %d, 0, %d, 0, 0, %s%s%s, %d, '%s');"
             "INSERT INTO event_outcomes(event, campaign, message, route, link, ts_us, agent,"
             " final_verdict) VALUES(%d, %d, %d, '%c', %d, %lld, '%s', %d)",
             id, ts_us, route, campaign, message, link, url ? "'" : "", url ? url : "NULL",
             url ? "'" : "", fv, agent, id, campaign, message, route, link, ts_us, agent, fv);
    fx_exec(db, sql);
}

/* Recomputes every message's status from the outcomes (both views). */
__attribute__((unused)) static void fx_settle(sqlite3 *db)
{
    fx_exec(db, "UPDATE messages SET"
                " all_opens = (SELECT count(*) FROM event_outcomes e WHERE e.message = messages.id"
                "   AND e.route = 'o'),"
                " all_clicks = (SELECT count(*) FROM event_outcomes e WHERE e.message = messages.id"
                "   AND e.route = 'c'),"
                " hum_opens = (SELECT count(*) FROM event_outcomes e WHERE e.message = messages.id"
                "   AND e.route = 'o' AND e.final_verdict = 0),"
                " hum_clicks = (SELECT count(*) FROM event_outcomes e WHERE e.message = messages.id"
                "   AND e.route = 'c' AND e.final_verdict = 0),"
                " all_first_open_us = coalesce((SELECT min(ts_us) FROM event_outcomes e WHERE"
                "   e.message = messages.id AND e.route IN ('o','c')), 0),"
                " hum_first_open_us = coalesce((SELECT min(ts_us) FROM event_outcomes e WHERE"
                "   e.message = messages.id AND e.route IN ('o','c') AND e.final_verdict = 0), 0),"
                " all_first_click_us = coalesce((SELECT min(ts_us) FROM event_outcomes e WHERE"
                "   e.message = messages.id AND e.route = 'c'), 0),"
                " hum_first_click_us = coalesce((SELECT min(ts_us) FROM event_outcomes e WHERE"
                "   e.message = messages.id AND e.route = 'c' AND e.final_verdict = 0), 0);"
                "UPDATE messages SET all_opened = (all_opens + all_clicks) > 0,"
                " hum_opened = (hum_opens + hum_clicks) > 0, all_clicked = all_clicks > 0,"
                " hum_clicked = hum_clicks > 0");
}

#endif
