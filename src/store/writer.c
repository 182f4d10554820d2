/*
 * The event writer: the tracking server's sink. Events are encoded (spool.c record
 * format) into a pending buffer under a lock, without an allocation per event; one
 * writer thread takes the whole pending batch at once (group commit) and commits it:
 *
 *  - spool mode (SQLite, the default): one append to the store's spool, then every
 *    done callback. An ingester thread at lower priority moves spooled events into
 *    SQLite in large transactions, classifying them, and settles message status.
 *  - direct mode (the memory backend, or no_spool): the batch is classified and
 *    inserted into the store itself, then the callbacks run.
 *
 * Either way a response is never sent for an event that is not durable.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

const cfg_def_t store_cfg[] = {
    {"db", CFG_STR, NULL, 0, 0, CFG_REQUIRED, "event store: a SQLite file path (or memory:)"},
    {"queue_max", CFG_INT, "65536", 1, 10000000, 0,
     "events waiting for the writer before new ones are refused"},
    {"batch_rows", CFG_INT, "2000", 1, 1000000, 0,
     "with batch_ms, commit before the wait is over once this many events are waiting"},
    {"batch_bytes", CFG_SIZE, "4M", 1024, 1073741824, 0, "or once they hold this many bytes"},
    {"batch_ms", CFG_MS, "0", 0, 10000, 0,
     "or when the oldest has waited this long (0: at once; events that arrive during a "
     "commit form the next batch, and with clients waiting on their answers a wait only "
     "adds latency)"},
    {"store_synchronous", CFG_STR, "normal", 0, 0, 0,
     "normal: durable against a crash of the process; full: also against power loss "
     "(fdatasync per commit)"},
    {"spool", CFG_BOOL, "on", 0, 0, 0,
     "commit events to the store's spool (<db>.spool/) and ingest them into SQLite off "
     "the request path; off: commit into SQLite before answering"},
    {"spool_segment", CFG_SIZE, "64M", 65536, 4294967296LL, 0,
     "start a new spool segment past this size (ingested segments are deleted)"},
    {"ingest_nice", CFG_INT, "10", 0, 19, 0,
     "niceness of the thread that ingests the spool into SQLite (answers come first)"},
    {"ingest_idle", CFG_BOOL, "on", 0, 0, 0,
     "run the ingester under SCHED_IDLE: it takes only CPU time nothing else wants, so a "
     "burst of traffic is answered at full speed and ingested right after"},
    {"settle_interval", CFG_MS, "500ms", 0, 3600000, 0,
     "least time between two passes that recompute message status while idle"},
    {"settle_quiet", CFG_MS, "10ms", 0, 60000, 0,
     "with messages left to settle, settle again once no batch came for this long (under "
     "steady load at least every settle_interval)"},
    CFG_END,
};

void store_writer_opts_from_config(const config_t *c, store_writer_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->queue_max = (size_t)config_int(c, "queue_max");
    o->batch_rows = (size_t)config_int(c, "batch_rows");
    o->batch_bytes = (size_t)config_int(c, "batch_bytes");
    o->batch_ms = config_int(c, "batch_ms");
    o->settle_interval_ms = config_int(c, "settle_interval");
    o->settle_quiet_ms = config_int(c, "settle_quiet");
    o->no_spool = !config_bool(c, "spool");
    const char *sync = config_str(c, "store_synchronous");
    o->sync = sync && !strcmp(sync, "full");
    o->spool_segment_bytes = (size_t)config_int(c, "spool_segment");
    o->ingest_nice = (int)config_int(c, "ingest_nice");
    o->ingest_idle = config_bool(c, "ingest_idle");
}

typedef struct {
    http_done_fn done;
    void *arg;
} cb_t;

/* A batch: the encoded events and their callbacks. */
typedef struct {
    buf_t enc;
    cb_t *cbs;
    size_t n, cap;
} pend_t;

#define N_BUCKETS 12
static const double batch_bounds[N_BUCKETS] = {1,    4,    16,   64,    256,   1024,
                                               2048, 4096, 8192, 16384, 65536, 1e18};
static const double lat_bounds[N_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                             0.01,   0.025,   0.05,   0.1,   0.5,    1e18};

/* The batch of one event loop thread that attached (spool mode): its events wait
 * here, without a lock, until the thread flushes them. */
typedef struct tl_batch {
    pend_t p;
    store_writer_t *w;
    struct tl_batch *next;
} tl_batch_t;

static _Thread_local tl_batch_t *tl_batch;

struct store_writer {
    http_sink_t sink; /* first: the sink pointer is the writer */
    store_t *store;
    store_writer_opts_t o;
    store__spool_t *spool; /* NULL: direct mode */
    const char *spool_dir;
    pthread_t writer, ingester;
    bool has_ingester;
    pthread_mutex_t lock; /* the pending batch */
    pthread_cond_t cond;
    pend_t pend;
    bool stop;
    pthread_mutex_t ilock; /* wakes the ingester */
    pthread_cond_t icond;
    bool iwake, writer_done;
    atomic_ullong live_seq;
    pthread_mutex_t busy;  /* held while events are classified into the store or settled */
    pthread_mutex_t slock; /* one append to the spool at a time */
    tl_batch_t *attached;  /* batches of attached threads, freed at stop */
    _Atomic(const classify_rules_t *) rules;
    /* metrics */
    atomic_ullong queued_total, committed_total, refused_total, failed_total, ingested_total;
    atomic_ullong batches, batch_hist[N_BUCKETS], lat_hist[N_BUCKETS], batch_sum, lat_sum_us;
    atomic_ullong depth;
};

static void pend_add(pend_t *p, const http_event_t *ev, http_done_fn done, void *arg)
{
    xgrow(p->cbs, p->cap, p->n, 256);
    p->cbs[p->n++] = (cb_t){done, arg};
    store__spool_encode(&p->enc, ev);
}

static int w_submit(http_sink_t *s, const http_event_t *ev, http_done_fn done, void *arg)
{
    store_writer_t *w = (store_writer_t *)s;
    tl_batch_t *tb = tl_batch;
    if (tb && tb->w == w) {
        if (tb->p.n >= w->o.queue_max) {
            atomic_fetch_add(&w->refused_total, 1);
            return TO_EFULL;
        }
        pend_add(&tb->p, ev, done, arg);
        atomic_fetch_add(&w->queued_total, 1);
        return TO_OK;
    }
    pthread_mutex_lock(&w->lock);
    if (w->pend.n >= w->o.queue_max || w->stop) {
        pthread_mutex_unlock(&w->lock);
        atomic_fetch_add(&w->refused_total, 1);
        return TO_EFULL;
    }
    pend_t *p = &w->pend;
    pend_add(p, ev, done, arg);
    bool wake = p->n == 1 || p->n >= w->o.batch_rows || p->enc.len >= w->o.batch_bytes;
    atomic_store(&w->depth, p->n);
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

static void counter(buf_t *out, const char *name, const char *help, unsigned long long v)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

static void w_metrics(http_sink_t *s, buf_t *out)
{
    store_writer_t *w = (store_writer_t *)s;
    counter(out, "trueopen_events_queued_total", "Events accepted into the writer queue.",
            atomic_load(&w->queued_total));
    counter(out, "trueopen_events_committed_total",
            "Events committed (to the spool or the store) before their answer.",
            atomic_load(&w->committed_total));
    counter(out, "trueopen_events_refused_total", "Events refused because the queue was full.",
            atomic_load(&w->refused_total));
    counter(out, "trueopen_events_failed_total", "Events whose commit failed.",
            atomic_load(&w->failed_total));
    counter(out, "trueopen_events_ingested_total", "Events stored and classified in the store.",
            atomic_load(&w->ingested_total));
    unsigned long long c = atomic_load(&w->committed_total), i = atomic_load(&w->ingested_total);
    buf_printf(out,
               "# HELP trueopen_queue_depth Events waiting for the writer.\n"
               "# TYPE trueopen_queue_depth gauge\ntrueopen_queue_depth %llu\n"
               "# HELP trueopen_spool_backlog Committed events not yet ingested into the store.\n"
               "# TYPE trueopen_spool_backlog gauge\ntrueopen_spool_backlog %llu\n",
               (unsigned long long)atomic_load(&w->depth), w->spool && c > i ? c - i : 0);
    unsigned long long batches = atomic_load(&w->batches);
    hist_text(out, "trueopen_batch_size", "Events per committed batch.", w->batch_hist,
              batch_bounds, (double)atomic_load(&w->batch_sum), batches);
    hist_text(out, "trueopen_commit_seconds", "Time to commit one batch.", w->lat_hist, lat_bounds,
              (double)atomic_load(&w->lat_sum_us) / 1e6, batches);
}

static void abs_time(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Swaps the pending batch into *mine (which must be empty). False when stopping with
 * nothing left. In direct mode, wakes every wait_ms to settle (wait_ms < 0: never). */
static bool take(store_writer_t *w, pend_t *mine, int64_t wait_ms, bool *out_timeout)
{
    pthread_mutex_lock(&w->lock);
    *out_timeout = false;
    while (w->pend.n == 0 && !w->stop) {
        if (wait_ms < 0) {
            pthread_cond_wait(&w->cond, &w->lock);
            continue;
        }
        struct timespec ts;
        abs_time(&ts, wait_ms);
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0 && w->pend.n == 0) {
            *out_timeout = !w->stop;
            pthread_mutex_unlock(&w->lock);
            return !w->stop;
        }
    }
    if (w->pend.n == 0) {
        pthread_mutex_unlock(&w->lock);
        return false;
    }
    /* A small batch may wait up to batch_ms for company; a full one goes at once. */
    if (w->o.batch_ms > 0 && w->pend.n < w->o.batch_rows && w->pend.enc.len < w->o.batch_bytes &&
        !w->stop) {
        struct timespec ts;
        abs_time(&ts, w->o.batch_ms);
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    pend_t t = w->pend;
    w->pend = *mine;
    *mine = t;
    atomic_store(&w->depth, 0);
    pthread_mutex_unlock(&w->lock);
    return true;
}

static void finish_batch(store_writer_t *w, pend_t *b, int rc, int64_t dt_us)
{
    atomic_fetch_add(&w->batches, 1);
    atomic_fetch_add(&w->batch_sum, b->n);
    atomic_fetch_add(&w->lat_sum_us, (unsigned long long)dt_us);
    observe(w->batch_hist, batch_bounds, (double)b->n);
    observe(w->lat_hist, lat_bounds, (double)dt_us / 1e6);
    atomic_fetch_add(rc == TO_OK ? &w->committed_total : &w->failed_total, b->n);
    for (size_t i = 0; i < b->n; i++)
        if (b->cbs[i].done) b->cbs[i].done(b->cbs[i].arg, rc);
    b->n = 0;
    buf_reset(&b->enc);
}

/* Direct mode: decode, classify and insert the batch into the store. */
static int insert_direct(store_writer_t *w, pend_t *b, store_event_t **arr, size_t *cap)
{
    if (b->n > *cap) {
        *cap = b->n;
        *arr = xrealloc(*arr, xmul(b->n, sizeof(store_event_t)));
    }
    const classify_rules_t *rules = atomic_load(&w->rules);
    size_t used = 0;
    for (size_t i = 0; i < b->n; i++) {
        bool bad;
        memset(&(*arr)[i], 0, sizeof(store_event_t));
        size_t r = store__spool_decode((const uint8_t *)b->enc.p + used, b->enc.len - used,
                                       &(*arr)[i].ev, &bad);
        if (r == 0) log_panic("writer: a batch does not decode");
        used += r;
        store_classify(rules, &(*arr)[i]);
    }
    int rc = TO_ESTORE;
    /* A failed commit (disk full, locked) is retried before the events are given up. */
    for (int attempt = 0; attempt < 3 && rc != TO_OK; attempt++)
        rc = store_insert_events(w->store, *arr, b->n);
    if (rc == TO_OK) atomic_fetch_add(&w->ingested_total, b->n);
    return rc;
}

static void settle_some(store_writer_t *w, size_t max, size_t *left)
{
    pthread_mutex_lock(&w->busy);
    w->store->rules = atomic_load(&w->rules);
    if (store__settle_some(w->store, max, left) != TO_OK) *left = 0;
    pthread_mutex_unlock(&w->busy);
}

static void wake_ingester(store_writer_t *w, bool done);

/* Appends a batch to the spool and answers it. */
static void spool_batch(store_writer_t *w, pend_t *b)
{
    int64_t t0 = clock_now_us(&clock_system);
    pthread_mutex_lock(&w->slock);
    int rc = store__spool_append(w->spool, b->enc.p, b->enc.len, w->o.sync);
    atomic_store(&w->live_seq, store__spool_live_seq(w->spool));
    pthread_mutex_unlock(&w->slock);
    finish_batch(w, b, rc, clock_now_us(&clock_system) - t0);
    wake_ingester(w, false);
}

static void w_attach(http_sink_t *s)
{
    store_writer_t *w = (store_writer_t *)s;
    if (!w->spool || (tl_batch && tl_batch->w == w)) return; /* direct mode: the writer thread */
    tl_batch_t *tb = xcalloc(1, sizeof(*tb));
    tb->w = w;
    pthread_mutex_lock(&w->lock);
    tb->next = w->attached;
    w->attached = tb;
    pthread_mutex_unlock(&w->lock);
    tl_batch = tb;
}

static size_t w_flush(http_sink_t *s)
{
    store_writer_t *w = (store_writer_t *)s;
    tl_batch_t *tb = tl_batch;
    if (!tb || tb->w != w || tb->p.n == 0) return 0;
    size_t n = tb->p.n;
    spool_batch(w, &tb->p);
    return n;
}

static void wake_ingester(store_writer_t *w, bool done)
{
    pthread_mutex_lock(&w->ilock);
    w->iwake = true;
    if (done) w->writer_done = true;
    pthread_cond_signal(&w->icond);
    pthread_mutex_unlock(&w->ilock);
}

static void *writer_main(void *arg)
{
    store_writer_t *w = arg;
    pend_t mine = {BUF_INIT, NULL, 0, 0};
    store_event_t *arr = NULL;
    size_t cap = 0;
    /* Direct mode settles itself: when the queue has been quiet, and under steady
     * load once per settle_interval, so settling never takes more than its share. */
    int64_t last_pass = mono_ms();
    bool backlog = false;
    for (;;) {
        bool timeout;
        int64_t wait = w->spool ? -1 : backlog ? w->o.settle_quiet_ms : w->o.settle_interval_ms;
        if (!take(w, &mine, wait, &timeout)) break;
        if (timeout) {
            size_t left = 0;
            settle_some(w, 200, &left);
            backlog = left > 0;
            last_pass = mono_ms();
            continue;
        }
        if (w->spool) {
            spool_batch(w, &mine);
            continue;
        }
        int64_t t0 = clock_now_us(&clock_system);
        pthread_mutex_lock(&w->busy);
        int rc = insert_direct(w, &mine, &arr, &cap);
        pthread_mutex_unlock(&w->busy);
        backlog = true;
        finish_batch(w, &mine, rc, clock_now_us(&clock_system) - t0);
        if (mono_ms() - last_pass >= w->o.settle_interval_ms) {
            size_t left = 0;
            settle_some(w, 200, &left);
            backlog = left > 0;
            last_pass = mono_ms();
        }
    }
    free(arr);
    buf_clear(&mine.enc);
    free(mine.cbs);
    if (!w->spool) { /* spool mode: stop() ends the ingester once all is appended */
        pthread_mutex_lock(&w->busy);
        w->store->rules = atomic_load(&w->rules);
        store__settle_all(w->store);
        pthread_mutex_unlock(&w->busy);
    }
    return NULL;
}

static void *ingester_main(void *arg)
{
    store_writer_t *w = arg;
    /* Answers come first: the ingester yields the CPU to the loops and the writer. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), w->o.ingest_nice);
    if (w->o.ingest_idle) {
        struct sched_param sp = {0};
        if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
            log_warn("store: the ingester cannot run under SCHED_IDLE; it runs niced");
    }
    bool backlog = false;
    for (;;) {
        pthread_mutex_lock(&w->ilock);
        bool done = w->writer_done;
        pthread_mutex_unlock(&w->ilock);
        size_t n = 0;
        bool more = false;
        pthread_mutex_lock(&w->busy);
        w->store->rules = atomic_load(&w->rules);
        int rc = store__spool_ingest(w->store, store__spool_dirfd(w->spool),
                                     done ? 0 : atomic_load(&w->live_seq), 5000, &n, &more);
        pthread_mutex_unlock(&w->busy);
        atomic_fetch_add(&w->ingested_total, n);
        if (rc) {
            log_limited(&(log_limit_t){0}, 1, LOG_ERROR, "store: ingesting the spool: %s",
                        err_str(rc));
            more = false;
        }
        if (more) continue;
        if (done && rc == TO_OK) break;
        if (done) { /* the store fails: try again shortly, keep the spool */
            usleep(100000);
            continue;
        }
        /* Caught up: settle message status, then wait for the next batch. */
        size_t left = 0;
        settle_some(w, 200, &left);
        backlog = left > 0;
        pthread_mutex_lock(&w->ilock);
        if (!w->iwake && !w->writer_done) {
            struct timespec ts;
            abs_time(&ts, backlog ? w->o.settle_quiet_ms : w->o.settle_interval_ms);
            pthread_cond_timedwait(&w->icond, &w->ilock, &ts);
        }
        w->iwake = false;
        pthread_mutex_unlock(&w->ilock);
    }
    pthread_mutex_lock(&w->busy);
    store__settle_all(w->store);
    pthread_mutex_unlock(&w->busy);
    return NULL;
}

int store_writer_start2(store_t *s, const store_writer_opts_t *o, store_writer_t **out, char *err,
                        size_t errlen)
{
    store_writer_t *w = xcalloc(1, sizeof(*w));
    w->sink.submit = w_submit;
    w->sink.metrics = w_metrics;
    w->sink.attach = w_attach;
    w->sink.flush = w_flush;
    w->store = s;
    w->o = *o;
    if (w->o.queue_max == 0) w->o.queue_max = 65536;
    if (w->o.batch_rows == 0) w->o.batch_rows = 2000;
    if (w->o.batch_bytes == 0) w->o.batch_bytes = 4 << 20;
    atomic_store(&w->rules, s->rules);
    w->spool_dir = store__spool_dir(s);
    if (w->spool_dir && !w->o.no_spool) {
        /* Segments a previous server left are older than the new one: the ingester
         * stores them first. */
        uint64_t seq = 0, off = 0;
        int rc = store__spool_pos(s, &seq, &off);
        if (rc == TO_OK)
            rc = store__spool_open(w->spool_dir, w->o.spool_segment_bytes, seq, &w->spool, err,
                                   errlen);
        else
            snprintf(err, errlen, "cannot read the spool position: %s", err_str(rc));
        if (rc) {
            free(w);
            return rc;
        }
        atomic_store(&w->live_seq, store__spool_live_seq(w->spool));
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_mutex_init(&w->ilock, NULL);
    pthread_cond_init(&w->icond, NULL);
    pthread_mutex_init(&w->busy, NULL);
    pthread_mutex_init(&w->slock, NULL);
    if (w->spool) {
        if (pthread_create(&w->ingester, NULL, ingester_main, w) != 0) goto fail;
        w->has_ingester = true;
    }
    if (pthread_create(&w->writer, NULL, writer_main, w) != 0) {
        if (w->has_ingester) {
            wake_ingester(w, true);
            pthread_join(w->ingester, NULL);
        }
        goto fail;
    }
    *out = w;
    return TO_OK;
fail:
    snprintf(err, errlen, "cannot start the writer threads");
    store__spool_close(w->spool);
    free(w);
    return TO_EIO;
}

int store_writer_start(store_t *s, const store_writer_opts_t *o, store_writer_t **out)
{
    char err[512];
    int rc = store_writer_start2(s, o, out, err, sizeof(err));
    if (rc) log_error("store: %s", err);
    return rc;
}

void store_writer_stop(store_writer_t *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->writer, NULL);
    /* Attached threads have stopped: anything they did not flush is flushed now. */
    for (tl_batch_t *tb = w->attached; tb; tb = tb->next)
        if (tb->p.n) spool_batch(w, &tb->p);
    if (w->has_ingester) {
        wake_ingester(w, true);
        pthread_join(w->ingester, NULL);
    }
    while (w->attached) {
        tl_batch_t *tb = w->attached;
        w->attached = tb->next;
        buf_clear(&tb->p.enc);
        free(tb->p.cbs);
        free(tb);
    }
    store__spool_close(w->spool);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->ilock);
    pthread_cond_destroy(&w->icond);
    pthread_mutex_destroy(&w->busy);
    pthread_mutex_destroy(&w->slock);
    buf_clear(&w->pend.enc);
    free(w->pend.cbs);
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
