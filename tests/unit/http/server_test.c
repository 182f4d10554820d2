/*
 * The server over real loopback sockets with a test sink: routes, the deferred
 * response (nothing is sent before the sink's done), pipelining, keep-alive, limits,
 * timeouts, refusals, trusted proxies, max connections and a graceful stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_internal.h"
#include "test.h"

/* ---- a test sink: records copies, completes from its own thread, can hold or refuse */

#define REC_MAX 256

typedef struct {
    char route;
    bool head;
    uint64_t message;
    int64_t ts_us;
    char ip[64], ua[HTTP_UA_MAX + 1], accept[HTTP_HEADER_MAX + 1], url[256];
} rec_t;

typedef struct {
    http_sink_t sink;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool hold, full, stop;
    struct {
        http_done_fn done;
        void *arg;
    } q[REC_MAX];
    size_t nq;
    rec_t rec[REC_MAX];
    size_t nrec, ndone;
    pthread_t thr;
} tsink_t;

static void copy(char *dst, size_t cap, slice_t s)
{
    size_t n = TO_MIN(s.len, cap - 1);
    if (n) memcpy(dst, s.p, n);
    dst[n] = 0;
}

static int ts_submit(http_sink_t *s, const http_event_t *ev, http_done_fn done, void *arg)
{
    tsink_t *t = (tsink_t *)s;
    pthread_mutex_lock(&t->mu);
    if (t->full || t->nq == REC_MAX || t->nrec == REC_MAX) {
        pthread_mutex_unlock(&t->mu);
        return TO_EFULL;
    }
    rec_t *r = &t->rec[t->nrec++];
    r->route = ev->route;
    r->head = ev->head;
    r->message = ev->tok.message;
    r->ts_us = ev->ts_us;
    copy(r->ip, sizeof(r->ip), ev->ip);
    copy(r->ua, sizeof(r->ua), ev->ua);
    copy(r->accept, sizeof(r->accept), ev->accept);
    copy(r->url, sizeof(r->url), ev->tok.url);
    t->q[t->nq].done = done;
    t->q[t->nq].arg = arg;
    t->nq++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static void ts_metrics(http_sink_t *s, buf_t *out)
{
    tsink_t *t = (tsink_t *)s;
    pthread_mutex_lock(&t->mu);
    buf_printf(out, "trueopen_test_sink_events %zu\n", t->nrec);
    pthread_mutex_unlock(&t->mu);
}

static void *ts_main(void *arg)
{
    tsink_t *t = arg;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->stop && (t->hold || t->nq == 0)) pthread_cond_wait(&t->cv, &t->mu);
        if (t->stop && (t->hold || t->nq == 0)) break;
        size_t n = t->nq;
        http_done_fn fns[REC_MAX];
        void *args[REC_MAX];
        for (size_t i = 0; i < n; i++) {
            fns[i] = t->q[i].done;
            args[i] = t->q[i].arg;
        }
        t->nq = 0;
        pthread_mutex_unlock(&t->mu);
        for (size_t i = 0; i < n; i++) fns[i](args[i], 0);
        pthread_mutex_lock(&t->mu);
        t->ndone += n;
        pthread_cond_broadcast(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static void ts_init(tsink_t *t)
{
    memset(t, 0, sizeof(*t));
    t->sink.submit = ts_submit;
    t->sink.metrics = ts_metrics;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    pthread_create(&t->thr, NULL, ts_main, t);
}

static void ts_set(tsink_t *t, bool hold, bool full)
{
    pthread_mutex_lock(&t->mu);
    t->hold = hold;
    t->full = full;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static size_t ts_nrec(tsink_t *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->nrec;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* Waits until n events are queued (held) in the sink. */
static void ts_wait_queued(tsink_t *t, size_t n)
{
    for (int i = 0; i < 20000 && ts_nrec(t) < n; i++) usleep(1000);
}

static void ts_stop(tsink_t *t)
{
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    t->hold = false;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thr, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
}

/* ---- a tiny client ------------------------------------------------------------------ */

static uint16_t port;

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void say(int fd, const char *s)
{
    size_t n = strlen(s), off = 0;
    while (off < n) {
        ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) return;
        off += (size_t)w;
    }
}

/* Waits up to ms for fd to be readable (a guard against hanging, not a check). */
static bool readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

typedef struct {
    int status;
    buf_t head;
    buf_t body;
    bool eof; /* the server closed after it */
} resp_t;

static buf_t pending[64]; /* bytes read past a response, per fd (fds are small) */

/* Reads one response (head, then Content-Length bytes of body unless head_only).
 * status 0: the connection closed or timed out first. */
static void get_resp(int fd, resp_t *r, bool head_only)
{
    buf_t *in = &pending[fd % 64];
    buf_reset(&r->head);
    buf_reset(&r->body);
    r->status = 0;
    r->eof = false;
    for (;;) {
        const char *end = in->len ? strstr(buf_cstr(in), "\r\n\r\n") : NULL;
        if (end) {
            size_t hl = (size_t)(end - in->p) + 4;
            buf_append(&r->head, in->p, hl);
            long cl = 0;
            const char *c = strstr(r->head.p, "Content-Length: ");
            if (c && !head_only) cl = strtol(c + 16, NULL, 10);
            while (in->len < hl + (size_t)cl) {
                char tmp[4096];
                if (!readable(fd, 20000)) return;
                ssize_t n = read(fd, tmp, sizeof(tmp));
                if (n <= 0) return;
                buf_append(in, tmp, (size_t)n);
            }
            buf_append(&r->body, in->p + hl, (size_t)cl);
            r->status = atoi(r->head.p + 9);
            size_t used = hl + (size_t)cl;
            memmove(in->p, in->p + used, in->len - used);
            in->len -= used;
            in->p[in->len] = 0;
            return;
        }
        char tmp[4096];
        if (!readable(fd, 20000)) return;
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n <= 0) {
            r->eof = true;
            return;
        }
        buf_append(in, tmp, (size_t)n);
    }
}

/* True when the server closes fd (read returns 0 or a reset) within the guard time. */
static bool closed_by_server(int fd)
{
    char tmp[4096];
    for (int i = 0; i < 100; i++) {
        if (!readable(fd, 20000)) return false;
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n <= 0) return true;
    }
    return false;
}

static void hangup(int fd)
{
    buf_reset(&pending[fd % 64]);
    close(fd);
}

/* ---- fixtures ----------------------------------------------------------------------- */

static token_ring_t *ring;
static char tok_open[256], tok_click[512], tok_honey[256], tok_other_key[256];

static void seal(const token_ring_t *r, uint64_t msg, uint32_t link, const char *url, char *out,
                 size_t cap)
{
    token_fields_t f = {.account = 1,
                        .campaign = 2,
                        .message = msg,
                        .recipient = 4,
                        .link = link,
                        .sent_at = 1700000000};
    f.url = url ? slice_cstr(url) : SLICE_NULL;
    buf_t b = BUF_INIT;
    util_rand_t rnd = rand_fixed(msg);
    if (token_seal(r, &f, &rnd, &b) != 0) abort();
    snprintf(out, cap, "%s", buf_cstr(&b));
    buf_clear(&b);
}

static http_server_t *start(tsink_t *ts, util_clock_t *clk, const char *const *extra)
{
    const cfg_def_t *const t[] = {http_cfg, NULL};
    config_t *c = config_new(t);
    char err[256];
    config_set(c, "listen", "127.0.0.1:0", err, sizeof(err));
    for (size_t i = 0; extra && extra[i]; i += 2)
        if (config_set(c, extra[i], extra[i + 1], err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            abort();
        }
    http_opts_t o;
    if (http_opts_from_config(c, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    http_server_t *s;
    if (http_server_new(&o, ring, clk, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    config_free(c);
    port = http_server_port(s);
    http_server_start(s, &ts->sink);
    return s;
}

static char req[8192];

static const char *get(const char *method, const char *path, const char *extra)
{
    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n", method, path,
             extra ? extra : "");
    return req;
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_routes(void)
{
    tsink_t ts;
    ts_init(&ts);
    util_clock_t clk = clock_fixed(1234567890123456);
    http_server_t *s = start(&ts, &clk, NULL);
    resp_t r = {0};
    char path[1024];

    /* open: held by the sink, nothing is sent until done */
    ts_set(&ts, true, false);
    int fd = dial();
    CHECK(fd >= 0);
    snprintf(path, sizeof(path), "/o/%s.gif", tok_open);
    say(fd, get("GET", path, "User-Agent: Mozilla/5.0 test\r\nAccept: image/*\r\n"));
    ts_wait_queued(&ts, 1);
    CHECK_INT(ts_nrec(&ts), 1);
    CHECK(!readable(fd, 200)); /* parked: no response before the commit */
    ts_set(&ts, false, false);
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.body.len, 43);
    CHECK(r.body.len == 43 && !memcmp(r.body.p, http__gif, 43));
    CHECK(strstr(buf_cstr(&r.head), "Content-Type: image/gif\r\n"));
    CHECK(strstr(buf_cstr(&r.head),
                 "Cache-Control: no-store, no-cache, must-revalidate, private\r\n"));
    CHECK(strstr(buf_cstr(&r.head), "Pragma: no-cache\r\n"));
    CHECK(strstr(buf_cstr(&r.head), "Expires: 0\r\n"));
    CHECK_INT(ts.rec[0].route, 'o');
    CHECK_INT(ts.rec[0].head, 0);
    CHECK_INT(ts.rec[0].message, 100);
    CHECK_INT(ts.rec[0].ts_us, 1234567890123456);
    CHECK_STR(ts.rec[0].ip, "127.0.0.1");
    CHECK_STR(ts.rec[0].ua, "Mozilla/5.0 test");
    CHECK_STR(ts.rec[0].accept, "image/*");

    /* keep-alive: the same connection, click then honeypot, then HEAD click */
    snprintf(path, sizeof(path), "/c/%s", tok_click);
    say(fd, get("GET", path, NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 302);
    CHECK(strstr(buf_cstr(&r.head), "Location: https://example.com/landing?a=1\r\n"));
    snprintf(path, sizeof(path), "/h/%s", tok_honey);
    say(fd, get("GET", path, NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 204);
    snprintf(path, sizeof(path), "/c/%s", tok_click);
    say(fd, get("HEAD", path, NULL));
    get_resp(fd, &r, true);
    CHECK_INT(r.status, 302);
    snprintf(path, sizeof(path), "/o/%s", tok_open);
    say(fd, get("HEAD", path, NULL));
    get_resp(fd, &r, true);
    CHECK_INT(r.status, 200);
    CHECK(strstr(buf_cstr(&r.head), "Content-Length: 43\r\n"));
    CHECK_INT(ts_nrec(&ts), 5);
    CHECK_INT(ts.rec[1].route, 'c');
    CHECK_STR(ts.rec[1].url, "https://example.com/landing?a=1");
    CHECK_INT(ts.rec[2].route, 'h');
    CHECK_INT(ts.rec[3].route, 'c');
    CHECK_INT(ts.rec[3].head, 1);
    CHECK_INT(ts.rec[4].route, 'o');
    CHECK_INT(ts.rec[4].head, 1);

    /* tokens that do not open record nothing; /o/ still gets the GIF */
    char bad[600];
    snprintf(bad, sizeof(bad), "%s", tok_open);
    bad[10] = bad[10] == 'A' ? 'B' : 'A'; /* altered */
    const char *forged[] = {bad, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                            "not-a-token!", tok_other_key};
    for (size_t i = 0; i < TO_ARRAY_LEN(forged); i++) {
        snprintf(path, sizeof(path), "/o/%s", forged[i]);
        say(fd, get("GET", path, NULL));
        get_resp(fd, &r, false);
        CHECK_INT(r.status, 200);
        CHECK_INT(r.body.len, 43);
        snprintf(path, sizeof(path), "/c/%s", forged[i]);
        say(fd, get("GET", path, NULL));
        get_resp(fd, &r, false);
        CHECK_INT(r.status, 404);
        CHECK(!strstr(buf_cstr(&r.head), "Location"));
        CHECK(strstr(buf_cstr(&r.body), "not valid"));
    }
    /* truncated click token */
    snprintf(path, sizeof(path), "/c/%.*s", (int)strlen(tok_click) - 3, tok_click);
    say(fd, get("GET", path, NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 404);
    /* a pixel token on /c/ has no destination: 404 */
    snprintf(path, sizeof(path), "/c/%s", tok_open);
    say(fd, get("GET", path, NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 404);
    CHECK_INT(ts_nrec(&ts), 5);

    /* other routes */
    say(fd, get("GET", "/healthz", NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    CHECK_STR(buf_cstr(&r.body), "ok\n");
    say(fd, get("GET", "/nope", NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 404);
    say(fd, get("POST", "/o/x", NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 405);
    CHECK(strstr(buf_cstr(&r.head), "Allow: GET, HEAD\r\n"));
    say(fd, get("GET", "/metrics", NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    const char *m = buf_cstr(&r.body);
    CHECK(strstr(m, "trueopen_http_requests_total{route=\"open\",status=\"200\"} 6\n"));
    CHECK(strstr(m, "trueopen_http_requests_total{route=\"click\",status=\"302\"} 2\n"));
    CHECK(strstr(m, "trueopen_http_requests_total{route=\"click\",status=\"404\"} 6\n"));
    CHECK(strstr(m, "trueopen_http_events_queued_total 5\n"));
    CHECK(strstr(m, "trueopen_http_events_committed_total 5\n"));
    CHECK(strstr(m, "trueopen_tokens_rejected_total{route=\"open\"} 4\n"));
    CHECK(strstr(m, "trueopen_test_sink_events 5\n")); /* the sink's own series */
    hangup(fd);

    /* pipelined: three requests in one write, answered in order */
    fd = dial();
    char three[4096];
    int n = snprintf(three, sizeof(three),
                     "GET /o/%s HTTP/1.1\r\nHost: t\r\n\r\nGET /c/%s HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /h/%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     tok_open, tok_click, tok_honey);
    CHECK(n > 0 && (size_t)n < sizeof(three));
    say(fd, three);
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 302);
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 204);
    CHECK(strstr(buf_cstr(&r.head), "Connection: close\r\n"));
    CHECK(closed_by_server(fd));
    hangup(fd);
    CHECK_INT(ts_nrec(&ts), 8);

    /* a request split across many writes */
    fd = dial();
    snprintf(path, sizeof(path), "GET /o/%s HTTP/1.1\r\nHost: t\r\nUser-Agent: split\r\n\r\n",
             tok_open);
    for (size_t i = 0; path[i]; i += 7) {
        char piece[8] = {0};
        memcpy(piece, path + i, TO_MIN(7, strlen(path + i)));
        say(fd, piece);
        usleep(2000);
    }
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    CHECK_INT(ts_nrec(&ts), 9);
    CHECK_STR(ts.rec[8].ua, "split");
    hangup(fd);

    /* a head longer than the initial connection buffer (a click with a long URL) */
    {
        static char url[3100], longtok[4600], lpath[4700];
        memcpy(url, "https://example.com/", 20);
        memset(url + 20, 'q', 3000);
        url[3020] = 0;
        seal(ring, 104, 2, url, longtok, sizeof(longtok));
        fd = dial();
        snprintf(lpath, sizeof(lpath), "/c/%s", longtok);
        say(fd, get("GET", lpath, NULL));
        get_resp(fd, &r, false);
        CHECK_INT(r.status, 302);
        CHECK(strstr(buf_cstr(&r.head), url) != NULL);
        /* many pipelined requests in one write: the buffer is compacted as it goes */
        buf_t many = BUF_INIT;
        for (int i = 0; i < 60; i++)
            buf_printf(&many, "HEAD /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: %064d\r\n\r\n", i);
        say(fd, buf_cstr(&many));
        int okc = 0;
        for (int i = 0; i < 60; i++) {
            get_resp(fd, &r, true);
            okc += r.status == 200 && strstr(buf_cstr(&r.head), "Content-Length: 3\r\n");
        }
        CHECK_INT(okc, 60);
        buf_clear(&many);
        hangup(fd);
        CHECK_INT(ts_nrec(&ts), 10);
        CHECK_INT(ts.rec[9].message, 104);
    }

    /* HTTP/1.0 without keep-alive closes */
    fd = dial();
    snprintf(path, sizeof(path), "GET /o/%s HTTP/1.0\r\n\r\n", tok_open);
    say(fd, path);
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    CHECK(closed_by_server(fd));
    hangup(fd);

    /* the peer goes away while its request is parked */
    ts_set(&ts, true, false);
    fd = dial();
    snprintf(path, sizeof(path), "/o/%s", tok_open);
    say(fd, get("GET", path, NULL));
    ts_wait_queued(&ts, 12);
    hangup(fd);
    usleep(50000);
    ts_set(&ts, false, false);

    http_server_stop(s);
    CHECK_INT(http_server_parked(s), 0);
    ts_stop(&ts);
    http_server_free(s);
    buf_clear(&r.head);
    buf_clear(&r.body);
}

static void test_limits(void)
{
    tsink_t ts;
    ts_init(&ts);
    const char *opts[] = {"http_max_head_size",
                          "2k",
                          "http_max_url",
                          "1k",
                          "http_max_headers",
                          "10",
                          "http_header_timeout",
                          "300ms",
                          NULL};
    http_server_t *s = start(&ts, &clock_system, opts);
    resp_t r = {0};
    char path[4096];

    /* URL too long: 414 and close */
    int fd = dial();
    memset(path, 'a', 1100);
    path[0] = '/';
    path[1100] = 0;
    say(fd, get("GET", path, NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 414);
    CHECK(strstr(buf_cstr(&r.head), "Connection: close"));
    CHECK(closed_by_server(fd));
    hangup(fd);
    /* head too large: 431 */
    fd = dial();
    char big[3000];
    memset(big, 'v', sizeof(big));
    memcpy(big, "X-Big: ", 7);
    memcpy(big + 2500, "\r\n", 3);
    say(fd, get("GET", "/healthz", big));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 431);
    CHECK(closed_by_server(fd));
    hangup(fd);
    /* too many headers: 431 */
    fd = dial();
    say(fd,
        get("GET", "/healthz",
            "a: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\ni: 1\r\nj: 1\r\n"));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 431);
    hangup(fd);
    /* malformed: 400 */
    fd = dial();
    say(fd, "G@T / HTTP/1.1\r\nHost: t\r\n\r\n");
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 400);
    hangup(fd);
    fd = dial();
    say(fd, "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: t\r\n\r\n0\r\n\r\n");
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 501);
    hangup(fd);

    /* a slow client is cut off by the header timeout; another is served meanwhile */
    int slow = dial();
    say(slow, "GET /healthz HTTP/1.1\r\nHo");
    int fast = dial();
    say(fast, get("GET", "/healthz", NULL));
    get_resp(fast, &r, false);
    CHECK_INT(r.status, 200);
    get_resp(slow, &r, false);
    CHECK_INT(r.status, 408);
    CHECK(closed_by_server(slow));
    hangup(slow);
    /* a connection that sends nothing is closed too */
    int mute = dial();
    CHECK(closed_by_server(mute));
    hangup(mute);
    /* the fast one is still fine */
    say(fast, get("GET", "/healthz", NULL));
    get_resp(fast, &r, false);
    CHECK_INT(r.status, 200);
    hangup(fast);

    /* the sink refuses: answered at once, counted */
    ts_set(&ts, false, true);
    fd = dial();
    snprintf(path, sizeof(path), "/o/%s", tok_open);
    say(fd, get("GET", path, NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    snprintf(path, sizeof(path), "/c/%s", tok_click);
    say(fd, get("GET", path, NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 302);
    buf_t m = BUF_INIT;
    http_server_metrics(s, &m);
    CHECK(strstr(buf_cstr(&m), "trueopen_http_events_refused_total 2\n"));
    CHECK(strstr(buf_cstr(&m), "trueopen_http_timeouts_total{kind=\"header\"} 2\n"));
    CHECK(strstr(buf_cstr(&m), "trueopen_http_requests_total{route=\"other\",status=\"431\"} 2\n"));
    buf_clear(&m);
    hangup(fd);

    http_server_stop(s);
    ts_stop(&ts);
    http_server_free(s);
    buf_clear(&r.head);
    buf_clear(&r.body);
}

static void test_proxy_idle_maxconn(void)
{
    tsink_t ts;
    ts_init(&ts);
    const char *opts[] = {"trusted_proxy",
                          "127.0.0.0/8",
                          "http_idle_timeout",
                          "200ms",
                          "http_max_connections",
                          "2",
                          NULL};
    http_server_t *s = start(&ts, &clock_system, opts);
    resp_t r = {0};
    char path[1024];
    int fd = dial();
    snprintf(path, sizeof(path), "/o/%s", tok_open);
    say(fd, get("GET", path, "X-Forwarded-For: 6.6.6.6, 198.51.100.7\r\n"));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    say(fd, get("GET", path,
                "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 2001:db8::9, 127.0.0.2\r\n"));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    CHECK_INT(ts_nrec(&ts), 2);
    CHECK_STR(ts.rec[0].ip, "198.51.100.7");
    CHECK_STR(ts.rec[1].ip, "2001:db8::9");
    /* max connections 2: a third is closed at once */
    int b = dial();
    say(b, get("GET", "/healthz", NULL));
    get_resp(b, &r, false);
    CHECK_INT(r.status, 200);
    int c = dial();
    CHECK(closed_by_server(c));
    hangup(c);
    /* idle keep-alive connections are closed after the idle timeout */
    CHECK(closed_by_server(fd));
    CHECK(closed_by_server(b));
    hangup(fd);
    hangup(b);
    http_server_stop(s);
    ts_stop(&ts);
    http_server_free(s);
    buf_clear(&r.head);
    buf_clear(&r.body);
}

typedef struct {
    http_server_t *s;
} stopper_t;

static void *stop_main(void *arg)
{
    http_server_stop(((stopper_t *)arg)->s);
    return NULL;
}

/* Stop while a request is parked: it is still answered, then the server exits. */
static void test_graceful_stop(void)
{
    tsink_t ts;
    ts_init(&ts);
    http_server_t *s = start(&ts, &clock_system, NULL);
    resp_t r = {0};
    char path[1024];
    ts_set(&ts, true, false);
    int fd = dial();
    int idle = dial();
    snprintf(path, sizeof(path), "/c/%s", tok_click);
    say(fd, get("GET", path, NULL));
    ts_wait_queued(&ts, 1);
    stopper_t st = {s};
    pthread_t thr;
    pthread_create(&thr, NULL, stop_main, &st);
    CHECK(closed_by_server(idle)); /* idle connections go at once */
    ts_set(&ts, false, false);
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 302);
    CHECK(strstr(buf_cstr(&r.head), "Connection: close\r\n"));
    pthread_join(thr, NULL);
    CHECK_INT(http_server_parked(s), 0);
    /* the listener is gone */
    CHECK(dial() < 0);
    hangup(fd);
    hangup(idle);
    ts_stop(&ts);
    http_server_free(s);
    buf_clear(&r.head);
    buf_clear(&r.body);
}

/* No key ring: a monitoring listener. /healthz and /metrics (with the sink's series)
 * answer; every tracking route is 404 even for a valid token, and nothing reaches the
 * sink. */
static void test_monitor(void)
{
    tsink_t ts;
    ts_init(&ts);
    token_ring_t *keys = ring;
    ring = NULL;
    http_server_t *s = start(&ts, &clock_system, NULL);
    ring = keys;
    resp_t r = {0};
    char path[1024];
    int fd = dial();
    CHECK(fd >= 0);
    say(fd, get("GET", "/healthz", NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    CHECK_STR(buf_cstr(&r.body), "ok\n");
    const char *const toks[] = {"/o/", tok_open, "/c/", tok_click, "/h/", tok_honey};
    for (size_t i = 0; i < TO_ARRAY_LEN(toks); i += 2) {
        snprintf(path, sizeof(path), "%s%s", toks[i], toks[i + 1]);
        say(fd, get("GET", path, NULL));
        get_resp(fd, &r, false);
        CHECK_INT(r.status, 404);
    }
    say(fd, get("GET", "/metrics", NULL));
    get_resp(fd, &r, false);
    CHECK_INT(r.status, 200);
    CHECK(strstr(buf_cstr(&r.body), "trueopen_test_sink_events 0\n") != NULL);
    CHECK(strstr(buf_cstr(&r.body), "trueopen_http_requests_total{route=\"click\",status=\"404\"} "
                                    "1\n") != NULL);
    CHECK_INT(ts_nrec(&ts), 0);
    hangup(fd);
    http_server_free(s);
    ts_stop(&ts);
    buf_clear(&r.head);
    buf_clear(&r.body);
}

static void test_settings(void)
{
    const cfg_def_t *const t[] = {http_cfg, NULL};
    config_t *c = config_new(t);
    char err[256];
    http_opts_t o;
    CHECK_INT(http_opts_from_config(c, &o, err, sizeof(err)), 0);
    CHECK_INT(o.threads, 2);
    CHECK_INT(o.max_head_size, 16384);
    config_set(c, "trusted_proxy", "10.0.0.0/40", err, sizeof(err));
    CHECK_INT(http_opts_from_config(c, &o, err, sizeof(err)), TO_EINVAL);
    CHECK(strstr(err, "trusted_proxy"));
    config_free(c);
    c = config_new(t);
    config_set(c, "http_max_url", "32k", err, sizeof(err));
    CHECK_INT(http_opts_from_config(c, &o, err, sizeof(err)), TO_EINVAL);
    config_set(c, "http_max_url", "1k", err, sizeof(err));
    config_set(c, "listen", "localhost:80", err, sizeof(err));
    CHECK_INT(http_opts_from_config(c, &o, err, sizeof(err)), 0);
    http_server_t *s = NULL;
    tsink_t ts;
    ts_init(&ts);
    CHECK_INT(http_server_new(&o, ring, &clock_system, &s, err, sizeof(err)), TO_EINVAL);
    CHECK(s == NULL);
    config_set(c, "listen", "[::1]:0", err, sizeof(err));
    CHECK_INT(http_opts_from_config(c, &o, err, sizeof(err)), 0);
    int rc = http_server_new(&o, ring, &clock_system, &s, err, sizeof(err));
    if (rc == 0) { /* ::1 may be missing in a container */
        CHECK(http_server_port(s) > 0);
        http_server_free(s);
    }
    ts_stop(&ts);
    config_free(c);
}

int main(void)
{
    uint8_t key[32], key2[32];
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)i;
        key2[i] = (uint8_t)(i + 100);
    }
    ring = token_ring_from_key(1, key);
    token_ring_t *other = token_ring_from_key(1, key2);
    seal(ring, 100, 0, NULL, tok_open, sizeof(tok_open));
    seal(ring, 101, 1, "https://example.com/landing?a=1", tok_click, sizeof(tok_click));
    seal(ring, 102, TOKEN_LINK_HONEYPOT, NULL, tok_honey, sizeof(tok_honey));
    seal(other, 103, 0, NULL, tok_other_key, sizeof(tok_other_key));
    token_ring_free(other);
    test_routes();
    test_limits();
    test_proxy_idle_maxconn();
    test_graceful_stop();
    test_monitor();
    test_settings();
    token_ring_free(ring);
    for (size_t i = 0; i < TO_ARRAY_LEN(pending); i++) buf_clear(&pending[i]);
    return test_done();
}
