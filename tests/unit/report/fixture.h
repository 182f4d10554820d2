/*
 * Test fixture for report tests: a database with the tables reports read (as
 * docs/schema.md documents them) and helpers that write
 * campaigns, messages and events with chosen outcomes. Message status columns are
 * recomputed from the outcomes with the documented rules (docs/schema.md): a message
 * is opened in a view when it has a counted open or a counted click.
 */
#ifndef TO_REPORT_FIXTURE_H
#define TO_REPORT_FIXTURE_H

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

static const char fx_schema[] =
    "CREATE TABLE accounts(id INTEGER PRIMARY KEY, name TEXT, created_us INTEGER DEFAULT 0,"
    " suppress_automated INTEGER DEFAULT 1, keep_recipient_address INTEGER DEFAULT 0,"
    " honeypot INTEGER DEFAULT 1, retention_days INTEGER DEFAULT 365);"
    "CREATE TABLE campaigns(id INTEGER PRIMARY KEY, account INTEGER, name TEXT,"
    " created_us INTEGER DEFAULT 0, legal_hold INTEGER DEFAULT 0, UNIQUE(account, name));"
    "CREATE TABLE messages(id INTEGER PRIMARY KEY, account INTEGER, campaign INTEGER,"
    " message_id_hdr TEXT, recipient_domain TEXT, recipient_hash TEXT, recipient_addr TEXT,"
    " recipient_count INTEGER DEFAULT 1, sent_at INTEGER, link_count INTEGER DEFAULT 0,"
    " provider INTEGER DEFAULT 0,"
    " all_opened INTEGER DEFAULT 0, all_clicked INTEGER DEFAULT 0,"
    " all_first_open_us INTEGER DEFAULT 0, all_first_click_us INTEGER DEFAULT 0,"
    " all_opens INTEGER DEFAULT 0, all_clicks INTEGER DEFAULT 0,"
    " hum_opened INTEGER DEFAULT 0, hum_clicked INTEGER DEFAULT 0,"
    " hum_first_open_us INTEGER DEFAULT 0, hum_first_click_us INTEGER DEFAULT 0,"
    " hum_opens INTEGER DEFAULT 0, hum_clicks INTEGER DEFAULT 0,"
    " status_version INTEGER DEFAULT 0);"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, ts_us INTEGER, route TEXT, method TEXT,"
    " account INTEGER, campaign INTEGER, message INTEGER, recipient INTEGER, link INTEGER,"
    " sent_at INTEGER, provider INTEGER, url TEXT, ip TEXT, ua TEXT, verdict INTEGER,"
    " agent TEXT, via_proxy INTEGER, certainty INTEGER, reasons TEXT, datacenter INTEGER,"
    " rules_version INTEGER);"
    "CREATE TABLE event_outcomes(event INTEGER PRIMARY KEY, campaign INTEGER, message INTEGER,"
    " route TEXT, link INTEGER, ts_us INTEGER, agent TEXT, final_verdict INTEGER,"
    " final_reasons TEXT);"
    "CREATE INDEX eo_msg ON event_outcomes(campaign, message);";

static sqlite3 *fx_open(void)
{
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
    char *err = NULL;
    if (sqlite3_exec(db, fx_schema, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "fixture: %s\n", err);
        abort();
    }
    return db;
}

static void fx_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "fixture: %s: %s\n", sql, err);
        sqlite3_free(err);
        abort();
    }
}

static void fx_account(sqlite3 *db, int id, int suppress)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO accounts(id, name, suppress_automated) VALUES(%d, 'acct%d', %d)", id, id,
             suppress);
    fx_exec(db, sql);
}

static void fx_campaign(sqlite3 *db, int id, int account, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "INSERT INTO campaigns(id, account, name) VALUES(%d, %d, '%s')", id,
             account, name);
    fx_exec(db, sql);
}

static void fx_message(sqlite3 *db, int id, int account, int campaign, int provider,
                       long long sent_at)
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
static void fx_event(sqlite3 *db, int campaign, int message, char route, int fv, const char *agent,
                     int link, long long ts_us, const char *url)
{
    char sql[1024];
    int id = fx_next_event++;
    snprintf(sql, sizeof(sql),
             "INSERT INTO events(id, ts_us, route, method, account, campaign, message, link, url,"
             " verdict, agent) VALUES(%d, %lld, '%c', 'GET', 1, %d, %d, %d, %s%s%s, %d, '%s');"
             "INSERT INTO event_outcomes(event, campaign, message, route, link, ts_us, agent,"
             " final_verdict) VALUES(%d, %d, %d, '%c', %d, %lld, '%s', %d)",
             id, ts_us, route, campaign, message, link, url ? "'" : "", url ? url : "NULL",
             url ? "'" : "", fv, agent, id, campaign, message, route, link, ts_us, agent, fv);
    fx_exec(db, sql);
}

/* Recomputes every message's status from the outcomes (both views). */
static void fx_settle(sqlite3 *db)
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
