/*
 * Retention in the background: a thread with its own store connection that deletes
 * what is past each account's retention_days (store_retain), at start and then every
 * interval, and settles the messages that lost events.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "report/report.h"

struct report_retainer {
    char *db_uri;
    int64_t interval_ms;
    classify_msg_opts_t msg_opts;
    bool have_msg_opts;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void run_once(store_t *s)
{
    store_retain_result_t r;
    int rc = store_retain(s, clock_now_us(&clock_system), &r);
    if (rc) {
        log_error("retain: %s", err_str(rc));
        return;
    }
    if (r.messages || r.events)
        log_info("retain: deleted %" PRIu64 " messages and %" PRIu64 " events (%" PRIu64
                 " campaigns under legal hold kept)",
                 r.messages, r.events, r.held_campaigns);
    store_settle(s);
}

static void *retainer_main(void *arg)
{
    report_retainer_t *r = arg;
    store_t *s = NULL;
    char err[256];
    if (store_open(r->db_uri, &s, err, sizeof(err)) != 0) {
        log_error("retain: cannot open the store: %s", err);
        return NULL;
    }
    if (r->have_msg_opts) store_set_msg_opts(s, &r->msg_opts);
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        pthread_mutex_unlock(&r->mu);
        run_once(s);
        pthread_mutex_lock(&r->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (r->interval_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(r->interval_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!r->stop) {
            if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT) break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    store_close(s);
    return NULL;
}

int report_retainer_start(const char *db_uri, int64_t interval_ms,
                          const classify_msg_opts_t *msg_opts, report_retainer_t **out, char *err,
                          size_t errlen)
{
    if (!db_uri || interval_ms < 1000) {
        snprintf(err, errlen, "retention needs a database and an interval of at least 1s");
        return TO_EINVAL;
    }
    report_retainer_t *r = xcalloc(1, sizeof(*r));
    r->db_uri = xstrdup(db_uri);
    r->interval_ms = interval_ms;
    if (msg_opts) {
        r->msg_opts = *msg_opts;
        r->have_msg_opts = true;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->th, NULL, retainer_main, r) != 0) {
        snprintf(err, errlen, "cannot start the retention thread");
        free(r->db_uri);
        free(r);
        return TO_EIO;
    }
    *out = r;
    return 0;
}

void report_retainer_stop(report_retainer_t *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->th, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->db_uri);
    free(r);
}
