/*
 * The event writer: a bounded queue in front of one thread that classifies events,
 * commits them in batches (group commit) and only then calls each event's done
 * callback, so a response is never sent for an event that is not durable. When the
 * queue is idle it settles the status of messages that gained events.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cfg_def_t store_cfg[] = {
    {"db", CFG_STR, NULL, 0, 0, CFG_REQUIRED, "event store: a SQLite file path (or memory:)"},
    {"queue_max", CFG_INT, "65536", 1, 10000000, 0,
     "events waiting for the writer before new ones are refused"},
    {"batch_rows", CFG_INT, "2000", 1, 1000000, 0, "commit when this many events are waiting"},
    {"batch_bytes", CFG_SIZE, "4M", 1024, 1073741824, 0, "or when they hold this many bytes"},
    {"batch_ms", CFG_MS, "0", 0, 10000, 0,
     "or when the oldest has waited this long (0: at once; events that arrive during a "
     "commit form the next batch, and with clients waiting on their answers a wait only "
     "adds latency)"},
    {"store_synchronous", CFG_STR, "normal", 0, 0, 0,
     "normal: durable against a crash of the process; full: also against power loss"},
    {"settle_interval", CFG_MS, "500ms", 0, 3600000, 0,
     "least time between two passes that recompute message status while idle"},
    {"settle_quiet", CFG_MS, "10ms", 0, 60000, 0,
     "with messages left to settle, settle again once no batch came for this long (under "
     "steady load at least every settle_interval)"},
    CFG_END,
};

void store_writer_opts_from_config(const config_t *c, store_writer_opts_t *o)
{
    o->queue_max = (size_t)config_int(c, "queue_max");
    o->batch_rows = (size_t)config_int(c, "batch_rows");
    o->batch_bytes = (size_t)config_int(c, "batch_bytes");
    o->batch_ms = config_int(c, "batch_ms");
    o->settle_interval_ms = config_int(c, "settle_interval");
    o->settle_quiet_ms = config_int(c, "settle_quiet");
}

typedef struct item {
    struct item *next;
    store_event_t e;
    http_done_fn done;
    void *arg;
    size_t bytes;
    /* the event's strings follow */
} item_t;

#define N_BUCKETS 12
static const double batch_bounds[N_BUCKETS] = {1,    4,    16,   64,    256,   1024,
                                               2048, 4096, 8192, 16384, 65536, 1e18};
static const double lat_bounds[N_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                             0.01,   0.025,   0.05,   0.1,   0.5,    1e18};

struct store_writer {
    http_sink_t sink; /* first: the sink pointer is the writer */
    store_t *store;
    store_writer_opts_t o;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_mutex_t busy; /* held while a batch or a settle pass runs */
    item_t *head, *tail;
    size_t count, bytes;
    bool stop;
    _Atomic(const classify_rules_t *) rules;
    /* metrics */
    atomic_ullong queued_total, committed_total, refused_total, failed_total, batches;
    atomic_ullong batch_hist[N_BUCKETS], lat_hist[N_BUCKETS];
    atomic_ullong batch_sum, lat_sum_us;
    atomic_ullong depth;
};

static size_t sl(slice_t s)
{
    return s.p ? s.len : 0;
}

/* Copies slice s into *pp, pointing dst at the copy (NULL stays NULL). */
static void put(char **pp, slice_t s, slice_t *dst)
{
    if (!s.p) {
        *dst = SLICE_NULL;
        return;
    }
    if (s.len) memcpy(*pp, s.p, s.len);
    *dst = slice_make(*pp, s.len);
    *pp += s.len;
}

static item_t *item_copy(const http_event_t *ev)
{
    size_t n = sl(ev->tok.url) + sl(ev->ip) + sl(ev->ua) + sl(ev->sec_purpose) + sl(ev->purpose) +
               sl(ev->x_purpose) + sl(ev->x_moz) + sl(ev->accept) + sl(ev->accept_language) +
               sl(ev->referer) + sl(ev->via) + sl(ev->from) + sl(ev->dnt) + sl(ev->sec_gpc);
    item_t *it = xmalloc(sizeof(*it) + n);
    memset(it, 0, sizeof(*it));
    it->e.ev = *ev;
    char *p = (char *)(it + 1);
    http_event_t *d = &it->e.ev;
    put(&p, ev->tok.url, &d->tok.url);
    put(&p, ev->ip, &d->ip);
    put(&p, ev->ua, &d->ua);
    put(&p, ev->sec_purpose, &d->sec_purpose);
    put(&p, ev->purpose, &d->purpose);
    put(&p, ev->x_purpose, &d->x_purpose);
    put(&p, ev->x_moz, &d->x_moz);
    put(&p, ev->accept, &d->accept);
    put(&p, ev->accept_language, &d->accept_language);
    put(&p, ev->referer, &d->referer);
    put(&p, ev->via, &d->via);
    put(&p, ev->from, &d->from);
    put(&p, ev->dnt, &d->dnt);
    put(&p, ev->sec_gpc, &d->sec_gpc);
    it->bytes = sizeof(*it) + n;
    return it;
}

static int w_submit(http_sink_t *s, const http_event_t *ev, http_done_fn done, void *arg)
{
    store_writer_t *w = (store_writer_t *)s;
    if (atomic_load(&w->depth) >= w->o.queue_max) {
        atomic_fetch_add(&w->refused_total, 1);
        return TO_EFULL;
    }
    item_t *it = item_copy(ev);
    it->done = done;
    it->arg = arg;
    pthread_mutex_lock(&w->lock);
    if (w->count >= w->o.queue_max || w->stop) {
        pthread_mutex_unlock(&w->lock);
        free(it);
        atomic_fetch_add(&w->refused_total, 1);
        return TO_EFULL;
    }
    if (w->tail)
        w->tail->next = it;
    else
        w->head = it;
    w->tail = it;
    w->count++;
    w->bytes += it->bytes;
    atomic_store(&w->depth, w->count);
    bool wake = w->count == 1 || w->count >= w->o.batch_rows || w->bytes >= w->o.batch_bytes;
    pthread_mutex_unlock(&w->lock);
    atomic_fetch_add(&w->queued_total, 1);
    if (wake) pthread_cond_signal(&w->cond);
    return TO_OK;
}

static void observe(atomic_ullong *hist, const double *bounds, double v)
{
    for (int i = 0; i < N_BUCKETS; i++)
        if (v <= bounds[i]) {
            atomic_fetch_add(&hist[i], 1);
            return;
        }
}

static void hist_text(buf_t *out, const char *name, const char *help, atomic_ullong *hist,
                      const double *bounds, double sum, unsigned long long count)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long long cum = 0;
    for (int i = 0; i < N_BUCKETS; i++) {
        cum += atomic_load(&hist[i]);
        if (i == N_BUCKETS - 1)
            buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
        else
            buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], cum);
    }
    buf_printf(out, "%s_sum %g\n%s_count %llu\n", name, sum, name, count);
}

static void w_metrics(http_sink_t *s, buf_t *out)
{
    store_writer_t *w = (store_writer_t *)s;
    buf_printf(out,
               "# HELP trueopen_events_queued_total Events accepted into the writer queue.\n"
               "# TYPE trueopen_events_queued_total counter\ntrueopen_events_queued_total %llu\n"
               "# HELP trueopen_events_committed_total Events committed to the store.\n"
               "# TYPE trueopen_events_committed_total counter\n"
               "trueopen_events_committed_total %llu\n"
               "# HELP trueopen_events_refused_total Events refused because the queue was full.\n"
               "# TYPE trueopen_events_refused_total counter\n"
               "trueopen_events_refused_total %llu\n"
               "# HELP trueopen_events_failed_total Events whose commit failed.\n"
               "# TYPE trueopen_events_failed_total counter\ntrueopen_events_failed_total %llu\n"
               "# HELP trueopen_queue_depth Events waiting for the writer.\n"
               "# TYPE trueopen_queue_depth gauge\ntrueopen_queue_depth %llu\n",
               (unsigned long long)atomic_load(&w->queued_total),
               (unsigned long long)atomic_load(&w->committed_total),
               (unsigned long long)atomic_load(&w->refused_total),
               (unsigned long long)atomic_load(&w->failed_total),
               (unsigned long long)atomic_load(&w->depth));
    unsigned long long batches = atomic_load(&w->batches);
    hist_text(out, "trueopen_batch_size", "Events per committed batch.", w->batch_hist,
              batch_bounds, (double)atomic_load(&w->batch_sum), batches);
    hist_text(out, "trueopen_commit_seconds", "Time to commit one batch.", w->lat_hist, lat_bounds,
              (double)atomic_load(&w->lat_sum_us) / 1e6, batches);
}

/* Takes a batch off the queue, waiting for one when it is empty. Returns NULL when
 * stopping with nothing left. */
static item_t *take(store_writer_t *w, size_t *out_n, int64_t next_settle_ms, bool *out_idle)
{
    pthread_mutex_lock(&w->lock);
    *out_idle = false;
    while (!w->head && !w->stop) {
        /* Idle: settle message status now and then. */
        int64_t now = mono_ms();
        if (now >= next_settle_ms) {
            *out_idle = true;
            pthread_mutex_unlock(&w->lock);
            return NULL;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ms = next_settle_ms - now;
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    if (!w->head) {
        pthread_mutex_unlock(&w->lock);
        return NULL;
    }
    /* A small batch may wait up to batch_ms for company; a full one goes at once. */
    if (w->o.batch_ms > 0 && w->count < w->o.batch_rows && w->bytes < w->o.batch_bytes &&
        !w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += w->o.batch_ms * 1000000;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    item_t *first = w->head, *last = first;
    size_t n = 1, bytes = first->bytes;
    while (last->next && n < w->o.batch_rows && bytes < w->o.batch_bytes) {
        last = last->next;
        n++;
        bytes += last->bytes;
    }
    w->head = last->next;
    if (!w->head) w->tail = NULL;
    last->next = NULL;
    w->count -= n;
    w->bytes -= bytes;
    atomic_store(&w->depth, w->count);
    pthread_mutex_unlock(&w->lock);
    *out_n = n;
    return first;
}

static void commit_batch(store_writer_t *w, item_t *first, size_t n, store_event_t **arr,
                         size_t *arr_cap)
{
    if (n > *arr_cap) {
        *arr_cap = n;
        *arr = xrealloc(*arr, xmul(n, sizeof(store_event_t)));
    }
    const classify_rules_t *rules = atomic_load(&w->rules);
    size_t i = 0;
    for (item_t *it = first; it; it = it->next) {
        store_classify(rules, &it->e);
        (*arr)[i++] = it->e;
    }
    int64_t t0 = clock_now_us(&clock_system);
    int rc = TO_ESTORE;
    /* A failed commit (disk full, locked) is retried before the events are given up. */
    for (int attempt = 0; attempt < 3 && rc != TO_OK; attempt++)
        rc = store_insert_events(w->store, *arr, n);
    int64_t dt = clock_now_us(&clock_system) - t0;
    atomic_fetch_add(&w->batches, 1);
    atomic_fetch_add(&w->batch_sum, n);
    atomic_fetch_add(&w->lat_sum_us, (unsigned long long)dt);
    observe(w->batch_hist, batch_bounds, (double)n);
    observe(w->lat_hist, lat_bounds, (double)dt / 1e6);
    if (rc == TO_OK)
        atomic_fetch_add(&w->committed_total, n);
    else
        atomic_fetch_add(&w->failed_total, n);
    item_t *it = first;
    while (it) {
        item_t *next = it->next;
        if (it->done) it->done(it->arg, rc);
        free(it);
        it = next;
    }
}

static void *writer_main(void *arg)
{
    store_writer_t *w = arg;
    store_event_t *arr = NULL;
    size_t cap = 0;
    /* When the next settle pass may run, and whether the last one left messages. Under
     * a closed loop of clients the queue is empty between every two batches, so "empty"
     * alone is not idle: with a backlog the writer waits for settle_quiet without a
     * batch, and under steady load settles once per settle_interval, so settling never
     * takes more than its share from commits. */
    int64_t next_settle = 0, last_pass = 0;
    bool backlog = false;
    for (;;) {
        size_t n = 0;
        bool idle;
        item_t *batch = take(w, &n, next_settle, &idle);
        if (batch) {
            pthread_mutex_lock(&w->busy);
            commit_batch(w, batch, n, &arr, &cap);
            pthread_mutex_unlock(&w->busy);
            if (backlog) {
                int64_t now = mono_ms();
                next_settle = TO_MIN(TO_MAX(next_settle, now + w->o.settle_quiet_ms),
                                     last_pass + w->o.settle_interval_ms);
            }
            continue;
        }
        if (idle) {
            size_t left = 0;
            pthread_mutex_lock(&w->busy);
            w->store->rules = atomic_load(&w->rules);
            if (store__settle_some(w->store, 200, &left) != TO_OK) left = 0;
            pthread_mutex_unlock(&w->busy);
            /* More to do: come back soon, but let queued events go first. */
            last_pass = mono_ms();
            backlog = left > 0;
            next_settle = last_pass + (backlog ? w->o.settle_quiet_ms : w->o.settle_interval_ms);
            continue;
        }
        break; /* stopping and drained */
    }
    free(arr);
    w->store->rules = atomic_load(&w->rules);
    store_settle(w->store);
    return NULL;
}

int store_writer_start(store_t *s, const store_writer_opts_t *o, store_writer_t **out)
{
    store_writer_t *w = xcalloc(1, sizeof(*w));
    w->sink.submit = w_submit;
    w->sink.metrics = w_metrics;
    w->store = s;
    w->o = *o;
    if (w->o.queue_max == 0) w->o.queue_max = 65536;
    if (w->o.batch_rows == 0) w->o.batch_rows = 2000;
    if (w->o.batch_bytes == 0) w->o.batch_bytes = 4 << 20;
    atomic_store(&w->rules, s->rules);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_mutex_init(&w->busy, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        free(w);
        return TO_EIO;
    }
    *out = w;
    return TO_OK;
}

void store_writer_stop(store_writer_t *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->busy);
    free(w);
}

http_sink_t *store_writer_sink(store_writer_t *w)
{
    return &w->sink;
}

void store_writer_set_rules(store_writer_t *w, const classify_rules_t *rules)
{
    atomic_store(&w->rules, rules);
}

void store_writer_quiesce(store_writer_t *w)
{
    pthread_mutex_lock(&w->busy);
    pthread_mutex_unlock(&w->busy);
}
