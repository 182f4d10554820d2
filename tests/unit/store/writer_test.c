/* The writer: every accepted event is committed before its done callback runs,
 * done runs exactly once, a full queue refuses instead of blocking, and stop
 * commits everything queued. */
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <unistd.h>

#include <dirent.h>

#include "store/store.h"
#include "store/store_int.h"
#include "test.h"

#define PER_THREAD 5000

static atomic_int done_ok, done_err, done_dup;
static char db_path[] = "/tmp/trueopen-writer-test-XXXXXX";
static sqlite3 *reader;

typedef struct {
    atomic_int calls;
    uint64_t message;
} slot_t;

static slot_t slots[2 * PER_THREAD];

static void on_done(void *arg, int status)
{
    slot_t *s = arg;
    if (atomic_fetch_add(&s->calls, 1) != 0) atomic_fetch_add(&done_dup, 1);
    if (status != 0) {
        atomic_fetch_add(&done_err, 1);
        return;
    }
    atomic_fetch_add(&done_ok, 1);
}

typedef struct {
    http_sink_t *sink;
    int base;
    int refused;
} producer_t;

static void *produce(void *arg)
{
    producer_t *p = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        slot_t *s = &slots[p->base + i];
        s->message = (uint64_t)(p->base + i + 1);
        http_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.ts_us = 1700000000000000LL + i;
        ev.route = 'o';
        ev.tok.account = 1;
        ev.tok.campaign = 1;
        ev.tok.message = s->message;
        ev.ip = SLICE_LIT("203.0.113.9");
        ev.ua = SLICE_LIT("Mozilla/5.0 (test)");
        int rc = p->sink->submit(p->sink, &ev, on_done, s);
        if (rc == TO_EFULL) {
            p->refused++;
            atomic_store(&s->calls, -1000); /* never called back */
        }
    }
    return NULL;
}

static long long count_rows(void)
{
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_prepare_v2(reader, "SELECT count(*) FROM events", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* A new database: the file and its WAL and shared-memory files removed. */
static void fresh_db(void)
{
    char p[300];
    unlink(db_path);
    snprintf(p, sizeof(p), "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", db_path);
    unlink(p);
}

static store_writer_opts_t opts(size_t queue_max, size_t rows, int64_t ms, int64_t quiet,
                                bool no_spool)
{
    store_writer_opts_t o;
    memset(&o, 0, sizeof(o));
    o.queue_max = queue_max;
    o.batch_rows = rows;
    o.batch_bytes = 1 << 20;
    o.batch_ms = ms;
    o.settle_interval_ms = 50;
    o.settle_quiet_ms = quiet;
    o.no_spool = no_spool;
    return o;
}

static void run(size_t queue_max, bool expect_refusals, bool no_spool)
{
    atomic_store(&done_ok, 0);
    atomic_store(&done_err, 0);
    atomic_store(&done_dup, 0);
    memset(slots, 0, sizeof(slots));
    fresh_db();
    store_t *s;
    char err[256];
    CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
    store_writer_opts_t o = opts(queue_max, 500, 1, 0, no_spool);
    store_writer_t *w;
    CHECK_INT(store_writer_start(s, &o, &w), 0);
    producer_t p[2] = {{store_writer_sink(w), 0, 0}, {store_writer_sink(w), PER_THREAD, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, produce, &p[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    store_writer_stop(w);
    int refused = p[0].refused + p[1].refused;
    CHECK_INT(atomic_load(&done_dup), 0);
    CHECK_INT(atomic_load(&done_err), 0);
    CHECK_INT(atomic_load(&done_ok) + refused, 2 * PER_THREAD);
    if (expect_refusals)
        CHECK(refused > 0);
    else
        CHECK_INT(refused, 0);
    sqlite3_open(db_path, &reader);
    CHECK_INT(count_rows(), atomic_load(&done_ok));
    sqlite3_close(reader);
    store_close(s);
}

/* Whether the spool of db_path holds a complete record of message msg. */
static bool in_spool(uint64_t msg)
{
    char dir[256];
    snprintf(dir, sizeof(dir), "%s.spool", db_path);
    DIR *d = opendir(dir);
    bool found = false;
    struct dirent *e;
    while (d && !found && (e = readdir(d))) {
        if (!strstr(e->d_name, ".seg")) continue;
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        buf_t b = BUF_INIT;
        if (buf_read_file(&b, p, 1 << 26) == 0) {
            size_t used = 0, r;
            bool bad;
            http_event_t ev;
            while ((r = store__spool_decode((const uint8_t *)b.p + used, b.len - used, &ev, &bad)) >
                   0) {
                if (ev.tok.message == msg) found = true;
                used += r;
            }
        }
        buf_clear(&b);
    }
    if (d) closedir(d);
    return found;
}

/* A done callback that checks, at the moment it runs, that its event is already
 * durable: in SQLite (direct mode) or in the spool. */
static atomic_int visible_bad;
static sqlite3 *probe;
static bool probe_spool;
static void on_done_probe(void *arg, int status)
{
    uint64_t msg = (uint64_t)(uintptr_t)arg;
    if (probe_spool) {
        if (status != 0 || !in_spool(msg)) atomic_fetch_add(&visible_bad, 1);
        return;
    }
    sqlite3_stmt *st;
    sqlite3_prepare_v2(probe, "SELECT count(*) FROM events WHERE message = ?1", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)msg);
    if (status != 0 || sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 1)
        atomic_fetch_add(&visible_bad, 1);
    sqlite3_finalize(st);
}

static void committed_before_done(bool no_spool)
{
    probe_spool = !no_spool;
    atomic_store(&visible_bad, 0);
    fresh_db();
    store_t *s;
    char err[256];
    CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
    sqlite3_open(db_path, &probe);
    store_writer_opts_t o = opts(1000, 50, 1, 0, no_spool);
    store_writer_t *w;
    CHECK_INT(store_writer_start(s, &o, &w), 0);
    http_sink_t *sink = store_writer_sink(w);
    for (uint64_t i = 1; i <= 300; i++) {
        http_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.route = 'c';
        ev.tok.message = 100000 + i;
        ev.tok.url = SLICE_LIT("https://example.com/");
        while (sink->submit(sink, &ev, on_done_probe, (void *)(uintptr_t)(100000 + i)) != 0)
            usleep(100);
    }
    store_writer_stop(w);
    CHECK_INT(atomic_load(&visible_bad), 0);
    sqlite3_close(probe);
    store_close(s);
}

/* With settle_quiet set, a backlog of messages larger than one settle pass is still
 * settled once the events stop coming (several passes, each after a quiet moment). */
static void settles_when_quiet(bool no_spool)
{
    fresh_db();
    store_t *s;
    char err[256];
    CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
    store_writer_opts_t o = opts(1000, 50, 0, 10, no_spool);
    store_writer_t *w;
    CHECK_INT(store_writer_start(s, &o, &w), 0);
    http_sink_t *sink = store_writer_sink(w);
    for (uint64_t i = 1; i <= 700; i++) {
        http_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.route = 'o';
        ev.tok.message = 200000 + i;
        while (sink->submit(sink, &ev, NULL, NULL) != 0) usleep(100);
    }
    sqlite3 *db;
    sqlite3_open(db_path, &db);
    sqlite3_busy_timeout(db, 1000);
    /* a wait, not a deadline: CTest's timeout catches a writer that never settles */
    long dirty = -1;
    for (;;) {
        sqlite3_stmt *st;
        sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM dirty_messages),"
                           " (SELECT count(*) FROM events WHERE message > 200000)",
                           -1, &st, NULL);
        long events = 0;
        if (sqlite3_step(st) == SQLITE_ROW) {
            dirty = sqlite3_column_int64(st, 0);
            events = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
        if (events == 700 && dirty == 0) break;
        usleep(5000);
    }
    CHECK_INT(dirty, 0);
    sqlite3_close(db);
    store_writer_stop(w);
    store_close(s);
}

static void metrics_text(void)
{
    store_t *s;
    char err[256];
    CHECK_INT(store_open("memory:", &s, err, sizeof(err)), 0);
    store_writer_opts_t o = opts(10, 5, 0, 0, true);
    store_writer_t *w;
    CHECK_INT(store_writer_start(s, &o, &w), 0);
    http_sink_t *sink = store_writer_sink(w);
    buf_t b = BUF_INIT;
    sink->metrics(sink, &b);
    CHECK(strstr(buf_cstr(&b), "trueopen_events_committed_total 0") != NULL);
    CHECK(strstr(buf_cstr(&b), "trueopen_commit_seconds_bucket") != NULL);
    CHECK(strstr(buf_cstr(&b), "trueopen_batch_size_count") != NULL);
    CHECK(strstr(buf_cstr(&b), "trueopen_events_ingested_total 0") != NULL);
    buf_clear(&b);
    store_writer_stop(w);
    store_close(s);
}

typedef struct {
    int n;
} evs_count_t;

static int count_cb(void *arg, const store_event_t *e)
{
    (void)e;
    ((evs_count_t *)arg)->n++;
    return 0;
}

static long long rows_in(const char *path)
{
    sqlite3_open(path, &reader);
    long long n = count_rows();
    sqlite3_close(reader);
    return n;
}

/* What a killed server left in the spool is stored exactly once by the next reader
 * (or server): whole records in, a torn last record out, segments removed. */
static void spool_recovery(void)
{
    fresh_db();
    store_t *s;
    char err[256], dir[256];
    CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
    store_close(s);
    snprintf(dir, sizeof(dir), "%s.spool", db_path);
    store__spool_t *sp;
    CHECK_INT(store__spool_open(dir, 4096, 1, &sp, err, sizeof(err)), 0);
    /* While one writer holds the spool, a second server cannot start on the store. */
    CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
    store_writer_opts_t o = opts(100, 10, 0, 0, false);
    store_writer_t *w2;
    CHECK(store_writer_start2(s, &o, &w2, err, sizeof(err)) != 0);
    CHECK(strstr(err, "another server") != NULL);
    store_close(s);
    buf_t b = BUF_INIT;
    for (int i = 1; i <= 120; i++) { /* spans several 4 KiB segments */
        http_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.ts_us = 1796292000000000LL + i;
        ev.route = 'o';
        ev.tok.message = (uint64_t)(300000 + i);
        ev.ua = SLICE_LIT("Mozilla/5.0");
        buf_reset(&b);
        store__spool_encode(&b, &ev);
        CHECK_INT(store__spool_append(sp, b.p, b.len, false), 0);
    }
    /* A write cut short by the kill: half a record. */
    CHECK_INT(store__spool_append(sp, b.p, b.len / 2, false), 0);
    store__spool_close(sp);
    buf_clear(&b);
    CHECK_INT(rows_in(db_path), 0);
    /* A reader catches up before it lists. */
    CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
    evs_count_t c = {0};
    store_query_t q = {0};
    CHECK_INT(store_list_events(s, &q, count_cb, &c), 0);
    CHECK_INT(c.n, 120);
    store_close(s);
    CHECK_INT(rows_in(db_path), 120);
    /* Again: nothing is stored twice, the ingested segments are gone. */
    CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
    CHECK_INT(store_settle(s), 0);
    store_close(s);
    CHECK_INT(rows_in(db_path), 120);
    DIR *d = opendir(dir);
    int segs = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".seg")) segs++;
    if (d) closedir(d);
    CHECK_INT(segs, 0);
    /* A server started after all of that numbers its segments past what the store
     * has ingested, so its events are ingested too (a regression: it reused 1). */
    for (int round = 0; round < 2; round++) {
        CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
        store_writer_t *w;
        CHECK_INT(store_writer_start2(s, &o, &w, err, sizeof(err)), 0);
        http_sink_t *sink = store_writer_sink(w);
        for (int i = 0; i < 5; i++) {
            http_event_t ev;
            memset(&ev, 0, sizeof(ev));
            ev.route = 'o';
            ev.tok.message = (uint64_t)(400000 + i);
            CHECK_INT(sink->submit(sink, &ev, NULL, NULL), 0);
        }
        store_writer_stop(w);
        store_close(s);
        CHECK_INT(rows_in(db_path), 125 + 5 * round);
    }
}

int main(void)
{
    int fd = mkstemp(db_path);
    close(fd);
    for (int no_spool = 0; no_spool <= 1; no_spool++) {
        run(1000000, false, no_spool); /* roomy queue: nothing refused */
        run(8, true, no_spool);        /* tiny queue: refusals, never a lost callback */
        committed_before_done(no_spool);
        settles_when_quiet(no_spool);
    }
    spool_recovery();
    metrics_text();
    fresh_db();
    return test_done();
}
