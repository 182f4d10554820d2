#include "fixture.h"
#include "report/report.h"
#include "token/token.h"

#define T0 1780000000000000LL
#define S  1000000LL

typedef struct {
    int n;
    uint64_t ids[8];
    bool opened[8];
    int64_t first_open[8];
} seen_t;

static int cb(void *arg, const report_message_t *m)
{
    seen_t *s = arg;
    if (s->n < 8) {
        s->ids[s->n] = m->id;
        s->opened[s->n] = m->opened;
        s->first_open[s->n] = m->first_open_us;
    }
    s->n++;
    return 0;
}

static int stop_cb(void *arg, const report_message_t *m)
{
    (void)m;
    ++*(int *)arg;
    return TO_EINVAL;
}

int main(void)
{
    sqlite3 *db = fx_open();
    fx_account(db, 1, 1);
    fx_campaign(db, 10, 1, "c");
    fx_campaign(db, 11, 1, "d");
    for (int i = 1; i <= 3; i++) fx_message(db, i, 1, 10, TOKEN_PROVIDER_GMAIL, T0 / S);
    fx_message(db, 4, 1, 11, TOKEN_PROVIDER_GMAIL, T0 / S);
    /* 1: machine then person; 2: machine only; 3: nothing */
    fx_event(db, 10, 1, 'o', 1, "gmail_prefetch", 0, T0 + 2 * S, NULL);
    fx_event(db, 10, 1, 'o', 0, "gmail_proxy", 0, T0 + 900 * S, NULL);
    fx_event(db, 10, 2, 'o', 1, "gmail_prefetch", 0, T0 + 3 * S, NULL);
    fx_settle(db);

    seen_t s = {0};
    CHECK_INT(report_messages(db, 10, REPORT_VIEW_PEOPLE, 0, 0, cb, &s), 0);
    CHECK_INT(s.n, 3);
    CHECK(s.opened[0] && !s.opened[1] && !s.opened[2]);
    CHECK_INT(s.first_open[0], T0 + 900 * S);
    memset(&s, 0, sizeof(s));
    CHECK_INT(report_messages(db, 10, REPORT_VIEW_ALL, 0, 0, cb, &s), 0);
    CHECK(s.opened[0] && s.opened[1] && !s.opened[2]);
    CHECK_INT(s.first_open[0], T0 + 2 * S);
    /* paging */
    memset(&s, 0, sizeof(s));
    CHECK_INT(report_messages(db, 10, REPORT_VIEW_ALL, 1, 1, cb, &s), 0);
    CHECK_INT(s.n, 1);
    CHECK_INT(s.ids[0], 2);
    /* the callback can stop the walk */
    int calls = 0;
    CHECK_INT(report_messages(db, 10, REPORT_VIEW_ALL, 0, 0, stop_cb, &calls), TO_EINVAL);
    CHECK_INT(calls, 1);
    /* other campaigns are not listed */
    memset(&s, 0, sizeof(s));
    CHECK_INT(report_messages(db, 11, REPORT_VIEW_ALL, 0, 0, cb, &s), 0);
    CHECK_INT(s.n, 1);
    CHECK_INT(s.ids[0], 4);
    fx_close();
    return test_done();
}
