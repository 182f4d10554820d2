#include <time.h>

#include "fixture.h"
#include "report/report.h"
#include "token/token.h"

static long long count(sqlite3 *db, const char *q)
{
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int main(void)
{
    sqlite3 *db = fx_open();
    long long now_s = (long long)time(NULL);
    fx_account(db, 1, 1);
    fx_exec(db, "UPDATE accounts SET retention_days = 2 WHERE id = 1");
    fx_campaign(db, 10, 1, "old");
    fx_campaign(db, 11, 1, "held");
    fx_exec(db, "UPDATE campaigns SET legal_hold = 1 WHERE id = 11");
    fx_message(db, 1, 1, 10, TOKEN_PROVIDER_GMAIL, now_s - 5 * 86400);
    fx_message(db, 2, 1, 10, TOKEN_PROVIDER_GMAIL, now_s - 3600);
    fx_message(db, 3, 1, 11, TOKEN_PROVIDER_GMAIL, now_s - 5 * 86400);
    fx_event(db, 10, 1, 'o', 0, "chrome", 0, (now_s - 5 * 86400 + 60) * 1000000LL, NULL);
    fx_event(db, 11, 3, 'o', 0, "chrome", 0, (now_s - 5 * 86400 + 60) * 1000000LL, NULL);

    report_retainer_t *r;
    char err[128];
    CHECK_INT(report_retainer_start("memory:", 10, NULL, &r, err, sizeof(err)), TO_EINVAL);
    CHECK_INT(report_retainer_start(fx_path, 1000, NULL, &r, err, sizeof(err)), 0);
    /* the first pass runs at start; wait for it (bounded) */
    for (int i = 0; i < 3000 && count(db, "SELECT count(*) FROM messages WHERE id = 1"); i++)
        sqlite3_sleep(10);
    report_retainer_stop(r);
    CHECK_INT(count(db, "SELECT count(*) FROM messages WHERE id = 1"), 0);
    CHECK_INT(count(db, "SELECT count(*) FROM events WHERE message = 1"), 0);
    CHECK_INT(count(db, "SELECT count(*) FROM messages WHERE id = 2"), 1); /* recent */
    CHECK_INT(count(db, "SELECT count(*) FROM messages WHERE id = 3"), 1); /* held */
    CHECK_INT(count(db, "SELECT count(*) FROM events WHERE message = 3"), 1);
    fx_close();
    return test_done();
}
