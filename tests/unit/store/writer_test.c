/* The writer: every accepted event is committed before its done callback runs,
 * done runs exactly once, a full queue refuses instead of blocking, and stop
 * commits everything queued. */
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <unistd.h>

#include "store/store.h"
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

static void run(size_t queue_max, bool expect_refusals)
{
    atomic_store(&done_ok, 0);
    atomic_store(&done_err, 0);
    atomic_store(&done_dup, 0);
    memset(slots, 0, sizeof(slots));
    unlink(db_path);
    store_t *s;
    char err[256];
    CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
    store_writer_opts_t o = {queue_max, 500, 1 << 20, 1, 50, 0};
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

/* A done callback that checks, at the moment it runs, that its event is already
 * visible to another connection: committed, not just queued. */
static atomic_int visible_bad;
static sqlite3 *probe;
static void on_done_probe(void *arg, int status)
{
    uint64_t msg = (uint64_t)(uintptr_t)arg;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(probe, "SELECT count(*) FROM events WHERE message = ?1", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)msg);
    if (status != 0 || sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 1)
        atomic_fetch_add(&visible_bad, 1);
    sqlite3_finalize(st);
}

static void committed_before_done(void)
{
    unlink(db_path);
    store_t *s;
    char err[256];
    CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
    sqlite3_open(db_path, &probe);
    store_writer_opts_t o = {1000, 50, 1 << 20, 1, 50, 0};
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
static void settles_when_quiet(void)
{
    unlink(db_path);
    store_t *s;
    char err[256];
    CHECK_INT(store_open(db_path, &s, err, sizeof(err)), 0);
    store_writer_opts_t o = {1000, 50, 1 << 20, 0, 50, 10};
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
    store_writer_opts_t o = {10, 5, 1 << 20, 0, 50, 0};
    store_writer_t *w;
    CHECK_INT(store_writer_start(s, &o, &w), 0);
    http_sink_t *sink = store_writer_sink(w);
    buf_t b = BUF_INIT;
    sink->metrics(sink, &b);
    CHECK(strstr(buf_cstr(&b), "trueopen_events_committed_total 0") != NULL);
    CHECK(strstr(buf_cstr(&b), "trueopen_commit_seconds_bucket") != NULL);
    CHECK(strstr(buf_cstr(&b), "trueopen_batch_size_count") != NULL);
    buf_clear(&b);
    store_writer_stop(w);
    store_close(s);
}

int main(void)
{
    int fd = mkstemp(db_path);
    close(fd);
    run(1000000, false); /* roomy queue: nothing refused */
    run(8, true);        /* tiny queue: refusals, never a lost callback */
    committed_before_done();
    settles_when_quiet();
    metrics_text();
    unlink(db_path);
    return test_done();
}
