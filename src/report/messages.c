/*
 * Per message status for the message list: opened/clicked, first times and counts in
 * the view asked for (the derived status columns of messages), plus the other view's
 * opened/clicked for comparison.
 */
#include <string.h>

#include "report/report.h"

static slice_t column_slice(sqlite3_stmt *st, int col)
{
    const char *p = (const char *)sqlite3_column_text(st, col);
    return p ? slice_make(p, (size_t)sqlite3_column_bytes(st, col)) : SLICE_NULL;
}

int report_messages(sqlite3 *db, uint64_t campaign_id, report_view_t view, uint64_t after_id,
                    uint64_t limit, report_message_cb cb, void *arg)
{
    static const char *const sql[2] = {
        [REPORT_VIEW_PEOPLE] =
            "SELECT m.id, message_id_hdr, recipient_domain, recipient_hash, recipient_addr,"
            " sent_at, provider, hum_opened, hum_clicked, hum_first_open_us, hum_first_click_us,"
            " hum_opens, hum_clicks, all_opened, all_clicked, m.account, c.name,"
            " recipient_count, link_count"
            " FROM messages m JOIN campaigns c ON c.id = m.campaign"
            " WHERE m.campaign = ?1 AND m.id > ?2 ORDER BY m.id LIMIT ?3",
        [REPORT_VIEW_ALL] =
            "SELECT m.id, message_id_hdr, recipient_domain, recipient_hash, recipient_addr,"
            " sent_at, provider, all_opened, all_clicked, all_first_open_us, all_first_click_us,"
            " all_opens, all_clicks, hum_opened, hum_clicked, m.account, c.name,"
            " recipient_count, link_count"
            " FROM messages m JOIN campaigns c ON c.id = m.campaign"
            " WHERE m.campaign = ?1 AND m.id > ?2 ORDER BY m.id LIMIT ?3",
    };
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql[view == REPORT_VIEW_ALL], -1, &st, NULL) != SQLITE_OK) {
        log_error("report: messages: %s", sqlite3_errmsg(db));
        return TO_ESTORE;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)campaign_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)after_id);
    sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)TO_MIN(limit, (uint64_t)INT64_MAX) : -1);
    int rc = 0, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        report_message_t m;
        memset(&m, 0, sizeof(m));
        m.id = (uint64_t)sqlite3_column_int64(st, 0);
        m.message_id_hdr = column_slice(st, 1);
        m.recipient_domain = column_slice(st, 2);
        m.recipient_hash = column_slice(st, 3);
        m.recipient_addr = column_slice(st, 4);
        m.sent_at = sqlite3_column_int64(st, 5);
        m.provider = (unsigned)sqlite3_column_int64(st, 6);
        m.opened = sqlite3_column_int64(st, 7) != 0;
        m.clicked = sqlite3_column_int64(st, 8) != 0;
        m.first_open_us = sqlite3_column_int64(st, 9);
        m.first_click_us = sqlite3_column_int64(st, 10);
        m.opens = (uint64_t)sqlite3_column_int64(st, 11);
        m.clicks = (uint64_t)sqlite3_column_int64(st, 12);
        m.other_opened = sqlite3_column_int64(st, 13) != 0;
        m.other_clicked = sqlite3_column_int64(st, 14) != 0;
        m.account = (uint64_t)sqlite3_column_int64(st, 15);
        m.campaign = column_slice(st, 16);
        m.recipient_count = (uint32_t)sqlite3_column_int64(st, 17);
        m.link_count = (uint32_t)sqlite3_column_int64(st, 18);
        rc = cb(arg, &m);
        if (rc) break;
    }
    if (!rc && s != SQLITE_DONE) {
        log_error("report: messages: %s", sqlite3_errmsg(db));
        rc = TO_ESTORE;
    }
    sqlite3_finalize(st);
    return rc;
}
